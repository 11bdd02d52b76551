"""Rule sets, dry runs, the match list and the matching dashboard."""

from django.urls import path

from ibcloud.matching import dashboard_views, views

urlpatterns = [
    path("rule-sets/", views.MatchRuleSetListView.as_view(), name="matchruleset_list"),
    path("rule-sets/add/", views.MatchRuleSetEditView.as_view(), name="matchruleset_add"),
    # a dry run from the add form (a rule set not saved yet)
    path("rule-sets/dry-run/", views.MatchRuleSetDryRunView.as_view(), name="matchruleset_dryrun"),
    path("rule-sets/<int:pk>/", views.MatchRuleSetDetailView.as_view(), name="matchruleset_detail"),
    path(
        "rule-sets/<int:pk>/edit/", views.MatchRuleSetEditView.as_view(), name="matchruleset_edit"
    ),
    path(
        "rule-sets/<int:pk>/delete/",
        views.MatchRuleSetDeleteView.as_view(),
        name="matchruleset_delete",
    ),
    path("rule-sets/<int:pk>/run/", views.MatchRuleSetRunView.as_view(), name="matchruleset_run"),
    path(
        "rule-sets/<int:pk>/dry-run/",
        views.MatchRuleSetDryRunView.as_view(),
        name="matchruleset_dryrun",
    ),
    path("dry-runs/<int:pk>/", views.DryRunDetailView.as_view(), name="dryrun_detail"),
    path("dry-runs/<int:pk>/apply/", views.DryRunApplyView.as_view(), name="dryrun_apply"),
    path("matches/", views.MatchListView.as_view(), name="match_list"),
    path("dashboard/", dashboard_views.DashboardView.as_view(), name="dashboard"),
]
