"""The generic views every module's list, detail, edit and delete pages are built from.

One pattern: a list page has a filterset (django-filter), a table (django-tables2) with sort and
pagination, optional bulk actions and export; an edit page renders a form with field errors; every
queryset passes :func:`restrict`. With htmx a list answers just its table, and a successful POST
answers with a redirect header.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import EmptyPage
from django.db import transaction
from django.db.models import ProtectedError, RestrictedError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django_tables2 import RequestConfig

from ibcloud.core.export import export_queryset
from ibcloud.core.forms import apply_bootstrap
from ibcloud.core.scoping import (
    can_see,
    explicit_order,
    ownership_defaults,
    permission_name,
    restrict,
)
from ibcloud.core.tables import (
    apply_table_config,
    column_choices,
    reset_table_config,
    save_table_config,
    saved_columns,
    table_key,
)

MAX_PER_PAGE = 500


def positive_int(value: Any, maximum: int | None = None) -> int | None:
    """``value`` as an int ≥ 1 (ASCII digits only, capped at ``maximum``), or None.

    ``str.isdigit`` accepts "²" and other digits ``int`` refuses; query strings are untrusted.
    """
    text = str(value or "")
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    number = int(text)
    if number < 1:
        return None
    return min(number, maximum) if maximum else number


def configure_table(request, table):
    """Sort and page ``table`` from the query string, with the columns the person chose; every
    list page and panel uses this.

    Build the table without ``request=``: django-tables2 would then page it itself, trusting
    ``?per_page=`` and ``?page=`` (a negative or out-of-range value raised a 500).
    """
    apply_table_config(table, saved_columns(request.user, type(table)))
    RequestConfig(request, paginate=False).configure(table)
    per_page = positive_int(request.GET.get(table.prefixed_per_page_field), MAX_PER_PAGE) or 25
    page = positive_int(request.GET.get(table.prefixed_page_field)) or 1
    try:
        table.paginate(per_page=per_page, page=page)
    except EmptyPage:
        table.paginate(per_page=per_page, page=table.paginator.num_pages)
    return table


def is_local_url(request, url: str) -> bool:
    """Whether ``url`` stays on this site (a redirect there cannot send anyone elsewhere)."""
    return bool(url) and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )


def safe_next(request, fallback: str) -> str:
    """The ``next`` address of the request (POST, else GET) when it stays on this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    return target if is_local_url(request, target) else fallback


def redirect(request, url: str) -> HttpResponse:
    """Redirect that htmx follows as a full navigation."""
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


class PermissionRequiredView(LoginRequiredMixin, View):
    """Logged in and holding ``<app>.<action>_<model>`` (or ``permission`` when given)."""

    model = None
    action = "view"
    permission: str | None = None

    def required_permission(self) -> str:
        return self.permission or permission_name(self.model, self.action)

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not request.user.has_perm(self.required_permission()):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def base_queryset(self):
        return self.model._default_manager.all()

    def list_url(self) -> str:
        meta = self.model._meta
        return reverse(f"{meta.app_label}:{meta.model_name}_list")

    def scoped_queryset(self, action: str | None = None):
        return explicit_order(
            restrict(self.base_queryset(), self.request.user, action or self.action)
        )


@dataclass(frozen=True)
class BulkAction:
    """An action on the selected rows of a list; ``handler(request, queryset) -> message``."""

    name: str
    label: Any
    action: str  # permission action the rows must pass (change/delete)
    handler: Callable[[Any, Any], str]
    css: str = "btn-outline-secondary"
    confirm: Any = ""


def bulk_delete(request, queryset) -> str:
    deleted = 0
    for obj in queryset:
        try:
            obj.delete()
            deleted += 1
        except (ProtectedError, RestrictedError):
            messages.error(
                request, _("%(obj)s is still in use and was not deleted.") % {"obj": obj}
            )
    return _("Deleted %(n)d record(s).") % {"n": deleted}


BULK_DELETE = BulkAction(
    "delete",
    gettext_lazy("Delete selected"),
    "delete",
    bulk_delete,
    css="btn-outline-danger",
    confirm=gettext_lazy("Delete the selected records?"),
)


class ObjectListView(PermissionRequiredView):
    """Filter, sort, paginate, bulk-act on and export one model's rows (scoped)."""

    table_class = None
    filterset_class = None
    template_name = "core/object_list.html"
    bulk_actions: tuple[BulkAction, ...] = ()
    title = None
    add_url_name: str | None = None
    exportable = True

    def get_title(self):
        return self.title or capfirst(self.model._meta.verbose_name_plural)

    def filtered(self, request):
        queryset = self.scoped_queryset("view")
        filterset = None
        if self.filterset_class is not None:
            filterset = self.filterset_class(
                request.GET or None, queryset=queryset, request=request
            )
            queryset = filterset.qs if filterset.is_bound else queryset
        return queryset, filterset

    def get(self, request, *args, **kwargs):
        queryset, filterset = self.filtered(request)
        if self.exportable and request.GET.get("export") in ("xlsx", "csv"):
            return export_queryset(request, queryset, self.table_class, request.GET["export"])
        table = configure_table(request, self.table_class(queryset))
        user = request.user
        context = {
            "title": self.get_title(),
            "model_meta": self.model._meta,
            "table": table,
            "filter_form": apply_bootstrap(filterset.form) if filterset is not None else None,
            "bulk_actions": [
                b for b in self.bulk_actions if user.has_perm(permission_name(self.model, b.action))
            ],
            "can_add": self.add_url_name and user.has_perm(permission_name(self.model, "add")),
            "add_url": reverse(self.add_url_name) if self.add_url_name else "",
            "exportable": self.exportable,
            "table_key": table_key(type(table)),
            "column_choices": column_choices(table),
            **self.extra_context(),
        }
        template = self.template_name
        if getattr(request, "htmx", False) and request.htmx.target == "object-table":
            template = "core/includes/object_table.html"
        return render(request, template, context)

    def extra_context(self) -> dict:
        return {}

    def post(self, request, *args, **kwargs):
        """Run a bulk action on the selected rows the user may act on."""
        chosen = {b.name: b for b in self.bulk_actions}.get(request.POST.get("bulk_action", ""))
        if chosen is None:
            messages.error(request, _("Unknown action."))
            return redirect(request, request.get_full_path())
        if not request.user.has_perm(permission_name(self.model, chosen.action)):
            raise PermissionDenied
        ids = [pk for pk in map(positive_int, request.POST.getlist("pk")) if pk]
        if not ids:
            messages.warning(request, _("Select at least one row."))
            return redirect(request, request.get_full_path())
        queryset = self.scoped_queryset(chosen.action).filter(pk__in=ids)
        with transaction.atomic():
            message = chosen.handler(request, queryset)
        if message:
            messages.success(request, message)
        return redirect(request, request.get_full_path())


class ObjectDetailView(PermissionRequiredView):
    template_name = None

    def get_object(self, pk):
        return get_object_or_404(self.scoped_queryset("view"), pk=pk)

    def get(self, request, pk, *args, **kwargs):
        obj = self.get_object(pk)
        meta = self.model._meta
        context = {"object": obj, "model_meta": meta, **self.extra_context(obj)}
        template = self.template_name or f"{meta.app_label}/{meta.model_name}_detail.html"
        return render(request, template, context)

    def extra_context(self, obj) -> dict:
        return {}


class ObjectEditView(PermissionRequiredView):
    """Create (no ``pk``) or edit a record; the saved record must stay within the user's reach."""

    form_class = None
    template_name = "core/object_edit.html"
    success_url_name: str | None = None

    def dispatch(self, request, *args, **kwargs):
        self.action = "change" if kwargs.get("pk") else "add"
        return super().dispatch(request, *args, **kwargs)

    def get_object(self, pk=None):
        if pk is None:
            return self.model()
        return get_object_or_404(self.scoped_queryset("change"), pk=pk)

    def get_form(self, obj, data=None, files=None):
        return self.form_class(data, files, instance=obj, **self.form_kwargs())

    def form_kwargs(self) -> dict:
        return {}

    def render_form(self, request, obj, form, status=200):
        context = {
            "object": obj,
            "form": form,
            "model_meta": self.model._meta,
            "is_new": obj.pk is None,
            "cancel_url": self.success_url(obj) if obj.pk else self.list_url(),
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request, pk=None, *args, **kwargs):
        obj = self.get_object(pk)
        return self.render_form(request, obj, self.get_form(obj))

    def save(self, form):
        """Save the form; views override to add owner, department or side effects."""
        obj = form.save(commit=False)
        if obj.pk is None:
            given = {name for name in ("owner", "department") if getattr(obj, f"{name}_id", None)}
            for name, value in ownership_defaults(type(obj), self.request.user, given).items():
                setattr(obj, name, value)
        obj.save()
        form.save_m2m()
        return obj

    def post(self, request, pk=None, *args, **kwargs):
        obj = self.get_object(pk)
        form = self.get_form(obj, request.POST, request.FILES)
        if not form.is_valid():
            return self.render_form(request, obj, form, status=422 if request.htmx else 200)
        try:
            with transaction.atomic():
                obj = self.save(form)
                if not can_see(request.user, obj, "view"):
                    raise PermissionDenied
        except PermissionDenied:
            form.add_error(
                None, _("You cannot save a record outside the departments you may access.")
            )
            return self.render_form(request, obj, form, status=200)
        messages.success(request, _("Saved %(obj)s.") % {"obj": obj})
        return redirect(request, self.success_url(obj))

    def success_url(self, obj) -> str:
        if self.success_url_name:
            return reverse(self.success_url_name)
        if hasattr(obj, "get_absolute_url"):
            return obj.get_absolute_url()
        return self.list_url()


class ObjectDeleteView(PermissionRequiredView):
    action = "delete"
    template_name = "core/object_delete.html"

    def get_object(self, pk):
        return get_object_or_404(self.scoped_queryset("delete"), pk=pk)

    def check_deletable(self, obj) -> str | None:
        """A reason the record cannot be deleted, or None."""
        return None

    def get(self, request, pk, *args, **kwargs):
        obj = self.get_object(pk)
        return render(
            request,
            self.template_name,
            {
                "object": obj,
                "model_meta": self.model._meta,
                "cancel_url": self.list_url(),
                "refusal": self.check_deletable(obj),
            },
        )

    def post(self, request, pk, *args, **kwargs):
        obj = self.get_object(pk)
        refusal = self.check_deletable(obj)
        if refusal:
            messages.error(request, refusal)
            return redirect(request, self.list_url())
        try:
            obj.delete()
        except (ProtectedError, RestrictedError):
            messages.error(
                request, _("%(obj)s is still in use and was not deleted.") % {"obj": obj}
            )
            return redirect(request, self.list_url())
        messages.success(request, _("Deleted %(obj)s.") % {"obj": obj})
        return redirect(request, self.list_url())


class TableColumnsView(LoginRequiredMixin, View):
    """Keep (or forget, with ``reset``) the columns a person chose for a list table (列设置).

    Only the person's own view of a table changes: which rows anyone sees stays with the list's
    permission and data scope.
    """

    http_method_names = ["post"]

    def post(self, request):
        key = request.POST.get("table", "")
        back = safe_next(request, reverse("core:home"))
        if request.POST.get("reset"):
            reset_table_config(request.user, key)
            messages.success(request, _("The table shows its usual columns again."))
            return redirect(request, back)
        columns = request.POST.getlist("columns")
        try:
            save_table_config(request.user, key, columns)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(request, back)
        messages.success(request, _("Columns saved."))
        return redirect(request, back)
