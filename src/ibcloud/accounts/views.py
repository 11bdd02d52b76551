"""UI of account management: users, departments (tree), roles. Logic lives in ``services``."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.accounts import services
from ibcloud.accounts.filters import DepartmentFilterSet, RoleFilterSet, UserFilterSet
from ibcloud.accounts.forms import (
    DepartmentForm,
    DepartmentMoveForm,
    ResetPasswordForm,
    RoleForm,
    UserCreateForm,
    UserForm,
)
from ibcloud.accounts.models import Department, LoginLog, Role, User
from ibcloud.accounts.tables import DepartmentTable, RoleTable, UserTable
from ibcloud.core.export import export_queryset
from ibcloud.core.forms import apply_bootstrap
from ibcloud.core.scoping import can_see, restrict
from ibcloud.core.views import (
    BulkAction,
    ObjectDeleteView,
    ObjectDetailView,
    ObjectEditView,
    ObjectListView,
    PermissionRequiredView,
    positive_int,
    redirect,
)

# --- Users ---------------------------------------------------------------------------------------


def bulk_activate(active: bool):
    def handler(request, queryset) -> str:
        changed, refusals = services.bulk_set_active(request, queryset, active)
        for refusal in refusals:
            messages.error(request, refusal)
        if active:
            return _("Enabled %(n)d user(s).") % {"n": changed}
        return _("Disabled %(n)d user(s).") % {"n": changed}

    return handler


def user_unlock_url(user: User) -> str:
    """URL of the unlock action (kept by the authentication side), or '' while it is missing."""
    try:
        return reverse("accounts:user_unlock", args=[user.pk])
    except NoReverseMatch:
        return ""


class UserListView(ObjectListView):
    model = User
    table_class = UserTable
    filterset_class = UserFilterSet
    add_url_name = "accounts:user_add"
    bulk_actions = (
        BulkAction("enable", gettext_lazy("Enable"), "change", bulk_activate(True)),
        BulkAction(
            "disable",
            gettext_lazy("Disable"),
            "change",
            bulk_activate(False),
            css="btn-outline-danger",
            confirm=gettext_lazy("Disable the selected users? They are logged out at once."),
        ),
    )

    def base_queryset(self):
        return services.with_lock_state(
            User.objects.select_related("department").prefetch_related("roles")
        )


class UserDetailView(ObjectDetailView):
    model = User
    template_name = "accounts/user_detail.html"

    def base_queryset(self):
        return services.with_lock_state(User.objects.select_related("department"))

    def extra_context(self, obj) -> dict:
        viewer = self.request.user
        login_logs = []
        if viewer.has_perm("accounts.view_loginlog"):
            login_logs = list(restrict(LoginLog.objects.filter(user=obj), viewer, "view")[:10])
        return {
            "title": str(obj),
            "roles": obj.roles.all(),
            "scope": services.data_scope_summary(obj),
            "login_logs": login_logs,
            "can_manage": services.may_manage(viewer, obj),
            "is_self": obj.pk == viewer.pk,
            "unlock_url": user_unlock_url(obj),
        }


class UserEditView(ObjectEditView):
    model = User

    def get_object(self, pk=None):
        obj = super().get_object(pk)
        if obj.pk and not services.may_manage(self.request.user, obj):
            raise PermissionDenied
        return obj

    def get_form(self, obj, data=None, files=None):
        form_class = UserForm if obj.pk else UserCreateForm
        return form_class(data, files, instance=obj, actor=self.request.user)

    def save(self, form):
        user = form.instance
        before = services.role_names(user.roles.all()) if user.pk else []
        user = super().save(form)
        services.record_role_change(
            self.request, user, before, services.role_names(user.roles.all())
        )
        return user


class UserDeleteView(ObjectDeleteView):
    model = User

    def check_deletable(self, obj) -> str | None:
        return services.user_delete_refusal(self.request.user, obj)


class UserToggleActiveView(PermissionRequiredView):
    """POST: enable a disabled user or disable an active one."""

    model = User
    action = "change"

    def get(self, request, pk):
        return HttpResponseNotAllowed(["POST"])

    def post(self, request, pk):
        user = get_object_or_404(self.scoped_queryset("change"), pk=pk)
        if not services.may_manage(request.user, user):
            raise PermissionDenied
        try:
            services.set_active(request, user, not user.is_active)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            if user.is_active:
                messages.success(request, _("Enabled %(user)s.") % {"user": user})
            else:
                messages.success(
                    request, _("Disabled %(user)s; their sessions ended.") % {"user": user}
                )
        return redirect(request, user.get_absolute_url())


class UserResetPasswordView(PermissionRequiredView):
    """An administrator sets a new password; the user must change it at next login."""

    model = User
    permission = "accounts.reset_password"
    template_name = "accounts/user_reset_password.html"

    def get_user(self, pk) -> User:
        # The reset permission is not a model action: apply the data scope directly.
        queryset = services.users_in_reach(self.request.user)
        user = get_object_or_404(queryset, pk=pk)
        if not services.may_manage(self.request.user, user):
            raise PermissionDenied
        return user

    def get(self, request, pk):
        user = self.get_user(pk)
        return render(
            request, self.template_name, {"object": user, "form": ResetPasswordForm(user=user)}
        )

    def post(self, request, pk):
        user = self.get_user(pk)
        form = ResetPasswordForm(request.POST, user=user)
        if not form.is_valid():
            return render(request, self.template_name, {"object": user, "form": form})
        services.reset_password(request, user, form.password)
        messages.success(
            request,
            _("The password of %(user)s was reset; they must change it at next login.")
            % {"user": user},
        )
        return redirect(request, user.get_absolute_url())


# --- Departments ---------------------------------------------------------------------------------


class DepartmentListView(PermissionRequiredView):
    """The department tree (scoped), with member counts and managers; export as a flat list."""

    model = Department
    template_name = "accounts/department_list.html"

    def get(self, request):
        queryset = services.with_tree_details(self.scoped_queryset("view"))
        filterset = DepartmentFilterSet(request.GET or None, queryset=queryset, request=request)
        if filterset.is_bound and filterset.is_valid():
            queryset = filterset.qs
        export = request.GET.get("export")
        if export in ("xlsx", "csv"):
            return export_queryset(request, queryset, DepartmentTable, export)
        rows = services.flatten_tree(services.department_tree(queryset))
        user = request.user
        context = {
            "title": Department._meta.verbose_name_plural,
            "rows": rows,
            "filter_form": apply_bootstrap(filterset.form),
            "can_add": user.has_perm("accounts.add_department"),
            "can_change": user.has_perm("accounts.change_department"),
            "can_delete": user.has_perm("accounts.delete_department"),
            "exportable": True,
        }
        return render(request, self.template_name, context)


class DepartmentEditView(ObjectEditView):
    model = Department

    def get_form(self, obj, data=None, files=None):
        initial = {}
        parent = positive_int(self.request.GET.get("parent"))
        if obj.pk is None and parent:
            initial["parent"] = parent  # "add sub-department" from a row of the tree
        return DepartmentForm(data, files, instance=obj, initial=initial, actor=self.request.user)

    def save(self, form):
        if form.instance.pk:
            department = form.save()
        else:
            department = services.create_department(
                form.save(commit=False),
                form.cleaned_data.get("parent"),
                form.cleaned_data.get("managers") or [],
            )
        # The reach was computed before the tree changed; the re-check must see the new node.
        self.request.user.forget_data_reach()
        return department


class DepartmentMoveView(PermissionRequiredView):
    model = Department
    action = "change"
    template_name = "accounts/department_move.html"

    def render_form(self, request, department, form):
        return render(request, self.template_name, {"object": department, "form": form})

    def get(self, request, pk):
        department = get_object_or_404(self.scoped_queryset("change"), pk=pk)
        parent = Department.objects.get_parent(department)
        form = DepartmentMoveForm(
            initial={"parent": parent.pk if parent else None},
            actor=request.user,
            department=department,
        )
        return self.render_form(request, department, form)

    def post(self, request, pk):
        department = get_object_or_404(self.scoped_queryset("change"), pk=pk)
        form = DepartmentMoveForm(request.POST, actor=request.user, department=department)
        if not form.is_valid():
            return self.render_form(request, department, form)
        try:
            with transaction.atomic():
                services.move_department(request, department, form.cleaned_data["parent"])
                request.user.forget_data_reach()
                if not can_see(request.user, department, "view"):
                    raise PermissionDenied
        except ValidationError as exc:
            form.add_error("parent", exc)
            return self.render_form(request, department, form)
        except PermissionDenied:
            form.add_error(
                None, _("You cannot move a department outside the departments you may access.")
            )
            return self.render_form(request, department, form)
        messages.success(request, _("Moved %(department)s.") % {"department": department})
        return redirect(request, department.get_absolute_url())


class DepartmentDeleteView(ObjectDeleteView):
    model = Department

    def check_deletable(self, obj) -> str | None:
        return services.department_delete_refusal(obj)


# --- Roles ---------------------------------------------------------------------------------------


class RoleListView(ObjectListView):
    model = Role
    table_class = RoleTable
    filterset_class = RoleFilterSet
    add_url_name = "accounts:role_add"

    def base_queryset(self):
        return services.roles_with_counts(self.request.user)


class RoleDetailView(ObjectDetailView):
    model = Role
    template_name = "accounts/role_detail.html"

    def extra_context(self, obj) -> dict:
        granted = obj.permissions.select_related("content_type")
        viewer = self.request.user
        holders = services.users_in_reach(viewer).filter(roles=obj).select_related("department")
        return {
            "title": str(obj),
            "matrix": services.permission_matrix(granted),
            "holders": holders if viewer.has_perm("accounts.view_user") else None,
            # Only holders within the viewer's reach are counted, like the list below.
            "holder_count": holders.count(),
            "scope_departments": [d.full_name for d in obj.scope_departments.all()],
        }


class RoleEditView(ObjectEditView):
    model = Role
    template_name = "accounts/role_edit.html"

    def get_form(self, obj, data=None, files=None):
        return RoleForm(data, files, instance=obj, actor=self.request.user)

    def render_form(self, request, obj, form, status=200):
        context = {
            "object": obj,
            "form": form,
            "model_meta": Role._meta,
            "is_new": obj.pk is None,
            "cancel_url": obj.get_absolute_url() if obj.pk else reverse("accounts:role_list"),
            "matrix": services.permission_matrix(),
            "chosen": {str(pk) for pk in form["permissions"].value() or []},
        }
        return render(request, self.template_name, context, status=status)

    def save(self, form):
        role = super().save(form)
        services.set_role_permissions(self.request, role, form.cleaned_data["permissions"])
        return role


class RoleDeleteView(ObjectDeleteView):
    model = Role

    def check_deletable(self, obj) -> str | None:
        return services.role_delete_refusal(obj)
