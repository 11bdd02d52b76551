"""Pages of the crawler: sources (list, detail, edit, try-it preview, run now), crawl jobs with live
progress and cancel, raw items, proxies. Monitoring pages live in ``health_views``.

Views are thin: running, cancelling and previewing are :mod:`ibcloud.crawler.services` calls, and
every queryset passes :func:`restrict` (``"run"`` checks ``crawler.run_crawlsource``).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.core.scoping import restrict
from ibcloud.core.ssrf import SSRFBlocked, check_url
from ibcloud.core.views import (
    BULK_DELETE,
    BulkAction,
    ObjectDeleteView,
    ObjectDetailView,
    ObjectEditView,
    ObjectListView,
    PermissionRequiredView,
    redirect,
)
from ibcloud.crawler import services
from ibcloud.crawler.filters import (
    CrawlJobFilterSet,
    CrawlSourceFilterSet,
    ProxyFilterSet,
    RawItemFilterSet,
)
from ibcloud.crawler.forms import CrawlSourceForm, PreviewForm, ProxyForm
from ibcloud.crawler.models import CrawlJob, CrawlSource, Proxy, RawItem
from ibcloud.crawler.tables import (
    CrawlJobTable,
    CrawlSourceTable,
    ProxyTable,
    RawItemTable,
    next_run_of,
    sources_with_run_state,
)

RECENT_JOBS = 10


# --- Sources --------------------------------------------------------------------------------------


def _bulk_delete_sources(request, queryset) -> str:
    deleted = 0
    for source in queryset:
        refusal = services.raw_item_refusal(source)
        if refusal:
            messages.error(request, refusal)
            continue
        source.delete()
        deleted += 1
    return _("Deleted %(n)d record(s).") % {"n": deleted}


def _bulk_enable(enabled: bool):
    def handler(request, queryset) -> str:
        changed = 0
        for source in queryset:
            if source.enabled != enabled:
                source.enabled = enabled
                source.save(update_fields=["enabled", "updated_at"])  # audited: a person's change
                changed += 1
        return _("Updated %(n)d source(s).") % {"n": changed}

    return handler


class CrawlSourceListView(ObjectListView):
    model = CrawlSource
    table_class = CrawlSourceTable
    filterset_class = CrawlSourceFilterSet
    add_url_name = "crawler:crawlsource_add"
    bulk_actions = (
        BulkAction("enable", gettext_lazy("Enable"), "change", _bulk_enable(True)),
        BulkAction("disable", gettext_lazy("Disable"), "change", _bulk_enable(False)),
        BulkAction(
            BULK_DELETE.name,
            BULK_DELETE.label,
            "delete",
            _bulk_delete_sources,
            css=BULK_DELETE.css,
            confirm=BULK_DELETE.confirm,
        ),
    )

    def base_queryset(self):
        return sources_with_run_state(CrawlSource.objects.all())


class CrawlSourceDetailView(ObjectDetailView):
    """The configuration in readable groups, recent runs, and the buttons to act on it."""

    model = CrawlSource
    template_name = "crawler/crawlsource_detail.html"

    def base_queryset(self):
        return sources_with_run_state(CrawlSource.objects.all())

    def extra_context(self, obj) -> dict:
        user = self.request.user
        jobs = restrict(CrawlJob.objects.filter(source=obj), user, "view").select_related(
            "requested_by"
        )[:RECENT_JOBS]
        return {
            "title": str(obj),
            "recent_jobs": jobs,
            "raw_item_count": obj.raw_items.count(),
            "proxies": list(obj.proxies.all()),
            "next_run": next_run_of(obj),
            "can_run": user.has_perm("crawler.run_crawlsource"),
            "preview_form": PreviewForm(initial={"preview_url": _first_url(obj)}),
        }


def _first_url(source: CrawlSource) -> str:
    if source.start_urls:
        return str(source.start_urls[0])
    if source.url_template and source.page_start is not None:
        return source.url_template.replace("{page}", str(source.page_start))
    return ""


class CrawlSourceEditView(ObjectEditView):
    model = CrawlSource
    form_class = CrawlSourceForm
    template_name = "crawler/crawlsource_form.html"

    def get_form(self, obj, data=None, files=None):
        return self.form_class(data, files, instance=obj, actor=self.request.user)

    def render_form(self, request, obj, form, status=200):
        context = {
            "object": obj,
            "form": form,
            "model_meta": CrawlSource._meta,
            "is_new": obj.pk is None,
            "cancel_url": obj.get_absolute_url() if obj.pk else self.list_url(),
            "preview_form": PreviewForm(initial={"preview_url": _first_url(obj) if obj.pk else ""}),
            "can_run": request.user.has_perm("crawler.run_crawlsource"),
        }
        return render(request, self.template_name, context, status=status)


class CrawlSourceDeleteView(ObjectDeleteView):
    model = CrawlSource

    def check_deletable(self, obj) -> str | None:
        return services.raw_item_refusal(obj)


class CrawlSourceRunView(PermissionRequiredView):
    """Run now: POST starts a crawl of a source within the user's reach."""

    model = CrawlSource
    permission = "crawler.run_crawlsource"

    def get(self, request, pk):
        return HttpResponseNotAllowed(["POST"])

    def post(self, request, pk):
        source = get_object_or_404(self.scoped_queryset("run"), pk=pk)
        try:
            crawl_job = services.start_crawl(
                source, user=request.user, trigger="manual", request=request
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return redirect(request, source.get_absolute_url())
        messages.success(request, _("Crawl of %(source)s started.") % {"source": source})
        return redirect(request, crawl_job.get_absolute_url())


class CrawlSourcePreviewView(PermissionRequiredView):
    """Try it: fetch one URL with a configuration and show what it extracts, without saving.

    * POST from the add/edit form (``preview_from=form``): the unsaved configuration of the whole
      form (on an edit, stored secrets the form leaves empty are kept);
    * POST from the detail page, or GET its page: the saved source.
    """

    model = CrawlSource
    permission = "crawler.run_crawlsource"
    template_name = "crawler/crawlsource_preview.html"
    partial_name = "crawler/includes/preview_result.html"

    def get_source(self, pk):
        if pk is None:
            return None
        return get_object_or_404(self.scoped_queryset("run"), pk=pk)

    def get(self, request, pk=None):
        source = self.get_source(pk)
        if source is None:
            return redirect(request, reverse("crawler:crawlsource_add"))
        form = PreviewForm(initial={"preview_url": _first_url(source)})
        return render(request, self.template_name, {"object": source, "preview_form": form})

    def post(self, request, pk=None):
        source = self.get_source(pk)
        params = PreviewForm(request.POST)
        context = {"object": source, "preview_form": params}
        if request.POST.get("preview_from") == "form":
            if source is not None and not request.user.has_perm("crawler.change_crawlsource"):
                raise PermissionDenied
            config_form = CrawlSourceForm(
                request.POST, instance=source or CrawlSource(), actor=request.user
            )
            valid = config_form.is_valid()
            context["config_form"] = config_form
            if not valid:
                context["config_errors"] = _config_errors(config_form)
                return self.answer(request, context)
            candidate = config_form.instance
            proxies = config_form.chosen_proxies()
        else:
            if source is None:
                raise PermissionDenied
            candidate, proxies = source, None
        if not params.is_valid():
            return self.answer(request, context)
        url = params.cleaned_data["preview_url"]
        kind = params.cleaned_data["preview_kind"]
        try:
            check_url(url, resolve=False)
            context["result"] = services.preview_source(candidate, url, kind, proxies=proxies)
        except SSRFBlocked as exc:
            context["failure"] = _("This URL may not be fetched: %(reason)s") % {
                "reason": exc.reason
            }
        except ValidationError as exc:
            context["failure"] = " ".join(exc.messages)
        if "result" in context:
            context["items"] = preview_items(context["result"], candidate.fields or [])
        return self.answer(request, context)

    def answer(self, request, context):
        if getattr(request, "htmx", False):
            return render(request, self.partial_name, context)
        return render(request, self.template_name, context)


def preview_items(result: dict, rules: list) -> list[dict]:
    """Each previewed item as rows in the order of the rules: the value, or that the field matched
    nothing, and the problem found (crawled text, escaped by the template)."""
    labels = {
        r["name"]: r.get("label") or "" for r in rules if isinstance(r, dict) and r.get("name")
    }
    names = list(result.get("fields") or labels)
    items = []
    for item in result.get("items") or []:
        data = item.get("data") or {}
        empty = set(item.get("empty") or [])
        problems = item.get("problems") or {}
        ordered = names + [n for n in list(data) + list(problems) if n not in names]
        rows = [
            {
                "name": name,
                "label": labels.get(name, ""),
                "value": data.get(name),
                "is_list": isinstance(data.get(name), list),
                "empty": name in empty or name not in data,
                "problem": problems.get(name, ""),
            }
            for name in dict.fromkeys(ordered)
        ]
        items.append(
            {
                "url": item.get("url") or "",
                "rows": rows,
                "empty_count": sum(1 for row in rows if row["empty"]),
                "problem_count": len(problems),
            }
        )
    return items


def _config_errors(form: CrawlSourceForm) -> list[str]:
    """The form's errors as "Field: message" lines for the preview panel."""
    lines = [str(m) for m in form.non_field_errors()]
    for name, errors in form.errors.items():
        if name == "__all__":
            continue
        label = form.fields[name].label if name in form.fields else name
        lines.extend(f"{label}: {message}" for message in errors)
    lines.extend(f"{_('Fields')}: {message}" for message in getattr(form, "rule_errors", []))
    for number, errors in enumerate(form.rules.errors if form.rules.is_bound else [], start=1):
        for name, messages_ in errors.items():
            lines.extend(
                _("Field row %(n)d, %(column)s: %(message)s")
                % {"n": number, "column": name, "message": m}
                for m in messages_
            )
    lines.extend(str(m) for m in form.rules.non_form_errors())
    return lines


# --- Crawl jobs -----------------------------------------------------------------------------------


class CrawlJobListView(ObjectListView):
    model = CrawlJob
    table_class = CrawlJobTable
    filterset_class = CrawlJobFilterSet

    def base_queryset(self):
        return CrawlJob.objects.select_related("source", "requested_by").defer("log", "sample_page")


class CrawlJobDetailView(ObjectDetailView):
    """A run's status and live progress; htmx polls the progress panel every 2 s until it ends."""

    model = CrawlJob
    template_name = "crawler/crawljob_detail.html"
    panel_target = "crawljob-progress"

    def base_queryset(self):
        return CrawlJob.objects.select_related("source", "requested_by", "job")

    def get(self, request, pk, *args, **kwargs):
        if getattr(request, "htmx", False) and request.htmx.target == self.panel_target:
            crawl_job = self.get_object(pk)
            return render(
                request, "crawler/includes/crawljob_progress.html", self.panel_context(crawl_job)
            )
        return super().get(request, pk, *args, **kwargs)

    def panel_context(self, crawl_job: CrawlJob) -> dict:
        source = crawl_job.source
        max_pages = source.max_pages or 0
        percent = 100 if crawl_job.is_finished else 0
        if not crawl_job.is_finished and max_pages:
            percent = min(99, int(crawl_job.pages * 100 / max_pages))
        cancelling = bool(crawl_job.job_id and crawl_job.job and crawl_job.job.cancel_requested)
        return {
            "object": crawl_job,
            "percent": percent,
            "cancelling": cancelling,
            "can_cancel": not crawl_job.is_finished
            and not cancelling
            and self.request.user.has_perm("crawler.run_crawlsource"),
            "field_rates": field_rates(crawl_job),
        }

    def extra_context(self, obj) -> dict:
        return {"title": str(obj), **self.panel_context(obj)}


def field_rates(crawl_job: CrawlJob) -> list[dict]:
    """Per field: filled, total, invalid and the fill rate in percent (for the stats table)."""
    rows = []
    stats = crawl_job.field_stats if isinstance(crawl_job.field_stats, dict) else {}
    samples = crawl_job.sample_urls if isinstance(crawl_job.sample_urls, dict) else {}
    for name, figures in stats.items():
        if not isinstance(figures, dict):
            continue
        total = int(figures.get("total") or 0)
        filled = int(figures.get("filled") or 0)
        rows.append(
            {
                "name": name,
                "filled": filled,
                "total": total,
                "invalid": int(figures.get("invalid") or 0),
                "rate": round(filled * 100 / total) if total else None,
                "samples": [u for u in samples.get(name, []) if isinstance(u, str)][:5],
            }
        )
    return rows


class CrawlJobCancelView(PermissionRequiredView):
    """Cancel a pending or running crawl: whoever may run the source may stop it."""

    model = CrawlJob
    permission = "crawler.run_crawlsource"

    def get(self, request, pk):
        return HttpResponseNotAllowed(["POST"])

    def post(self, request, pk):
        crawl_job = get_object_or_404(self.scoped_queryset("view"), pk=pk)
        if crawl_job.is_finished:
            messages.warning(request, _("The crawl has already finished."))
        else:
            services.cancel_crawl(crawl_job, user=request.user, request=request)
            messages.success(request, _("Cancellation of %(job)s requested.") % {"job": crawl_job})
        return redirect(request, crawl_job.get_absolute_url())


# --- Raw items ------------------------------------------------------------------------------------


class RawItemListView(ObjectListView):
    model = RawItem
    table_class = RawItemTable
    filterset_class = RawItemFilterSet

    def base_queryset(self):
        return RawItem.objects.select_related("source")


class RawItemDetailView(ObjectDetailView):
    model = RawItem
    template_name = "crawler/rawitem_detail.html"

    def base_queryset(self):
        return RawItem.objects.select_related("source", "job")

    def extra_context(self, obj) -> dict:
        user = self.request.user
        return {
            "title": str(obj),
            "rows": item_rows(obj),
            "source_visible": user.has_perm("crawler.view_crawlsource"),
            "job_visible": bool(obj.job_id) and user.has_perm("crawler.view_crawljob"),
        }


def item_rows(item: RawItem) -> list[dict]:
    """The record's fields in the order of the source's rules (unknown ones after), with labels
    and problems."""
    data = item.data if isinstance(item.data, dict) else {}
    problems = item.problems if isinstance(item.problems, dict) else {}
    labels = {}
    order = []
    for rule in item.source.fields or []:
        if isinstance(rule, dict) and rule.get("name"):
            order.append(rule["name"])
            labels[rule["name"]] = rule.get("label") or ""
    names = order + [n for n in list(data) + list(problems) if n not in order]
    rows = []
    for name in dict.fromkeys(names):
        value = data.get(name)
        rows.append(
            {
                "name": name,
                "label": labels.get(name, ""),
                "value": value,
                "is_list": isinstance(value, list),
                "missing": name not in data,
                "problem": problems.get(name, ""),
            }
        )
    return rows


# --- Proxies --------------------------------------------------------------------------------------


class ProxyListView(ObjectListView):
    model = Proxy
    table_class = ProxyTable
    filterset_class = ProxyFilterSet
    add_url_name = "crawler:proxy_add"
    bulk_actions = (BULK_DELETE,)


class ProxyEditView(ObjectEditView):
    model = Proxy
    form_class = ProxyForm
    template_name = "crawler/proxy_form.html"
    success_url_name = "crawler:proxy_list"


class ProxyDeleteView(ObjectDeleteView):
    model = Proxy
