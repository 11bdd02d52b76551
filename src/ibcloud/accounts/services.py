"""Account management: users, departments, roles, and the guards against privilege escalation.

The UI views and the API viewsets are thin layers over these functions, so both refuse the same
things with the same messages. Functions that change something a person asked for take the
``request`` so the sensitive-action audit records who did it and from where.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.contrib.auth.models import Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from user_sessions.models import Session

from ibcloud.accounts.models import Department, Role, User
from ibcloud.core.scoping import ACTIONS, DataReach, DataScope, scope_q
from ibcloud.core.signals import record_sensitive_action

# --- Reach ---------------------------------------------------------------------------------------


def records_in_reach(model: Any, actor: Any, include: Iterable[int | None] = ()) -> QuerySet:
    """Rows of ``model`` within ``actor``'s data reach, plus the ``include`` ids (current values).

    Used for the choices of fields: a person may only pick departments or users they can see.
    The permission to view the model is not required for that, only the reach.
    """
    queryset = model._default_manager.all()
    if not actor.is_authenticated or not actor.is_active:
        return queryset.none()
    condition = scope_q(model, actor)
    if condition is None:
        return queryset
    extra = [pk for pk in include if pk]
    if extra:
        condition |= Q(pk__in=extra)
    return queryset.filter(condition)


def departments_in_reach(actor: Any, include: Iterable[int | None] = ()) -> QuerySet[Department]:
    """Departments ``actor`` may place records in (choices of department fields)."""
    return records_in_reach(Department, actor, include)


def users_in_reach(actor: Any, include: Iterable[int | None] = ()) -> QuerySet[User]:
    """Users within ``actor``'s data reach (e.g. choices for department managers)."""
    return records_in_reach(User, actor, include)


def reach_covers(outer: DataReach, inner: DataReach) -> bool:
    """Whether everything ``inner`` reaches through departments lies within ``outer``."""
    if outer.all:
        return True
    if inner.all:
        return False
    return inner.department_ids <= outer.department_ids


def may_manage(actor: Any, user: User) -> bool:
    """Only superusers change, disable, reset or delete a superuser's account."""
    return actor.is_superuser or not user.is_superuser


# --- Permissions ---------------------------------------------------------------------------------


def own_app_labels() -> list[str]:
    """Labels of the platform's own apps (``ibcloud.*``): core, accounts, audit, notify, ..."""
    return sorted(
        config.label for config in apps.get_app_configs() if config.name.startswith("ibcloud.")
    )


def assignable_permissions() -> QuerySet[Permission]:
    """Permissions a role may hold: those of our own apps, never Django's or third parties'."""
    return (
        Permission.objects.filter(content_type__app_label__in=own_app_labels())
        .select_related("content_type")
        .order_by("content_type__app_label", "content_type__model", "codename")
    )


def permission_name(permission: Permission) -> str:
    """``app_label.codename``, the form ``user.has_perm`` and the API use."""
    return f"{permission.content_type.app_label}.{permission.codename}"


def permission_names(permissions: Iterable[Permission]) -> list[str]:
    return sorted(permission_name(p) for p in permissions)


def permissions_from_names(names: Iterable[str]) -> list[Permission]:
    """The assignable permissions named ``app_label.codename``.

    Unknown or non-assignable names raise ValidationError.
    """
    wanted = list(dict.fromkeys(names))
    found = {permission_name(p): p for p in assignable_permissions()}
    unknown = [name for name in wanted if name not in found]
    if unknown:
        raise ValidationError(
            _("Unknown or not assignable permissions: %(names)s") % {"names": ", ".join(unknown)}
        )
    return [found[name] for name in wanted]


def missing_permissions(actor: Any, permissions: Iterable[Permission]) -> list[str]:
    """Names of the ``permissions`` that ``actor`` does not hold (none for an active superuser)."""
    if actor.is_superuser and actor.is_active:
        return []
    return sorted(
        name for name in (permission_name(p) for p in permissions) if not actor.has_perm(name)
    )


@dataclass
class PermissionRow:
    """One model in the permission matrix: its view/add/change/delete and custom permissions."""

    model: str
    verbose_name: str
    actions: list[Permission | None]  # in the order of core.scoping.ACTIONS
    custom: list[Permission] = field(default_factory=list)


@dataclass
class PermissionModule:
    """One app (module) in the permission matrix."""

    app_label: str
    verbose_name: str
    rows: list[PermissionRow] = field(default_factory=list)


def permission_matrix(permissions: Iterable[Permission] | None = None) -> list[PermissionModule]:
    """Group ``permissions`` (default: the assignable ones) by module, then model and action."""
    if permissions is None:
        permissions = assignable_permissions()
    modules: dict[str, PermissionModule] = {}
    rows: dict[tuple[str, str], PermissionRow] = {}
    for permission in permissions:
        content_type = permission.content_type
        app_label = content_type.app_label
        if app_label not in modules:
            try:
                verbose = str(apps.get_app_config(app_label).verbose_name)
            except LookupError:
                verbose = app_label
            modules[app_label] = PermissionModule(app_label, verbose)
        key = (app_label, content_type.model)
        if key not in rows:
            model_class = content_type.model_class()
            verbose = str(model_class._meta.verbose_name) if model_class else content_type.model
            rows[key] = PermissionRow(content_type.model, verbose, [None] * len(ACTIONS))
            modules[app_label].rows.append(rows[key])
        row = rows[key]
        # Permission names are stored in English when migrations run; show them translated.
        permission.label = _(permission.name)
        for index, action in enumerate(ACTIONS):
            if permission.codename == f"{action}_{content_type.model}":
                row.actions[index] = permission
                break
        else:
            row.custom.append(permission)
    return list(modules.values())


# --- Escalation guards ---------------------------------------------------------------------------


def scope_grant_refusal(
    actor: Any, data_scope: str, departments: Iterable[Department] = ()
) -> str | None:
    """Why ``actor`` may not give a role this data scope, or None.

    A role's "all data" or chosen departments must not reach beyond the actor's own reach, or an
    administrator of one department could widen a role and see the whole bank.
    """
    if actor.is_superuser:
        return None
    reach = actor.data_reach()
    if reach.all:
        return None
    if data_scope == DataScope.ALL:
        return _("Only someone who sees all data may grant the 'all data' scope.")
    if data_scope == DataScope.CUSTOM:
        ids: set[int] = set()
        for department in departments:
            ids |= department.subtree_ids()
        if not ids <= reach.department_ids:
            return _("The chosen departments reach beyond the departments you may access.")
    return None


def role_grant_refusals(
    actor: Any, roles: Iterable[Role], department: Department | None
) -> list[str]:
    """Why ``actor`` may not give ``roles`` to a user of ``department`` (empty: allowed).

    A non-superuser may only hand out roles whose permissions they hold themselves and whose data
    scope, for that user, stays within their own reach.
    """
    if actor.is_superuser:
        return []
    refusals = []
    reach = actor.data_reach()
    probe = User(department=department)  # reach_for() reads only the department
    for role in roles:
        missing = missing_permissions(actor, role.permissions.select_related("content_type"))
        if missing:
            refusals.append(
                _("You cannot assign the role %(role)s: it holds permissions you lack (%(perms)s).")
                % {"role": role, "perms": ", ".join(missing)}
            )
        elif not reach_covers(reach, role.reach_for(probe)):
            refusals.append(
                _("You cannot assign the role %(role)s: its data scope reaches beyond yours.")
                % {"role": role}
            )
    return refusals


# --- Users ---------------------------------------------------------------------------------------


def end_sessions(user: User) -> int:
    """Delete every session of ``user`` so their browser is logged out at its next request."""
    deleted, _details = Session.objects.filter(user=user).delete()
    return deleted


def set_active(request: Any, user: User, active: bool) -> bool:
    """Enable or disable ``user``; returns whether anything changed.

    Disabling ends their sessions at once (API tokens are refused for disabled users by the
    authentication class). Refuses disabling one's own account. Audited.
    """
    actor = request.user
    if not active and user.pk == actor.pk:
        raise ValidationError(_("You cannot disable your own account."))
    if user.is_active == active:
        return False
    with transaction.atomic():
        user.is_active = active
        user.save()
        if not active:
            end_sessions(user)
    record_sensitive_action(
        request,
        "account_enable" if active else "account_disable",
        target=user,
        description=str(user),
    )
    return True


def bulk_set_active(request: Any, users: Iterable[User], active: bool) -> tuple[int, list[str]]:
    """Enable or disable several users; returns (changed count, refusal messages)."""
    changed, refusals = 0, []
    for user in users:
        if not may_manage(request.user, user):
            refusals.append(_("Only a superuser can change %(user)s.") % {"user": user})
            continue
        try:
            changed += int(set_active(request, user, active))
        except ValidationError as exc:
            refusals.extend(exc.messages)
    return changed, refusals


def reset_password(request: Any, user: User, password: str) -> None:
    """Set a new password chosen by an administrator; the user must change it at next login.

    The password passes the password policy; every session of the user ends. Audited (the
    password itself never is).
    """
    validate_password(password, user)
    with transaction.atomic():
        user.set_password(password)
        user.must_change_password = True
        user.save()
        end_sessions(user)
    record_sensitive_action(request, "password_reset", target=user, description=str(user))


def role_names(roles: Iterable[Role]) -> list[str]:
    return sorted(role.name for role in roles)


def record_role_change(request: Any, user: User, before: list[str], after: list[str]) -> None:
    """Audit a change of ``user``'s roles (lists of role names); nothing when unchanged."""
    if sorted(before) == sorted(after):
        return
    record_sensitive_action(
        request,
        "role_change",
        target=user,
        description=str(user),
        before=sorted(before),
        after=sorted(after),
    )


def user_delete_refusal(actor: Any, user: User) -> str | None:
    """Why ``actor`` may not delete ``user``, or None."""
    if user.pk == actor.pk:
        return _("You cannot delete your own account.")
    if not may_manage(actor, user):
        return _("Only a superuser can delete a superuser.")
    return None


def with_lock_state(queryset: QuerySet[User]) -> QuerySet[User]:
    """Annotate ``is_locked``: failed logins within the cool-down reached the lockout limit.

    The same rule as ``lockout.is_locked`` (axes sums the failures of a username), as one
    subquery, so a list page or an export of many users costs one query.
    """
    from axes.models import AccessAttempt

    from ibcloud.accounts import lockout

    since = timezone.now() - lockout.cooloff_time()
    failures = (
        AccessAttempt.objects.filter(username=OuterRef("username"), attempt_time__gte=since)
        .order_by()
        .values("username")
        .annotate(total=Sum("failures_since_start"))
        .values("total")
    )
    return queryset.annotate(
        recent_failures=Coalesce(Subquery(failures), 0),
        is_locked=Case(
            When(recent_failures__gte=lockout.LOCKOUT_LIMIT.get(), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        ),
    )


@dataclass
class RoleScope:
    role: Role
    scope: str
    departments: list[str]


@dataclass
class ScopeSummary:
    """What a user's roles let them see, for the user detail page."""

    roles: list[RoleScope]
    all: bool
    departments: list[str]
    own_records: bool


def data_scope_summary(user: User) -> ScopeSummary:
    """Each active role's scope and the combined reach (departments by full name)."""
    role_scopes = []
    for role in user.roles.filter(is_active=True).prefetch_related("scope_departments"):
        names = [d.full_name for d in role.scope_departments.all()]
        role_scopes.append(RoleScope(role, role.get_data_scope_display(), names))
    user.forget_data_reach()
    reach = user.data_reach() if not user.is_superuser else DataReach(all=True)
    departments = [
        d.full_name for d in Department.objects.filter(pk__in=sorted(reach.department_ids))
    ]
    return ScopeSummary(role_scopes, reach.all, departments, reach.own_records)


# --- Departments ---------------------------------------------------------------------------------


def create_department(
    department: Department, parent: Department | None, managers: Iterable[User] = ()
) -> Department:
    """Insert the unsaved ``department`` as the last child of ``parent`` (a root when None)."""
    with transaction.atomic():
        if parent is None:
            department = Department.objects.add_root(instance=department)
        else:
            department = Department.objects.add_child(parent, instance=department)
        department.managers.set(managers)
    return department


def move_department(request: Any, department: Department, parent: Department | None) -> bool:
    """Move ``department`` with its sub-departments under ``parent`` (root when None).

    Refuses moving a department under itself or one of its descendants. Returns whether it
    moved. Audited (the tree move rewrites paths with bulk updates the change log cannot see).
    """
    department.refresh_from_db()
    if parent is not None:
        parent.refresh_from_db()
        if parent.path.startswith(department.path):
            raise ValidationError(
                _("A department cannot move under itself or one of its sub-departments.")
            )
    old_parent = Department.objects.get_parent(department, update=True)
    if (old_parent.pk if old_parent else None) == (parent.pk if parent else None):
        return False
    with transaction.atomic():
        # Appended after the new siblings: the tree keeps the order people built it in. (A tree
        # sorted by name breaks on renames, and treebeard then collides on paths.)
        if parent is None:
            Department.objects.move(
                department, Department.objects.get_last_root_node(), pos="last-sibling"
            )
        else:
            Department.objects.move(department, parent, pos="last-child")
    department.refresh_from_db()
    record_sensitive_action(
        request,
        "department_move",
        target=department,
        description=str(department),
        before=old_parent.full_name if old_parent else "",
        after=parent.full_name if parent else "",
    )
    return True


def department_delete_refusal(department: Department) -> str | None:
    """Why ``department`` cannot be deleted (members or sub-departments left), or None."""
    members = department.members.count()
    if members:
        return _(
            "%(department)s still has %(n)d member(s); move them to another department first."
        ) % {"department": department, "n": members}
    if (
        Department.objects.filter(path__startswith=department.path)
        .exclude(pk=department.pk)
        .exists()
    ):
        return _("%(department)s still has sub-departments; move or delete them first.") % {
            "department": department
        }
    return None


def with_tree_details(queryset: QuerySet[Department]) -> QuerySet[Department]:
    """Departments with ``member_count`` and their managers loaded, in tree order."""
    return (
        queryset.annotate(member_count=Count("members", distinct=True))
        .prefetch_related("managers")
        .order_by("path")
    )


@dataclass
class TreeNode:
    department: Department
    children: list[TreeNode] = field(default_factory=list)


def department_tree(queryset: QuerySet[Department]) -> list[TreeNode]:
    """Nest the departments of ``queryset`` into a forest.

    A department whose parent is not in the set hangs from its nearest ancestor that is, or
    becomes a root: a scoped user sees their own part of the tree.
    """
    nodes: dict[str, TreeNode] = {}
    roots: list[TreeNode] = []
    step = Department.steplen
    for department in queryset.order_by("path"):
        node = TreeNode(department)
        nodes[department.path] = node
        path = department.path[:-step]
        while path and path not in nodes:
            path = path[:-step]
        (nodes[path].children if path else roots).append(node)
    return roots


def flatten_tree(forest: list[TreeNode], level: int = 0) -> list[tuple[Department, int]]:
    """The forest as (department, indentation level) rows in display order."""
    rows = []
    for node in forest:
        rows.append((node.department, level))
        rows.extend(flatten_tree(node.children, level + 1))
    return rows


# --- Roles ---------------------------------------------------------------------------------------


def set_role_permissions(request: Any, role: Role, permissions: Iterable[Permission]) -> None:
    """Give ``role`` exactly ``permissions``; audited as ``permission_change`` when different."""
    before = permission_names(role.permissions.select_related("content_type"))
    permissions = list(permissions)
    role.permissions.set(permissions)
    after = permission_names(permissions)
    if before != after:
        record_sensitive_action(
            request,
            "permission_change",
            target=role,
            description=str(role),
            before=before,
            after=after,
        )


def role_permission_refusal(
    actor: Any, role: Role, permissions: Iterable[Permission]
) -> str | None:
    """Why ``actor`` may not give ``role`` these permissions: only ones they hold may be added."""
    current = set(role.permissions.values_list("pk", flat=True)) if role.pk else set()
    added = [p for p in permissions if p.pk not in current]
    missing = missing_permissions(actor, added)
    if missing:
        return _("You cannot grant permissions you do not hold yourself: %(perms)s") % {
            "perms": ", ".join(missing)
        }
    return None


def validate_role_scope(data_scope: str, departments: Iterable[Department]) -> None:
    """Chosen departments are required when the scope is 'chosen departments'."""
    if data_scope == DataScope.CUSTOM and not list(departments):
        raise ValidationError(
            {"scope_departments": _("Choose at least one department for this data scope.")}
        )


def role_delete_refusal(role: Role) -> str | None:
    """Roles still held by users are not deleted: take it from them first (nothing is lost)."""
    holders = role.users.count()
    if holders:
        return _(
            "%(role)s is still held by %(n)d user(s); remove it from them or deactivate it instead."
        ) % {"role": role, "n": holders}
    return None


def roles_with_counts(viewer: Any, roles: QuerySet | None = None) -> QuerySet[Role]:
    """Roles annotated with their permission count and the number of holders ``viewer`` may see
    (a count of people outside the viewer's reach would leak what the list hides)."""
    roles = Role.objects.all() if roles is None else roles
    visible = users_in_reach(viewer).values("pk")
    return roles.annotate(
        user_count=Count("users", filter=Q(users__in=visible), distinct=True),
        permission_count=Count("permissions", distinct=True),
    )
