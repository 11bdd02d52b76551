"""Deals UI URLs (milestone part), included by urls.py: milestones, the deal's milestone panel,
timeline and template application, the calendar, milestone templates."""

from django.urls import path

from ibcloud.deals import milestone_views as views

urlpatterns = [
    path("milestones/", views.MilestoneListView.as_view(), name="milestone_list"),
    path(
        "deals/<int:deal_pk>/milestones/add/",
        views.MilestoneEditView.as_view(),
        name="milestone_add",
    ),
    path("milestones/<int:pk>/edit/", views.MilestoneEditView.as_view(), name="milestone_edit"),
    path(
        "milestones/<int:pk>/delete/", views.MilestoneDeleteView.as_view(), name="milestone_delete"
    ),
    path("milestones/<int:pk>/done/", views.MilestoneDoneView.as_view(), name="milestone_done"),
    path("deals/<int:pk>/milestones/", views.DealMilestonesView.as_view(), name="deal_milestones"),
    path(
        "deals/<int:pk>/milestones/apply-template/",
        views.DealApplyTemplateView.as_view(),
        name="deal_apply_template",
    ),
    path("deals/<int:pk>/timeline/", views.DealTimelineView.as_view(), name="deal_timeline"),
    path("calendar/", views.MilestoneCalendarView.as_view(), name="milestone_calendar"),
    path(
        "milestone-templates/",
        views.MilestoneTemplateListView.as_view(),
        name="milestonetemplate_list",
    ),
    path(
        "milestone-templates/add/",
        views.MilestoneTemplateEditView.as_view(),
        name="milestonetemplate_add",
    ),
    path(
        "milestone-templates/<int:pk>/",
        views.MilestoneTemplateDetailView.as_view(),
        name="milestonetemplate_detail",
    ),
    path(
        "milestone-templates/<int:pk>/edit/",
        views.MilestoneTemplateEditView.as_view(),
        name="milestonetemplate_edit",
    ),
    path(
        "milestone-templates/<int:pk>/delete/",
        views.MilestoneTemplateDeleteView.as_view(),
        name="milestonetemplate_delete",
    ),
]
