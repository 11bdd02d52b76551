"""The review queue, match pages, the inbox and assignment rules."""

from django.urls import path

from ibcloud.matching import review_views as views

urlpatterns = [
    path("review/", views.ReviewQueueView.as_view(), name="review"),
    path("inbox/", views.InboxView.as_view(), name="inbox"),
    path("unassigned/", views.UnassignedView.as_view(), name="unassigned"),
    path("matches/add/", views.MatchAddView.as_view(), name="match_add"),
    path("matches/<int:pk>/", views.MatchDetailView.as_view(), name="match_detail"),
    path("matches/<int:pk>/approve/", views.ApproveView.as_view(), name="match_approve"),
    path("matches/<int:pk>/reject/", views.RejectView.as_view(), name="match_reject"),
    path("matches/<int:pk>/unmatch/", views.UnmatchView.as_view(), name="match_unmatch"),
    path("matches/<int:pk>/rematch/", views.RematchView.as_view(), name="match_rematch"),
    path("matches/<int:pk>/assign/", views.AssignView.as_view(), name="match_assign"),
    path("matches/<int:pk>/progress/", views.ProgressView.as_view(), name="match_progress"),
    path("assignment-rules/", views.AssignmentRuleListView.as_view(), name="assignmentrule_list"),
    path(
        "assignment-rules/add/", views.AssignmentRuleEditView.as_view(), name="assignmentrule_add"
    ),
    path(
        "assignment-rules/<int:pk>/edit/",
        views.AssignmentRuleEditView.as_view(),
        name="assignmentrule_edit",
    ),
    path(
        "assignment-rules/<int:pk>/delete/",
        views.AssignmentRuleDeleteView.as_view(),
        name="assignmentrule_delete",
    ),
    path(
        "assignment-rules/switch/", views.AutoAssignSwitchView.as_view(), name="assignment_switch"
    ),
]
