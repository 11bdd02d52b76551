"""Deals UI URLs: deals, kanban, activities and attachments (deal_urls); milestones, templates,
timeline and calendar (milestone_urls); dashboard and reports (dashboard_urls)."""

from django.urls import include, path

app_name = "deals"

urlpatterns = [
    path("", include("ibcloud.deals.deal_urls")),
    path("", include("ibcloud.deals.milestone_urls")),
    path("", include("ibcloud.deals.dashboard_urls")),
]
