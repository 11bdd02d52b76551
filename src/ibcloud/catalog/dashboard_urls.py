"""Dashboard URLs (included by ``catalog.urls``): the page and the "run clustering now" action."""

from django.urls import path

from ibcloud.catalog import dashboard_views as views

urlpatterns = [
    path("dashboard/", views.DashboardView.as_view(), name="dashboard"),
    path("dashboard/clusters/run/", views.ClusterRunView.as_view(), name="cluster_run"),
]
