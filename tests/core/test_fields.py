"""Secrets in EncryptedTextField / EncryptedJSONField are never stored in clear."""

import pytest
from django.db import connection
from django.test import override_settings

from ibcloud.core.fields import SecretDecryptionError, decrypt, encrypt
from ibcloud.notify.models import Channel

pytestmark = pytest.mark.django_db


def raw_secret(channel_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM notify_channel WHERE id = %s", [channel_id])
        return cursor.fetchone()[0]


def test_secret_is_encrypted_in_the_database_and_clear_in_python():
    channel = Channel.objects.create(name="SMTP", kind="email", secret="s3cr3t-SMTP-pw")
    stored = raw_secret(channel.pk)
    assert "s3cr3t" not in stored
    assert stored.startswith("gAAAA")  # a Fernet token
    assert Channel.objects.get(pk=channel.pk).secret == "s3cr3t-SMTP-pw"


def test_each_save_uses_a_fresh_token():
    first = Channel.objects.create(name="a", kind="webhook", secret="same")
    second = Channel.objects.create(name="b", kind="webhook", secret="same")
    assert raw_secret(first.pk) != raw_secret(second.pk)


def test_empty_secret_stays_empty():
    channel = Channel.objects.create(name="no secret", kind="webhook")
    assert raw_secret(channel.pk) == ""
    assert Channel.objects.get(pk=channel.pk).secret == ""


def test_key_rotation_old_key_still_decrypts():
    with override_settings(IBCLOUD_ENCRYPTION_KEYS=["old-key"]):
        token = encrypt("rotated")
    with override_settings(IBCLOUD_ENCRYPTION_KEYS=["new-key", "old-key"]):
        assert decrypt(token) == "rotated"
        assert encrypt("x") != token
    with override_settings(IBCLOUD_ENCRYPTION_KEYS=["new-key"]):
        with pytest.raises(SecretDecryptionError) as excinfo:
            decrypt(token)
        assert "rotated" not in str(excinfo.value)


def test_reencrypt_moves_rows_to_the_first_key():
    from ibcloud.core.fields import reencrypt

    with override_settings(IBCLOUD_ENCRYPTION_KEYS=["old-key"]):
        channel = Channel.objects.create(name="r", kind="webhook", secret="keep me")
    with override_settings(IBCLOUD_ENCRYPTION_KEYS=["new-key", "old-key"]):
        assert reencrypt(Channel, "secret") == 1
    with override_settings(IBCLOUD_ENCRYPTION_KEYS=["new-key"]):
        assert Channel.objects.get(pk=channel.pk).secret == "keep me"


def test_encrypted_json_field_round_trip():
    from ibcloud.core.fields import EncryptedJSONField

    field = EncryptedJSONField()
    stored = field.get_prep_value({"cookie": "sessionid=abc"})
    assert "sessionid" not in stored
    assert field.from_db_value(stored, None, connection) == {"cookie": "sessionid=abc"}
    assert field.get_prep_value(None) is None
