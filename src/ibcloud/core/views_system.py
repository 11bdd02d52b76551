"""Pages of the system module kept by ``core``: home, dictionaries, parameters, jobs."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from ibcloud.core import dictionaries, jobs, parameters
from ibcloud.core.filters import DictTypeFilterSet, JobFilterSet
from ibcloud.core.forms_system import DictItemForm, DictTypeForm, ParameterForm
from ibcloud.core.home import visible_widgets
from ibcloud.core.models import DictItem, DictType, Job, Parameter
from ibcloud.core.scoping import restrict
from ibcloud.core.tables_system import DictTypeTable, JobTable
from ibcloud.core.views import (
    BULK_DELETE,
    BulkAction,
    ObjectDeleteView,
    ObjectDetailView,
    ObjectEditView,
    ObjectListView,
    PermissionRequiredView,
    positive_int,
    redirect,
)

# --- Home -----------------------------------------------------------------------------------------


class HomeView(LoginRequiredMixin, View):
    def get(self, request):
        return render(
            request,
            "core/home.html",
            {"title": _("Home"), "widgets": visible_widgets(request.user)},
        )


# --- Dictionaries ---------------------------------------------------------------------------------


def _bulk_delete_dicttypes(request, queryset) -> str:
    """Delete the chosen dictionaries except built-in ones (which are reported)."""
    deleted = 0
    for dict_type in queryset:
        refusal = dictionaries.deletion_refusal(dict_type)
        if refusal:
            messages.error(request, refusal)
            continue
        dict_type.delete()
        deleted += 1
    return _("Deleted %(n)d record(s).") % {"n": deleted}


class DictTypeListView(ObjectListView):
    model = DictType
    table_class = DictTypeTable
    filterset_class = DictTypeFilterSet
    add_url_name = "core:dicttype_add"
    bulk_actions = (
        BulkAction(
            BULK_DELETE.name,
            BULK_DELETE.label,
            "delete",
            _bulk_delete_dicttypes,
            css=BULK_DELETE.css,
            confirm=BULK_DELETE.confirm,
        ),
    )

    def base_queryset(self):
        return dictionaries.with_item_counts(DictType.objects.all())


class DictTypeDetailView(ObjectDetailView):
    model = DictType
    template_name = "core/dicttype_detail.html"

    def extra_context(self, obj) -> dict:
        rows = list(
            restrict(DictItem.objects.filter(dict_type=obj), self.request.user)
            .select_related("parent")
            .order_by("sort_order", "id")
        )
        by_parent: dict[int | None, list[DictItem]] = {}
        for row in rows:
            by_parent.setdefault(row.parent_id, []).append(row)
        tree = [(top, by_parent.get(top.pk, [])) for top in by_parent.get(None, [])]
        return {
            "title": str(obj),
            "tree": tree,
            "item_total": len(rows),
            "refusal": dictionaries.deletion_refusal(obj),
        }


class DictTypeEditView(ObjectEditView):
    model = DictType
    form_class = DictTypeForm

    def success_url(self, obj) -> str:
        return reverse("core:dicttype_detail", args=[obj.pk])


class DictTypeDeleteView(ObjectDeleteView):
    model = DictType

    def check_deletable(self, obj) -> str | None:
        return dictionaries.deletion_refusal(obj)


class DictItemEditView(ObjectEditView):
    """Add an item to a dictionary (``type_pk``) or edit one (``pk``)."""

    model = DictItem
    form_class = DictItemForm

    def dispatch(self, request, *args, **kwargs):
        self.type_pk = kwargs.get("type_pk")
        return super().dispatch(request, *args, **kwargs)

    def get_object(self, pk=None):
        if pk is None:
            dict_type = get_object_or_404(
                restrict(DictType.objects.all(), self.request.user), pk=self.type_pk
            )
            item = DictItem(dict_type=dict_type)
            parent = positive_int(self.request.GET.get("parent"))
            if parent:
                item.parent = restrict(
                    DictItem.objects.filter(pk=parent, dict_type=dict_type, parent__isnull=True),
                    self.request.user,
                ).first()
            return item
        return get_object_or_404(self.scoped_queryset("change").select_related("dict_type"), pk=pk)

    def get_form(self, obj, data=None, files=None):
        initial = {"parent": obj.parent_id} if obj.pk is None and obj.parent_id else None
        return self.form_class(data, files, instance=obj, dict_type=obj.dict_type, initial=initial)

    def success_url(self, obj) -> str:
        return reverse("core:dicttype_detail", args=[obj.dict_type_id])

    def list_url(self) -> str:
        return reverse("core:dicttype_detail", args=[self.type_pk]) if self.type_pk else ""


class DictItemDeleteView(ObjectDeleteView):
    model = DictItem

    def get_object(self, pk):
        obj = super().get_object(pk)
        self.dict_type_id = obj.dict_type_id
        return obj

    def list_url(self) -> str:
        return reverse("core:dicttype_detail", args=[self.dict_type_id])


class DictItemMoveView(PermissionRequiredView):
    """Move an item up or down among its siblings (POST ``direction=up|down``)."""

    model = DictItem
    action = "change"

    def post(self, request, pk):
        item = get_object_or_404(self.scoped_queryset("change"), pk=pk)
        direction = request.POST.get("direction", "")
        if direction not in ("up", "down"):
            messages.error(request, _("Unknown action."))
        else:
            dictionaries.move_item(item, direction)
        return redirect(request, reverse("core:dicttype_detail", args=[item.dict_type_id]))


# --- Parameters -----------------------------------------------------------------------------------


def parameter_kind_label(kind: type) -> str:
    """What a parameter holds, in words ("int" means nothing to an administrator)."""
    labels = {int: _("Whole number"), float: _("Number"), bool: _("Yes / no"), str: _("Text")}
    return labels.get(kind, kind.__name__)


def parameter_value_text(value) -> str:
    """A parameter's value as the page shows it: yes/no for switches."""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return "" if value is None else str(value)


def parameter_rows() -> list[dict]:
    """Every declared parameter with its current value and whether an admin overrode it."""
    stored = {row.key: row for row in Parameter.objects.all()}
    rows = []
    for spec in parameters.definitions():
        row = stored.get(spec.key)
        rows.append(
            {
                "definition": spec,
                "kind": parameter_kind_label(spec.kind),
                "value": parameter_value_text(parameters.get_parameter(spec.key)),
                "default": parameter_value_text(spec.default),
                "overridden": row is not None,
                "updated_at": row.updated_at if row is not None else None,
            }
        )
    return rows


class ParameterListView(PermissionRequiredView):
    model = Parameter
    action = "view"

    def get(self, request):
        return render(
            request,
            "core/parameter_list.html",
            {"title": Parameter._meta.verbose_name_plural, "rows": parameter_rows()},
        )


class ParameterEditView(PermissionRequiredView):
    model = Parameter
    action = "change"
    template_name = "core/parameter_edit.html"

    def get_definition(self, key: str):
        try:
            return parameters.definition(key)
        except KeyError as exc:
            raise Http404(str(exc)) from exc

    def render_form(self, request, spec, form, status=200):
        overridden, _raw = parameters.stored_value(spec.key)
        context = {
            "title": spec.label,
            "definition": spec,
            "form": form,
            "overridden": overridden,
            "cancel_url": reverse("core:parameter_list"),
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request, key):
        spec = self.get_definition(key)
        form = ParameterForm(initial={"value": parameters.get_parameter(key)}, definition=spec)
        return self.render_form(request, spec, form)

    def post(self, request, key):
        spec = self.get_definition(key)
        if request.POST.get("reset"):
            parameters.reset_parameter(key, actor=request.user)
            messages.success(request, _("%(name)s is back to its default.") % {"name": spec.label})
            return redirect(request, reverse("core:parameter_list"))
        form = ParameterForm(request.POST, definition=spec)
        if not form.is_valid():
            return self.render_form(request, spec, form, status=422 if request.htmx else 200)
        parameters.set_parameter(key, form.cleaned_data["value"], actor=request.user)
        messages.success(request, _("Saved %(obj)s.") % {"obj": spec.label})
        return redirect(request, reverse("core:parameter_list"))


# --- Jobs -----------------------------------------------------------------------------------------


class JobListView(ObjectListView):
    model = Job
    table_class = JobTable
    filterset_class = JobFilterSet

    def base_queryset(self):
        return Job.objects.select_related("owner")


class JobDetailView(ObjectDetailView):
    """A job's status, progress, log and error; htmx polls the status card until it finishes."""

    model = Job
    template_name = "core/job_detail.html"

    def get(self, request, pk, *args, **kwargs):
        if getattr(request, "htmx", False) and request.htmx.target == "job-status":
            job = self.get_object(pk)
            return render(request, "core/job_panel.html", self.panel_context(job))
        return super().get(request, pk, *args, **kwargs)

    def panel_context(self, job) -> dict:
        user = self.request.user
        return {
            "object": job,
            "can_cancel": not job.is_finished
            and not job.cancel_requested
            and user.has_perm("core.change_job"),
        }

    def extra_context(self, obj) -> dict:
        return {"title": str(obj), **self.panel_context(obj)}


class JobCancelView(PermissionRequiredView):
    model = Job
    action = "change"

    def post(self, request, pk):
        job = get_object_or_404(self.scoped_queryset("change"), pk=pk)
        if job.is_finished:
            messages.warning(request, _("The job has already finished."))
        else:
            jobs.request_cancel(job)
            messages.success(request, _("Cancellation of %(job)s requested.") % {"job": job})
        return redirect(request, reverse("core:job_detail", args=[job.pk]))
