"""Attachments: a file uploaded to a deal is kept in the configured storage, listed on the deal,
downloaded only through the scoped view (another department's user gets 404) under its own
name, refused over the size limit with a clear message, and deleted with its file. With
``IBCLOUD_S3_BUCKET`` set, the default storage is S3-compatible and private."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ibcloud.deals import attachments
from ibcloud.deals.models import DealActivity, DealAttachment
from tests.deals.factories import DealFactory, deal_user
from tests.factories import DepartmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def dept():
    return DepartmentFactory(name="投行一部", code="ib1")


@pytest.fixture
def banker(dept):
    return deal_user(dept, username="banker")


@pytest.fixture
def outsider():
    return deal_user(DepartmentFactory(name="投行二部", code="ib2"), username="outsider")


def upload(client, deal, name="商业计划书.pdf", data=b"%PDF-1.4 plan", **extra):
    return client.post(
        reverse("deals:dealattachment_add", args=[deal.pk]),
        {"file": SimpleUploadedFile(name, data, "application/pdf"), "description": "BP", **extra},
    )


def test_an_uploaded_file_is_listed_and_downloads_under_its_name(client, banker, settings):
    deal = DealFactory(lead=banker)
    client.force_login(banker)
    assert upload(client, deal).status_code == 302
    attachment = DealAttachment.objects.get(deal=deal)
    assert attachment.name == "商业计划书.pdf" and attachment.size == len(b"%PDF-1.4 plan")
    assert attachment.uploaded_by == banker
    assert Path(settings.MEDIA_ROOT, attachment.file.name).read_bytes() == b"%PDF-1.4 plan"
    assert deal.activities.filter(kind=DealActivity.Kind.ATTACHMENT).exists()
    page = client.get(deal.get_absolute_url()).content.decode()
    download_url = reverse("deals:dealattachment_download", args=[attachment.pk])
    assert download_url in page
    response = client.get(download_url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 plan"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;") and "%E5%95%86" in disposition
    assert response["Content-Type"] == "application/octet-stream"
    # deal papers are confidential: each download is in the audit log
    from ibcloud.audit.models import AuditEntry

    assert AuditEntry.objects.filter(event="deal_attachment_download", actor=banker).count() == 1


def test_another_departments_user_cannot_download_or_upload(client, banker, outsider):
    deal = DealFactory(lead=banker)
    client.force_login(banker)
    upload(client, deal)
    attachment = DealAttachment.objects.get()
    client.force_login(outsider)
    download = reverse("deals:dealattachment_download", args=[attachment.pk])
    assert client.get(download).status_code == 404
    assert upload(client, deal).status_code == 404
    delete = reverse("deals:dealattachment_delete", args=[attachment.pk])
    assert client.post(delete).status_code == 404
    assert DealAttachment.objects.count() == 1


def test_a_file_over_the_limit_is_refused_with_its_size(client, banker, monkeypatch, english):
    monkeypatch.setattr(attachments, "MAX_ATTACHMENT_BYTES", 10)
    deal = DealFactory(lead=banker)
    client.force_login(banker)
    response = upload(client, deal, data=b"x" * 11)
    assert response.status_code == 302
    assert not DealAttachment.objects.exists()
    page = client.get(deal.get_absolute_url()).content.decode()
    assert "files up to 10\xa0bytes can be attached" in page


def test_the_limit_is_50_mb():
    assert attachments.MAX_ATTACHMENT_BYTES == 50 * 1024 * 1024


def test_deleting_an_attachment_removes_its_file(
    client, banker, settings, django_capture_on_commit_callbacks
):
    deal = DealFactory(lead=banker)
    client.force_login(banker)
    upload(client, deal)
    attachment = DealAttachment.objects.get()
    stored = Path(settings.MEDIA_ROOT, attachment.file.name)
    assert stored.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("deals:dealattachment_delete", args=[attachment.pk]))
    assert response.status_code == 302
    assert not DealAttachment.objects.exists() and not stored.exists()


def test_deleting_a_deal_removes_its_files(
    client, banker, settings, django_capture_on_commit_callbacks
):
    deal = DealFactory(lead=banker)
    client.force_login(banker)
    upload(client, deal)
    stored = Path(settings.MEDIA_ROOT, DealAttachment.objects.get().file.name)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("deals:deal_delete", args=[deal.pk]))
    assert response.status_code == 302
    assert not DealAttachment.objects.exists() and not stored.exists()


def test_without_the_attachment_permission_the_files_stay_hidden(client, dept, banker):
    viewer = deal_user(dept, username="viewer", perms=["deals.view_deal"])
    deal = DealFactory(lead=banker)
    client.force_login(banker)
    upload(client, deal)
    attachment = DealAttachment.objects.get()
    client.force_login(viewer)
    assert 'id="attachments"' not in client.get(deal.get_absolute_url()).content.decode()
    download = reverse("deals:dealattachment_download", args=[attachment.pk])
    assert client.get(download).status_code == 403


# --- API ------------------------------------------------------------------------------------------


def test_the_api_uploads_lists_and_downloads_within_the_scope(api, banker, outsider, monkeypatch):
    deal = DealFactory(lead=banker)
    api.as_user(banker)
    url = f"/api/v1/deals/deals/{deal.pk}/attachments/"
    created = api.post(
        url, {"file": SimpleUploadedFile("ts.docx", b"term sheet")}, format="multipart"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "ts.docx" and body["size"] == 10
    assert [row["id"] for row in api.get(url).json()["results"]] == [body["id"]]
    download = api.get(body["download_url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"term sheet"
    monkeypatch.setattr(attachments, "MAX_ATTACHMENT_BYTES", 5)
    too_big = api.post(url, {"file": SimpleUploadedFile("big.bin", b"123456")}, format="multipart")
    assert too_big.status_code == 400 and "file" in too_big.json()["details"]
    missing = api.post(url, {}, format="multipart")
    assert missing.status_code == 400
    api.as_user(outsider)
    assert api.get(body["download_url"]).status_code == 404
    assert api.get(url).status_code == 404


# --- Storage settings -----------------------------------------------------------------------------


def _storage_of(tmp_path, **env) -> dict:
    """The default storage the settings choose under ``env`` (a fresh interpreter)."""
    code = (
        "import json, django; from django.conf import settings; django.setup();"
        "from django.core.files.storage import storages;"
        "print(json.dumps({'backend': settings.STORAGES['default']['BACKEND'],"
        "'options': settings.STORAGES['default'].get('OPTIONS', {}),"
        "'class': type(storages['default']).__name__}))"
    )
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("IBCLOUD_S3_")
    }
    environment.update(
        {
            "DJANGO_SETTINGS_MODULE": "ibcloud.settings",
            "IBCLOUD_DATA_DIR": str(tmp_path / "data"),
            **env,
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_s3_compatible_storage_is_chosen_when_a_bucket_is_named(tmp_path):
    found = _storage_of(
        tmp_path,
        IBCLOUD_S3_BUCKET="deal-files",
        IBCLOUD_S3_ENDPOINT_URL="http://minio.internal:9000",
        IBCLOUD_S3_ACCESS_KEY="AKIA-TEST",
        IBCLOUD_S3_SECRET_KEY="not-a-real-secret",
        IBCLOUD_S3_REGION="cn-east-1",
    )
    assert found["backend"] == "storages.backends.s3.S3Storage"
    assert found["class"] == "S3Storage"
    options = found["options"]
    assert options["bucket_name"] == "deal-files"
    assert options["endpoint_url"] == "http://minio.internal:9000"
    assert options["region_name"] == "cn-east-1"
    assert options["access_key"] == "AKIA-TEST"
    # never public: private objects, signed URLs only
    assert options["default_acl"] == "private" and options["querystring_auth"] is True


def test_files_stay_on_disk_without_a_bucket(tmp_path):
    found = _storage_of(tmp_path)
    assert found["backend"] == "django.core.files.storage.FileSystemStorage"
