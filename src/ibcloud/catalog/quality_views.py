"""Data-quality pages of the catalog: the ingestion log and quarantine (with re-processing), the
normalization preview, the editable normalization rules, and manual merge and split.

Views are thin: ingesting, merging and splitting are :mod:`ibcloud.catalog.services` calls, and
every queryset passes :func:`restrict`. :func:`preview_record` and :func:`reprocess` are shared
with the API (``quality_api``), so the page and the API answer the same.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.audit.models import EVENT_LABELS
from ibcloud.catalog import ingest, merge, services
from ibcloud.catalog.merge import to_json
from ibcloud.catalog.models import (
    ExchangeRate,
    IndustryKeyword,
    Ingestion,
    Investor,
    Project,
    RoundAlias,
)
from ibcloud.catalog.normalization.rules import load_rules
from ibcloud.catalog.quality_filters import (
    ExchangeRateFilterSet,
    IndustryKeywordFilterSet,
    IngestionFilterSet,
    RoundAliasFilterSet,
)
from ibcloud.catalog.quality_forms import (
    ExchangeRateForm,
    IndustryKeywordForm,
    MergeForm,
    NormalizePreviewForm,
    RoundAliasForm,
    SplitForm,
)
from ibcloud.catalog.quality_tables import (
    ExchangeRateTable,
    IndustryKeywordTable,
    IngestionTable,
    RoundAliasTable,
)
from ibcloud.core.scoping import can_see, explicit_order, restrict
from ibcloud.core.signals import record_sensitive_action
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

REPROCESS_PERMISSION = "catalog.reprocess_ingestion"
#: the audit log's event code for a re-processing by a person
REPROCESS_EVENT = "ingestion_reprocess"
EVENT_LABELS.setdefault(REPROCESS_EVENT, gettext_lazy("Re-process quarantined records"))
#: quarantined records re-processed by one click or call at most (the rest on the next click)
MAX_REPROCESS = 5_000
#: near-duplicates asked of the dedup (before the scope narrows them)
SUGGESTION_LIMIT = 100
#: candidates listed on the merge page
MAX_CANDIDATES = 30


# --- Shared with the API --------------------------------------------------------------------------


def display(value: Any) -> str:
    """A JSON value as one line of text for a table cell (the template escapes it)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def preview_record(item_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """What the catalog would make of a raw record, without storing anything.

    Runs the ingest pipeline's pure stage (:func:`ibcloud.catalog.ingest.prepare`: cleaning,
    normalization with the current rules, the quarantine verdict), so the preview shows exactly
    what ingesting the record would do. Answers ``fields`` (per schema field: ``field``, ``raw``,
    ``value`` as JSON, ``rule``, ``problem``), ``ignored`` (raw keys no rule knows) and
    ``verdict`` (``quarantined``, ``reason_code``, ``reason``).
    """
    ingest.set_rules(load_rules())
    prepared = ingest.prepare((0, item_type, data, timezone.now().isoformat()))
    fields = [
        {
            "field": name,
            "raw": entry.get("raw"),
            "value": entry.get("value"),
            "rule": entry.get("rule") or "",
            "problem": entry.get("problem") or "",
        }
        for name, entry in prepared.normalized.items()
    ]
    return {
        "item_type": item_type,
        "fields": fields,
        "ignored": list(prepared.ignored),
        "verdict": {
            "quarantined": bool(prepared.reason_code),
            "reason_code": prepared.reason_code,
            "reason": prepared.reason,
        },
    }


def reprocess(request, ingestions: QuerySet) -> dict[str, int]:
    """Re-process the quarantined records among ``ingestions`` (already scoped) through the
    current rules, audit it, and answer the counts."""
    chosen = list(
        ingestions.filter(outcome=Ingestion.Outcome.QUARANTINED)
        .select_related("raw_item")
        .order_by("pk")[:MAX_REPROCESS]
    )
    if not chosen:
        return {"reprocessed": 0}
    report = services.reprocess_quarantined(chosen)
    counts = {
        "reprocessed": len(chosen),
        **{k: v for k, v in report.as_dict().items() if isinstance(v, int)},
    }
    record_sensitive_action(
        request,
        REPROCESS_EVENT,
        target=chosen[0] if len(chosen) == 1 else None,
        description=_("Re-processed %(n)d quarantined record(s)") % {"n": len(chosen)},
        ingestions=[i.pk for i in chosen[:100]],
        counts=counts,
    )
    return counts


def counts_message(counts: dict[str, int]) -> str:
    """A user-facing summary of a re-processing."""
    if not counts.get("reprocessed"):
        return _("No quarantined record was selected.")
    details = ", ".join(
        f"{label}: {counts[key]}"
        for key, label in (
            ("created", _("created")),
            ("merged", _("merged")),
            ("duplicate", _("duplicates")),
            ("quarantined", _("still quarantined")),
        )
        if key in counts
    )
    message = _("Re-processed %(n)d record(s).") % {"n": counts["reprocessed"]}
    return f"{message} {details}" if details else message


# --- Ingestion log and quarantine -----------------------------------------------------------------


def _bulk_reprocess(request, queryset) -> str:
    return counts_message(reprocess(request, queryset))


class IngestionListView(ObjectListView):
    """The ingestion log; without an ``outcome`` in the query it opens on the quarantine."""

    model = Ingestion
    table_class = IngestionTable
    filterset_class = IngestionFilterSet
    template_name = "catalog/quality/ingestion_list.html"
    title = gettext_lazy("Quarantine and ingestion log")
    bulk_actions = (
        BulkAction(
            "reprocess",
            gettext_lazy("Re-process"),
            "reprocess",
            _bulk_reprocess,
            css="btn-outline-primary",
        ),
    )

    def base_queryset(self):
        return Ingestion.objects.select_related("raw_item__source", "project", "investor").defer(
            "normalized"
        )

    def filtered(self, request):
        if "outcome" not in request.GET:
            request.GET = request.GET.copy()
            request.GET["outcome"] = Ingestion.Outcome.QUARANTINED
        return super().filtered(request)

    def extra_context(self) -> dict:
        outcome = self.request.GET.get("outcome", "")
        return {
            "tab": "quarantine" if outcome == Ingestion.Outcome.QUARANTINED else "log",
            "can_reprocess": self.request.user.has_perm(REPROCESS_PERMISSION),
        }


class IngestionDetailView(ObjectDetailView):
    """One raw item's fate: the data as found, each field's normalized value and rule, the
    quarantine reason, and the record it went to."""

    model = Ingestion
    template_name = "catalog/quality/ingestion_detail.html"

    def base_queryset(self):
        return Ingestion.objects.select_related(
            "raw_item__source", "raw_item__job", "project", "investor"
        )

    def extra_context(self, obj) -> dict:
        user = self.request.user
        raw = obj.raw_item
        data = raw.data if isinstance(raw.data, dict) else {}
        normalized = obj.normalized if isinstance(obj.normalized, dict) else {}
        fields = []
        for name, entry in normalized.items():
            entry = entry if isinstance(entry, dict) else {"value": entry}
            fields.append(
                {
                    "field": name,
                    "raw": display(entry.get("raw")),
                    "value": display(entry.get("value")),
                    "rule": entry.get("rule") or "",
                    "problem": entry.get("problem") or "",
                }
            )
        entity = obj.project or obj.investor
        return {
            "title": str(obj),
            "raw_rows": [{"name": k, "value": display(v)} for k, v in data.items()],
            "raw_problems": raw.problems if isinstance(raw.problems, dict) else {},
            "fields": fields,
            "entity": entity,
            "entity_visible": entity is not None and can_see(user, entity, "view"),
            "raw_item_visible": user.has_perm("crawler.view_rawitem")
            and can_see(user, raw, "view"),
            "source_visible": can_see(user, raw.source, "view"),
            "can_reprocess": user.has_perm(REPROCESS_PERMISSION)
            and obj.outcome == Ingestion.Outcome.QUARANTINED,
        }


class IngestionReprocessView(PermissionRequiredView):
    """POST: re-process one quarantined record (``pk``) or every quarantined record the user may
    re-process that the list's filters select (no ``pk``)."""

    model = Ingestion
    permission = REPROCESS_PERMISSION

    def get(self, request, pk=None):
        return HttpResponseNotAllowed(["POST"])

    def post(self, request, pk=None):
        scoped = self.scoped_queryset("reprocess")
        if pk is not None:
            ingestion = get_object_or_404(scoped, pk=pk)
            counts = reprocess(request, scoped.filter(pk=ingestion.pk))
            messages.success(request, counts_message(counts))
            return redirect(request, ingestion.get_absolute_url())
        filterset = IngestionFilterSet(request.POST, queryset=scoped, request=request)
        if not filterset.is_valid():
            # Never widen a bad filter to "everything": nothing is re-processed.
            messages.error(request, _("The filter is not valid; nothing was re-processed."))
            return redirect(request, reverse("catalog:ingestion_list"))
        counts = reprocess(request, filterset.qs)
        messages.success(request, counts_message(counts))
        return redirect(request, reverse("catalog:ingestion_list"))


# --- Normalization preview ------------------------------------------------------------------------


class NormalizePreviewView(PermissionRequiredView):
    """Paste a raw record and see each field's normalized value and the rule that produced it."""

    permission = "catalog.view_project"
    template_name = "catalog/quality/normalize_preview.html"
    partial_name = "catalog/quality/includes/preview_result.html"

    def get(self, request):
        form = NormalizePreviewForm(initial={"item_type": "project"})
        return render(request, self.template_name, {"form": form})

    def post(self, request):
        form = NormalizePreviewForm(request.POST)
        context: dict[str, Any] = {"form": form}
        if form.is_valid():
            result = preview_record(form.cleaned_data["item_type"], form.cleaned_data["raw"])
            for row in result["fields"]:
                row["raw_text"] = display(row["raw"])
                row["value_text"] = display(row["value"])
            context["result"] = result
        # 200 with the errors in the result panel: htmx swaps only successful answers.
        template = self.partial_name if getattr(request, "htmx", False) else self.template_name
        return render(request, template, context)


# --- Rules ----------------------------------------------------------------------------------------


class RuleListView(ObjectListView):
    """A rule list, with the offer to re-process the quarantine once rules changed."""

    template_name = "catalog/quality/rule_list.html"
    bulk_actions = (BULK_DELETE,)

    def extra_context(self) -> dict:
        user = self.request.user
        quarantined = restrict(
            Ingestion.objects.filter(outcome=Ingestion.Outcome.QUARANTINED), user, "view"
        )
        return {
            "quarantined_count": quarantined.count(),
            "can_reprocess": user.has_perm(REPROCESS_PERMISSION),
            "preview_url": reverse("catalog:normalize_preview"),
        }


class RuleEditView(ObjectEditView):
    def save(self, form):
        obj = super().save(form)
        messages.info(
            self.request,
            _(
                "The rule applies to records ingested from now on; re-process the quarantine to "
                "apply it to records already held there."
            ),
        )
        return obj


class ExchangeRateListView(RuleListView):
    model = ExchangeRate
    table_class = ExchangeRateTable
    filterset_class = ExchangeRateFilterSet
    add_url_name = "catalog:exchangerate_add"


class ExchangeRateEditView(RuleEditView):
    model = ExchangeRate
    form_class = ExchangeRateForm
    success_url_name = "catalog:exchangerate_list"


class ExchangeRateDeleteView(ObjectDeleteView):
    model = ExchangeRate


class IndustryKeywordListView(RuleListView):
    model = IndustryKeyword
    table_class = IndustryKeywordTable
    filterset_class = IndustryKeywordFilterSet
    add_url_name = "catalog:industrykeyword_add"


class IndustryKeywordEditView(RuleEditView):
    model = IndustryKeyword
    form_class = IndustryKeywordForm
    success_url_name = "catalog:industrykeyword_list"


class IndustryKeywordDeleteView(ObjectDeleteView):
    model = IndustryKeyword


class RoundAliasListView(RuleListView):
    model = RoundAlias
    table_class = RoundAliasTable
    filterset_class = RoundAliasFilterSet
    add_url_name = "catalog:roundalias_add"


class RoundAliasEditView(RuleEditView):
    model = RoundAlias
    form_class = RoundAliasForm
    success_url_name = "catalog:roundalias_list"


class RoundAliasDeleteView(ObjectDeleteView):
    model = RoundAlias


# --- Merge and split ------------------------------------------------------------------------------


def candidate_search(queryset: QuerySet, q: str) -> QuerySet:
    """Records whose short name, registered name or credit code contains ``q``."""
    q = " ".join((q or "").split())[:100]
    if not q:
        return queryset.none()
    return queryset.filter(
        Q(name__icontains=q) | Q(full_name__icontains=q) | Q(credit_code__iexact=q)
    )


def suggested_duplicates(entity, queryset: QuerySet) -> list[tuple[Any, str]]:
    """Records the ingest's dedup would take for ``entity`` (with the reason), among
    ``queryset`` (the records the user may change)."""
    found = services.suggest_duplicates(entity, limit=SUGGESTION_LIMIT)
    allowed = set(
        queryset.filter(pk__in=[r.pk for r, _reason in found]).values_list("pk", flat=True)
    )
    return [(record, reason) for record, reason in found if record.pk in allowed][:MAX_CANDIDATES]


#: the fields the merge preview compares, per model, in display order
MERGE_FIELDS = {
    Project: [
        "name",
        "full_name",
        "credit_code",
        "province",
        "city",
        "industry",
        "round",
        "amount_text",
        "valuation",
        "website",
        "founded_on",
        "summary",
        "published_at",
    ],
    Investor: [
        "name",
        "full_name",
        "credit_code",
        "province",
        "city",
        "investor_type",
        "capital_type",
        "fund_size_text",
        "ticket_text",
        "website",
        "founded_on",
        "description",
        "published_at",
    ],
}


def merged_values(target, others: list):
    """An unsaved copy of ``target`` with the values it would hold after merging ``others``:
    manual values of the others where the target has none, then every source value recomputed
    by the conflict policy (:mod:`ibcloud.catalog.merge`) from the records' ingestions."""
    item_type = "project" if isinstance(target, Project) else "investor"
    preview = copy.copy(target)
    preview.provenance = copy.deepcopy(target.provenance or {})
    for other in sorted(others, key=lambda o: o.pk):
        for field, columns in merge.COLUMNS[item_type].items():
            theirs = (other.provenance or {}).get(field) or {}
            mine = preview.provenance.get(field) or {}
            if theirs.get("kind") == "manual" and mine.get("kind") != "manual":
                for column in columns:
                    setattr(preview, column, getattr(other, column))
                preview.provenance[field] = theirs
    ingestions = (
        Ingestion.objects.filter(**{f"{item_type}__in": [target, *others]})
        .exclude(outcome=Ingestion.Outcome.QUARANTINED)
        .select_related("raw_item__source")
        .order_by("raw_item_id")
    )
    merge.recompute(preview, item_type, merge.contributions(item_type, ingestions))
    return preview


def merge_preview(target, others: list) -> list[dict]:
    """Per field: the value each record holds now and the value the merged record gets."""
    merged = merged_values(target, others)
    rows = []
    for name in MERGE_FIELDS[type(target)]:
        field = type(target)._meta.get_field(name)
        values = [display(to_json(getattr(r, name))) for r in [target, *others]]
        rows.append(
            {
                "field": name,
                "label": field.verbose_name,
                "values": values,
                "result": display(to_json(getattr(merged, name))),
                "conflict": len({v for v in values if v}) > 1,
            }
        )
    return rows


class EntityMergeView(PermissionRequiredView):
    """Merge other records into this one: search or pick candidates, preview, confirm.

    Every record involved must be within the user's reach for a change."""

    template_name = "catalog/quality/merge.html"
    entity_label = ""

    def merge(self, target, others, user):  # pragma: no cover - overridden
        raise NotImplementedError

    def changeable(self) -> QuerySet:
        return explicit_order(restrict(self.model.objects.all(), self.request.user, "change"))

    def context(self, request, target, form) -> dict:
        changeable = self.changeable()
        q = request.GET.get("q", "")
        chosen = form.cleaned_data["others"] if form.is_bound and form.is_valid() else []
        return {
            "object": target,
            "model_meta": self.model._meta,
            "form": form,
            "q": q,
            "results": list(candidate_search(changeable.exclude(pk=target.pk), q)[:MAX_CANDIDATES]),
            "suggestions": suggested_duplicates(target, changeable),
            "chosen": chosen,
            "preview": merge_preview(target, list(chosen)) if chosen else [],
            "cancel_url": target.get_absolute_url(),
        }

    def get(self, request, pk):
        target = get_object_or_404(self.changeable(), pk=pk)
        data = request.GET if request.GET.getlist("others") else None
        form = MergeForm(data, target=target, candidates=self.changeable())
        return render(request, self.template_name, self.context(request, target, form))

    def post(self, request, pk):
        target = get_object_or_404(self.changeable(), pk=pk)
        form = MergeForm(request.POST, target=target, candidates=self.changeable())
        if not form.is_valid() or request.POST.get("confirm") != "1":
            return render(request, self.template_name, self.context(request, target, form))
        others = form.cleaned_data["others"]
        try:
            merged = self.merge(target, others, request.user)
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
            return render(request, self.template_name, self.context(request, target, form))
        messages.success(
            request,
            _("Merged %(n)d record(s) into %(obj)s.") % {"n": len(others), "obj": merged},
        )
        return redirect(request, merged.get_absolute_url())


def name_as_found(ingestion: Ingestion) -> str:
    """The name a source record gave (normalized, else as crawled), to tell records apart."""
    normalized = ingestion.normalized if isinstance(ingestion.normalized, dict) else {}
    for field in ("name", "full_name"):
        entry = normalized.get(field)
        if isinstance(entry, dict) and entry.get("value"):
            return str(entry["value"])
    data = ingestion.raw_item.data if isinstance(ingestion.raw_item.data, dict) else {}
    for key in ("name", "full_name", "title"):
        if data.get(key):
            return str(data[key])
    return ""


class EntitySplitView(PermissionRequiredView):
    """Split some source records (ingestions) off a record into a new one."""

    template_name = "catalog/quality/split.html"
    link_field = ""

    def split(self, entity, ingestions, user):  # pragma: no cover - overridden
        raise NotImplementedError

    def changeable(self) -> QuerySet:
        return explicit_order(restrict(self.model.objects.all(), self.request.user, "change"))

    def ingestions_of(self, entity) -> QuerySet:
        return (
            Ingestion.objects.filter(**{self.link_field: entity})
            .select_related("raw_item__source")
            .order_by("processed_at", "pk")
        )

    def render_page(self, request, entity, form):
        return render(
            request,
            self.template_name,
            {
                "object": entity,
                "model_meta": self.model._meta,
                "form": form,
                "ingestions": [
                    (ingestion, name_as_found(ingestion))
                    for ingestion in self.ingestions_of(entity)
                ],
                "cancel_url": entity.get_absolute_url(),
            },
        )

    def get(self, request, pk):
        entity = get_object_or_404(self.changeable(), pk=pk)
        return self.render_page(request, entity, SplitForm(ingestions=self.ingestions_of(entity)))

    def post(self, request, pk):
        entity = get_object_or_404(self.changeable(), pk=pk)
        form = SplitForm(request.POST, ingestions=self.ingestions_of(entity))
        if not form.is_valid():
            return self.render_page(request, entity, form)
        try:
            new = self.split(entity, form.cleaned_data["ingestions"], request.user)
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
            return self.render_page(request, entity, form)
        messages.success(
            request,
            _("Split %(n)d source record(s) off into %(obj)s.")
            % {
                "n": len(form.cleaned_data["ingestions"]),
                "obj": new,
            },
        )
        return redirect(request, new.get_absolute_url())


class ProjectMergeView(EntityMergeView):
    model = Project
    permission = "catalog.merge_project"

    def merge(self, target, others, user):
        return services.merge_projects(target, others, user, request=self.request)


class ProjectSplitView(EntitySplitView):
    model = Project
    permission = "catalog.merge_project"
    link_field = "project"

    def split(self, entity, ingestions, user):
        return services.split_project(entity, ingestions, user, request=self.request)


class InvestorMergeView(EntityMergeView):
    model = Investor
    permission = "catalog.merge_investor"

    def merge(self, target, others, user):
        return services.merge_investors(target, others, user, request=self.request)


class InvestorSplitView(EntitySplitView):
    model = Investor
    permission = "catalog.merge_investor"
    link_field = "investor"

    def split(self, entity, ingestions, user):
        return services.split_investor(entity, ingestions, user, request=self.request)
