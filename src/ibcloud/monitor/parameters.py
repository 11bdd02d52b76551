"""System parameters of operations: backups (schedule, retention) and hardware monitoring
(thresholds, offline limit, forecast, retention of samples). Admins change them at run time."""

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

# --- Hardware monitoring (monitor/metrics.py, alerts.py, forecast.py) ---------------------------

MONITOR_CPU_PERCENT = define(
    "monitor.cpu_percent",
    default=90.0,
    kind=float,
    minimum=1,
    maximum=100,
    label=_("Alert when a node's CPU use (average of the alert window) reaches this percentage"),
)
MONITOR_MEMORY_PERCENT = define(
    "monitor.memory_percent",
    default=90.0,
    kind=float,
    minimum=1,
    maximum=100,
    label=_("Alert when a node's memory use reaches this percentage"),
)
MONITOR_DISK_PERCENT = define(
    "monitor.disk_percent",
    default=90.0,
    kind=float,
    minimum=1,
    maximum=100,
    label=_("Alert when a disk (mount point) of a node is filled to this percentage"),
)
MONITOR_LOAD_PER_CORE = define(
    "monitor.load_per_core",
    default=2.0,
    kind=float,
    minimum=0.1,
    maximum=100,
    label=_("Alert when a node's 5-minute load per CPU core reaches this value"),
)
MONITOR_HYSTERESIS_PERCENT = define(
    "monitor.hysteresis_percent",
    default=5.0,
    kind=float,
    minimum=0,
    maximum=50,
    label=_("An alert resolves when its figure falls this many percent below the threshold"),
)
MONITOR_ALERT_WINDOW_MINUTES = define(
    "monitor.alert_window_minutes",
    default=5,
    kind=int,
    minimum=1,
    maximum=120,
    label=_("Minutes of samples averaged for the CPU alert (a short spike raises none)"),
)
NODE_OFFLINE_MINUTES = define(
    "monitor.node_offline_minutes",
    default=5,
    kind=int,
    minimum=2,
    maximum=1440,
    label=_("A node that has not reported for this many minutes is offline (and raises an alert)"),
)
MONITOR_EXTRA_MOUNTS = define(
    "monitor.extra_mounts",
    default="",
    kind=str,
    label=_(
        "Mount points monitored besides the disk partitions, comma-separated (e.g. /data); "
        "paths that are not mounted on a node are skipped"
    ),
)
MONITOR_FORECAST_DAYS = define(
    "monitor.forecast_days",
    default=7,
    kind=int,
    minimum=1,
    maximum=90,
    label=_("Days of disk history the fill-up forecast follows"),
)
MONITOR_FORECAST_WARN_DAYS = define(
    "monitor.forecast_warn_days",
    default=14,
    kind=int,
    minimum=0,
    maximum=365,
    label=_("Warn when a disk is forecast to be full within this many days (0: never)"),
)
METRICS_RAW_DAYS = define(
    "monitor.raw_retention_days",
    default=2,
    kind=int,
    minimum=1,
    maximum=90,
    label=_("Days the per-minute samples are kept"),
)
METRICS_HOURLY_DAYS = define(
    "monitor.hourly_retention_days",
    default=365,
    kind=int,
    minimum=7,
    maximum=3650,
    label=_("Days the hourly averages are kept"),
)
METRICS_DAILY_DAYS = define(
    "monitor.daily_retention_days",
    default=1825,
    kind=int,
    minimum=30,
    maximum=36500,
    label=_("Days the daily averages are kept"),
)
