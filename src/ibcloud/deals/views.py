"""Deal pages: list (filters, export), detail (timeline with notes, attachments, milestones),
add/edit (by hand or from an approved match), delete, and the kanban whose drag changes a stage.

Every queryset passes :func:`restrict`; an id outside the user's reach answers 404. Business
rules live in ``services`` (open, edit, move, note, delete) and ``attachments``; the download
response at the top is shared with the API.

Permissions: the deal's own (``deals.view/add/change/delete_deal``) for the deal, the kanban
move (change) and notes (change: a note is work on the deal); attachments have theirs
(``deals.view/add/delete_dealattachment``), and uploading needs the deal within view reach.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, ProtectedError, QuerySet, RestrictedError
from django.http import FileResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.audit.models import EVENT_LABELS
from ibcloud.catalog.models import Investor, Project
from ibcloud.core.forms import apply_bootstrap
from ibcloud.core.rest import json_error_response
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
from ibcloud.deals import services
from ibcloud.deals.attachments import MAX_ATTACHMENT_BYTES, add_attachment, delete_attachment
from ibcloud.deals.filters import DealFilterSet, deal_type_choices
from ibcloud.deals.forms import (
    AttachmentForm,
    DealForm,
    NoteForm,
    add_service_errors,
    stage_lists,
)
from ibcloud.deals.models import Deal, DealAttachment
from ibcloud.deals.tables import DealTable, is_red, money
from ibcloud.matching.models import Match

#: audit log event of an attachment download
DOWNLOAD_EVENT = "deal_attachment_download"
EVENT_LABELS.setdefault(DOWNLOAD_EVENT, gettext_lazy("Download a deal attachment"))
#: cards shown per kanban column; the rest are behind a link to the filtered list
KANBAN_CARDS = 50
#: timeline entries shown on the deal page
TIMELINE_ENTRIES = 100

# --- Actions (shared with the API) ----------------------------------------------------------------


def deals_for(user: Any, action: str = "view") -> QuerySet:
    """The deals ``user`` may ``action``, annotated with ``is_overdue``, with what a list shows."""
    return services.with_overdue(
        restrict(Deal.objects.all(), user, action).select_related("lead", "department")
    )


def download_response(request: Any, attachment: DealAttachment) -> FileResponse:
    """The file as a download under its original name, recorded in the audit log (deal papers
    are confidential); never rendered inline, so an uploaded page cannot run in our origin."""
    record_sensitive_action(
        request,
        DOWNLOAD_EVENT,
        target=attachment.deal,
        description=attachment.name,
        attachment=attachment.pk,
    )
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.name,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


def visible_match(user: Any, pk: int) -> Match:
    """An approved-or-not match within ``user``'s reach, or 404."""
    return get_object_or_404(
        restrict(Match.objects.select_related("project", "investor"), user, "view"), pk=pk
    )


# --- List, detail, edit, delete -------------------------------------------------------------------


class DealListView(ObjectListView):
    model = Deal
    table_class = DealTable
    filterset_class = DealFilterSet
    add_url_name = "deals:deal_add"
    template_name = "deals/deal_list.html"
    title = gettext_lazy("Deals")

    def base_queryset(self):
        return services.with_overdue(
            Deal.objects.select_related("lead", "department", "project").defer(
                "description", "project__search_text", "project__provenance"
            )
        )

    def extra_context(self) -> dict:
        return {"kanban_url": reverse("deals:deal_kanban")}


class DealDetailView(ObjectDetailView):
    """Header facts, the timeline with a note form, attachments and the milestones area."""

    model = Deal
    template_name = "deals/deal_detail.html"

    def base_queryset(self):
        return services.with_overdue(
            Deal.objects.select_related("lead", "department", "project", "match")
        )

    def extra_context(self, obj) -> dict:
        user = self.request.user
        can_change = user.has_perm("deals.change_deal") and can_see(user, obj, "change")
        attachments = []
        if user.has_perm("deals.view_dealattachment"):
            attachments = list(
                restrict(obj.attachments.select_related("uploaded_by"), user, "view")
            )
        project = obj.project
        return {
            "title": str(obj),
            "type_label": services.type_label(obj.deal_type),
            "stage_label": services.stage_label(obj.deal_type, obj.stage),
            "overdue": is_red(obj),
            "deal_size": money(obj.deal_size),
            "expected_fee": money(obj.expected_fee),
            "members": list(obj.members.all()),
            "tags": list(obj.tags.all()),
            "investors": list(obj.investors.only("id", "name")),
            "visible_investor_ids": set(
                restrict(Investor.objects.filter(deals=obj), user, "view").values_list(
                    "pk", flat=True
                )
            ),
            "project_visible": project is not None
            and restrict(Project.objects.filter(pk=project.pk), user, "view").exists(),
            "match_visible": obj.match_id is not None
            and restrict(Match.objects.filter(pk=obj.match_id), user, "view").exists(),
            "activities": list(obj.activities.select_related("author")[:TIMELINE_ENTRIES]),
            "can_change": can_change,
            "can_delete": user.has_perm("deals.delete_deal") and can_see(user, obj, "delete"),
            "note_form": NoteForm() if can_change else None,
            "attachments": attachments,
            "can_view_attachments": user.has_perm("deals.view_dealattachment"),
            "attachment_form": apply_bootstrap(AttachmentForm())
            if user.has_perm("deals.add_dealattachment")
            else None,
            "can_delete_attachments": user.has_perm("deals.delete_dealattachment"),
            "max_attachment": MAX_ATTACHMENT_BYTES,
        }


class DealEditView(ObjectEditView):
    """Add or edit a deal; stage choices follow the chosen type; saved through services."""

    model = Deal
    form_class = DealForm
    template_name = "deals/deal_form.html"

    def get_form(self, obj, data=None, files=None):
        return self.form_class(data, files, instance=obj, actor=self.request.user)

    def render_form(self, request, obj, form, status=200):
        context = {
            "object": obj,
            "form": form,
            "model_meta": Deal._meta,
            "is_new": obj.pk is None,
            "cancel_url": obj.get_absolute_url() if obj.pk else self.list_url(),
            "stage_lists": stage_lists(),
            **self.form_context(),
        }
        return render(request, self.template_name, context, status=status)

    def form_context(self) -> dict:
        return {}

    def post(self, request, pk=None, *args, **kwargs):
        obj = self.get_object(pk)
        form = self.get_form(obj, request.POST, request.FILES)
        if not form.is_valid():
            return self.render_form(request, obj, form, status=422 if request.htmx else 200)
        try:
            with transaction.atomic():
                deal = self.save_values(obj, form.values())
                if not can_see(request.user, deal, "view"):
                    raise PermissionDenied
        except ValidationError as error:
            add_service_errors(form, error)
            return self.render_form(request, obj, form)
        except PermissionDenied:
            form.add_error(
                None, _("You cannot save a record outside the departments you may access.")
            )
            return self.render_form(request, obj, form)
        messages.success(request, _("Saved %(obj)s.") % {"obj": deal})
        return redirect(request, deal.get_absolute_url())

    def save_values(self, obj: Deal, values: dict[str, Any]) -> Deal:
        if obj.pk is None:
            return services.create_deal(self.request.user, **values)
        # a fresh copy: services compare the stage and status before and after
        return services.update_deal(Deal.objects.get(pk=obj.pk), self.request.user, **values)


class DealFromMatchView(DealEditView):
    """Open a deal from an approved match the user can see: the form starts from the match's
    project, investor and context; saving marks the match converted."""

    def dispatch(self, request, *args, **kwargs):
        kwargs.pop("pk", None)
        return super().dispatch(request, *args, **kwargs)

    def get_form(self, obj, data=None, files=None, initial=None):
        # the match's project and investor stay selectable, catalog reach or not
        return self.form_class(
            data,
            files,
            instance=obj,
            initial=initial,
            actor=self.request.user,
            keep_projects=(self.match.project_id,),
            keep_investors=(self.match.investor_id,),
        )

    def get_match(self) -> Match:
        return visible_match(self.request.user, self.kwargs["match_pk"])

    def form_context(self) -> dict:
        return {"match": self.match}

    def get(self, request, *args, **kwargs):
        self.match = self.get_match()
        if self.match.status != Match.Status.APPROVED:
            messages.error(request, _("Only an approved match can be turned into a deal."))
            return redirect(request, self.match.get_absolute_url())
        obj = Deal()
        initial = services.deal_defaults_from_match(self.match)
        initial.pop("match")
        initial["deal_type"] = "private_placement"
        initial["lead"] = initial["lead"] or request.user
        initial["investors"] = [i.pk for i in initial["investors"]]
        initial["project"] = initial["project"].pk
        form = self.get_form(obj, initial=initial)
        return self.render_form(request, obj, form)

    def post(self, request, *args, **kwargs):
        self.match = self.get_match()
        return super().post(request)

    def save_values(self, obj: Deal, values: dict[str, Any]) -> Deal:
        return services.open_deal_from_match(self.match, self.request.user, **values)


class DealDeleteView(ObjectDeleteView):
    model = Deal

    def post(self, request, pk, *args, **kwargs):
        deal = self.get_object(pk)
        try:
            services.delete_deal(deal, request.user)
        except (ProtectedError, RestrictedError):
            messages.error(
                request, _("%(obj)s is still in use and was not deleted.") % {"obj": deal}
            )
            return redirect(request, self.list_url())
        messages.success(request, _("Deleted %(obj)s.") % {"obj": deal})
        return redirect(request, self.list_url())


# --- Timeline and attachments ---------------------------------------------------------------------


class DealNoteAddView(PermissionRequiredView):
    """POST a note on a deal's timeline (htmx: answers the timeline; else back to the deal)."""

    model = Deal
    action = "change"

    def get(self, request, pk):
        return HttpResponseNotAllowed(["POST"])

    def post(self, request, pk):
        deal = get_object_or_404(self.scoped_queryset("change"), pk=pk)
        form = NoteForm(request.POST)
        if form.is_valid():
            try:
                services.add_note(deal, request.user, form.cleaned_data["text"])
            except ValidationError as error:
                add_service_errors(form, error)
        if not request.htmx:
            if form.errors:
                for errors in form.errors.values():
                    for error in errors:
                        messages.error(request, error)
            return redirect(request, deal.get_absolute_url())
        context = {
            "object": deal,
            "note_form": form if form.errors else NoteForm(),
            "activities": list(deal.activities.select_related("author")[:TIMELINE_ENTRIES]),
            "can_change": True,
        }
        return render(
            request,
            "deals/deal_timeline.html",
            context,
            status=422 if form.errors else 200,
        )


class DealAttachmentAddView(PermissionRequiredView):
    """POST a file to a deal (multipart); a file over the limit is refused with its size."""

    model = DealAttachment
    action = "add"

    def get(self, request, pk):
        return HttpResponseNotAllowed(["POST"])

    def post(self, request, pk):
        deal = get_object_or_404(restrict(Deal.objects.all(), request.user, "view"), pk=pk)
        form = AttachmentForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                add_attachment(
                    deal,
                    request.user,
                    form.cleaned_data["file"],
                    form.cleaned_data.get("description", ""),
                )
            except ValidationError as error:
                form.add_error("file", error)
        if form.errors:
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
        else:
            messages.success(request, _("Attached %(name)s.") % {"name": form.cleaned_data["file"]})
        return redirect(request, deal.get_absolute_url() + "#attachments")


class DealAttachmentDownloadView(PermissionRequiredView):
    """The file, to a user whose reach covers the attachment (else 404)."""

    model = DealAttachment

    def get(self, request, pk):
        attachment = get_object_or_404(self.scoped_queryset("view"), pk=pk)
        return download_response(request, attachment)


class DealAttachmentDeleteView(ObjectDeleteView):
    model = DealAttachment

    def list_url(self) -> str:
        return reverse("deals:deal_list")

    def get(self, request, pk, *args, **kwargs):
        attachment = self.get_object(pk)
        return render(
            request,
            self.template_name,
            {
                "object": attachment,
                "model_meta": DealAttachment._meta,
                "cancel_url": attachment.deal.get_absolute_url(),
                "refusal": None,
            },
        )

    def post(self, request, pk, *args, **kwargs):
        attachment = self.get_object(pk)
        deal_url = attachment.deal.get_absolute_url()
        delete_attachment(attachment, request.user)
        messages.success(request, _("Deleted %(obj)s.") % {"obj": attachment})
        return redirect(request, deal_url + "#attachments")


# --- Kanban ---------------------------------------------------------------------------------------


def kanban_columns(deals: QuerySet, deal_type: str, query: dict[str, str]) -> list[dict]:
    """One column per stage of ``deal_type``: its count and up to :data:`KANBAN_CARDS` cards
    (``deals`` already filtered and scoped); ``query`` builds each column's "N more" link."""
    counts = dict(
        deals.filter(deal_type=deal_type)
        .order_by()
        .values_list("stage")
        .annotate(n=Count("pk"))
        .values_list("stage", "n")
    )
    list_url = reverse("deals:deal_list")
    columns = []
    for stage, label in services.stage_choices(deal_type):
        count = counts.get(stage, 0)
        cards = []
        if count:
            in_stage = deals.filter(deal_type=deal_type, stage=stage)
            cards = list(in_stage.order_by("-stage_changed_at", "-id")[:KANBAN_CARDS])
        more_query = urlencode({**query, "deal_type": deal_type, "stage": stage})
        columns.append(
            {
                "stage": stage,
                "label": label,
                "count": count,
                "cards": [{"deal": d, "red": is_red(d), "size": money(d.deal_size)} for d in cards],
                "more": max(count - KANBAN_CARDS, 0),
                "more_url": f"{list_url}?{more_query}",
            }
        )
    return columns


class DealKanbanView(PermissionRequiredView):
    """Deals of one type by stage; dragging a card to another column moves the deal."""

    model = Deal
    template_name = "deals/kanban.html"

    def get(self, request):
        types = deal_type_choices()
        deal_type = request.GET.get("deal_type") or "ipo"
        if deal_type not in dict(types):
            deal_type = types[0][0] if types else ""
        data = request.GET.copy()
        data["deal_type"] = deal_type
        data.pop("stage", None)
        filterset = DealFilterSet(data, queryset=deals_for(request.user), request=request)
        deals = filterset.qs if filterset.is_valid() else deals_for(request.user).none()
        query = {
            k: v for k, v in request.GET.items() if k not in ("deal_type", "stage", "page") and v
        }
        form = apply_bootstrap(filterset.form)
        context = {
            "title": _("Deal kanban"),
            "deal_type": deal_type,
            "types": types,
            "filter_form": form,
            "columns": kanban_columns(deals, deal_type, query),
            "can_move": request.user.has_perm("deals.change_deal"),
            "list_url": reverse("deals:deal_list"),
        }
        return render(request, self.template_name, context)


class DealMoveView(PermissionRequiredView):
    """POST ``stage``: move a deal within its type's stages (the kanban's drag). Answers JSON:
    ``{"id", "stage", "label"}``, or ``{"code", "message", "details"}`` with 400 for a stage
    not in the type; 404 for a deal outside the user's change reach."""

    model = Deal
    action = "change"

    def get(self, request, pk):
        return HttpResponseNotAllowed(["POST"])

    def post(self, request, pk):
        deal = get_object_or_404(self.scoped_queryset("change"), pk=pk)
        stage = str(request.POST.get("stage", ""))[:30]
        try:
            deal = services.change_stage(deal, stage, request.user)
        except ValidationError as error:
            message = " ".join(error.messages)
            response = json_error_response(400, "invalid", message)
            return response
        return JsonResponse(
            {
                "id": deal.pk,
                "stage": deal.stage,
                "label": services.stage_label(deal.deal_type, deal.stage),
            }
        )
