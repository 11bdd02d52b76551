"""Users, departments, roles with data scope, API tokens and the login log."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser, Permission, UserManager
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from treebeard.mp_tree import MP_Node, MP_NodeManager, MP_NodeQuerySet

from ibcloud.core.models import ObjectUrls, TimeStampedModel
from ibcloud.core.scoping import (
    GLOBAL,
    DataReach,
    DataScope,
    DataScopeFields,
    RestrictedQuerySet,
    restrict,
)


class DepartmentQuerySet(MP_NodeQuerySet):
    def restrict(self, user, action: str = "view"):
        return restrict(self, user, action)


class DepartmentManager(MP_NodeManager):
    def get_queryset(self):
        return DepartmentQuerySet(self.model).order_by("path")


class Department(ObjectUrls, MP_Node):
    """A node of the department tree (materialized path: a subtree is one prefix query)."""

    name = models.CharField(_("name"), max_length=100)
    code = models.SlugField(_("code"), max_length=50, unique=True, blank=True, null=True)
    managers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("managers"),
        blank=True,
        related_name="managed_departments",
    )
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    email = models.EmailField(_("email"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    # No node_order_by: siblings keep the order they were added in. A name-sorted tree goes out of
    # order when a department is renamed, and treebeard's sorted inserts then collide on paths.
    objects = DepartmentManager()
    scope_fields = DataScopeFields(department="pk", owner="")

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self) -> str:
        return self.name

    @property
    def full_name(self) -> str:
        """Names from the root down, e.g. 投资银行部 / 并购组."""
        return " / ".join(node.name for node in [*Department.objects.get_ancestors(self), self])

    def subtree_ids(self) -> set[int]:
        return subtree_ids([self])

    def get_absolute_url(self) -> str:
        # The tree page is the department's home; the anchor scrolls to its row.
        return f"{reverse('accounts:department_list')}#department-{self.pk}"

    def get_move_url(self) -> str:
        return self.object_url("move")


def subtree_ids(departments) -> set[int]:
    """Ids of ``departments`` and everything below them, in one query (path prefixes)."""
    condition = Q(pk__in=[])
    for department in departments:
        condition |= Q(path__startswith=department.path)
    return set(Department.objects.filter(condition).values_list("pk", flat=True))


class Role(ObjectUrls, TimeStampedModel):
    """A permission group with a data scope; a user may hold several."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    code = models.SlugField(_("code"), max_length=50, unique=True)
    description = models.TextField(_("description"), blank=True)
    permissions = models.ManyToManyField(
        Permission, verbose_name=_("permissions"), blank=True, related_name="roles"
    )
    data_scope = models.CharField(
        _("data scope"), max_length=20, choices=DataScope.choices, default=DataScope.SELF
    )
    scope_departments = models.ManyToManyField(
        Department,
        verbose_name=_("chosen departments"),
        blank=True,
        related_name="+",
        help_text=_("Used when the data scope is 'chosen departments' (sub-departments included)."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.IntegerField(_("sort order"), default=0)

    # Roles are system-wide reference data: the permission alone decides who sees them.
    objects = RestrictedQuerySet.as_manager()
    scope_fields = GLOBAL

    class Meta:
        ordering = ["sort_order", "name"]
        verbose_name = _("role")
        verbose_name_plural = _("roles")

    def __str__(self) -> str:
        return self.name

    def reach_for(self, user: User) -> DataReach:
        """The rows this role lets ``user`` see."""
        scope = self.data_scope
        if scope == DataScope.ALL:
            return DataReach(all=True)
        if scope == DataScope.SELF:
            return DataReach(own_records=True)
        if scope == DataScope.CUSTOM:
            return DataReach(department_ids=subtree_ids(self.scope_departments.all()))
        if user.department_id is None:
            return DataReach(own_records=True)
        if scope == DataScope.DEPT:
            return DataReach(department_ids={user.department_id})
        return DataReach(department_ids=user.department.subtree_ids())


class User(ObjectUrls, AbstractUser):
    """A staff member. ``name`` is the display name (姓名); ``username`` the login."""

    name = models.CharField(pgettext_lazy("person", "name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    position = models.CharField(_("position"), max_length=100, blank=True)
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
    )
    roles = models.ManyToManyField(Role, verbose_name=_("roles"), blank=True, related_name="users")
    password_changed_at = models.DateTimeField(_("password changed at"), null=True, blank=True)
    must_change_password = models.BooleanField(_("must change password"), default=False)
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_(
            "The pages' language after signing in, and that of the reports and reminders sent "
            "to you. Empty: the site's language."
        ),
    )

    objects = UserManager()
    scope_fields = DataScopeFields(department="department", owner="pk")

    class Meta:
        ordering = ["username"]
        verbose_name = _("user")
        verbose_name_plural = _("users")
        permissions = [
            ("view_online_users", _("Can view online users")),
            ("force_logout", _("Can force a user to log out")),
            ("unlock_user", _("Can unlock a locked account")),
            ("reset_password", _("Can reset another user's password")),
        ]

    def __str__(self) -> str:
        return self.name or self.username

    @property
    def preferred_language(self) -> str:
        """The language to speak to this person in: their own, else the site's."""
        return self.language or settings.LANGUAGE_CODE

    def forget_data_reach(self) -> None:
        """Drop the cached reach, e.g. after the department tree or the roles changed."""
        self._data_reach = None
        # A tree move rewrites paths: a cached department would answer with its old subtree.
        self._state.fields_cache.pop("department", None)

    def data_reach(self) -> DataReach:
        """What this user's active roles reach (OR of all); cached on the instance."""
        cached = getattr(self, "_data_reach", None)
        if cached is not None:
            return cached
        reach = DataReach()
        for role in self.roles.filter(is_active=True).prefetch_related("scope_departments"):
            reach.merge(role.reach_for(self))
        self._data_reach = reach
        return reach


class ApiToken(models.Model):
    """A bearer token for the API. Only a hash is stored; the key is shown once at creation."""

    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100, default="API")
    prefix = models.CharField(_("key prefix"), max_length=8, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    last_ip = models.GenericIPAddressField(_("last IP"), null=True, blank=True)
    last_user_agent = models.CharField(_("last user agent"), max_length=300, blank=True)

    scope_fields = DataScopeFields(department="user__department", owner="user")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def issue(cls, user: User, name: str = "API", expires_at=None) -> tuple[ApiToken, str]:
        """Create a token; returns the row and the plain key (never stored)."""
        key = secrets.token_hex(20)
        token = cls.objects.create(
            user=user,
            name=name,
            prefix=key[:8],
            key_hash=cls.hash_key(key),
            expires_at=expires_at,
        )
        return token, key

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


class LoginLog(models.Model):
    """One login attempt through the UI or the API, successful or not."""

    class Result(models.TextChoices):
        SUCCESS = "success", _("Success")
        BAD_PASSWORD = "bad_password", _("Wrong password")
        UNKNOWN_USER = "unknown_user", _("Unknown user")
        LOCKED = "locked", _("Account locked")
        DISABLED = "disabled", _("Account disabled")
        LOGOUT = "logout", _("Logged out")
        FORCED_LOGOUT = "forced_logout", _("Forced logout")

    user = models.ForeignKey(
        User,
        verbose_name=_("user"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="login_logs",
    )
    username = models.CharField(_("username"), max_length=150, db_index=True)
    time = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    ip = models.GenericIPAddressField(_("IP"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)
    channel = models.CharField(_("channel"), max_length=10, default="web")
    result = models.CharField(_("result"), max_length=20, choices=Result.choices, db_index=True)

    scope_fields = DataScopeFields(department="user__department", owner="user")

    class Meta:
        ordering = ["-time", "-id"]
        verbose_name = _("login log")
        verbose_name_plural = _("login logs")

    def __str__(self) -> str:
        return f"{self.username} {self.result} {self.time:%Y-%m-%d %H:%M}"

    @property
    def succeeded(self) -> bool:
        return self.result == self.Result.SUCCESS
