"""API of the accounts module: users, departments, roles, permissions.

The authentication side (tokens, login log, online users) lives in ``auth_api``. Viewsets are
thin: the checks and changes are the same ``services`` functions the UI calls.
"""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from ibcloud.accounts import services
from ibcloud.accounts.filters import DepartmentFilterSet, RoleFilterSet, UserFilterSet
from ibcloud.accounts.models import Department, Role, User
from ibcloud.accounts.tables import DepartmentTable, RoleTable, UserTable
from ibcloud.core.api import EmptySerializer, ScopedModelViewSet
from ibcloud.core.rest import Conflict
from ibcloud.core.scoping import ACTIONS, DataScope, restrict


def drf_error(exc: DjangoValidationError) -> exceptions.ValidationError:
    """A Django ValidationError as DRF's, keeping field names when there are some."""
    if hasattr(exc, "error_dict"):
        return exceptions.ValidationError(exc.message_dict)
    return exceptions.ValidationError(exc.messages)


def requires(*perms: str) -> type[BasePermission]:
    """A permission class for actions whose permission is not the model's add/change/delete."""

    class Required(BasePermission):
        def has_permission(self, request, view) -> bool:
            return bool(request.user and request.user.has_perms(perms))

    return Required


class ActionScopeMixin:
    """Custom actions scope their rows by the permission action they need (e.g. move: change)."""

    action_scopes: dict[str, str] = {}

    def get_queryset(self):
        scope_action = self.action_scopes.get(getattr(self, "action", None) or "")
        if scope_action:
            return restrict(self.queryset.all(), self.request.user, scope_action)
        return super().get_queryset()


def acting_user(serializer: serializers.Serializer):
    request = serializer.context.get("request")
    return getattr(request, "user", None)


# --- Users ---------------------------------------------------------------------------------------


class UserSerializer(serializers.ModelSerializer):
    department = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.none(), allow_null=True, required=False
    )
    department_name = serializers.CharField(source="department.full_name", read_only=True)
    roles = serializers.PrimaryKeyRelatedField(
        queryset=Role.objects.all(), many=True, required=False
    )
    is_locked = serializers.BooleanField(read_only=True, default=False)
    password = serializers.CharField(
        write_only=True,
        required=False,
        style={"input_type": "password"},
        max_length=128,
        help_text="Initial password (create only); the user must change it at first login.",
    )

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "name",
            "phone",
            "email",
            "department",
            "department_name",
            "position",
            "language",
            "roles",
            "is_active",
            "is_superuser",
            "is_locked",
            "must_change_password",
            "last_login",
            "date_joined",
            "password",
        ]
        read_only_fields = [
            "is_active",
            "must_change_password",
            "last_login",
            "date_joined",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        actor = acting_user(self)
        if actor is not None and "department" in self.fields:
            current = getattr(self.instance, "department_id", None)
            self.fields["department"].queryset = services.departments_in_reach(
                actor, include=[current] if isinstance(self.instance, User) else []
            )

    def validate_is_superuser(self, value: bool) -> bool:
        current = self.instance.is_superuser if isinstance(self.instance, User) else False
        actor = acting_user(self)
        if value != current and not actor.is_superuser:
            raise serializers.ValidationError(_("Only a superuser can grant or revoke superuser."))
        if current and not value and self.instance.pk == actor.pk:
            raise serializers.ValidationError(_("You cannot revoke your own superuser status."))
        return value

    def validate(self, attrs):
        actor = acting_user(self)
        instance = self.instance if isinstance(self.instance, User) else None
        if instance is not None and "password" in attrs:
            raise serializers.ValidationError(
                {"password": [_("Use the reset-password action to change a password.")]}
            )
        if instance is None and not attrs.get("password"):
            raise serializers.ValidationError({"password": [_("This field is required.")]})
        if "roles" in attrs:
            current = set(instance.roles.values_list("pk", flat=True)) if instance else set()
            added = [role for role in attrs["roles"] if role.pk not in current]
            department = attrs.get("department", instance.department if instance else None)
            refusals = services.role_grant_refusals(actor, added, department)
            if refusals:
                raise serializers.ValidationError({"roles": refusals})
        if instance is None:
            probe = User(
                username=attrs.get("username", ""),
                name=attrs.get("name", ""),
                email=attrs.get("email", ""),
            )
            try:
                validate_password(attrs["password"], probe)
            except DjangoValidationError as exc:
                raise serializers.ValidationError({"password": exc.messages}) from exc
        return attrs

    def create(self, validated_data):
        password = validated_data.pop("password")
        roles = validated_data.pop("roles", [])
        user = User(**validated_data)
        user.set_password(password)
        user.must_change_password = True
        user.save()
        user.roles.set(roles)
        return user


class PasswordSerializer(serializers.Serializer):
    password = serializers.CharField(
        write_only=True, max_length=128, style={"input_type": "password"}
    )


class UserViewSet(ActionScopeMixin, ScopedModelViewSet):
    """Users within the caller's data scope. Disabling ends the user's sessions at once."""

    queryset = User.objects.select_related("department").prefetch_related("roles")
    serializer_class = UserSerializer
    filterset_class = UserFilterSet
    table_class = UserTable
    ordering_fields = ["username", "name", "last_login", "date_joined"]
    action_scopes = {"enable": "change", "disable": "change"}

    def get_queryset(self):
        if self.action == "reset_password":
            # The reset permission is not a model action: apply the data scope directly.
            queryset = services.users_in_reach(self.request.user)
        else:
            queryset = super().get_queryset()
        return services.with_lock_state(queryset)

    def get_object(self):
        user = super().get_object()
        if self.request.method not in ("GET", "HEAD", "OPTIONS") and not services.may_manage(
            self.request.user, user
        ):
            raise exceptions.PermissionDenied(_("Only a superuser can change a superuser."))
        return user

    def perform_create(self, serializer):
        super().perform_create(serializer)
        user = serializer.instance
        services.record_role_change(self.request, user, [], services.role_names(user.roles.all()))

    def perform_update(self, serializer):
        before = services.role_names(serializer.instance.roles.all())
        super().perform_update(serializer)
        user = serializer.instance
        services.record_role_change(
            self.request, user, before, services.role_names(user.roles.all())
        )

    def perform_destroy(self, instance):
        refusal = services.user_delete_refusal(self.request.user, instance)
        if refusal:
            raise Conflict(refusal)
        instance.delete()

    def _set_active(self, request, active: bool) -> Response:
        user = self.get_object()
        try:
            services.set_active(request, user, active)
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        return Response(self.get_serializer(self.get_queryset().get(pk=user.pk)).data)

    @extend_schema(request=EmptySerializer, responses=UserSerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAuthenticated, requires("accounts.change_user")],
    )
    def enable(self, request, pk=None):
        """Enable a disabled user."""
        return self._set_active(request, True)

    @extend_schema(request=EmptySerializer, responses=UserSerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAuthenticated, requires("accounts.change_user")],
    )
    def disable(self, request, pk=None):
        """Disable a user: their sessions end and their API tokens stop working at once."""
        return self._set_active(request, False)

    @extend_schema(request=PasswordSerializer, responses=UserSerializer)
    @action(
        detail=True,
        methods=["post"],
        url_path="reset-password",
        permission_classes=[IsAuthenticated, requires("accounts.reset_password")],
    )
    def reset_password(self, request, pk=None):
        """Set a new password (policy-checked); the user must change it at next login."""
        user = self.get_object()
        body = PasswordSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            services.reset_password(request, user, body.validated_data["password"])
        except DjangoValidationError as exc:
            raise exceptions.ValidationError({"password": exc.messages}) from exc
        return Response(self.get_serializer(self.get_queryset().get(pk=user.pk)).data)


# --- Departments ---------------------------------------------------------------------------------


class DepartmentSerializer(serializers.ModelSerializer):
    parent = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.none(),
        allow_null=True,
        required=False,
        help_text="Parent department on create (null: top level); use the move action later.",
    )
    full_name = serializers.CharField(read_only=True)
    depth = serializers.IntegerField(read_only=True)
    member_count = serializers.IntegerField(read_only=True, default=0)
    managers = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), many=True, required=False
    )

    class Meta:
        model = Department
        fields = [
            "id",
            "name",
            "code",
            "parent",
            "full_name",
            "depth",
            "phone",
            "email",
            "managers",
            "member_count",
            "is_active",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"code": {"allow_blank": True}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        actor = acting_user(self)
        if actor is not None:
            self.fields["parent"].queryset = services.departments_in_reach(actor)
            current = (
                list(self.instance.managers.values_list("pk", flat=True))
                if isinstance(self.instance, Department)
                else []
            )
            self.fields["managers"].child_relation.queryset = services.users_in_reach(
                actor, include=current
            )

    def to_representation(self, instance):
        data = super().to_representation(instance)
        parent = Department.objects.get_parent(instance)
        data["parent"] = parent.pk if parent else None
        return data

    def validate_code(self, value):
        # Blank codes are stored as NULL so that many departments may leave it empty.
        return value or None

    def validate(self, attrs):
        if isinstance(self.instance, Department) and "parent" in attrs:
            raise serializers.ValidationError(
                {"parent": [_("Use the move action to change the parent department.")]}
            )
        return attrs

    def create(self, validated_data):
        parent = validated_data.pop("parent", None)
        managers = validated_data.pop("managers", [])
        return services.create_department(Department(**validated_data), parent, managers)


class DepartmentMoveSerializer(serializers.Serializer):
    parent = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.none(),
        allow_null=True,
        help_text="New parent department; null moves it to the top level.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        actor = acting_user(self)
        if actor is not None:
            self.fields["parent"].queryset = services.departments_in_reach(actor)


class DepartmentTreeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    code = serializers.CharField(allow_null=True)
    is_active = serializers.BooleanField()
    member_count = serializers.IntegerField()
    managers = serializers.ListField(child=serializers.DictField())


# A department's children are departments: the schema refers to itself.
DepartmentTreeSerializer._declared_fields["children"] = DepartmentTreeSerializer(many=True)


def tree_data(nodes: list[services.TreeNode]) -> list[dict]:
    return [
        {
            "id": node.department.pk,
            "name": node.department.name,
            "code": node.department.code,
            "is_active": node.department.is_active,
            "member_count": getattr(node.department, "member_count", 0),
            "managers": [{"id": m.pk, "name": str(m)} for m in node.department.managers.all()],
            "children": tree_data(node.children),
        }
        for node in nodes
    ]


class DepartmentViewSet(ActionScopeMixin, ScopedModelViewSet):
    """The department tree, within the caller's data scope."""

    queryset = Department.objects.all()
    serializer_class = DepartmentSerializer
    filterset_class = DepartmentFilterSet
    table_class = DepartmentTable
    ordering_fields = ["name", "code", "path"]
    ordering = ["path"]
    action_scopes = {"move": "change"}

    def get_queryset(self):
        return services.with_tree_details(super().get_queryset())

    def perform_create(self, serializer):
        with transaction.atomic():
            department = serializer.save()
            # The reach was computed before the tree changed; the re-check must see the new node.
            self.request.user.forget_data_reach()
            self.check_saved_object_visible(department)

    def perform_destroy(self, instance):
        refusal = services.department_delete_refusal(instance)
        if refusal:
            raise Conflict(refusal)
        instance.delete()

    @extend_schema(request=DepartmentMoveSerializer, responses=DepartmentSerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAuthenticated, requires("accounts.change_department")],
    )
    def move(self, request, pk=None):
        """Move the department (with its sub-departments) under another parent."""
        department = self.get_object()
        body = DepartmentMoveSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            try:
                services.move_department(request, department, body.validated_data["parent"])
            except DjangoValidationError as exc:
                raise exceptions.ValidationError({"parent": exc.messages}) from exc
            request.user.forget_data_reach()
            self.check_saved_object_visible(department)
        department = services.with_tree_details(Department.objects.filter(pk=department.pk)).get()
        return Response(self.get_serializer(department).data)

    @extend_schema(responses=DepartmentTreeSerializer(many=True), parameters=[])
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def tree(self, request):
        """The departments within reach as a nested tree."""
        forest = services.department_tree(self.get_queryset())
        return Response(tree_data(forest))


# --- Roles ---------------------------------------------------------------------------------------


class PermissionNamesField(serializers.ListField):
    """Permissions as ``app_label.codename`` strings, e.g. ``accounts.view_user``."""

    child = serializers.CharField(max_length=255)

    def to_representation(self, value):
        return services.permission_names(value.select_related("content_type"))

    def to_internal_value(self, data):
        names = super().to_internal_value(data)
        try:
            return services.permissions_from_names(names)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc


class RoleSerializer(serializers.ModelSerializer):
    permissions = PermissionNamesField(required=False)
    scope_departments = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.all(), many=True, required=False
    )
    user_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Role
        fields = [
            "id",
            "name",
            "code",
            "description",
            "permissions",
            "data_scope",
            "scope_departments",
            "is_active",
            "sort_order",
            "user_count",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"sort_order": {"min_value": -1_000_000, "max_value": 1_000_000}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        actor = acting_user(self)
        if actor is not None:
            current = (
                list(self.instance.scope_departments.values_list("pk", flat=True))
                if isinstance(self.instance, Role)
                else []
            )
            self.fields[
                "scope_departments"
            ].child_relation.queryset = services.departments_in_reach(actor, include=current)

    def validate(self, attrs):
        actor = acting_user(self)
        instance = self.instance if isinstance(self.instance, Role) else None
        current_scope = instance.data_scope if instance else DataScope.SELF
        current_departments = list(instance.scope_departments.all()) if instance else []
        scope = attrs.get("data_scope", current_scope)
        departments = attrs.get("scope_departments", current_departments)
        try:
            services.validate_role_scope(scope, departments)
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        changed = (scope, {d.pk for d in departments}) != (
            current_scope,
            {d.pk for d in current_departments},
        )
        if changed:
            refusal = services.scope_grant_refusal(actor, scope, departments)
            if refusal:
                raise serializers.ValidationError({"data_scope": [refusal]})
        if scope != DataScope.CUSTOM and "scope_departments" in attrs:
            attrs["scope_departments"] = []
        if "permissions" in attrs:
            refusal = services.role_permission_refusal(
                actor, instance or Role(), attrs["permissions"]
            )
            if refusal:
                raise serializers.ValidationError({"permissions": [refusal]})
        return attrs

    def save_relations(self, role: Role, permissions, departments) -> Role:
        request = self.context.get("request")
        if departments is not None:
            role.scope_departments.set(departments)
        if role.data_scope != DataScope.CUSTOM:
            role.scope_departments.clear()
        if permissions is not None:
            services.set_role_permissions(request, role, permissions)
        return role

    def create(self, validated_data):
        permissions = validated_data.pop("permissions", [])
        departments = validated_data.pop("scope_departments", [])
        role = Role.objects.create(**validated_data)
        return self.save_relations(role, permissions, departments)

    def update(self, instance, validated_data):
        permissions = validated_data.pop("permissions", None)
        departments = validated_data.pop("scope_departments", None)
        role = super().update(instance, validated_data)
        return self.save_relations(role, permissions, departments)


class RoleViewSet(ScopedModelViewSet):
    """Roles: permissions (``app_label.codename``) and a data scope."""

    queryset = Role.objects.all()
    serializer_class = RoleSerializer
    filterset_class = RoleFilterSet
    table_class = RoleTable
    ordering_fields = ["name", "code", "sort_order"]

    def get_queryset(self):
        return services.roles_with_counts(self.request.user, super().get_queryset())

    def perform_destroy(self, instance):
        refusal = services.role_delete_refusal(instance)
        if refusal:
            raise Conflict(refusal)
        instance.delete()


class PermissionItemSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="app_label.codename, as roles take it")
    action = serializers.CharField(help_text="view, add, change, delete, or '' for custom ones")
    label = serializers.CharField()


class PermissionModelSerializer(serializers.Serializer):
    model = serializers.CharField()
    label = serializers.CharField()
    permissions = PermissionItemSerializer(many=True)


class PermissionModuleSerializer(serializers.Serializer):
    app_label = serializers.CharField()
    label = serializers.CharField()
    models = PermissionModelSerializer(many=True)


def permission_item(permission: Permission, action_name: str) -> dict:
    return {
        "name": services.permission_name(permission),
        "action": action_name,
        "label": permission.name,
    }


class PermissionViewSet(viewsets.GenericViewSet):
    """The permissions a role may hold, grouped by module and model (for the role matrix)."""

    serializer_class = PermissionModuleSerializer
    permission_classes = [IsAuthenticated, requires("accounts.view_role")]
    pagination_class = None
    filter_backends = []

    def get_queryset(self):
        return services.assignable_permissions()

    def list(self, request):
        modules = []
        for module in services.permission_matrix(self.get_queryset()):
            models = []
            for row in module.rows:
                items = [
                    permission_item(permission, action_name)
                    for action_name, permission in zip(ACTIONS, row.actions, strict=True)
                    if permission is not None
                ]
                items += [permission_item(permission, "") for permission in row.custom]
                models.append({"model": row.model, "label": row.verbose_name, "permissions": items})
            modules.append(
                {"app_label": module.app_label, "label": module.verbose_name, "models": models}
            )
        return Response(PermissionModuleSerializer(modules, many=True).data)


router = DefaultRouter()
router.register("users", UserViewSet, basename="user")
router.register("departments", DepartmentViewSet, basename="department")
router.register("roles", RoleViewSet, basename="role")
router.register("permissions", PermissionViewSet, basename="permission")
