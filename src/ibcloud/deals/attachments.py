"""Deal attachments: the size limit, keeping an upload with a deal, deleting one.

Files go to the default storage (disk, or S3-compatible storage when configured: settings.py);
rows and files are kept in step: a failed save removes the stored file, a delete removes it once
the transaction commits. The UI and the API both call these.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from ibcloud.core.signals import acting_as
from ibcloud.deals.models import Deal, DealActivity, DealAttachment

#: largest attachment accepted (bytes); ``IBCLOUD_DEAL_ATTACHMENT_MAX_MB`` overrides it
MAX_ATTACHMENT_BYTES = int(getattr(settings, "IBCLOUD_DEAL_ATTACHMENT_MAX_MB", 50)) * 1024 * 1024


def check_attachment_size(size: int) -> None:
    """Refuse a file over the limit, naming the limit (the UI and the API share it)."""
    if size > MAX_ATTACHMENT_BYTES:
        raise ValidationError(
            _("The file is %(size)s; files up to %(limit)s can be attached.")
            % {"size": filesizeformat(size), "limit": filesizeformat(MAX_ATTACHMENT_BYTES)},
            code="too_large",
        )


def add_attachment(
    deal: Deal, user: Any, upload: UploadedFile, description: str = ""
) -> DealAttachment:
    """Keep ``upload`` with ``deal`` in the default storage and note it on the timeline.

    Raises ``ValidationError`` for a file over the size limit. The stored name is the storage's
    (unique, sanitized); the original name is kept for the download.
    """
    check_attachment_size(upload.size)
    name = PurePath(str(upload.name or "file")).name[:255] or "file"
    attachment = DealAttachment(
        deal=deal,
        name=name,
        size=upload.size,
        content_type=str(getattr(upload, "content_type", "") or "")[:100],
        description=(description or "")[:300],
        uploaded_by=user,
    )
    attachment.file.save(name, upload, save=False)
    try:
        with transaction.atomic(), acting_as(user):
            attachment.save()
            DealActivity.objects.create(
                deal=deal,
                kind=DealActivity.Kind.ATTACHMENT,
                author=user,
                text=name,
                data={"attachment": attachment.pk, "size": attachment.size},
            )
    except Exception:
        # no row points at the file: do not leave it behind
        attachment.file.delete(save=False)
        raise
    return attachment


def delete_attachment(attachment: DealAttachment, user: Any) -> None:
    """Delete the row (audited) and, once committed, the stored file."""
    stored = attachment.file.name
    storage = attachment.file.storage
    with transaction.atomic(), acting_as(user):
        attachment.delete()
        transaction.on_commit(lambda: storage.delete(stored) if stored else None)
