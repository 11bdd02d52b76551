"""Data scope: the one function that narrows a queryset to what a user may see.

Django model permissions decide *what* a user may do (``catalog.view_project``); the data scope of
the user's roles decides *which rows*. Every list, detail, export, chart and API endpoint calls
:func:`restrict` (or ``Model.objects.restrict``), so the UI and the API cannot drift apart.

A model says how it is scoped with a ``scope_fields`` class attribute:

* ``DataScopeFields(department="department", owner="owner")``: rows belong to a department and
  an owner (lookups may span relations, e.g. ``"actor__department"``);
* ``GLOBAL``: reference data (dictionaries, parameters): the permission alone decides.

A model without ``scope_fields`` is refused (no rows), so a new model cannot leak by omission.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _


class DataScope(models.TextChoices):
    """The five data scopes a role can grant (RuoYi's set)."""

    ALL = "all", _("All data")
    DEPT_AND_BELOW = "dept_and_below", _("Own department and sub-departments")
    DEPT = "dept", _("Own department")
    SELF = "self", _("Own records only")
    CUSTOM = "custom", _("Chosen departments")


@dataclass(frozen=True)
class DataScopeFields:
    """Where a model keeps its department and owner, as ORM lookups ('' when it has none).

    ``owner`` may name several foreign-key lookups (a milestone reaches both its deal's lead and
    its own owner); "own records" then reaches a row through any of them. Only foreign keys:
    a lookup through a many-to-many relation would repeat rows.
    """

    department: str = "department"
    owner: str | tuple[str, ...] = "owner"


GLOBAL = DataScopeFields(department="", owner="")


@dataclass
class DataReach:
    """What a user's roles reach, combined with OR across roles."""

    all: bool = False
    department_ids: set[int] = field(default_factory=set)
    own_records: bool = False

    def merge(self, other: DataReach) -> None:
        self.all = self.all or other.all
        self.department_ids |= other.department_ids
        self.own_records = self.own_records or other.own_records


ACTIONS = ("view", "add", "change", "delete")


def permission_name(model: type[models.Model], action: str) -> str:
    """``app_label.action_modelname`` for a model, e.g. ``accounts.view_user``."""
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


def scope_q(model: type[models.Model], user: Any) -> Q | None:
    """The filter for ``user``'s data reach on ``model``; ``None`` means every row."""
    spec: DataScopeFields | None = getattr(model, "scope_fields", None)
    if spec is None:
        return Q(pk__in=[])
    if user.is_superuser or spec == GLOBAL:
        return None
    reach: DataReach = user.data_reach()
    if reach.all:
        return None
    condition = Q(pk__in=[])
    if spec.department and reach.department_ids:
        condition |= Q(**{f"{spec.department}__in": sorted(reach.department_ids)})
    if spec.owner and reach.own_records:
        owners = (spec.owner,) if isinstance(spec.owner, str) else spec.owner
        for lookup in owners:
            condition |= Q(**{lookup: user.pk})
    return condition


def restrict(queryset: QuerySet, user: Any, action: str = "view") -> QuerySet:
    """Narrow ``queryset`` to the rows ``user`` may ``action`` (view/add/change/delete).

    No permission for the action, an anonymous or disabled user: no rows.
    Superusers see everything; otherwise the roles' data scopes combine with OR.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return queryset.none()
    if not user.has_perm(permission_name(queryset.model, action)):
        return queryset.none()
    condition = scope_q(queryset.model, user)
    if condition is None:
        return queryset
    return queryset.filter(condition)


def can_see(user: Any, obj: models.Model, action: str = "view") -> bool:
    """Whether ``obj`` lies within ``user``'s reach for ``action``."""
    model = type(obj)
    return restrict(model._default_manager.filter(pk=obj.pk), user, action).exists()


def ownership_defaults(model: type[models.Model], user: Any, given: set[str]) -> dict:
    """Owner and department of a new record: its creator and the creator's department, for the
    fields ``model`` has and the input did not set (``given``). The UI and the API both use it."""
    names = {field.name for field in model._meta.get_fields()}
    defaults: dict[str, Any] = {}
    if "owner" in names and "owner" not in given:
        defaults["owner"] = user
    if "department" in names and "department" not in given:
        defaults["department"] = getattr(user, "department", None)
    return defaults


def explicit_order(queryset: QuerySet) -> QuerySet:
    """Make the model's default ordering explicit, so pages stay stable after an annotation.

    Django drops ``Meta.ordering`` from queries with aggregates (GROUP BY); an explicit
    ``order_by`` survives them, and paging an unordered list can repeat or skip rows.
    """
    if queryset.query.order_by:
        return queryset
    return queryset.order_by(*(queryset.model._meta.ordering or ["pk"]))


class RestrictedQuerySet(QuerySet):
    """QuerySet with ``.restrict(user, action)``, NetBox-style."""

    def restrict(self, user: Any, action: str = "view") -> QuerySet:
        return restrict(self, user, action)
