"""Model fields that keep secrets encrypted at rest (SMTP passwords, robot secrets, cookies).

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) before they reach the database and
decrypted when read, so a database dump or backup never holds them in clear. The keys come from
``settings.IBCLOUD_ENCRYPTION_KEYS``: the first encrypts, every key decrypts, so a key is rotated by
putting the new one first and keeping the old one until :func:`reencrypt` has rewritten the rows.

Each configured key is stretched with HKDF-SHA256 into a 32-byte Fernet key, so any string (such
as Django's ``SECRET_KEY``, the default) works as a key.

Encrypted values cannot be searched or compared in SQL (each encryption uses a fresh IV). Keep them
out of the audit log: list the field name in ``AUDITLOG_EXCLUDE_TRACKING_FIELDS``.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django import forms
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

HKDF_SALT = b"ibcloud-field-encryption"
HKDF_INFO = b"ibcloud.core.fields"


class SecretDecryptionError(ImproperlyConfigured):
    """A stored value could not be decrypted with any configured key."""


def derive_key(secret: str) -> bytes:
    """A urlsafe-base64 Fernet key derived from an arbitrary secret string."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=HKDF_SALT, info=HKDF_INFO).derive(
        secret.encode("utf-8")
    )
    return base64.urlsafe_b64encode(raw)


@lru_cache(maxsize=8)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(derive_key(key)) for key in keys])


def fernet() -> MultiFernet:
    """The MultiFernet for the configured keys (re-read each call so settings overrides apply)."""
    keys = tuple(k for k in getattr(settings, "IBCLOUD_ENCRYPTION_KEYS", ()) if k)
    if not keys:
        raise ImproperlyConfigured("IBCLOUD_ENCRYPTION_KEYS must hold at least one key.")
    return _fernet_for(keys)


def encrypt(plain: str) -> str:
    """Encrypt ``plain`` with the first key; returns the Fernet token as text."""
    return fernet().encrypt(plain.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """Decrypt a token written by :func:`encrypt` with any configured key."""
    try:
        return fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError) as exc:
        # Never include the token or a key in the message: it ends up in logs.
        raise SecretDecryptionError(
            "A stored secret cannot be decrypted with IBCLOUD_ENCRYPTION_KEYS; "
            "was a key removed before the rows were re-encrypted?"
        ) from exc


class EncryptedTextField(models.TextField):
    """Text stored encrypted; reads give the clear text. ``""`` and ``None`` are stored as is."""

    description = "Text encrypted at rest"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return decrypt(value)

    def to_python(self, value: Any) -> Any:
        # Values reaching to_python come from forms, fixtures or assignment: always clear text.
        return value if value is None else str(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))

    def value_to_string(self, obj: models.Model) -> str:
        # Serialization (dumpdata) keeps the ciphertext: a dump must not leak secrets.
        value = self.value_from_object(obj)
        return "" if value in (None, "") else encrypt(str(value))

    def formfield(self, **kwargs: Any) -> forms.Field:
        kwargs.setdefault("widget", forms.PasswordInput(render_value=False))
        return super().formfield(**kwargs)


class EncryptedJSONField(models.TextField):
    """A JSON value (dict, list, ...) stored as encrypted text; ``None`` is stored as NULL."""

    description = "JSON encrypted at rest"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return None
        return json.loads(decrypt(value))

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        return encrypt(json.dumps(value, ensure_ascii=False, sort_keys=True))

    def value_to_string(self, obj: models.Model) -> str:
        value = self.value_from_object(obj)
        return "" if value is None else encrypt(json.dumps(value, ensure_ascii=False))

    def formfield(self, **kwargs: Any) -> forms.Field:
        return forms.JSONField(
            required=not self.blank, label=self.verbose_name, help_text=self.help_text, **kwargs
        )


def reencrypt(model: type[models.Model], *field_names: str) -> int:
    """Rewrite ``field_names`` of every row with the first key (after a key rotation).

    Uses ``queryset.update`` per row so the audit log stays out of it; returns the rows rewritten.
    """
    count = 0
    for obj in model._default_manager.all().only("pk", *field_names).iterator():
        values = {name: getattr(obj, name) for name in field_names}
        model._default_manager.filter(pk=obj.pk).update(**values)
        count += 1
    return count
