"""Daily retention purge of the operation log."""

from __future__ import annotations

from huey import crontab

from ibcloud.audit import services
from ibcloud.core.jobs import JobContext, periodic_job


# 03:20 local time (Asia/Shanghai by default), a quiet hour.
@periodic_job(crontab(hour="3", minute="20"))
def purge_audit_log(ctx: JobContext | None) -> dict:
    """Delete entries older than ``IBCLOUD_AUDIT_RETENTION_DAYS`` (0 keeps them forever)."""
    return {"deleted": services.purge_expired()}
