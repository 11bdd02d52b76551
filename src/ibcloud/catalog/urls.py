"""Catalog UI URLs: projects and investors (views), data quality (quality_urls: quarantine,
normalization preview, rules, merge and split) and the dashboard (dashboard_urls)."""

from django.urls import include, path

from ibcloud.catalog import views

app_name = "catalog"

urlpatterns = [
    path("", include("ibcloud.catalog.dashboard_urls")),
    path("", include("ibcloud.catalog.quality_urls")),
    path("projects/", views.ProjectListView.as_view(), name="project_list"),
    path("projects/add/", views.ProjectEditView.as_view(), name="project_add"),
    path("projects/<int:pk>/", views.ProjectDetailView.as_view(), name="project_detail"),
    path("projects/<int:pk>/edit/", views.ProjectEditView.as_view(), name="project_edit"),
    path("projects/<int:pk>/delete/", views.ProjectDeleteView.as_view(), name="project_delete"),
    path("investors/", views.InvestorListView.as_view(), name="investor_list"),
    path("investors/add/", views.InvestorEditView.as_view(), name="investor_add"),
    path("investors/<int:pk>/", views.InvestorDetailView.as_view(), name="investor_detail"),
    path("investors/<int:pk>/edit/", views.InvestorEditView.as_view(), name="investor_edit"),
    path("investors/<int:pk>/delete/", views.InvestorDeleteView.as_view(), name="investor_delete"),
    path("saved-queries/", views.SavedQueryListView.as_view(), name="savedquery_list"),
    path("saved-queries/add/", views.SavedQueryAddView.as_view(), name="savedquery_add"),
    path(
        "saved-queries/<int:pk>/edit/",
        views.SavedQueryEditView.as_view(),
        name="savedquery_edit",
    ),
    path(
        "saved-queries/<int:pk>/delete/",
        views.SavedQueryDeleteView.as_view(),
        name="savedquery_delete",
    ),
]
