"""Background jobs of the notification centre: one job per delivery."""

from __future__ import annotations

from ibcloud.core.jobs import JobContext, job
from ibcloud.notify.models import Delivery
from ibcloud.notify.services import DELIVERY_ATTEMPTS, DeliveryRetry, run_delivery


@job(queue="default", retries=DELIVERY_ATTEMPTS - 1, retry_delay=30)
def deliver(ctx: JobContext, delivery_id: int) -> dict:
    """Send one delivery. A transient failure raises so the job is retried (30 s, 60 s, 120 s);
    a permanent one, or the last attempt, ends the job with the delivery marked failed: the
    delivery log, not the job row, tells sent from failed."""
    final = ctx.job.attempts >= DELIVERY_ATTEMPTS
    delivery = run_delivery(delivery_id, final_attempt=final)
    if delivery is None:
        return {"status": "missing"}
    ctx.log(f"attempt {delivery.attempts}: {delivery.status} {delivery.last_error}".strip())
    if delivery.status == Delivery.Status.PENDING:
        raise DeliveryRetry(delivery.last_error or "transient failure")
    return {"status": delivery.status, "attempts": delivery.attempts}
