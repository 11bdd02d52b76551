"""Matching UI URLs: rule sets, dry runs, the match list and the dashboard (views); the review
queue, match pages, the inbox and assignment rules (review_urls)."""

from django.urls import include, path

app_name = "matching"

urlpatterns = [
    path("", include("ibcloud.matching.rule_urls")),
    path("", include("ibcloud.matching.review_urls")),
]
