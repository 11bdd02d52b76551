"""The backup list in the UI and the API: who sees it, back up now (a job), download (audited),
delete (removes the file); restoring has no web endpoint."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from ibcloud.audit.models import AuditEntry
from ibcloud.core.menu import visible_menu
from ibcloud.core.models import Job
from ibcloud.monitor import archives
from ibcloud.monitor.models import Backup
from ibcloud.monitor.tasks import run_backup
from tests.factories import RoleFactory, UserFactory


@pytest.fixture
def backup_dir(settings, tmp_path):
    settings.IBCLOUD_BACKUP_DIR = tmp_path / "backups"
    settings.MEDIA_ROOT = tmp_path / "media"
    return archives.backup_dir()


@pytest.fixture
def viewer(db):
    """May see the list, not run, download or delete backups."""
    role = RoleFactory(perms=["monitor.view_backup"], data_scope="all")
    return UserFactory(username="viewer", roles=[role])


def archived(backup_dir, **fields) -> Backup:
    backup = Backup.objects.create(
        vendor="sqlite",
        status=Backup.Status.SUCCEEDED,
        size=2048,
        manifest={"tables": {"accounts_user": 3}, "media": {"count": 1}},
        **fields,
    )
    backup.file_name = f"ibcloud-backup-test-{backup.pk}.zip"
    backup.sha256 = "ab" * 32
    (backup_dir / backup.file_name).write_bytes(b"PK archive bytes")
    backup.save()
    return backup


@pytest.mark.django_db
def test_the_list_shows_backups_with_size_schedule_and_restore_help(
    client, viewer, backup_dir, english
):
    backup = archived(backup_dir)
    client.force_login(viewer)
    page = client.get(reverse("monitor:backup_list")).content.decode()
    assert backup.file_name in page
    assert "2.0\xa0KB" in page
    assert 'id="schedule"' in page and "Every day at 2:00" in page
    assert "ibcloud restore" in page
    # Viewing is not running, downloading or deleting.
    assert 'id="backup-now"' not in page
    assert reverse("monitor:backup_download", args=[backup.pk]) not in page
    assert reverse("monitor:backup_delete", args=[backup.pk]) not in page


@pytest.mark.django_db
def test_the_detail_shows_the_rows_per_table(client, viewer, backup_dir):
    backup = archived(backup_dir)
    client.force_login(viewer)
    page = client.get(reverse("monitor:backup_detail", args=[backup.pk])).content.decode()
    assert "accounts_user" in page and backup.sha256 in page


@pytest.mark.django_db
def test_people_without_the_permission_see_neither_the_menu_entry_nor_the_pages(
    client, backup_dir, admin_user, viewer
):
    outsider = UserFactory(username="outsider")
    backup = archived(backup_dir)

    def urls(user):
        return [item["url"] for group in visible_menu(user) for item in group["items"]]

    assert reverse("monitor:backup_list") in urls(admin_user)
    assert reverse("monitor:backup_list") in urls(viewer)
    assert reverse("monitor:backup_list") not in urls(outsider)
    client.force_login(outsider)
    assert client.get(reverse("monitor:backup_list")).status_code == 403
    assert client.get(reverse("monitor:backup_detail", args=[backup.pk])).status_code == 403
    client.force_login(viewer)
    assert client.get(reverse("monitor:backup_download", args=[backup.pk])).status_code == 403
    assert client.post(reverse("monitor:backup_run")).status_code == 403
    assert client.post(reverse("monitor:backup_delete", args=[backup.pk])).status_code == 403
    assert Backup.objects.filter(pk=backup.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_back_up_now_runs_a_job_then_the_admin_downloads_and_deletes_it(
    client, admin_user, backup_dir
):
    client.force_login(admin_user)
    page = client.get(reverse("monitor:backup_list")).content.decode()
    assert 'id="backup-now"' in page

    response = client.post(reverse("monitor:backup_run"))
    assert response.status_code == 302
    job = Job.objects.get(name=run_backup.job_name)
    assert job.status == Job.Status.SUCCEEDED, job.error
    backup = Backup.objects.get()
    assert backup.status == Backup.Status.SUCCEEDED
    assert backup.kind == Backup.Kind.MANUAL and backup.created_by == admin_user
    assert AuditEntry.objects.filter(event="backup_start", actor=admin_user).exists()

    response = client.get(reverse("monitor:backup_download", args=[backup.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert b"".join(response.streaming_content) == (backup_dir / backup.file_name).read_bytes()
    entry = AuditEntry.objects.get(event="backup_download")
    assert entry.actor == admin_user and entry.object_repr == backup.file_name

    client.post(reverse("monitor:backup_delete", args=[backup.pk]))
    assert not Backup.objects.exists()
    assert not (backup_dir / backup.file_name).exists()


@pytest.mark.django_db
def test_a_running_backup_cannot_be_deleted(client, admin_user, backup_dir, english):
    running = Backup.objects.create(vendor="sqlite", status=Backup.Status.RUNNING)
    client.force_login(admin_user)
    page = client.get(reverse("monitor:backup_delete", args=[running.pk])).content.decode()
    assert "still running" in page
    client.post(reverse("monitor:backup_delete", args=[running.pk]))
    client.post(reverse("monitor:backup_list"), {"bulk_action": "delete", "pk": [str(running.pk)]})
    assert Backup.objects.filter(pk=running.pk).exists()


# --- API ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_lists_backups_to_those_who_may_see_them(api, viewer, backup_dir):
    backup = archived(backup_dir)
    body = api.as_user(viewer).get("/api/v1/monitor/backups/").json()
    assert [row["file_name"] for row in body["results"]] == [backup.file_name]
    assert body["results"][0]["file_count"] == 1
    assert api.get(f"/api/v1/monitor/backups/{backup.pk}/download/").status_code == 403
    assert api.post("/api/v1/monitor/backups/run/", {}, format="json").status_code == 403
    outsider = UserFactory(username="outsider")
    response = api.as_user(outsider).get("/api/v1/monitor/backups/")
    assert response.status_code == 403 and set(response.json()) == {"code", "message", "details"}


@pytest.mark.django_db
def test_the_api_downloads_with_an_audit_entry_and_refuses_deleting_a_running_backup(
    api, admin_user, backup_dir
):
    backup = archived(backup_dir)
    client = api.as_user(admin_user)
    response = client.get(f"/api/v1/monitor/backups/{backup.pk}/download/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"PK archive bytes"
    assert AuditEntry.objects.filter(event="backup_download", actor=admin_user).exists()
    running = Backup.objects.create(vendor="sqlite", status=Backup.Status.RUNNING)
    assert client.get(f"/api/v1/monitor/backups/{running.pk}/download/").status_code == 404
    response = client.delete(f"/api/v1/monitor/backups/{running.pk}/")
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    assert client.delete(f"/api/v1/monitor/backups/{backup.pk}/").status_code == 204


@pytest.mark.django_db
def test_the_api_queues_a_backup_and_validates_its_body(api, admin_user, backup_dir):
    client = api.as_user(admin_user)
    response = client.post(
        "/api/v1/monitor/backups/run/", {"include_media": "maybe"}, format="json"
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    response = client.post("/api/v1/monitor/backups/run/", {"include_media": False}, format="json")
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["id"])
    assert job.arguments["kwargs"]["include_media"] is False


@pytest.mark.django_db
def test_the_home_page_tells_how_old_the_last_backup_is(client, viewer, backup_dir):
    from ibcloud.monitor.backup_widgets import days_since_last_backup

    assert days_since_last_backup(viewer) is None
    client.force_login(viewer)
    home = client.get(reverse("core:home")).content.decode()
    assert '<div class="text-secondary" data-empty="backup_age">尚未备份</div>' in home
    archived(backup_dir, started_at=timezone.now() - datetime.timedelta(days=3, hours=1))
    assert days_since_last_backup(viewer) == 3
    home = client.get(reverse("core:home")).content.decode()
    assert '<div class="h2 mb-0" data-value="backup_age">3</div>' in home
    assert 'data-empty="backup_age"' not in home
    assert days_since_last_backup(UserFactory(username="outsider")) is None
