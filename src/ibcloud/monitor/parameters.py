"""System parameters of the backups: schedule and retention (admins change them at run time)."""

from django.utils.translation import gettext_lazy as _

from ibcloud.core.parameters import define

BACKUP_SCHEDULE_ENABLED = define(
    "backup.schedule_enabled",
    default=True,
    kind=bool,
    label=_("Back up automatically every day"),
)
BACKUP_SCHEDULE_HOUR = define(
    "backup.schedule_hour",
    default=2,
    kind=int,
    minimum=0,
    maximum=23,
    label=_("Hour of the day (0–23, local time) of the scheduled backup"),
)
BACKUP_INCLUDE_MEDIA = define(
    "backup.include_media",
    default=True,
    kind=bool,
    label=_("Scheduled backups include the uploaded files"),
)
BACKUP_KEEP_COUNT = define(
    "backup.keep_count",
    default=7,
    kind=int,
    minimum=1,
    maximum=1000,
    label=_("Number of newest successful backups kept"),
)
BACKUP_KEEP_DAYS = define(
    "backup.keep_days",
    default=0,
    kind=int,
    minimum=0,
    maximum=3650,
    label=_("Days every backup is kept regardless of the number (0: the number alone decides)"),
)
