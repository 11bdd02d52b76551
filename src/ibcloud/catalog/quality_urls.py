"""Data-quality URLs of the catalog: quarantine and ingestion log, normalization preview, the
editable rules, and manual merge and split (namespace ``catalog``, included by ``urls``)."""

from django.urls import path

from ibcloud.catalog import quality_views as views

urlpatterns = [
    path("ingestions/", views.IngestionListView.as_view(), name="ingestion_list"),
    path("ingestions/<int:pk>/", views.IngestionDetailView.as_view(), name="ingestion_detail"),
    path(
        "ingestions/reprocess/",
        views.IngestionReprocessView.as_view(),
        name="ingestion_reprocess_all",
    ),
    path(
        "ingestions/<int:pk>/reprocess/",
        views.IngestionReprocessView.as_view(),
        name="ingestion_reprocess",
    ),
    path("normalize/", views.NormalizePreviewView.as_view(), name="normalize_preview"),
    # Rules
    path("exchange-rates/", views.ExchangeRateListView.as_view(), name="exchangerate_list"),
    path("exchange-rates/add/", views.ExchangeRateEditView.as_view(), name="exchangerate_add"),
    path(
        "exchange-rates/<int:pk>/", views.ExchangeRateEditView.as_view(), name="exchangerate_edit"
    ),
    path(
        "exchange-rates/<int:pk>/delete/",
        views.ExchangeRateDeleteView.as_view(),
        name="exchangerate_delete",
    ),
    path(
        "industry-keywords/",
        views.IndustryKeywordListView.as_view(),
        name="industrykeyword_list",
    ),
    path(
        "industry-keywords/add/",
        views.IndustryKeywordEditView.as_view(),
        name="industrykeyword_add",
    ),
    path(
        "industry-keywords/<int:pk>/",
        views.IndustryKeywordEditView.as_view(),
        name="industrykeyword_edit",
    ),
    path(
        "industry-keywords/<int:pk>/delete/",
        views.IndustryKeywordDeleteView.as_view(),
        name="industrykeyword_delete",
    ),
    path("round-aliases/", views.RoundAliasListView.as_view(), name="roundalias_list"),
    path("round-aliases/add/", views.RoundAliasEditView.as_view(), name="roundalias_add"),
    path("round-aliases/<int:pk>/", views.RoundAliasEditView.as_view(), name="roundalias_edit"),
    path(
        "round-aliases/<int:pk>/delete/",
        views.RoundAliasDeleteView.as_view(),
        name="roundalias_delete",
    ),
    # Merge and split
    path("projects/<int:pk>/merge/", views.ProjectMergeView.as_view(), name="project_merge"),
    path("projects/<int:pk>/split/", views.ProjectSplitView.as_view(), name="project_split"),
    path("investors/<int:pk>/merge/", views.InvestorMergeView.as_view(), name="investor_merge"),
    path("investors/<int:pk>/split/", views.InvestorSplitView.as_view(), name="investor_split"),
]
