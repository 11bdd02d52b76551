"""Pages of the catalog: project and investor lists (filters, keyword search, saved queries,
export), detail pages (profile, provenance, sources, round history, financials, preferences,
change history), manual create/edit/delete, and saved queries.

Every queryset passes :func:`restrict`; a manual save goes through
``services.save_manual_edit`` so the fields a person set are not overwritten by later crawls.
Data-quality pages (quarantine, rules, merge and split) live in ``quality_views``; the dashboard
in ``dashboard_views``.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views import View

from ibcloud.catalog import related_panels
from ibcloud.catalog.filters import (
    InvestorFilterSet,
    ProjectFilterSet,
    SavedQueryFilterSet,
    visible_saved_queries,
)
from ibcloud.catalog.forms import (
    FinancialFormSet,
    FundingRoundFormSet,
    InvestorForm,
    ProjectForm,
    SavedQueryForm,
    SaveQueryForm,
    clean_query_string,
    prepare_derived_columns,
    record_manual_edit,
)
from ibcloud.catalog.models import FundingRound, Ingestion, Investor, Project, SavedQuery
from ibcloud.catalog.tables import InvestorTable, ProjectTable, SavedQueryTable
from ibcloud.catalog.templatetags import catalog_format as fmt
from ibcloud.core.forms import apply_bootstrap
from ibcloud.core.scoping import can_see, ownership_defaults, restrict
from ibcloud.core.views import (
    BULK_DELETE,
    ObjectDeleteView,
    ObjectDetailView,
    ObjectEditView,
    ObjectListView,
    configure_table,
    redirect,
)
from ibcloud.crawler.models import CrawlSource

RECENT_INGESTIONS = 50

# --- Lists ----------------------------------------------------------------------------------------


def url_or_empty(name: str, *args) -> str:
    """The URL of a view another catalog helper provides, or '' while it does not exist."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


class EntityListView(ObjectListView):
    """A catalog list: keyword box on top, filters in a side panel, saved queries, export."""

    template_name = "catalog/entity_list.html"
    bulk_actions = (BULK_DELETE,)
    kind: str = ""

    def filtered(self, request):
        queryset, filterset = super().filtered(request)
        if filterset is not None and filterset.is_bound and not filterset.is_valid():
            # A keyword query that does not parse (or a bad filter value) shows its error and
            # no rows, rather than the whole list as if it had matched.
            queryset = queryset.none()
        return queryset, filterset

    def extra_context(self) -> dict:
        request = self.request
        query_string = clean_query_string(request.GET.urlencode())
        saved = list(visible_saved_queries(request.user, self.kind))
        for entry in saved:
            entry.apply_url = f"{request.path}?{entry.query_string}"
        return {
            "kind": self.kind,
            "saved_queries": saved,
            "current_query": query_string,
            "save_form": SaveQueryForm(initial={"query_string": query_string}),
            "save_url": reverse("catalog:savedquery_add"),
            "savedquery_list_url": reverse("catalog:savedquery_list"),
            "active_filters": _active_filter_count(request.GET),
            "can_change_rows": request.user.has_perm(f"catalog.change_{self.kind}"),
            "can_delete_rows": request.user.has_perm(f"catalog.delete_{self.kind}"),
        }


def _active_filter_count(params) -> int:
    ignored = {"q", "page", "per_page", "sort", "export"}
    return sum(1 for key, value in params.items() if key not in ignored and value)


class ProjectListView(EntityListView):
    model = Project
    table_class = ProjectTable
    filterset_class = ProjectFilterSet
    add_url_name = "catalog:project_add"
    kind = SavedQuery.Kind.PROJECT

    def base_queryset(self):
        return Project.objects.prefetch_related("tags").defer("search_text", "provenance")


class InvestorListView(EntityListView):
    model = Investor
    table_class = InvestorTable
    filterset_class = InvestorFilterSet
    add_url_name = "catalog:investor_add"
    kind = SavedQuery.Kind.INVESTOR

    def base_queryset(self):
        return (
            Investor.objects.select_related("coverage_banker")
            .prefetch_related("tags")
            .defer("search_text", "provenance")
        )


# --- Detail pages ---------------------------------------------------------------------------------


def _schema_label(name: str) -> str:
    labels = {
        "place": _("Region"),
        "amount": _("Amount sought"),
        "fund_size": _("Fund size"),
        "ticket": _("Ticket"),
        "investor_names": _("Investors"),
        "tags": _("Tags"),
    }
    return str(labels.get(name, name))


def field_label(model, name: str) -> str:
    """The verbose name of ``name`` on ``model``, or a label for a schema field."""
    try:
        return str(model._meta.get_field(name).verbose_name)
    except Exception:  # noqa: BLE001 - FieldDoesNotExist and reverse relations alike
        return _schema_label(name)


def field_value(entity, name: str) -> str:
    """The current value of field ``name`` of ``entity`` as a person reads it."""
    if name in ("place", "province", "province_code", "city", "city_code"):
        return fmt.format_region(entity.province, entity.city)
    if name in ("amount", "amount_low", "amount_high", "amount_text", "amount_currency"):
        return fmt.format_range(entity.amount_low, entity.amount_high, entity.amount_text)
    if name.startswith("fund_size"):
        return fmt.format_range(entity.fund_size_low, entity.fund_size_high, entity.fund_size_text)
    if name.startswith("ticket"):
        return fmt.format_range(entity.ticket_min, entity.ticket_max, entity.ticket_text)
    if name == "valuation":
        return fmt.format_amount(entity.valuation)
    if name in ("industry", "industry_section"):
        return fmt.industry_label(getattr(entity, "industry", "") or entity.industry_section)
    if name == "round":
        return fmt.round_label(entity.round)
    if name == "investor_type":
        return fmt.investor_type_label(entity.investor_type)
    if name == "capital_type":
        return fmt.capital_type_label(entity.capital_type)
    if name == "preferred_industries":
        return "、".join(fmt.industry_label(c) for c in entity.preferred_industries or [])
    if name == "preferred_rounds":
        return "、".join(fmt.round_label(c) for c in entity.preferred_rounds or [])
    if name == "preferred_regions":
        return "、".join(_province_names(entity.preferred_regions))
    if name == "tags":
        return ", ".join(tag.name for tag in entity.tags.all())
    value = getattr(entity, name, None)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if value is None:
        return ""
    return str(value)


def _province_names(codes) -> list[str]:
    from ibcloud.catalog.filters import province_choices

    names = dict(province_choices())
    return [names.get(code, code) for code in codes or []]


def _moment(value: Any):
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, str):
        moment = parse_datetime(value)
        if moment is not None and timezone.is_naive(moment):
            moment = timezone.make_aware(moment, datetime.UTC)
        return moment
    return None


def provenance_rows(entity, user) -> list[dict]:
    """Per field: its label, current value and where the value came from (a source, with URL
    and fetch time, or a person and when); sources the viewer may not see are not linked."""
    provenance = entity.provenance if isinstance(entity.provenance, dict) else {}
    source_ids = {
        entry.get("source")
        for entry in provenance.values()
        if isinstance(entry, dict) and isinstance(entry.get("source"), int)
    }
    visible_sources = set(
        restrict(CrawlSource.objects.filter(pk__in=source_ids), user, "view").values_list(
            "pk", flat=True
        )
    )
    model = type(entity)
    rows = []
    for name, entry in provenance.items():
        if not isinstance(entry, dict):
            continue
        url = str(entry.get("url") or "")
        rows.append(
            {
                "field": name,
                "label": field_label(model, name),
                "value": field_value(entity, name),
                "kind": entry.get("kind", ""),
                "source_id": entry.get("source")
                if entry.get("source") in visible_sources
                else None,
                "source_name": entry.get("source_name") or "",
                "trust": entry.get("trust"),
                # Only web links are clickable: a crawled "javascript:" URL stays plain text.
                "url": url,
                "url_is_web": url.startswith(("http://", "https://")),
                "fetched_at": _moment(entry.get("fetched_at")),
                "username": entry.get("username") or "",
                "at": _moment(entry.get("at")),
            }
        )
    order = {f.name: i for i, f in enumerate(model._meta.get_fields())}
    rows.sort(key=lambda row: order.get(row["field"], len(order)))
    return rows


class EntityDetailView(ObjectDetailView):
    """What project and investor pages share: provenance, sources, buttons."""

    link_name = "project"

    def extra_context(self, obj) -> dict:
        user = self.request.user
        meta = self.model._meta
        ingestions = (
            restrict(Ingestion.objects.filter(**{self.link_name: obj}), user, "view")
            .select_related("raw_item__source")
            .order_by("-processed_at", "-id")
        )
        can_merge = user.has_perm(f"catalog.merge_{meta.model_name}")
        return {
            "title": str(obj),
            "provenance_rows": provenance_rows(obj, user),
            "ingestions": list(ingestions[:RECENT_INGESTIONS]),
            "ingestion_count": ingestions.count(),
            "ingestion_detail_available": bool(url_or_empty("catalog:ingestion_list")),
            "merge_url": url_or_empty(f"catalog:{meta.model_name}_merge", obj.pk)
            if can_merge
            else "",
            "split_url": url_or_empty(f"catalog:{meta.model_name}_split", obj.pk)
            if can_merge
            else "",
            "list_url": reverse(f"catalog:{meta.model_name}_list"),
            "can_change": can_see(user, obj, "change"),
            "can_delete": can_see(user, obj, "delete"),
            "tags": list(obj.tags.all()),
            "related_panels": related_panels.panels_for(user, obj),
        }


class ProjectDetailView(EntityDetailView):
    model = Project
    template_name = "catalog/project_detail.html"
    link_name = "project"

    def base_queryset(self):
        return Project.objects.select_related("owner", "department")

    def extra_context(self, obj) -> dict:
        context = super().extra_context(obj)
        user = self.request.user
        # Rounds and financials are part of the project's profile: whoever may see the project
        # (``obj`` passed ``restrict``) sees them; the investors they name are scoped on their own.
        rounds = FundingRound.objects.filter(project=obj).prefetch_related("investors")
        visible_investors = set(
            restrict(
                Investor.objects.filter(funding_rounds__project=obj), user, "view"
            ).values_list("pk", flat=True)
        )
        round_rows = []
        for funding_round in rounds:
            linked = [i for i in funding_round.investors.all() if i.pk in visible_investors]
            linked_names = {i.name for i in funding_round.investors.all()}
            round_rows.append(
                {
                    "round": funding_round,
                    "investors": linked,
                    "other_names": [
                        n for n in funding_round.investor_names or [] if n not in linked_names
                    ],
                }
            )
        context.update(
            {
                "round_rows": round_rows,
                "financials": list(obj.financials.all()),
            }
        )
        return context


class InvestorDetailView(EntityDetailView):
    model = Investor
    template_name = "catalog/investor_detail.html"
    link_name = "investor"

    def base_queryset(self):
        return Investor.objects.select_related("owner", "department", "coverage_banker")

    def extra_context(self, obj) -> dict:
        context = super().extra_context(obj)
        user = self.request.user
        # Its deals: rounds of the projects the viewer may see.
        rounds = (
            FundingRound.objects.filter(
                investors=obj, project__in=restrict(Project.objects.all(), user, "view")
            )
            .select_related("project")
            .order_by("-announced_on", "-id")
        )
        context.update(
            {
                "preferences": preference_rows(obj),
                "deals": list(rounds[:50]),
            }
        )
        return context


def _top(counts: Any, label, limit: int = 5) -> str:
    """ "A (3)、B (2)" from a {code: count} mapping, most frequent first."""
    if not isinstance(counts, dict) or not counts:
        return ""
    ranked = sorted(counts.items(), key=lambda item: (-_as_int(item[1]), str(item[0])))
    return "、".join(f"{label(code)} ({n})" for code, n in ranked[:limit])


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def preference_rows(investor: Investor) -> list[dict]:
    """Stated next to revealed preferences (the deals it actually did), row by row."""
    revealed = (
        investor.revealed_preferences if isinstance(investor.revealed_preferences, dict) else {}
    )

    def province_label(code):
        return _province_names([code])[0]

    regions = "、".join(_province_names(investor.preferred_regions))
    if investor.nationwide:
        regions = _("Nationwide") + (f"（{regions}）" if regions else "")
    median = revealed.get("amount_median")
    return [
        {
            "label": _("Industries"),
            "stated": field_value(investor, "preferred_industries"),
            "revealed": _top(revealed.get("industries"), fmt.industry_label),
        },
        {
            "label": _("Rounds"),
            "stated": field_value(investor, "preferred_rounds"),
            "revealed": _top(revealed.get("rounds"), fmt.round_label),
        },
        {
            "label": _("Regions"),
            "stated": regions,
            "revealed": _top(revealed.get("regions"), province_label),
        },
        {
            "label": _("Ticket"),
            "stated": fmt.format_range(
                investor.ticket_min, investor.ticket_max, investor.ticket_text
            )
            if (investor.ticket_min or investor.ticket_max or investor.ticket_text)
            else "",
            "revealed": _("median %(amount)s") % {"amount": fmt.format_amount(_as_int(median))}
            if median
            else "",
        },
        {
            "label": _("Deals"),
            "stated": "",
            "revealed": str(revealed.get("deal_count") or ""),
        },
        {
            "label": _("Last deal"),
            "stated": "",
            "revealed": str(revealed.get("last_deal_on") or ""),
        },
    ]


# --- Create and edit ------------------------------------------------------------------------------


class EntityEditView(ObjectEditView):
    template_name = "catalog/entity_form.html"

    def get_form(self, obj, data=None, files=None):
        return self.form_class(data, files, instance=obj, actor=self.request.user)

    def formsets(self, obj, data=None) -> list:
        return []

    def get(self, request, pk=None, *args, **kwargs):
        obj = self.get_object(pk)
        return self.render_form(request, obj, self.get_form(obj), self.formsets(obj))

    def render_form(self, request, obj, form, formsets=None, status=200):
        context = {
            "object": obj,
            "form": form,
            "formsets": formsets or [],
            "model_meta": self.model._meta,
            "is_new": obj.pk is None,
            "cancel_url": obj.get_absolute_url() if obj.pk else self.list_url(),
        }
        return render(request, self.template_name, context, status=status)

    def post(self, request, pk=None, *args, **kwargs):
        obj = self.get_object(pk)
        form = self.get_form(obj, request.POST, request.FILES)
        formsets = self.formsets(obj, request.POST)
        valid = form.is_valid()
        valid = all([fs.is_valid() for fs in formsets]) and valid
        if not valid:
            return self.render_form(
                request, obj, form, formsets, status=422 if request.htmx else 200
            )
        created = obj.pk is None
        try:
            with transaction.atomic():
                obj = self.save_all(form, formsets, created)
                if not can_see(request.user, obj, "view"):
                    raise PermissionDenied
        except PermissionDenied:
            form.add_error(
                None, _("You cannot save a record outside the departments you may access.")
            )
            if created:
                form.instance.pk = None
            return self.render_form(request, form.instance, form, formsets)
        messages.success(request, _("Saved %(obj)s.") % {"obj": obj})
        return redirect(request, obj.get_absolute_url())

    def save_all(self, form, formsets, created: bool):
        user = self.request.user
        obj = form.save(commit=False)
        if created:
            given = {n for n in ("owner", "department") if getattr(obj, f"{n}_id", None)}
            for name, value in ownership_defaults(type(obj), user, given).items():
                setattr(obj, name, value)
            obj.first_seen_at = timezone.now()
        obj.save()
        form.save_m2m()
        form.save_tags(obj)
        changed = form.changed_fields(created)
        for formset in formsets:
            formset.instance = obj
            self.save_formset(formset)
            if formset.has_changed():
                changed.append(formset.provenance_name)
        prepare_derived_columns(obj, user)
        record_manual_edit(obj, changed, user)
        return obj

    def save_formset(self, formset) -> None:
        formset.save()


class ProjectEditView(EntityEditView):
    model = Project
    form_class = ProjectForm

    def formsets(self, obj, data=None) -> list:
        rounds = FundingRoundFormSet(data, instance=obj, prefix="rounds")
        rounds.provenance_name = "rounds"
        rounds.title = _("Round history")
        financials = FinancialFormSet(data, instance=obj, prefix="financials")
        financials.provenance_name = "financials"
        financials.title = _("Yearly financials (万元)")
        for formset in (rounds, financials):
            for form in formset.forms:
                apply_bootstrap(form)
        return [rounds, financials]

    def save_formset(self, formset) -> None:
        saved = formset.save()
        if formset.prefix != "rounds":
            return
        # Link the investors named in each round that the catalog knows (and the user sees).
        visible = restrict(Investor.objects.all(), self.request.user, "view")
        for funding_round in saved:
            names = funding_round.investor_names or []
            funding_round.investors.set(visible.filter(name__in=names) if names else [])


class InvestorEditView(EntityEditView):
    model = Investor
    form_class = InvestorForm


class ProjectDeleteView(ObjectDeleteView):
    model = Project


class InvestorDeleteView(ObjectDeleteView):
    model = Investor


# --- Saved queries --------------------------------------------------------------------------------


class SavedQueryListView(LoginRequiredMixin, View):
    """The saved queries the user may apply: their own and the shared ones."""

    template_name = "catalog/savedquery_list.html"

    def get(self, request):
        queryset = visible_saved_queries(request.user)
        filterset = SavedQueryFilterSet(request.GET or None, queryset=queryset, request=request)
        rows = filterset.qs if filterset.is_bound else queryset
        for entry in rows:
            list_name = f"catalog:{entry.kind}_list"
            entry.apply_url = f"{reverse(list_name)}?{entry.query_string}"
        table = configure_table(request, SavedQueryTable(list(rows)))
        editable = set(
            visible_saved_queries(request.user, action="change").values_list("pk", flat=True)
        )
        return render(
            request,
            self.template_name,
            {
                "title": _("Saved queries"),
                "table": table,
                "filter_form": apply_bootstrap(filterset.form),
                "editable_ids": editable,
            },
        )


class SavedQueryAddView(LoginRequiredMixin, View):
    """POST from a list page's "save query" box: save the current query under a name."""

    def get(self, request):
        return HttpResponseNotAllowed(["POST"])

    def post(self, request):
        kind = request.POST.get("kind", "")
        if kind not in SavedQuery.Kind.values:
            raise PermissionDenied
        if not request.user.has_perm(f"catalog.view_{kind}"):
            raise PermissionDenied
        list_url = reverse(f"catalog:{kind}_list")
        form = SaveQueryForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            return redirect(request, list_url)
        query_string = clean_query_string(form.cleaned_data["query_string"])
        saved = SavedQuery(
            name=form.cleaned_data["name"],
            kind=kind,
            query_string=query_string,
            shared=form.cleaned_data["shared"],
            owner=request.user,
            department=request.user.department,
        )
        saved.save()
        messages.success(request, _("Saved the query %(name)s.") % {"name": saved.name})
        return redirect(request, f"{list_url}?{query_string}")


class SavedQueryEditView(LoginRequiredMixin, View):
    """Rename, re-share or edit the query of one's own saved query."""

    template_name = "core/object_edit.html"

    def get_object(self, pk):
        return get_object_or_404(visible_saved_queries(self.request.user, action="change"), pk=pk)

    def render_form(self, request, obj, form):
        return render(
            request,
            self.template_name,
            {
                "object": obj,
                "form": form,
                "model_meta": SavedQuery._meta,
                "is_new": False,
                "cancel_url": reverse("catalog:savedquery_list"),
            },
        )

    def get(self, request, pk):
        obj = self.get_object(pk)
        return self.render_form(request, obj, SavedQueryForm(instance=obj))

    def post(self, request, pk):
        obj = self.get_object(pk)
        form = SavedQueryForm(request.POST, instance=obj)
        if not form.is_valid() or not request.user.has_perm(
            f"catalog.view_{form.cleaned_data['kind']}"
        ):
            if form.is_valid():
                form.add_error("kind", _("You may not open this list."))
            return self.render_form(request, obj, form)
        form.save()
        messages.success(request, _("Saved %(obj)s.") % {"obj": obj})
        return redirect(request, reverse("catalog:savedquery_list"))


class SavedQueryDeleteView(LoginRequiredMixin, View):
    template_name = "core/object_delete.html"

    def get_object(self, pk):
        return get_object_or_404(visible_saved_queries(self.request.user, action="delete"), pk=pk)

    def get(self, request, pk):
        obj = self.get_object(pk)
        return render(
            request,
            self.template_name,
            {
                "object": obj,
                "model_meta": SavedQuery._meta,
                "cancel_url": reverse("catalog:savedquery_list"),
                "refusal": None,
            },
        )

    def post(self, request, pk):
        obj = self.get_object(pk)
        obj.delete()
        messages.success(request, _("Deleted %(obj)s.") % {"obj": obj})
        return redirect(request, reverse("catalog:savedquery_list"))


def saved_query_link(saved: SavedQuery) -> str:
    """Where a saved query opens: its list with the stored filters."""
    return f"{reverse(f'catalog:{saved.kind}_list')}?{saved.query_string}"
