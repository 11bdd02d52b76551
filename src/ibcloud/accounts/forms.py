"""Forms of account management: users, departments, roles.

Every form takes the acting user (``actor``): the choices it offers and the checks it runs stop
an administrator from granting more than they hold themselves.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.password_validation import (
    password_validators_help_text_html,
    validate_password,
)
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ibcloud.accounts import services
from ibcloud.accounts.models import Department, Role, User
from ibcloud.core.forms import BootstrapForm, BootstrapModelForm
from ibcloud.core.scoping import DataScope


class PasswordPairMixin:
    """Two password fields that must match and pass the password policy."""

    def clean_password_pair(self, user: User) -> str | None:
        first = self.cleaned_data.get("password1")
        second = self.cleaned_data.get("password2")
        if not first:
            return None
        if first != second:
            self.add_error("password2", _("The two passwords differ."))
            return None
        try:
            validate_password(first, user)
        except ValidationError as exc:
            self.add_error("password1", exc)
            return None
        return first


def password_fields() -> tuple[forms.CharField, forms.CharField]:
    return (
        forms.CharField(
            label=_("Password"),
            strip=False,
            widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
            help_text=password_validators_help_text_html(),
        ),
        forms.CharField(
            label=_("Password (again)"),
            strip=False,
            widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        ),
    )


class UserForm(BootstrapModelForm):
    """Edit a user's profile, department and roles."""

    class Meta:
        model = User
        fields = [
            "username",
            "name",
            "phone",
            "email",
            "department",
            "position",
            "roles",
            "is_superuser",
        ]

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        instance = self.instance
        current_roles = list(instance.roles.values_list("pk", flat=True)) if instance.pk else []
        self.initial_role_ids = set(current_roles)
        self.fields["department"].queryset = services.departments_in_reach(
            actor, include=[instance.department_id]
        )
        self.fields["department"].label_from_instance = lambda d: d.full_name
        self.fields["roles"].queryset = Role.objects.filter(is_active=True) | Role.objects.filter(
            pk__in=current_roles
        )
        self.fields["roles"].required = False
        if not actor.is_superuser:
            # Only a superuser makes superusers.
            del self.fields["is_superuser"]

    def clean_is_superuser(self):
        value = self.cleaned_data.get("is_superuser")
        if self.instance.pk == self.actor.pk and self.instance.is_superuser and not value:
            # Nobody may lock themselves out of administration by accident.
            raise ValidationError(_("You cannot revoke your own superuser status."))
        return value

    def clean(self):
        cleaned = super().clean()
        roles = cleaned.get("roles")
        if roles is not None:
            added = [role for role in roles if role.pk not in self.initial_role_ids]
            for refusal in services.role_grant_refusals(
                self.actor, added, cleaned.get("department")
            ):
                self.add_error("roles", refusal)
        return cleaned


class UserCreateForm(PasswordPairMixin, UserForm):
    """A new user with an initial password; they must change it at first login."""

    password1, password2 = password_fields()

    def clean(self):
        cleaned = super().clean()
        probe = User(
            username=cleaned.get("username", ""),
            name=cleaned.get("name", ""),
            email=cleaned.get("email", ""),
        )
        self.password = self.clean_password_pair(probe)
        return cleaned

    def save(self, commit=True):
        user = super().save(commit=False)
        user.set_password(self.password)
        user.must_change_password = True
        if commit:
            user.save()
            self.save_m2m()
        return user


class ResetPasswordForm(PasswordPairMixin, BootstrapForm):
    password1, password2 = password_fields()

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self):
        cleaned = super().clean()
        self.password = self.clean_password_pair(self.user)
        return cleaned


class DepartmentForm(BootstrapModelForm):
    """A department's details; a new one also chooses its parent (moving is a separate page)."""

    parent = forms.ModelChoiceField(
        label=_("Parent department"),
        queryset=Department.objects.none(),
        required=False,
        empty_label=_("(top level)"),
    )

    class Meta:
        model = Department
        fields = ["parent", "name", "code", "phone", "email", "managers", "is_active"]

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        if self.instance.pk:
            del self.fields["parent"]
            current = list(self.instance.managers.values_list("pk", flat=True))
        else:
            self.fields["parent"].queryset = services.departments_in_reach(actor)
            self.fields["parent"].label_from_instance = lambda d: d.full_name
            current = []
        self.fields["managers"].queryset = services.users_in_reach(actor, include=current)
        self.fields["code"].help_text = _("Optional short code, unique (letters, digits, -).")

    def clean_code(self):
        # Blank codes are stored as NULL so that many departments may leave it empty.
        return self.cleaned_data.get("code") or None


class DepartmentMoveForm(BootstrapForm):
    parent = forms.ModelChoiceField(
        label=_("New parent department"),
        queryset=Department.objects.none(),
        required=False,
        empty_label=_("(top level)"),
    )

    def __init__(self, *args, actor, department: Department, **kwargs):
        super().__init__(*args, **kwargs)
        self.department = department
        self.fields["parent"].queryset = services.departments_in_reach(actor)
        self.fields["parent"].label_from_instance = lambda d: d.full_name

    def clean_parent(self):
        parent = self.cleaned_data.get("parent")
        if parent is not None and parent.path.startswith(self.department.path):
            raise ValidationError(
                _("A department cannot move under itself or one of its sub-departments.")
            )
        return parent


class RoleForm(BootstrapModelForm):
    """A role: its permission matrix, data scope and chosen departments."""

    permissions = forms.ModelMultipleChoiceField(
        label=_("Permissions"),
        queryset=services.assignable_permissions(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Role
        fields = [
            "name",
            "code",
            "description",
            "data_scope",
            "scope_departments",
            "is_active",
            "sort_order",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        instance = self.instance
        current_departments = (
            list(instance.scope_departments.values_list("pk", flat=True)) if instance.pk else []
        )
        self.initial_scope = (instance.data_scope, set(current_departments))
        self.fields["permissions"].queryset = services.assignable_permissions()
        if instance.pk:
            self.initial["permissions"] = list(instance.permissions.values_list("pk", flat=True))
        self.fields["scope_departments"].queryset = services.departments_in_reach(
            actor, include=current_departments
        )
        self.fields["scope_departments"].label_from_instance = lambda d: d.full_name
        self.fields["scope_departments"].required = False

    def clean(self):
        cleaned = super().clean()
        scope = cleaned.get("data_scope")
        departments = list(cleaned.get("scope_departments") or [])
        if scope:
            try:
                services.validate_role_scope(scope, departments)
            except ValidationError as exc:
                self.add_error(None, exc)
            changed = (scope, {d.pk for d in departments}) != self.initial_scope
            if changed:
                refusal = services.scope_grant_refusal(self.actor, scope, departments)
                if refusal:
                    self.add_error("data_scope", refusal)
        if scope and scope != DataScope.CUSTOM:
            # Chosen departments only mean something for the 'chosen departments' scope.
            cleaned["scope_departments"] = []
        permissions = cleaned.get("permissions")
        if permissions is not None:
            refusal = services.role_permission_refusal(self.actor, self.instance, permissions)
            if refusal:
                self.add_error("permissions", refusal)
        return cleaned
