"""Move robot URLs from ``Channel.config["url"]`` (clear JSON, audited) to the encrypted
``Channel.webhook_url``.

Historical models carry no audit-log receivers, so the move itself writes no audit entry with the
URL in it. Entries written before this migration keep what they recorded (the log is append-only).
"""

from django.db import migrations


def move_url_to_webhook_url(apps, schema_editor):
    Channel = apps.get_model("notify", "Channel")
    for channel in Channel.objects.all().only("pk", "config", "webhook_url").iterator():
        config = dict(channel.config or {}) if isinstance(channel.config, dict) else {}
        if "url" not in config:
            continue
        url = str(config.pop("url") or "").strip()
        # EncryptedTextField.get_prep_value encrypts the value in update() too.
        Channel.objects.filter(pk=channel.pk).update(
            webhook_url=channel.webhook_url or url, config=config
        )


def move_webhook_url_back_to_config(apps, schema_editor):
    Channel = apps.get_model("notify", "Channel")
    for channel in Channel.objects.exclude(webhook_url="").only("pk", "config", "webhook_url"):
        config = dict(channel.config or {}) if isinstance(channel.config, dict) else {}
        config["url"] = channel.webhook_url
        Channel.objects.filter(pk=channel.pk).update(config=config, webhook_url="")


class Migration(migrations.Migration):
    dependencies = [
        ("notify", "0002_channel_webhook_url"),
    ]

    operations = [
        migrations.RunPython(move_url_to_webhook_url, move_webhook_url_back_to_config),
    ]
