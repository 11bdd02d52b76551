"""``/api/v1/``: each app's ``api.py`` exposes ``router``; they are mounted under the app's name."""

from django.urls import include, path

from ibcloud.accounts.api import router as accounts_router
from ibcloud.accounts.auth_api import router as auth_router
from ibcloud.audit.api import router as audit_router
from ibcloud.catalog.api import router as catalog_router
from ibcloud.catalog.dashboard_api import router as catalog_dashboard_router
from ibcloud.catalog.quality_api import router as catalog_quality_router
from ibcloud.core.api_views import router as core_router
from ibcloud.crawler.api import router as crawler_router
from ibcloud.crawler.health_api import router as crawler_health_router
from ibcloud.deals.api import router as deals_router
from ibcloud.deals.dashboard_api import router as deals_dashboard_router
from ibcloud.deals.milestone_api import router as deals_milestone_router
from ibcloud.matching.api import router as matching_router
from ibcloud.matching.review_api import router as matching_review_router
from ibcloud.monitor.api import router as monitor_router
from ibcloud.monitor.log_api import router as monitor_log_router
from ibcloud.monitor.node_api import router as monitor_node_router
from ibcloud.notify.api import router as notify_router

urlpatterns = [
    path("auth/", include("ibcloud.accounts.api_auth_urls")),
    path("system/", include(core_router.urls)),
    path("accounts/", include(accounts_router.urls)),
    path("accounts/", include(auth_router.urls)),
    path("audit/", include(audit_router.urls)),
    path("notify/", include(notify_router.urls)),
    path("crawler/", include(crawler_router.urls)),
    path("crawler/", include(crawler_health_router.urls)),
    path("catalog/", include(catalog_router.urls)),
    path("catalog/", include(catalog_quality_router.urls)),
    path("catalog/", include(catalog_dashboard_router.urls)),
    path("matching/", include(matching_router.urls)),
    path("matching/", include(matching_review_router.urls)),
    path("deals/", include(deals_router.urls)),
    path("deals/", include(deals_milestone_router.urls)),
    path("deals/", include(deals_dashboard_router.urls)),
    path("monitor/", include(monitor_router.urls)),
    path("monitor/", include(monitor_log_router.urls)),
    path("monitor/", include(monitor_node_router.urls)),
]
