"""Monitoring UI URLs (dashboard, per-source health, alerts), included by ``crawler.urls``."""

from django.urls import path

from ibcloud.crawler import health_views as views

urlpatterns = [
    path("health/", views.DashboardView.as_view(), name="dashboard"),
    path("health/sources/<int:pk>/", views.SourceHealthView.as_view(), name="source_health"),
    path("alerts/", views.SourceAlertListView.as_view(), name="sourcealert_list"),
    path("alerts/<int:pk>/", views.SourceAlertDetailView.as_view(), name="sourcealert_detail"),
    path(
        "alerts/<int:pk>/acknowledge/",
        views.SourceAlertAcknowledgeView.as_view(),
        name="sourcealert_acknowledge",
    ),
]
