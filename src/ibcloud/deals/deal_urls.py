"""Deals UI URLs (deal part), included by urls.py: the list, detail, add/edit/delete, opening
from a match, the kanban and its move, timeline notes and attachments."""

from django.urls import path

from ibcloud.deals import views

urlpatterns = [
    path("deals/", views.DealListView.as_view(), name="deal_list"),
    path("deals/add/", views.DealEditView.as_view(), name="deal_add"),
    path(
        "deals/from-match/<int:match_pk>/",
        views.DealFromMatchView.as_view(),
        name="deal_add_from_match",
    ),
    path("deals/<int:pk>/", views.DealDetailView.as_view(), name="deal_detail"),
    path("deals/<int:pk>/edit/", views.DealEditView.as_view(), name="deal_edit"),
    path("deals/<int:pk>/delete/", views.DealDeleteView.as_view(), name="deal_delete"),
    path("deals/<int:pk>/move/", views.DealMoveView.as_view(), name="deal_move"),
    path("deals/<int:pk>/notes/add/", views.DealNoteAddView.as_view(), name="deal_note_add"),
    path(
        "deals/<int:pk>/attachments/add/",
        views.DealAttachmentAddView.as_view(),
        name="dealattachment_add",
    ),
    path(
        "attachments/<int:pk>/download/",
        views.DealAttachmentDownloadView.as_view(),
        name="dealattachment_download",
    ),
    path(
        "attachments/<int:pk>/delete/",
        views.DealAttachmentDeleteView.as_view(),
        name="dealattachment_delete",
    ),
    path("kanban/", views.DealKanbanView.as_view(), name="deal_kanban"),
]
