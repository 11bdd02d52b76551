"""Pages of the rule sets (list, detail, edit, delete, run, dry run and apply) and the match list
with its export. The review queue, match pages and the inbox live in ``review_views``, the
dashboard in ``dashboard_views``.

Every queryset passes :func:`restrict`. Running a rule set, starting a dry run and applying one
are the functions at the top (the API calls them too): they queue the engine's jobs and record
the action in the audit log.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.audit.models import EVENT_LABELS
from ibcloud.catalog.models import Investor, Project
from ibcloud.core.models import Job
from ibcloud.core.scoping import can_see, restrict
from ibcloud.core.signals import record_sensitive_action
from ibcloud.core.views import (
    ObjectDeleteView,
    ObjectDetailView,
    ObjectEditView,
    ObjectListView,
    PermissionRequiredView,
    redirect,
)
from ibcloud.matching import statistics
from ibcloud.matching.filters import MatchFilterSet, MatchRuleSetFilterSet
from ibcloud.matching.forms import MatchRuleSetForm, describe_criteria
from ibcloud.matching.models import DryRun, Match, MatchRuleSet
from ibcloud.matching.tables import MatchRuleSetTable, MatchTable, explanation_summary

#: audit log event codes of the rule-set actions
RUN_EVENT = "matching_run"
DRY_RUN_EVENT = "matching_dry_run"
EVENT_LABELS.setdefault(RUN_EVENT, gettext_lazy("Run a full match"))
EVENT_LABELS.setdefault(DRY_RUN_EVENT, gettext_lazy("Dry-run a match rule set"))
#: pairs a dry run's page lists of each kind (the counts are exact)
DRY_RUN_ROWS = 500

# --- Actions (shared with the API) ----------------------------------------------------------------


def run_rule_set(request: Any, rule_set: MatchRuleSet) -> Job:
    """Queue a full re-match of ``rule_set`` (the engine's job, with progress) and audit it."""
    from ibcloud.matching.tasks import run_rule_set_job

    job = run_rule_set_job.enqueue(rule_set.pk, user=request.user)
    record_sensitive_action(
        request,
        RUN_EVENT,
        target=rule_set,
        description=_("Started a full match of %(rule_set)s (job #%(job)s)")
        % {"rule_set": rule_set, "job": job.pk},
        job=job.pk,
    )
    return job


def start_dry_run(request: Any, configuration: dict, rule_set: MatchRuleSet | None) -> DryRun:
    """Queue a dry run of ``configuration`` (``{"criteria", "threshold", "max_per_project"}``)
    for ``rule_set`` (None: a rule set not saved yet); nothing changes until it is applied."""
    from ibcloud.matching.tasks import dry_run_job

    with transaction.atomic():
        dry_run = DryRun.objects.create(
            rule_set=rule_set, configuration=configuration, created_by=request.user
        )
        dry_run.job = dry_run_job.enqueue(dry_run.pk, user=request.user)
        dry_run.save(update_fields=["job"])
    record_sensitive_action(
        request,
        DRY_RUN_EVENT,
        target=rule_set,
        description=_("Dry run #%(id)s of %(rule_set)s")
        % {"id": dry_run.pk, "rule_set": rule_set or _("a new rule set")},
        dry_run=dry_run.pk,
    )
    return dry_run


def apply_dry_run(request: Any, dry_run: DryRun) -> Job:
    """Queue the application of ``dry_run`` to its rule set (the engine's job saves the
    configuration and writes the changes); raises ``ValidationError`` when it cannot apply
    (not finished, or the rule set changed since). Returns the job to follow."""
    from ibcloud.matching.tasks import apply_dry_run_job

    if dry_run.rule_set_id is None:
        raise ValidationError(_("Save the rule set first; a dry run of a new rule set shows only."))
    if dry_run.job_id and dry_run.job.status != Job.Status.SUCCEEDED:
        raise ValidationError(_("The dry run has not finished successfully."))
    if dry_run.summary.get("rule_set_version") != dry_run.rule_set.version:
        raise ValidationError(
            _("The rule set was changed after this dry run; run a new dry run before applying.")
        )
    # the engine records the application in the audit log (with the run's figures)
    return apply_dry_run_job.enqueue(dry_run.pk, request.user.pk, user=request.user)


def visible_rule_sets(user: Any, action: str = "view") -> QuerySet:
    return restrict(MatchRuleSet.objects.all(), user, action)


def visible_dry_runs(user: Any) -> QuerySet:
    """Dry runs of the rule sets ``user`` may see, and the user's own (of new rule sets)."""
    if not user.has_perm("matching.view_matchruleset"):
        return DryRun.objects.none()
    return DryRun.objects.filter(
        Q(rule_set__in=visible_rule_sets(user)) | Q(created_by=user.pk)
    ).select_related("rule_set", "job")


def may_apply(user: Any, dry_run: DryRun) -> bool:
    return (
        dry_run.rule_set_id is not None
        and user.has_perm("matching.change_matchruleset")
        and can_see(user, dry_run.rule_set, "change")
    )


def job_url(user: Any, job: Job | None) -> str:
    """The core job page of ``job`` when ``user`` may open it, else ''."""
    if job is None or not can_see(user, job, "view"):
        return ""
    return reverse("core:job_detail", args=[job.pk])


def dry_run_pairs(
    user: Any, rows: list, rule_set: MatchRuleSet | None = None, limit: int = DRY_RUN_ROWS
) -> list[dict]:
    """A dry run's ``[[project_id, investor_id, score], ...]`` with the names of the projects
    and investors ``user`` may see (others show by number). With ``rule_set`` (the removed
    pairs), each pair's explanation summary comes from its current match."""
    rows = [row for row in rows[:limit] if isinstance(row, list | tuple) and len(row) >= 3]
    project_ids = {row[0] for row in rows}
    investor_ids = {row[1] for row in rows}
    projects = restrict(Project.objects.filter(pk__in=project_ids), user, "view").only("name")
    investors = restrict(Investor.objects.filter(pk__in=investor_ids), user, "view").only("name")
    project_of = {p.pk: p for p in projects}
    investor_of = {i.pk: i for i in investors}
    explanations: dict[tuple[int, int], Any] = {}
    if rule_set is not None and rows:
        current = restrict(Match.objects.all(), user, "view").filter(
            rule_set=rule_set, project_id__in=project_ids, investor_id__in=investor_ids
        )
        explanations = {
            (m.project_id, m.investor_id): m.explanation
            for m in current.only("project_id", "investor_id", "explanation")
        }
    pairs = []
    for row in rows:
        explanation = explanations.get((row[0], row[1]))
        pairs.append(
            {
                "project_id": row[0],
                "investor_id": row[1],
                "project": project_of.get(row[0]),
                "investor": investor_of.get(row[1]),
                "score": row[2],
                "summary": explanation_summary(explanation) if explanation else "",
            }
        )
    return pairs


# --- Rule sets ------------------------------------------------------------------------------------


class MatchRuleSetListView(ObjectListView):
    model = MatchRuleSet
    table_class = MatchRuleSetTable
    filterset_class = MatchRuleSetFilterSet
    add_url_name = "matching:matchruleset_add"
    title = gettext_lazy("Match rule sets")

    def base_queryset(self):
        return MatchRuleSet.objects.select_related("department")


class MatchRuleSetDetailView(ObjectDetailView):
    """The criteria in plain words, the rule set's matches by status and rejection reasons, its
    last run and dry runs, and the buttons to run, dry-run, edit and delete it."""

    model = MatchRuleSet
    template_name = "matching/matchruleset_detail.html"

    def extra_context(self, obj) -> dict:
        user = self.request.user
        figures = statistics.rule_set_statistics(obj, user)
        dry_runs = visible_dry_runs(user).filter(rule_set=obj)[:5]
        last_job = last_run_job(user, obj)
        return {
            "title": str(obj),
            "criteria": describe_criteria(obj.criteria),
            "figures": figures,
            "dry_runs": dry_runs,
            "last_job": last_job,
            "last_job_url": job_url(user, last_job),
            "can_run": user.has_perm("matching.change_matchruleset")
            and can_see(user, obj, "change"),
            "match_list_url": reverse("matching:match_list"),
        }


def last_run_job(user: Any, rule_set: MatchRuleSet) -> Job | None:
    """The latest full-match job of ``rule_set`` ``user`` may see, if any."""
    from ibcloud.matching.tasks import run_rule_set_job

    jobs = restrict(Job.objects.filter(name=run_rule_set_job.job_name), user, "view")
    return jobs.filter(arguments__args__0=rule_set.pk).order_by("-created_at", "-pk").first()


class MatchRuleSetEditView(ObjectEditView):
    """Add or edit a rule set; its criteria are a table validated by the engine's rules. The
    "Dry run" button posts the same form to :class:`MatchRuleSetDryRunView`."""

    model = MatchRuleSet
    form_class = MatchRuleSetForm
    template_name = "matching/matchruleset_form.html"

    def get_form(self, obj, data=None, files=None):
        return self.form_class(data, files, instance=obj, actor=self.request.user)

    def render_form(self, request, obj, form, status=200):
        context = {
            "object": obj,
            "form": form,
            "model_meta": MatchRuleSet._meta,
            "is_new": obj.pk is None,
            "cancel_url": obj.get_absolute_url() if obj.pk else self.list_url(),
            "kinds": form.criteria.kinds,
            "kinds_help": [kind for kind in form.criteria.kinds.values() if kind.help],
        }
        return render(request, self.template_name, context, status=status)

    def save(self, form):
        # The department is the one the rule set serves: empty means the whole bank, so only
        # the owner gets the creator's default.
        rule_set = form.save(commit=False)
        if rule_set.pk is None:
            rule_set.owner = self.request.user
        rule_set.save()
        return rule_set


class MatchRuleSetDeleteView(ObjectDeleteView):
    model = MatchRuleSet


class MatchRuleSetRunView(PermissionRequiredView):
    """POST: queue a full re-match of a rule set; the browser goes to the job's progress."""

    model = MatchRuleSet
    action = "change"

    def get(self, request, pk):
        return HttpResponseNotAllowed(["POST"])

    def post(self, request, pk):
        rule_set = get_object_or_404(self.scoped_queryset("change"), pk=pk)
        job = run_rule_set(request, rule_set)
        messages.success(request, _("Full match of %(rule_set)s queued.") % {"rule_set": rule_set})
        return redirect(request, job_url(request.user, job) or rule_set.get_absolute_url())


class MatchRuleSetDryRunView(PermissionRequiredView):
    """POST: dry-run a configuration without changing anything.

    From the add/edit form (``dry_run_from=form``): the form's current values (invalid values
    show the form again with their errors); from the rule set's page: the saved configuration.
    """

    model = MatchRuleSet

    def required_permission(self) -> str:
        action = "change" if self.kwargs.get("pk") else "add"
        return f"matching.{action}_matchruleset"

    def get(self, request, pk=None):
        return HttpResponseNotAllowed(["POST"])

    def post(self, request, pk=None):
        rule_set = None
        if pk is not None:
            rule_set = get_object_or_404(self.scoped_queryset("change"), pk=pk)
        if request.POST.get("dry_run_from") == "form":
            form = MatchRuleSetForm(
                request.POST, instance=rule_set or MatchRuleSet(), actor=request.user
            )
            if not form.is_valid():
                view = MatchRuleSetEditView()
                view.setup(request, pk=pk)
                view.action = "change" if pk else "add"
                return view.render_form(request, form.instance, form)
            configuration = form.configuration()
        elif rule_set is not None:
            configuration = {
                "criteria": rule_set.criteria,
                "threshold": float(rule_set.threshold),
                "max_per_project": rule_set.max_per_project,
            }
        else:
            raise PermissionDenied
        dry_run = start_dry_run(request, configuration, rule_set)
        return redirect(request, reverse("matching:dryrun_detail", args=[dry_run.pk]))


# --- Dry runs -------------------------------------------------------------------------------------


class DryRunDetailView(PermissionRequiredView):
    """What a dry run would change: counts, the added and removed pairs, and "apply".

    While its job runs, the status card polls (htmx) until it finishes.
    """

    model = MatchRuleSet
    template_name = "matching/dryrun_detail.html"
    partial_name = "matching/dryrun_status.html"

    def get(self, request, pk):
        dry_run = get_object_or_404(visible_dry_runs(request.user), pk=pk)
        job = dry_run.job
        finished = job is None or job.is_finished
        succeeded = job is None or job.status == Job.Status.SUCCEEDED
        summary = dry_run.summary or {}
        context = {
            "title": _("Dry run #%(id)s") % {"id": dry_run.pk},
            "object": dry_run,
            "job": job,
            "job_url": job_url(request.user, job),
            "finished": finished,
            "succeeded": succeeded,
            "summary": summary,
            "configuration": dry_run.configuration or {},
            "criteria": describe_criteria((dry_run.configuration or {}).get("criteria")),
            "added": dry_run_pairs(request.user, dry_run.added or []) if succeeded else [],
            "removed": dry_run_pairs(request.user, dry_run.removed or [], dry_run.rule_set)
            if succeeded
            else [],
            "can_apply": finished and succeeded and may_apply(request.user, dry_run),
        }
        if getattr(request, "htmx", False) and request.htmx.target == "dryrun-status":
            if finished:
                # the whole page has the results; htmx follows the refresh
                response = render(request, self.partial_name, context)
                response["HX-Refresh"] = "true"
                return response
            return render(request, self.partial_name, context)
        return render(request, self.template_name, context)


class DryRunApplyView(PermissionRequiredView):
    """POST: apply a dry run (``matching.change_matchruleset`` on its rule set)."""

    model = MatchRuleSet
    action = "change"

    def get(self, request, pk):
        return HttpResponseNotAllowed(["POST"])

    def post(self, request, pk):
        dry_run = get_object_or_404(visible_dry_runs(request.user), pk=pk)
        if not may_apply(request.user, dry_run):
            raise PermissionDenied
        page = reverse("matching:dryrun_detail", args=[dry_run.pk])
        try:
            job = apply_dry_run(request, dry_run)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return redirect(request, page)
        messages.success(
            request,
            _("Applying the dry run (job #%(job)s); the job shows the result.") % {"job": job.pk},
        )
        target = job_url(request.user, job)
        return redirect(request, target or dry_run.rule_set.get_absolute_url())


# --- Matches --------------------------------------------------------------------------------------


class MatchListView(ObjectListView):
    """Every match in the user's scope, filtered with the shared filterset; export xlsx/csv.
    Bulk actions live on the review queue."""

    model = Match
    table_class = MatchTable
    filterset_class = MatchFilterSet
    title = gettext_lazy("Matches")

    def base_queryset(self):
        return Match.objects.select_related(
            "project", "investor", "rule_set", "assignee", "reviewed_by"
        ).defer(
            "project__search_text",
            "project__provenance",
            "investor__search_text",
            "investor__provenance",
        )

    def extra_context(self) -> dict:
        try:
            review_url = reverse("matching:review")
        except NoReverseMatch:
            review_url = ""
        return {"review_url": review_url}
