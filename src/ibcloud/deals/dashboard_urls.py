"""Deals UI URLs (dashboard and reports part), included by urls.py."""

from django.urls import path

from ibcloud.deals import dashboard_views as views

urlpatterns = [
    path("dashboard/", views.DashboardView.as_view(), name="dashboard"),
    path("dashboard/pptx/", views.DashboardPptxView.as_view(), name="dashboard_pptx"),
    path("summary/export/", views.SummaryExportView.as_view(), name="deal_summary_export"),
    path("weekly-report/", views.WeeklyReportView.as_view(), name="weekly_report"),
]
