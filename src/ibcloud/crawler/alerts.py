"""Source health monitoring: run the health rules, raise, group and resolve alerts, statistics.

* :func:`check_after_job` runs after every finished crawl (the lifecycle code calls it): the rules
  of :mod:`ibcloud.crawler.health` look at the run's figures; each finding raises a
  ``SourceAlert``, or is grouped into the open (or acknowledged) alert of the same source, rule
  and field: its occurrence count rises, its evidence is refreshed, and nobody is notified again.
  A rule that checked this run and found it healthy resolves its alert.
* :func:`check_overdue` (every five minutes) finds scheduled sources that stopped running.
* A new alert notifies the source's owner and the administrators (:func:`alert_recipients`)
  through the notification centre (event ``crawler.alert``); a resolved one tells them briefly.
* :func:`source_statistics` and :func:`dashboard_statistics` feed the health pages and the API.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Length, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from huey import crontab

from ibcloud.audit.models import EVENT_LABELS
from ibcloud.core.home import HomeWidget, register_widget
from ibcloud.core.jobs import periodic_job
from ibcloud.core.parameters import CRAWLER_ERROR_RATE_THRESHOLD, define
from ibcloud.core.scoping import can_see, restrict
from ibcloud.core.signals import record_sensitive_action
from ibcloud.crawler import health
from ibcloud.crawler.health import Finding
from ibcloud.crawler.models import CrawlJob, CrawlSource, SourceAlert
from ibcloud.notify import events
from ibcloud.notify.services import absolute_link, notify

logger = logging.getLogger(__name__)

ALERT_EVENT = "crawler.alert"
events.register(ALERT_EVENT, gettext_lazy("Crawl source alert"))
#: the audit log's event code for an acknowledgement
ACKNOWLEDGE_EVENT = "alert_acknowledge"
EVENT_LABELS.setdefault(ACKNOWLEDGE_EVENT, gettext_lazy("Acknowledge crawler alert"))

FILL_RATE_DROP_RATIO = define(
    "crawler.fill_rate_drop_ratio",
    default=0.5,
    kind=float,
    minimum=0.05,
    maximum=0.95,
    label=gettext_lazy(
        "Structure change: a field's fill rate below this share of its recent average "
        "raises an alert (0–1)"
    ),
)
FILL_RATE_WINDOW = define(
    "crawler.fill_rate_window",
    default=5,
    kind=int,
    minimum=1,
    maximum=50,
    label=gettext_lazy("Structure change: good runs a field's fill rate is averaged over"),
)
OVERDUE_GRACE_MINUTES = define(
    "crawler.overdue_grace_minutes",
    default=30,
    kind=int,
    minimum=0,
    maximum=10080,
    label=gettext_lazy("Overdue: minutes of grace after two missed schedule slots before an alert"),
)

#: earlier runs read to compute a field's recent average
HISTORY_RUNS = 50
#: runs drawn in a source's charts
SERIES_RUNS = 300
OPEN = (SourceAlert.Status.OPEN, SourceAlert.Status.ACKNOWLEDGED)
GOOD_RUN = (CrawlJob.Status.SUCCEEDED, CrawlJob.Status.PARTIAL)


# --- Evaluating a run ---------------------------------------------------------------------------


def evaluate_job(crawl_job: CrawlJob) -> tuple[list[Finding], set[tuple[str, str]]]:
    """The findings of the run-level rules for a finished run, and the ``(rule, field)`` keys the
    rules could judge (a key judged without a finding is healthy).

    A cancelled run proves only that the source runs (not overdue); a rule without figures to
    judge (no request made, a field that checked no item) leaves its alert as it is.
    """
    source = crawl_job.source
    checked: set[tuple[str, str]] = {(SourceAlert.Rule.OVERDUE, "")}
    findings: list[Finding] = []
    if crawl_job.status == CrawlJob.Status.CANCELLED or not crawl_job.is_finished:
        return findings, checked
    checked |= {(SourceAlert.Rule.JOB_FAILED, ""), (SourceAlert.Rule.ZERO_ITEMS, "")}
    for finding in (
        health.job_failed(crawl_job.status, crawl_job.message, crawl_job.pages, crawl_job.items),
        health.zero_items(crawl_job.status, crawl_job.items, crawl_job.pages, crawl_job.message),
    ):
        if finding is not None:
            findings.append(finding)

    requests, errors, by_status = health.request_figures(crawl_job.stats)
    if requests >= health.MIN_REQUESTS:
        checked.add((SourceAlert.Rule.ERROR_RATE, ""))
        threshold = float(CRAWLER_ERROR_RATE_THRESHOLD.get())
        finding = health.error_rate(requests, errors, threshold, by_status)
        if finding is not None:
            findings.append(finding)

    structure, structure_checked = _structure_findings(crawl_job, source)
    return findings + structure, checked | structure_checked


def _field_labels(source: CrawlSource) -> dict[str, str]:
    labels = {}
    for rule in source.fields if isinstance(source.fields, list) else []:
        if isinstance(rule, dict) and isinstance(rule.get("name"), str):
            labels[rule["name"]] = str(rule.get("label") or "")
    return labels


def _structure_findings(
    crawl_job: CrawlJob, source: CrawlSource
) -> tuple[list[Finding], set[tuple[str, str]]]:
    """Structure-change findings: each field's fill rate against its recent good runs."""
    rule = SourceAlert.Rule.STRUCTURE_CHANGE
    labels = _field_labels(source)
    field_stats = crawl_job.field_stats if isinstance(crawl_job.field_stats, dict) else {}
    checked: set[tuple[str, str]] = set()
    # An alert about a field the source no longer has cannot come back: resolve it.
    if labels:
        for name in (
            SourceAlert.objects.filter(source=source, rule=rule, status__in=OPEN)
            .exclude(field__in=list(labels))
            .values_list("field", flat=True)
        ):
            checked.add((rule, name))

    judged = {
        name: stats
        for name, stats in field_stats.items()
        if (not labels or name in labels) and health.fill_rate(stats) is not None
    }
    if not judged:
        return [], checked
    history = list(
        CrawlJob.objects.filter(source=source, status__in=GOOD_RUN, pk__lt=crawl_job.pk)
        .annotate(page_size=Length("sample_page"))
        .order_by("-pk")
        .values("pk", "field_stats", "sample_page_url", "page_size")[:HISTORY_RUNS]
    )[::-1]
    window = int(FILL_RATE_WINDOW.get())
    ratio = float(FILL_RATE_DROP_RATIO.get())
    samples = crawl_job.sample_urls if isinstance(crawl_job.sample_urls, dict) else {}
    findings = []
    for name, stats in judged.items():
        checked.add((rule, name))
        rates = [
            health.fill_rate((row["field_stats"] or {}).get(name))
            if isinstance(row["field_stats"], dict)
            else None
            for row in history
        ]
        baseline = health.fill_rate_baseline(rates, window, ratio)
        urls = samples.get(name) if isinstance(samples.get(name), list) else []
        finding = health.structure_change(
            name,
            int(stats.get("filled") or 0),
            int(stats.get("total") or 0),
            baseline,
            ratio,
            sample_urls=urls,
            label=labels.get(name, ""),
        )
        if finding is None:
            continue
        # The "before" page: the latest good run (of this field) that kept a sample page.
        before = next(
            (history[i] for i in reversed(baseline.runs) if history[i]["page_size"]), None
        )
        if before is not None and crawl_job.sample_page:
            before_page = (
                CrawlJob.objects.filter(pk=before["pk"])
                .values_list("sample_page", flat=True)
                .first()
            )
            finding = health.with_page_diff(
                finding,
                before["sample_page_url"],
                before_page or "",
                crawl_job.sample_page_url,
                crawl_job.sample_page,
            )
            finding.evidence["before_job"] = before["pk"]
        findings.append(finding)
    return findings, checked


def check_after_job(crawl_job: CrawlJob) -> list[SourceAlert]:
    """Run the health rules on a finished run; raise, group and resolve the source's alerts.

    Returns the alerts this run raised or added an occurrence to. Calling it twice for the same
    run changes nothing the second time (no extra occurrence, no notification); a run that ends
    after a later run of the source has finished (a reaped straggler) is not judged.
    """
    job = CrawlJob.objects.select_related("source", "source__owner").filter(pk=crawl_job.pk).first()
    if job is None or not job.is_finished:
        return []
    newer = CrawlJob.objects.filter(
        source_id=job.source_id, status__in=CrawlJob.FINISHED, pk__gt=job.pk
    )
    if newer.exists():
        return []  # a later run already judged the source; this one is history
    findings, checked = evaluate_job(job)
    now = timezone.now()
    raised: list[SourceAlert] = []
    new: list[SourceAlert] = []
    with transaction.atomic():
        for finding in findings:
            alert, created = record_finding(job.source, finding, crawl_job=job, now=now)
            raised.append(alert)
            if created:
                new.append(alert)
        healthy = checked - {finding.key for finding in findings}
        resolved = resolve_alerts(job.source, healthy, now=now)
    for alert in new:
        notify_new_alert(alert)
    for alert in resolved:
        notify_resolved_alert(alert)
    return raised


# --- Raising, grouping, resolving ---------------------------------------------------------------


def _same_evidence(a: dict, b: dict) -> bool:
    return {k: v for k, v in (a or {}).items() if k != "summary"} == {
        k: v for k, v in (b or {}).items() if k != "summary"
    }


def record_finding(
    source: CrawlSource,
    finding: Finding,
    crawl_job: CrawlJob | None = None,
    now: datetime.datetime | None = None,
) -> tuple[SourceAlert, bool]:
    """Raise an alert for ``finding``, or group it into the open/acknowledged one of the same
    source, rule and field. Returns ``(alert, created)``.

    Grouping refreshes the title, evidence, last run and last-seen time; the occurrence count
    rises once per run (or, without a run, when the evidence changed: a newly missed slot).
    """
    now = now or timezone.now()
    existing = SourceAlert.objects.select_for_update().filter(
        source=source, rule=finding.rule, field=finding.field, status__in=OPEN
    )
    alert = existing.first()
    if alert is None:
        try:
            with transaction.atomic():
                alert = SourceAlert.objects.create(
                    source=source,
                    rule=finding.rule,
                    field=finding.field,
                    title=str(finding.title)[:300],
                    evidence=finding.evidence,
                    last_job=crawl_job,
                    first_seen_at=now,
                    last_seen_at=now,
                )
            return alert, True
        except IntegrityError:
            # Raised by another process a moment ago (the run and the overdue check).
            alert = existing.first()
            if alert is None:
                raise
    if crawl_job is not None:
        again = alert.last_job_id != crawl_job.pk
    else:
        again = not _same_evidence(alert.evidence, finding.evidence)
    if again:
        alert.occurrences += 1
    alert.title = str(finding.title)[:300]
    alert.evidence = finding.evidence
    alert.last_seen_at = now
    if crawl_job is not None:
        alert.last_job = crawl_job
    alert.save(update_fields=["occurrences", "title", "evidence", "last_seen_at", "last_job"])
    return alert, False


def resolve_alerts(
    source: CrawlSource,
    keys: Iterable[tuple[str, str]],
    now: datetime.datetime | None = None,
) -> list[SourceAlert]:
    """Resolve the source's open/acknowledged alerts for the ``(rule, field)`` keys given."""
    keys = set(keys)
    if not keys:
        return []
    condition = Q(pk__in=[])
    for rule, field in keys:
        condition |= Q(rule=rule, field=field)
    now = now or timezone.now()
    resolved = []
    for alert in SourceAlert.objects.select_for_update().filter(
        condition, source=source, status__in=OPEN
    ):
        alert.status = SourceAlert.Status.RESOLVED
        alert.resolved_at = now
        alert.save(update_fields=["status", "resolved_at"])
        resolved.append(alert)
    return resolved


# --- Who is told, and what --------------------------------------------------------------------


def alert_recipients(source: CrawlSource) -> list[Any]:
    """Who hears about a source's alerts: its owner, every active superuser, and every active
    user holding ``crawler.change_crawlsource`` (directly or through an active role) whose data
    scope reaches the source, i.e. the people who could fix its configuration."""
    user_model = get_user_model()
    people: dict[int, Any] = {}
    owner = source.owner
    if owner is not None and owner.is_active:
        people[owner.pk] = owner
    permission = Permission.objects.filter(
        content_type__app_label="crawler", codename="change_crawlsource"
    ).first()
    holders = Q(is_superuser=True)
    if permission is not None:
        holders |= Q(user_permissions=permission) | Q(
            roles__is_active=True, roles__permissions=permission
        )
    for user in user_model.objects.filter(holders, is_active=True).distinct().order_by("pk"):
        if user.pk not in people and (user.is_superuser or can_see(user, source, "change")):
            people[user.pk] = user
    return list(people.values())


def alert_body(alert: SourceAlert) -> str:
    """The notification text: what was found, sample URLs, the run, and the link to the alert."""
    evidence = alert.evidence or {}
    lines = [str(evidence.get("summary") or alert.title)]
    urls = evidence.get("sample_urls") or []
    if urls:
        lines.append(_("Pages where the field matched nothing:"))
        lines.extend(f"- {url}" for url in urls[:3])
    if evidence.get("diff"):
        lines.append(_("The alert shows how the sample page changed."))
    if alert.last_job_id:
        lines.append(_("Run: #%(id)d") % {"id": alert.last_job_id})
    lines.append(_("Details: %(url)s") % {"url": absolute_link(alert.get_absolute_url())})
    return "\n".join(lines)


def notify_new_alert(alert: SourceAlert) -> None:
    """Tell the source's owner and the administrators about a new alert."""
    level = "error" if alert.rule == SourceAlert.Rule.JOB_FAILED else "warning"
    notify(
        alert_recipients(alert.source),
        f"{alert.source}: {alert.title}",
        body=alert_body(alert),
        url=alert.get_absolute_url(),
        level=level,
        event=ALERT_EVENT,
    )


def notify_resolved_alert(alert: SourceAlert) -> None:
    """A short note that a source is healthy again."""
    notify(
        alert_recipients(alert.source),
        _("Resolved: %(title)s") % {"title": f"{alert.source}: {alert.title}"},
        body=_("A later check found the source healthy again; the alert resolved itself."),
        url=alert.get_absolute_url(),
        level="success",
        event=ALERT_EVENT,
    )


# --- Overdue sources ----------------------------------------------------------------------------


def check_overdue(now: datetime.datetime | None = None) -> list[SourceAlert]:
    """Raise (or refresh) an overdue alert for every enabled scheduled source that has not run
    for two schedule slots plus the grace; resolve it for the others. Returns the alerts raised
    or refreshed."""
    now = now or timezone.now()
    grace = datetime.timedelta(minutes=int(OVERDUE_GRACE_MINUTES.get()))
    rule = SourceAlert.Rule.OVERDUE
    last_finished = (
        CrawlJob.objects.filter(source=OuterRef("pk"), finished_at__isnull=False)
        .order_by("-finished_at")
        .values("finished_at")[:1]
    )
    running_since = (
        CrawlJob.objects.filter(source=OuterRef("pk"), status=CrawlJob.Status.RUNNING)
        .order_by("-started_at")
        .values("started_at")[:1]
    )
    with_open_alert = set(
        SourceAlert.objects.filter(rule=rule, status__in=OPEN).values_list("source_id", flat=True)
    )
    sources = (
        CrawlSource.objects.select_related("owner")
        .only("pk", "name", "enabled", "schedule", "created_at", "owner")
        .annotate(last_finished=Subquery(last_finished), running_since=Subquery(running_since))
    )
    raised: list[SourceAlert] = []
    for source in sources:
        finding = None
        if source.enabled and source.schedule:
            activity = [t for t in (source.last_finished, source.running_since) if t]
            finding = health.overdue(
                source.schedule, max(activity) if activity else None, source.created_at, now, grace
            )
        if finding is None:
            if source.pk in with_open_alert:
                with transaction.atomic():
                    resolved = resolve_alerts(source, {(rule, "")}, now=now)
                for alert in resolved:
                    notify_resolved_alert(alert)
            continue
        with transaction.atomic():
            alert, created = record_finding(source, finding, now=now)
        raised.append(alert)
        if created:
            notify_new_alert(alert)
    return raised


@periodic_job(crontab(minute="*/5"), record=False)
def check_overdue_sources(ctx) -> None:
    """Every five minutes: alert about scheduled sources that stopped running."""
    check_overdue()


# --- Acknowledging ------------------------------------------------------------------------------


def acknowledge(alert: SourceAlert, user: Any, request: Any = None) -> SourceAlert:
    """``user`` has seen the alert and is on it: it stays until the source is healthy, but is
    no longer *open*. Audited. A resolved alert cannot be acknowledged; acknowledging twice
    changes nothing."""
    if not can_see(user, alert, "acknowledge"):
        raise PermissionDenied
    if alert.status == SourceAlert.Status.RESOLVED:
        raise ValidationError(_("This alert is already resolved."))
    if alert.status == SourceAlert.Status.ACKNOWLEDGED:
        return alert
    alert.status = SourceAlert.Status.ACKNOWLEDGED
    alert.acknowledged_by = getattr(user, "_wrapped", user)
    alert.acknowledged_at = timezone.now()
    alert.save(update_fields=["status", "acknowledged_by", "acknowledged_at"])
    record_sensitive_action(
        request,
        ACKNOWLEDGE_EVENT,
        target=alert,
        description=str(alert),
        actor=None if request is not None else user,
        source=alert.source_id,
        rule=alert.rule,
        field=alert.field,
    )
    return alert


# --- Statistics ---------------------------------------------------------------------------------


def _seconds(job: dict) -> float | None:
    if job.get("started_at") and job.get("finished_at"):
        return max((job["finished_at"] - job["started_at"]).total_seconds(), 0.0)
    return None


def source_statistics(source: CrawlSource, days: int = 30) -> dict:
    """A source's runs over the last ``days``: totals, average duration, the run series for
    charts (items, pages, errors per run) and each field's fill rate per run.

    The caller has checked that the user may see ``source``.
    """
    days = max(1, min(int(days), 3650))
    now = timezone.now()
    since = now - datetime.timedelta(days=days)
    jobs = CrawlJob.objects.filter(source=source, created_at__gte=since)
    totals = jobs.aggregate(
        runs=Count("pk"),
        pages=Sum("pages"),
        items=Sum("items"),
        new_items=Sum("new_items"),
        errors=Sum("errors"),
    )
    by_status = dict(jobs.values_list("status").annotate(n=Count("pk")).order_by())
    rows = list(
        jobs.order_by("-created_at", "-pk").values(
            "pk",
            "created_at",
            "started_at",
            "finished_at",
            "status",
            "pages",
            "items",
            "new_items",
            "errors",
            "stats",
            "field_stats",
        )[:SERIES_RUNS]
    )[::-1]
    durations = [
        d
        for d in (
            _seconds(row)
            for row in jobs.filter(finished_at__isnull=False).values("started_at", "finished_at")
        )
        if d is not None
    ]
    labels = _field_labels(source)
    fields = list(labels) or sorted(
        {
            name
            for row in rows
            if isinstance(row["field_stats"], dict)
            for name in row["field_stats"]
        }
    )
    requests = errors = 0
    series = []
    for row in rows:
        run_requests, run_errors, _by_status = health.request_figures(row["stats"])
        requests += run_requests
        errors += run_errors
        field_stats = row["field_stats"] if isinstance(row["field_stats"], dict) else {}
        rates = {name: health.fill_rate(field_stats.get(name)) for name in fields}
        series.append(
            {
                "id": row["pk"],
                "created_at": row["created_at"].isoformat(),
                "label": timezone.localtime(row["created_at"]).strftime("%m-%d %H:%M"),
                "status": row["status"],
                "pages": row["pages"],
                "items": row["items"],
                "new_items": row["new_items"],
                "errors": row["errors"],
                "requests": run_requests,
                "error_rate": round(run_errors / run_requests, 4) if run_requests else None,
                "duration": _seconds(row),
                "fill_rates": {
                    name: round(rate, 4) if rate is not None else None
                    for name, rate in rates.items()
                },
            }
        )
    last = series[-1] if series else None
    return {
        "source": {"id": source.pk, "name": source.name},
        "days": days,
        "since": since.isoformat(),
        "runs": totals["runs"] or 0,
        "by_status": by_status,
        "pages": totals["pages"] or 0,
        "items": totals["items"] or 0,
        "new_items": totals["new_items"] or 0,
        "errors": totals["errors"] or 0,
        "requests": requests,
        "error_rate": round(errors / requests, 4) if requests else None,
        "average_duration": round(sum(durations) / len(durations), 1) if durations else None,
        "last_run": last,
        "open_alerts": SourceAlert.objects.filter(source=source, status__in=OPEN).count(),
        "fields": [{"name": name, "label": labels.get(name, "")} for name in fields],
        "series": series,
    }


def dashboard_statistics(user: Any, days: int = 14) -> dict:
    """Figures across the sources ``user`` may see: counts, today's runs and items, open alerts,
    items per day per source, runs by status, and one row per source with its last run."""
    days = max(1, min(int(days), 365))
    sources = restrict(CrawlSource.objects.all(), user, "view")
    alerts = restrict(SourceAlert.objects.filter(status__in=OPEN), user, "view")
    jobs = CrawlJob.objects.filter(source__in=sources.values("pk"))
    now = timezone.localtime()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    first_day = today - datetime.timedelta(days=days - 1)
    today_totals = jobs.filter(created_at__gte=today).aggregate(
        runs=Count("pk"), items=Sum("items")
    )

    # Items per day per source (the chart): the ten busiest sources, the rest as "other".
    tz = timezone.get_current_timezone()
    per_day = (
        jobs.filter(created_at__gte=first_day)
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("source_id", "day")
        .annotate(items=Sum("items"))
        .order_by()
    )
    day_list = [(first_day + datetime.timedelta(days=i)).date() for i in range(days)]
    by_source: dict[int, dict] = defaultdict(dict)
    for row in per_day:
        by_source[row["source_id"]][row["day"]] = row["items"] or 0
    names = dict(sources.filter(pk__in=list(by_source)).values_list("pk", "name"))
    ranked = sorted(by_source, key=lambda pk: (-sum(by_source[pk].values()), names.get(pk, "")))
    chart = [
        {
            "source_id": pk,
            "name": names.get(pk, str(pk)),
            "data": [by_source[pk].get(day, 0) for day in day_list],
        }
        for pk in ranked[:10]
    ]
    if len(ranked) > 10:
        chart.append(
            {
                "source_id": None,
                "name": _("Other sources"),
                "data": [sum(by_source[pk].get(day, 0) for pk in ranked[10:]) for day in day_list],
            }
        )
    status_counts = dict(
        jobs.filter(created_at__gte=first_day)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )

    # One row per source with its latest run.
    latest = CrawlJob.objects.filter(source=OuterRef("pk")).order_by("-created_at", "-pk")
    rows = list(
        sources.annotate(last_job_id=Subquery(latest.values("pk")[:1]))
        .order_by("name")
        .values("pk", "name", "enabled", "schedule", "last_job_id")
    )
    last_ids = [row["last_job_id"] for row in rows if row["last_job_id"]]
    last_jobs = {
        job.pk: job
        for job in CrawlJob.objects.filter(pk__in=last_ids).only(
            "pk", "status", "items", "stats", "finished_at", "created_at"
        )
    }
    open_by_source = dict(alerts.values_list("source_id").annotate(n=Count("pk")).order_by())
    table = []
    for row in rows:
        job = last_jobs.get(row["last_job_id"])
        requests, errors, _by_status = health.request_figures(job.stats if job else None)
        table.append(
            {
                "id": row["pk"],
                "name": row["name"],
                "enabled": row["enabled"],
                "schedule": row["schedule"],
                "last_job_id": job.pk if job else None,
                "last_status": job.status if job else None,
                "last_status_label": str(job.get_status_display()) if job else "",
                "last_finished_at": (
                    job.finished_at.isoformat() if job and job.finished_at else None
                ),
                "last_items": job.items if job else None,
                "error_rate": round(errors / requests, 4) if requests else None,
                "open_alerts": open_by_source.get(row["pk"], 0),
            }
        )
    return {
        "days": days,
        "sources": len(rows),
        "enabled_sources": sum(1 for row in rows if row["enabled"]),
        "runs_today": today_totals["runs"] or 0,
        "items_today": today_totals["items"] or 0,
        "open_alerts": alerts.count(),
        "can_view_alerts": user.has_perm("crawler.view_sourcealert"),
        "items_per_day": {"days": [day.isoformat() for day in day_list], "series": chart},
        "jobs_by_status": [
            {"status": value, "label": str(label), "count": status_counts.get(value, 0)}
            for value, label in CrawlJob.Status.choices
            if status_counts.get(value)
        ],
        "table": table,
    }


# --- Home page card -----------------------------------------------------------------------------

register_widget(
    HomeWidget(
        key="crawler_open_alerts",
        label=gettext_lazy("Open crawler alerts"),
        permission="crawler.view_sourcealert",
        url_name="crawler:sourcealert_list",
        url_query="status=open",
        count=lambda user: restrict(
            SourceAlert.objects.filter(status=SourceAlert.Status.OPEN), user, "view"
        ).count(),
        icon="ti-alert-triangle",
        color="red",
        order=30,
    )
)
