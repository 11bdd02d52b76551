"""System log pages; ``monitor/urls.py`` includes these (names ``log_list``, ``log_download``)."""

from django.urls import path

from ibcloud.monitor import log_views

urlpatterns = [
    path("logs/", log_views.LogListView.as_view(), name="log_list"),
    path(
        "logs/files/<str:name>/download/",
        log_views.LogDownloadView.as_view(),
        name="log_download",
    ),
]
