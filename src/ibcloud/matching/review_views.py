"""Pages of review and assignment: the review queue, a match's page with its actions, manual
matches, the inbox, the "approved, unassigned" list and assignment rules.

Thin: every decision is a function of :mod:`ibcloud.matching.services`; every queryset passes
:func:`restrict` with the action's permission (``review`` → ``matching.review_match``,
``assign`` → ``matching.assign_match``), so a page shows and acts only on matches in reach.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.catalog.templatetags.catalog_format import format_range, format_region, industry_label
from ibcloud.catalog.templatetags.catalog_format import round_label as fmt_round
from ibcloud.core import parameters
from ibcloud.core.scoping import can_see, restrict
from ibcloud.core.views import (
    BULK_DELETE,
    BulkAction,
    ObjectDeleteView,
    ObjectDetailView,
    ObjectEditView,
    ObjectListView,
    PermissionRequiredView,
    redirect,
    safe_next,
)
from ibcloud.matching import services
from ibcloud.matching.assignment import AUTO_ASSIGN
from ibcloud.matching.filters import (
    AssignmentRuleFilterSet,
    InboxFilterSet,
    MatchFilterSet,
    QueueFilterSet,
)
from ibcloud.matching.models import AssignmentRule, Match, MatchNote
from ibcloud.matching.review_forms import (
    AssignmentRuleForm,
    ManualMatchForm,
    NoteForm,
    ProgressForm,
    RejectForm,
    SendToForm,
)
from ibcloud.matching.review_tables import (
    AssignmentRuleTable,
    InboxTable,
    ReviewTable,
    UnassignedTable,
    explanation_sentences,
)

REVIEW = "matching.review_match"
ASSIGN = "matching.assign_match"


def _matches():
    return Match.objects.select_related(
        "project", "investor", "rule_set", "assignee", "reviewed_by"
    )


def may(user: Any, match: Match, action: str) -> bool:
    """Whether ``user`` holds the permission of ``action`` and reaches ``match``."""
    return restrict(Match.objects.filter(pk=match.pk), user, action).exists()


def _report(request, result: services.BulkResult, done_message: str) -> str:
    for error in result.errors[:10]:
        messages.warning(request, f"#{error['id']}: {error['message']}")
    if len(result.errors) > 10:
        messages.warning(
            request, _("%(n)d more rows were refused.") % {"n": len(result.errors) - 10}
        )
    return done_message % {"n": result.done}


def _bulk(action: str, message: str):
    def handler(request, queryset) -> str:
        rows = queryset.select_related("project", "investor", "rule_set__department")
        kwargs: dict[str, Any] = {"note": request.POST.get("note", ""), "request": request}
        if action == "reject":
            kwargs["reason"] = request.POST.get("reason", "")
        if action == "assign":
            form = SendToForm(request.POST, actor=request.user)
            if not form.is_valid():
                messages.error(
                    request,
                    " ".join(
                        form.errors.get("__all__", []) or [_("Choose a person or a department.")]
                    ),
                )
                return ""
            kwargs["to"] = form.target
        try:
            result = services.bulk(action, rows, request.user, **kwargs)
        except ValidationError as exc:
            for text in exc.messages:
                messages.error(request, text)
            return ""
        return _report(request, result, message)

    return handler


BULK_APPROVE = BulkAction(
    "approve",
    gettext_lazy("Approve"),
    "review",
    _bulk("approve", gettext_lazy("Approved %(n)d matches.")),
    css="btn-outline-success",
)
BULK_REJECT = BulkAction(
    "reject",
    gettext_lazy("Reject"),
    "review",
    _bulk("reject", gettext_lazy("Rejected %(n)d matches.")),
    css="btn-outline-danger",
    confirm=gettext_lazy("Reject the selected matches with the chosen reason?"),
)
BULK_SEND = BulkAction(
    "assign",
    gettext_lazy("Send"),
    "assign",
    _bulk("assign", gettext_lazy("Sent %(n)d matches.")),
    css="btn-outline-primary",
)


# --- Lists ----------------------------------------------------------------------------------------


class MatchListBase(ObjectListView):
    model = Match
    filterset_class = MatchFilterSet

    def filtered(self, request):
        queryset, filterset = super().filtered(request)
        if filterset is not None and filterset.is_bound and not filterset.is_valid():
            queryset = queryset.none()
        return queryset, filterset


class ReviewQueueView(MatchListBase):
    """Pending matches in reach, best first; approve or reject one by one or in bulk."""

    permission = REVIEW
    table_class = ReviewTable
    filterset_class = QueueFilterSet
    template_name = "matching/review.html"
    title = gettext_lazy("Review queue")
    bulk_actions = (BULK_APPROVE, BULK_REJECT)

    def base_queryset(self):
        return _matches().filter(status=Match.Status.PENDING)

    def extra_context(self) -> dict:
        user = self.request.user
        return {
            "reject_form": RejectForm(auto_id="bulk_%s"),
            "can_add_match": user.has_perm("matching.add_match"),
            "unassigned_url": reverse("matching:unassigned") if user.has_perm(ASSIGN) else "",
        }


class InboxView(MatchListBase):
    """The matches assigned to me, by progress, with counts."""

    permission = "matching.view_match"
    table_class = InboxTable
    filterset_class = InboxFilterSet
    template_name = "matching/inbox.html"
    title = gettext_lazy("My matches")

    def base_queryset(self):
        return _matches().filter(status=Match.Status.APPROVED, assignee=self.request.user)

    def extra_context(self) -> dict:
        counts = dict(
            self.scoped_queryset("view")
            .order_by()
            .values_list("work_status")
            .annotate(n=Count("id"))
        )
        current = self.request.GET.getlist("work_status")
        tabs = [
            {
                "value": value,
                "label": label,
                "count": counts.get(value, 0),
                "active": current == [value],
            }
            for value, label in Match.WorkStatus.choices
        ]
        return {
            "tabs": tabs,
            "total": sum(counts.values()),
            "all_active": not current,
            "progress_choices": Match.WorkStatus.choices,
            "can_progress": self.request.user.has_perm("matching.change_match"),
        }


class UnassignedView(MatchListBase):
    """Approved matches nobody received (automatic assignment off, or no rule applied)."""

    permission = ASSIGN
    table_class = UnassignedTable
    filterset_class = QueueFilterSet
    template_name = "matching/review_unassigned.html"
    title = gettext_lazy("Approved, unassigned")
    bulk_actions = (BULK_SEND,)

    def base_queryset(self):
        return _matches().filter(status=Match.Status.APPROVED, assignee__isnull=True)

    def extra_context(self) -> dict:
        return {
            "send_form": SendToForm(actor=self.request.user, auto_id="bulk_%s"),
            "auto_assign": AUTO_ASSIGN.get(),
        }


# --- A match's page -------------------------------------------------------------------------------


def project_rows(project) -> list[tuple[str, str]]:
    return [
        (_("Industry"), industry_label(project.industry or project.industry_section)),
        (_("Round"), fmt_round(project.round)),
        (
            _("Amount sought"),
            format_range(project.amount_low, project.amount_high, project.amount_text),
        ),
        (_("Region"), format_region(project.province, project.city)),
    ]


def investor_rows(investor) -> list[tuple[str, str]]:
    from ibcloud.catalog.views import field_value

    return [
        (_("Preferred industries"), field_value(investor, "preferred_industries")),
        (_("Preferred rounds"), field_value(investor, "preferred_rounds")),
        (_("Ticket"), format_range(investor.ticket_min, investor.ticket_max, investor.ticket_text)),
        (
            _("Preferred regions"),
            _("Nationwide") if investor.nationwide else field_value(investor, "preferred_regions"),
        ),
        (_("Region"), format_region(investor.province, investor.city)),
        (_("Coverage banker"), str(investor.coverage_banker or "")),
        (_("Last active"), str(investor.last_active_on or "")),
    ]


class MatchDetailView(ObjectDetailView):
    """Project and investor side by side, why they match, history, notes and the actions the
    viewer may take."""

    model = Match
    template_name = "matching/match_detail.html"

    def base_queryset(self):
        return _matches().select_related("investor__coverage_banker", "assignment_rule")

    def extra_context(self, obj) -> dict:
        user = self.request.user
        status = obj.status
        review = may(user, obj, "review")
        assign = may(user, obj, "assign")
        change = may(user, obj, "change")
        see_project = can_see(user, obj.project, "view")
        see_investor = can_see(user, obj.investor, "view")
        notes = list(MatchNote.objects.filter(match=obj).select_related("author")[:100])
        labels = dict(Match.WorkStatus.choices)
        for note in notes:
            note.work_status_label = labels.get(note.work_status, "")
        return {
            "title": str(obj),
            "sentences": explanation_sentences(obj.explanation),
            "project_rows": project_rows(obj.project),
            "investor_rows": investor_rows(obj.investor),
            "project_url": obj.project.get_absolute_url() if see_project else "",
            "investor_url": obj.investor.get_absolute_url() if see_investor else "",
            "notes": notes,
            "reject_reason_label": services.RejectReason(obj.reject_reason).label
            if obj.reject_reason in services.RejectReason.values
            else obj.reject_reason,
            "can_approve": review and status == Match.Status.PENDING,
            "can_reject": review and status == Match.Status.PENDING,
            "can_unmatch": review and status == Match.Status.APPROVED,
            "can_rematch": review
            and status in (Match.Status.UNMATCHED, Match.Status.REJECTED, Match.Status.WITHDRAWN),
            "can_send": assign and status == Match.Status.APPROVED,
            "can_progress": change and status == Match.Status.APPROVED,
            "note_form": NoteForm(),
            "reject_form": RejectForm(),
            "send_form": SendToForm(actor=user) if assign else None,
            "progress_form": ProgressForm(initial={"work_status": obj.work_status}),
        }


# --- Actions --------------------------------------------------------------------------------------


class MatchActionView(PermissionRequiredView):
    """POST an action on one match (in reach for the action's permission). Failures come back
    as messages; ``next`` (a local URL) says where to go afterwards."""

    model = Match
    scope_action = "review"
    form_class = NoteForm
    form_template = ""  # a page for GET (and a form with errors), when the action has one
    title = ""

    def get_match(self, pk) -> Match:
        queryset = restrict(
            _matches().select_related("rule_set__department"), self.request.user, self.scope_action
        )
        return get_object_or_404(queryset, pk=pk)

    def get_form(self, data=None):
        return self.form_class(data)

    def perform(self, match: Match, form) -> str:
        raise NotImplementedError

    def next_url(self, match: Match) -> str:
        return safe_next(self.request, match.get_absolute_url())

    def render_form(self, request, match, form, status=200):
        if not self.form_template:
            return HttpResponseNotAllowed(["POST"])
        template = self.form_template
        if getattr(request, "htmx", False):
            template = template.replace(".html", "_form.html")
        context = {
            "object": match,
            "form": form,
            "title": self.title,
            "action_url": request.path,
            "next": self.next_url(match),
        }
        return render(request, template, context, status=status)

    def get(self, request, pk):
        match = self.get_match(pk)
        return self.render_form(request, match, self.get_form())

    def post(self, request, pk):
        match = self.get_match(pk)
        form = self.get_form(request.POST)
        if not form.is_valid():
            if self.form_template:
                return self.render_form(request, match, form, status=422 if request.htmx else 200)
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            return redirect(request, self.next_url(match))
        try:
            message = self.perform(match, form)
        except ValidationError as exc:
            if self.form_template:
                form.add_error(None, exc)
                return self.render_form(request, match, form)
            for text in exc.messages:
                messages.error(request, text)
            return redirect(request, self.next_url(match))
        messages.success(request, message)
        target = self.next_url(match)
        if target == match.get_absolute_url() and not can_see(request.user, match, "view"):
            # Assigned to another department: the reviewer may no longer reach it.
            target = reverse("matching:review")
        return redirect(request, target)


class ApproveView(MatchActionView):
    permission = REVIEW

    def perform(self, match, form) -> str:
        services.approve(match, self.request.user, form.cleaned_data["note"])
        if match.assignee_id:
            return _("Approved; assigned to %(user)s.") % {"user": match.assignee}
        return _("Approved %(match)s.") % {"match": match}


class RejectView(MatchActionView):
    permission = REVIEW
    form_class = RejectForm
    form_template = "matching/review_reject.html"
    title = gettext_lazy("Reject match")

    def perform(self, match, form) -> str:
        data = form.cleaned_data
        services.reject(match, self.request.user, data["reason"], data["note"])
        return _("Rejected %(match)s.") % {"match": match}


class UnmatchView(MatchActionView):
    permission = REVIEW

    def perform(self, match, form) -> str:
        services.unmatch(match, self.request.user, form.cleaned_data["note"])
        return _("Took back %(match)s.") % {"match": match}


class RematchView(MatchActionView):
    permission = REVIEW

    def perform(self, match, form) -> str:
        services.rematch(match, self.request.user, form.cleaned_data["note"])
        return _("%(match)s is back in the review queue.") % {"match": match}


class AssignView(MatchActionView):
    permission = ASSIGN
    scope_action = "assign"
    form_class = SendToForm
    form_template = "matching/review_send.html"
    title = gettext_lazy("Send to")

    def get_form(self, data=None):
        return SendToForm(data, actor=self.request.user)

    def perform(self, match, form) -> str:
        person = services.send_to(match, form.target, self.request.user, form.cleaned_data["note"])
        return _("Sent to %(user)s.") % {"user": person}


class ProgressView(MatchActionView):
    permission = "matching.change_match"
    scope_action = "change"
    form_class = ProgressForm

    def perform(self, match, form) -> str:
        data = form.cleaned_data
        services.update_progress(match, data["work_status"], data["note"], self.request.user)
        return _("Progress saved.")


# --- Manual match ---------------------------------------------------------------------------------


class MatchAddView(PermissionRequiredView):
    """Pick a project and an investor (search by name) and match them by hand."""

    model = Match
    action = "add"

    def render_form(self, request, form, status=200):
        return render(
            request,
            "matching/match_add.html",
            {"form": form, "title": _("Manual match"), "cancel_url": reverse("matching:review")},
            status=status,
        )

    def get(self, request):
        initial = {
            k: request.GET.get(k, "")
            for k in ("project", "investor", "project_q", "investor_q", "note")
        }
        return self.render_form(request, ManualMatchForm(initial=initial, actor=request.user))

    def post(self, request):
        form = ManualMatchForm(request.POST, actor=request.user)
        if not form.is_valid():
            return self.render_form(request, form, status=422 if request.htmx else 200)
        data = form.cleaned_data
        try:
            match = services.manual_match(
                data["project"], data["investor"], request.user, data["note"]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.render_form(request, form)
        messages.success(request, _("Matched %(match)s.") % {"match": match})
        if can_see(request.user, match, "view"):
            return redirect(request, match.get_absolute_url())
        return redirect(request, reverse("matching:review"))


# --- Assignment rules -----------------------------------------------------------------------------


class AssignmentRuleListView(ObjectListView):
    model = AssignmentRule
    table_class = AssignmentRuleTable
    filterset_class = AssignmentRuleFilterSet
    template_name = "matching/assignmentrule_list.html"
    add_url_name = "matching:assignmentrule_add"
    bulk_actions = (BULK_DELETE,)

    def base_queryset(self):
        return AssignmentRule.objects.select_related(
            "target_user", "target_department", "match_department"
        ).prefetch_related("rule_sets")

    def extra_context(self) -> dict:
        user = self.request.user
        return {
            "auto_assign": AUTO_ASSIGN.get(),
            "can_switch": user.has_perm("core.change_parameter"),
            "parameter_url": reverse("core:parameter_edit", args=[AUTO_ASSIGN.key]),
            "unassigned_url": reverse("matching:unassigned") if user.has_perm(ASSIGN) else "",
        }


class AssignmentRuleEditView(ObjectEditView):
    model = AssignmentRule
    form_class = AssignmentRuleForm
    success_url_name = "matching:assignmentrule_list"

    def form_kwargs(self) -> dict:
        return {"actor": self.request.user}


class AssignmentRuleDeleteView(ObjectDeleteView):
    model = AssignmentRule


class AutoAssignSwitchView(PermissionRequiredView):
    """Turn automatic assignment on or off (the ``matching.auto_assign`` parameter)."""

    permission = "core.change_parameter"

    def post(self, request):
        value = request.POST.get("value", "")
        if value not in ("on", "off"):
            messages.error(request, _("Unknown action."))
            return redirect(request, reverse("matching:assignmentrule_list"))
        parameters.set_parameter(AUTO_ASSIGN.key, value == "on", actor=request.user)
        if value == "on":
            messages.success(request, _("Automatic assignment is on."))
        else:
            messages.success(
                request,
                _("Automatic assignment is off: approved matches wait until someone sends them."),
            )
        return redirect(request, reverse("matching:assignmentrule_list"))
