"""Operations UI URLs."""

from django.urls import path

from ibcloud.monitor import log_urls, node_urls, views

app_name = "monitor"

urlpatterns = [
    path("backups/", views.BackupListView.as_view(), name="backup_list"),
    path("backups/run/", views.BackupRunView.as_view(), name="backup_run"),
    path("backups/<int:pk>/", views.BackupDetailView.as_view(), name="backup_detail"),
    path("backups/<int:pk>/download/", views.BackupDownloadView.as_view(), name="backup_download"),
    path("backups/<int:pk>/delete/", views.BackupDeleteView.as_view(), name="backup_delete"),
    *log_urls.urlpatterns,
    *node_urls.urlpatterns,
]
