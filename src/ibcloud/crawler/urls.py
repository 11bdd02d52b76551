"""Crawler UI URLs; the monitoring pages (dashboard, source health, alerts) come from
``health_urls``."""

from django.urls import include, path

from ibcloud.crawler import views

app_name = "crawler"

urlpatterns = [
    path("", include("ibcloud.crawler.health_urls")),
    path("sources/", views.CrawlSourceListView.as_view(), name="crawlsource_list"),
    path("sources/add/", views.CrawlSourceEditView.as_view(), name="crawlsource_add"),
    path("sources/preview/", views.CrawlSourcePreviewView.as_view(), name="crawlsource_preview"),
    path("sources/<int:pk>/", views.CrawlSourceDetailView.as_view(), name="crawlsource_detail"),
    path("sources/<int:pk>/edit/", views.CrawlSourceEditView.as_view(), name="crawlsource_edit"),
    path(
        "sources/<int:pk>/delete/",
        views.CrawlSourceDeleteView.as_view(),
        name="crawlsource_delete",
    ),
    path("sources/<int:pk>/run/", views.CrawlSourceRunView.as_view(), name="crawlsource_run"),
    path(
        "sources/<int:pk>/preview/",
        views.CrawlSourcePreviewView.as_view(),
        name="crawlsource_preview",
    ),
    path("jobs/", views.CrawlJobListView.as_view(), name="crawljob_list"),
    path("jobs/<int:pk>/", views.CrawlJobDetailView.as_view(), name="crawljob_detail"),
    path("jobs/<int:pk>/cancel/", views.CrawlJobCancelView.as_view(), name="crawljob_cancel"),
    path("raw-items/", views.RawItemListView.as_view(), name="rawitem_list"),
    path("raw-items/<int:pk>/", views.RawItemDetailView.as_view(), name="rawitem_detail"),
    path("proxies/", views.ProxyListView.as_view(), name="proxy_list"),
    path("proxies/add/", views.ProxyEditView.as_view(), name="proxy_add"),
    path("proxies/<int:pk>/", views.ProxyEditView.as_view(), name="proxy_edit"),
    path("proxies/<int:pk>/delete/", views.ProxyDeleteView.as_view(), name="proxy_delete"),
]
