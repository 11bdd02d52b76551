"""System logs (系统日志): the application log viewer, the log files (download, audited), and
links to the other logs kept as records: crawl jobs, the operation (audit) log, the login log.

Logs are system records: reading them takes ``monitor.view_log`` (superusers hold every
permission). Log lines can carry crawled text; the templates escape everything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import FileResponse, Http404, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.audit.models import EVENT_LABELS
from ibcloud.core.signals import record_sensitive_action
from ibcloud.core.views import PermissionRequiredView
from ibcloud.monitor import logs
from ibcloud.monitor.log_forms import DEFAULT_PAGE_SIZE, LogFilterForm

VIEW_LOG = "monitor.view_log"
DOWNLOAD_EVENT = "log_download"
EVENT_LABELS.setdefault(DOWNLOAD_EVENT, gettext_lazy("Download a log file"))

#: Logger names offered as suggestions in the module field (any name may be typed).
COMMON_MODULES = (
    "ibcloud",
    "ibcloud.crawler",
    "ibcloud.catalog",
    "ibcloud.matching",
    "ibcloud.notify",
    "ibcloud.monitor",
    "django",
    "django.request",
    "huey",
    "scrapy",
)

#: Values of the crawler's ``CrawlJob.Status`` worth a quick link. Imports run from the crawler
#: up, never from ``monitor`` into it, so the values are named here and the crawl-job list's own
#: filter validates them.
CRAWL_JOB_LINKS = (
    ("", gettext_lazy("All crawl jobs")),
    ("failed", gettext_lazy("Failed crawl jobs")),
    ("partial", gettext_lazy("Partly failed crawl jobs")),
    ("running", gettext_lazy("Running crawl jobs")),
)


def _local_date(value: datetime | None) -> str:
    return timezone.localtime(value).date().isoformat() if value else ""


def _url(name: str, **query: str) -> str:
    params = QueryDict(mutable=True)
    params.update({key: value for key, value in query.items() if value})
    encoded = params.urlencode()
    return reverse(name) + (f"?{encoded}" if encoded else "")


def related_logs(user: Any, log_filter: logs.LogFilter) -> list[dict]:
    """Links to the other logs over the same days, each only for a user who may open it.

    Crawl jobs keep their own log (shown on the job's page); the audit and login logs are
    database records with their own list pages; this page reuses those pages rather than
    copying them.
    """
    start, end = _local_date(log_filter.since), _local_date(log_filter.until)
    links = []
    if user.has_perm("crawler.view_crawljob"):
        for status, label in CRAWL_JOB_LINKS:
            links.append(
                {
                    "id": f"crawl-jobs-{status or 'all'}",
                    "label": label,
                    "icon": "ti-spider",
                    "url": _url(
                        "crawler:crawljob_list",
                        status=status,
                        created_after=start,
                        created_before=end,
                    ),
                }
            )
    if user.has_perm("audit.view_auditentry"):
        links.append(
            {
                "id": "audit-log",
                "label": _("Audit log"),
                "icon": "ti-history",
                "url": _url("audit:entry_list", date_from=start, date_to=end),
            }
        )
    if user.has_perm("accounts.view_loginlog"):
        links.append(
            {
                "id": "login-log",
                "label": _("Login log"),
                "icon": "ti-login",
                "url": _url("accounts:loginlog_list", time_from=start, time_to=end),
            }
        )
    return links


class LogListView(PermissionRequiredView):
    """The application log, newest first, filtered; ``?cursor=`` pages to older entries."""

    permission = VIEW_LOG
    template_name = "monitor/log_list.html"
    partial_template_name = "monitor/log_entries.html"

    def get(self, request):
        form = LogFilterForm(request.GET or None)
        page = logs.LogPage()
        log_filter = logs.LogFilter()
        if not form.is_bound:
            page = logs.read_page(log_filter, limit=DEFAULT_PAGE_SIZE)
        elif form.is_valid():
            log_filter = form.log_filter()
            page = logs.read_page(
                log_filter, form.cleaned_data["cursor"], limit=form.cleaned_data["limit"]
            )
        older_url = ""
        if page.next_cursor is not None:
            query = request.GET.copy()
            query["cursor"] = str(page.next_cursor)
            older_url = f"{request.path}?{query.urlencode()}"
        newest = request.GET.copy()
        newest.pop("cursor", None)
        context = {
            "title": _("System logs"),
            "form": form,
            "page": page,
            "older_url": older_url,
            "newest_url": f"{request.path}?{newest.urlencode()}",
            "paged": bool(form.is_bound and form.is_valid() and form.cleaned_data["cursor"]),
            "files": logs.log_files(),
            "log_dir": str(logs.log_dir()),
            "related": related_logs(request.user, log_filter),
            "modules": COMMON_MODULES,
        }
        template = self.template_name
        if getattr(request, "htmx", False) and request.htmx.target == "log-entries":
            template = self.partial_template_name
        return render(request, template, context)


class LogDownloadView(PermissionRequiredView):
    """One log file as a download (audited: logs can hold personal and crawled data)."""

    permission = VIEW_LOG

    def get(self, request, name: str):
        log_file = logs.find_file(name)
        if log_file is None:
            raise Http404
        try:
            handle = open(log_file.path, "rb")  # noqa: SIM115 - FileResponse closes it
        except OSError as exc:
            raise Http404 from exc
        record_sensitive_action(
            request, DOWNLOAD_EVENT, description=log_file.name, size=log_file.size
        )
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=log_file.name if log_file.name.endswith(".log") else f"{log_file.name}.log",
            content_type="text/plain; charset=utf-8",
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response
