"""Root URLs: one include per app for the UI, ``/api/v1/`` for the API, offline API docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from ibcloud.accounts.auth_views import set_language
from ibcloud.core import errors

urlpatterns = [
    path("", include("ibcloud.core.urls")),
    path("accounts/", include("ibcloud.accounts.urls")),
    path("audit/", include("ibcloud.audit.urls")),
    path("notify/", include("ibcloud.notify.urls")),
    path("crawler/", include("ibcloud.crawler.urls")),
    path("catalog/", include("ibcloud.catalog.urls")),
    path("matching/", include("ibcloud.matching.urls")),
    path("deals/", include("ibcloud.deals.urls")),
    path("monitor/", include("ibcloud.monitor.urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    path("api/v1/", include("ibcloud.api_urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.page_not_found
handler500 = errors.server_error
