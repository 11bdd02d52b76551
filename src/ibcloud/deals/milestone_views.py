"""Pages of milestones: the list across deals (with export), add/edit/delete, "mark done", the
deal's milestone panel (an htmx partial the deal page loads), applying a template, the deal's
Gantt-like timeline, the calendar across deals, and the milestone templates admins keep.

Every queryset passes :func:`restrict`: milestones by their own scope, deals by the action the
page needs ("change" to add milestones to a deal or apply a template to it).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import transaction
from django.db.models import Case, Count, F, QuerySet, Value, When
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.core.scoping import can_see, restrict
from ibcloud.core.views import (
    BulkAction,
    ObjectDeleteView,
    ObjectDetailView,
    ObjectEditView,
    ObjectListView,
    PermissionRequiredView,
    redirect,
    safe_next,
)
from ibcloud.deals import milestones
from ibcloud.deals.milestone_filters import MilestoneFilterSet, MilestoneTemplateFilterSet
from ibcloud.deals.milestone_forms import (
    ApplyTemplateForm,
    CalendarForm,
    MilestoneForm,
    MilestoneTemplateForm,
    MilestoneTemplateItemFormSet,
)
from ibcloud.deals.milestone_tables import MilestoneTable, MilestoneTemplateTable
from ibcloud.deals.models import Deal, Milestone, MilestoneTemplate
from ibcloud.deals.services import type_label

#: htmx event the milestone panel sends after a change (the deal page may listen to it)
CHANGED_EVENT = "milestonesChanged"


def deal_page(deal_id: int) -> str:
    """The deal's page, or the milestone list while the deal pages are not there."""
    try:
        return reverse("deals:deal_detail", args=[deal_id])
    except NoReverseMatch:
        return reverse("deals:milestone_list") + f"?deal={deal_id}"


def scoped_deal(user: Any, pk: int, action: str) -> Deal:
    """The deal ``pk`` if within ``user``'s reach for ``action`` (404 otherwise)."""
    return get_object_or_404(restrict(Deal.objects.all(), user, action), pk=pk)


def deal_milestones(user: Any, deal: Deal) -> QuerySet:
    return (
        restrict(Milestone.objects.all(), user, "view")
        .filter(deal=deal)
        .select_related("owner", "deal")
        .order_by("sort_order", "due_date", "id")
    )


# --- List, add, edit, delete ----------------------------------------------------------------------


def bulk_delete_milestones(request, queryset) -> str:
    """Delete the chosen milestones, each leaving its line on its deal's timeline."""
    count = 0
    for milestone in queryset:
        milestones.delete_milestone(milestone, request.user)
        count += 1
    return _("Deleted %(n)d record(s).") % {"n": count}


def bulk_mark_done(request, queryset) -> str:
    """Mark the chosen open milestones done today."""
    count = 0
    for milestone in queryset.exclude(status=Milestone.Status.DONE):
        milestones.complete_milestone(milestone, request.user)
        count += 1
    return _("Marked %(n)d milestone(s) done.") % {"n": count}


BULK_DELETE_MILESTONES = BulkAction(
    "delete",
    gettext_lazy("Delete selected"),
    "delete",
    bulk_delete_milestones,
    css="btn-outline-danger",
    confirm=gettext_lazy("Delete the selected records?"),
)
BULK_DONE = BulkAction("done", gettext_lazy("Mark done"), "change", bulk_mark_done)


class MilestoneListView(ObjectListView):
    model = Milestone
    table_class = MilestoneTable
    filterset_class = MilestoneFilterSet
    bulk_actions = (BULK_DONE, BULK_DELETE_MILESTONES)
    title = gettext_lazy("Milestones")
    template_name = "deals/milestone_list.html"

    def base_queryset(self):
        # Open milestones first, the one falling due first at the top; then the closed ones,
        # the latest first: the history stays below what needs doing.
        is_open = Case(When(status__in=Milestone.OPEN, then=Value(0)), default=Value(1))
        return (
            Milestone.objects.select_related("deal", "deal__department", "owner")
            .annotate(closed=is_open)
            .order_by(
                "closed",
                Case(When(closed=0, then=F("due_date"))).asc(nulls_last=True),
                F("due_date").desc(),
                "id",
            )
        )


class MilestoneEditView(ObjectEditView):
    """Add a milestone to a deal (``deal_pk``, within the user's "change" reach) or edit one."""

    model = Milestone
    form_class = MilestoneForm
    template_name = "deals/milestone_form.html"

    def get_object(self, pk=None):
        if pk is None:
            deal = scoped_deal(self.request.user, self.kwargs["deal_pk"], "change")
            return Milestone(deal=deal, owner=None)
        return get_object_or_404(self.scoped_queryset("change").select_related("deal"), pk=pk)

    def form_kwargs(self) -> dict:
        return {"actor": self.request.user}

    def render_form(self, request, obj, form, status=200):
        context = {
            "object": obj,
            "deal": obj.deal,
            "form": form,
            "model_meta": self.model._meta,
            "is_new": obj.pk is None,
            "cancel_url": deal_page(obj.deal_id),
        }
        return render(request, self.template_name, context, status=status)

    def save(self, form):
        values = {name: form.cleaned_data[name] for name in form.Meta.fields}
        obj = form.instance
        if obj.pk is None:
            return milestones.create_milestone(obj.deal, self.request.user, **values)
        current = Milestone.objects.get(pk=obj.pk)
        return milestones.update_milestone(current, self.request.user, **values)

    def success_url(self, obj) -> str:
        return deal_page(obj.deal_id)


class MilestoneDeleteView(ObjectDeleteView):
    model = Milestone

    def post(self, request, pk, *args, **kwargs):
        obj = self.get_object(pk)
        deal_id = obj.deal_id
        milestones.delete_milestone(obj, request.user)
        messages.success(request, _("Deleted %(obj)s.") % {"obj": obj})
        return redirect(request, safe_next(request, deal_page(deal_id)))


class MilestoneDoneView(PermissionRequiredView):
    """POST: mark a milestone done today. From the deal's panel (htmx) it answers the panel
    again; elsewhere it goes back where it came from."""

    model = Milestone
    action = "change"

    def post(self, request, pk, *args, **kwargs):
        milestone = get_object_or_404(self.scoped_queryset("change"), pk=pk)
        if milestone.status != Milestone.Status.DONE:
            milestones.complete_milestone(milestone, request.user)
        if getattr(request, "htmx", False) and request.htmx.target == "deal-milestones":
            deal = scoped_deal(request.user, milestone.deal_id, "view")
            response = render_deal_milestones(request, deal)
            # the deal page may refresh its activity timeline on this event
            response["HX-Trigger"] = CHANGED_EVENT
            return response
        messages.success(request, _("Marked %(obj)s done.") % {"obj": milestone})
        return redirect(request, safe_next(request, deal_page(milestone.deal_id)))


# --- The deal's panel, template application, timeline --------------------------------------------


def render_deal_milestones(request, deal: Deal, form: ApplyTemplateForm | None = None, status=200):
    user = request.user
    rows = list(deal_milestones(user, deal))
    may_change_deal = can_see(user, deal, "change")
    context = {
        "deal": deal,
        "milestones": rows,
        "today": timezone.localdate(),
        "can_add": may_change_deal and user.has_perm("deals.add_milestone"),
        "can_change": user.has_perm("deals.change_milestone"),
        "can_delete": user.has_perm("deals.delete_milestone"),
        "apply_form": form or ApplyTemplateForm(deal=deal),
    }
    return render(request, "deals/deal_milestones.html", context, status=status)


class DealMilestonesView(PermissionRequiredView):
    """The deal's milestones (the deal page loads it with htmx; alone it is a plain page)."""

    model = Milestone

    def get(self, request, pk, *args, **kwargs):
        deal = scoped_deal(request.user, pk, "view")
        if getattr(request, "htmx", False):
            return render_deal_milestones(request, deal)
        return render(
            request,
            "deals/milestone_panel_page.html",
            {"deal": deal, "title": _("Milestones of %(deal)s") % {"deal": deal}},
        )


class DealApplyTemplateView(PermissionRequiredView):
    """POST: add a template's milestones to the deal (skipping names it has already)."""

    model = Milestone
    action = "add"

    def post(self, request, pk, *args, **kwargs):
        deal = scoped_deal(request.user, pk, "change")
        form = ApplyTemplateForm(request.POST, deal=deal)
        htmx = getattr(request, "htmx", False)
        if not form.is_valid():
            if htmx:
                return render_deal_milestones(request, deal, form, status=422)
            messages.error(request, _("Choose a template and a start date."))
            return redirect(request, deal_page(deal.pk))
        added = milestones.apply_template(
            deal, form.cleaned_data["template"], form.cleaned_data["start"], request.user
        )
        text = _("%(n)d milestone(s) added.") % {"n": len(added)}
        if htmx:
            response = render_deal_milestones(request, deal)
            response["HX-Trigger"] = CHANGED_EVENT
            return response
        messages.success(request, text)
        return redirect(request, deal_page(deal.pk))


class DealTimelineView(PermissionRequiredView):
    """The deal's milestones as a Gantt-like chart: bars from planned start to due date, today's
    line, overdue bars red, done ones green; a full page, or the chart alone for htmx."""

    model = Milestone

    def get(self, request, pk, *args, **kwargs):
        deal = scoped_deal(request.user, pk, "view")
        today = timezone.localdate()
        context = {
            "deal": deal,
            "deal_url": deal_page(deal.pk),
            "timeline": milestones.timeline(list(deal_milestones(request.user, deal)), today),
            "title": _("Timeline of %(deal)s") % {"deal": deal},
        }
        template = "deals/milestone_timeline_page.html"
        if getattr(request, "htmx", False):
            template = "deals/milestone_gantt.html"
        return render(request, template, context)


# --- Calendar -------------------------------------------------------------------------------------


class MilestoneCalendarView(PermissionRequiredView):
    """Milestones of every deal the user may see, on their due dates in a month grid."""

    model = Milestone

    def get(self, request, *args, **kwargs):
        form = CalendarForm(request.GET or None, actor=request.user)
        first = milestones.parse_month(request.GET.get("month"))
        queryset = restrict(Milestone.objects.all(), request.user, "view").select_related("deal")
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            if data.get("department"):
                queryset = queryset.filter(deal__department=data["department"])
            if data.get("owner"):
                queryset = queryset.filter(owner=data["owner"])
            if data.get("deal_type"):
                queryset = queryset.filter(deal__deal_type=data["deal_type"])
        filters = {
            key: request.GET[key]
            for key in ("department", "owner", "deal_type")
            if key in request.GET and form.is_valid()
        }
        context = {
            "title": _("Milestone calendar"),
            "form": form,
            "month": first,
            "previous": milestones.shift_month(first, -1).strftime("%Y-%m"),
            "next": milestones.shift_month(first, 1).strftime("%Y-%m"),
            "this_month": timezone.localdate().strftime("%Y-%m"),
            "weeks": milestones.calendar_grid(queryset, first),
            "filters": filters,
        }
        return render(request, "deals/calendar.html", context)


# --- Templates ------------------------------------------------------------------------------------


class MilestoneTemplateListView(ObjectListView):
    model = MilestoneTemplate
    table_class = MilestoneTemplateTable
    filterset_class = MilestoneTemplateFilterSet
    add_url_name = "deals:milestonetemplate_add"

    def base_queryset(self):
        return MilestoneTemplate.objects.annotate(item_count=Count("items"))


class MilestoneTemplateDetailView(ObjectDetailView):
    model = MilestoneTemplate
    template_name = "deals/milestonetemplate_detail.html"

    def extra_context(self, obj) -> dict:
        user = self.request.user
        return {
            "items": obj.items.order_by("sort_order", "id"),
            "type_label": type_label(obj.deal_type) if obj.deal_type else _("Any type"),
            "can_change": user.has_perm("deals.change_milestonetemplate"),
            "can_delete": user.has_perm("deals.delete_milestonetemplate"),
        }


class MilestoneTemplateEditView(ObjectEditView):
    """A template with its items in one form (an inline formset)."""

    model = MilestoneTemplate
    form_class = MilestoneTemplateForm
    template_name = "deals/milestonetemplate_form.html"

    def formset(self, obj, data=None):
        return MilestoneTemplateItemFormSet(data, instance=obj, prefix="items")

    def render_form(self, request, obj, form, status=200, formset=None):
        context = {
            "object": obj,
            "form": form,
            "formset": formset or self.formset(obj),
            "model_meta": self.model._meta,
            "is_new": obj.pk is None,
            "cancel_url": obj.get_absolute_url() if obj.pk else self.list_url(),
        }
        return render(request, self.template_name, context, status=status)

    def post(self, request, pk=None, *args, **kwargs):
        obj = self.get_object(pk)
        form = self.get_form(obj, request.POST)
        formset = self.formset(obj, request.POST)
        valid = form.is_valid()
        valid = formset.is_valid() and valid
        if not valid:
            return self.render_form(request, obj, form, 200, formset)
        with transaction.atomic():
            obj = form.save()
            formset.instance = obj
            formset.save()
        messages.success(request, _("Saved %(obj)s.") % {"obj": obj})
        return redirect(request, obj.get_absolute_url())


class MilestoneTemplateDeleteView(ObjectDeleteView):
    model = MilestoneTemplate
