"""Tables of account management: the list pages and their exports (one definition)."""

import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from ibcloud.accounts.models import Department, Role, User
from ibcloud.core.tables import BaseTable, SelectColumn

ACTIVE_BADGE = (
    "{% load i18n %}{% if value %}"
    '<span class="badge bg-green-lt">{% translate "Active" %}</span>'
    '{% else %}<span class="badge bg-secondary-lt">{% translate "Disabled" %}</span>{% endif %}'
)


class UserTable(BaseTable):
    """Users; the queryset is annotated by ``services.with_lock_state`` (``is_locked``)."""

    select = SelectColumn()
    username = tables.Column(linkify=True)
    name = tables.Column()
    department = tables.Column(order_by=("department__path",))
    position = tables.Column()
    roles = tables.ManyToManyColumn(verbose_name=_("roles"), orderable=False)
    is_active = tables.TemplateColumn(ACTIVE_BADGE, verbose_name=_("status"))
    is_locked = tables.TemplateColumn(
        "{% load i18n %}{% if value %}"
        '<span class="badge bg-red-lt" data-locked="1">{% translate "Locked" %}</span>{% endif %}',
        verbose_name=_("locked"),
        orderable=False,
        default=False,
    )
    last_login = tables.DateTimeColumn(format="Y-m-d H:i")
    actions = tables.TemplateColumn(
        template_name="accounts/user_actions.html",
        verbose_name=_("Actions"),
        orderable=False,
        exclude_from_export=True,
    )

    class Meta(BaseTable.Meta):
        model = User
        fields = (
            "select",
            "username",
            "name",
            "department",
            "position",
            "phone",
            "email",
            "roles",
            "is_active",
            "is_locked",
            "last_login",
            "actions",
        )


class DepartmentTable(BaseTable):
    """Departments as flat rows (the export of the tree page and of the API)."""

    full_name = tables.Column(verbose_name=_("department"), accessor="full_name", orderable=False)
    code = tables.Column()
    managers = tables.ManyToManyColumn(verbose_name=_("managers"), orderable=False)
    member_count = tables.Column(verbose_name=_("members"), default=0, orderable=False)
    phone = tables.Column()
    email = tables.Column()
    is_active = tables.TemplateColumn(ACTIVE_BADGE, verbose_name=_("status"))

    class Meta(BaseTable.Meta):
        model = Department
        fields = ("full_name", "code", "managers", "member_count", "phone", "email", "is_active")


class RoleTable(BaseTable):
    select = SelectColumn()
    name = tables.Column(linkify=True)
    code = tables.Column()
    data_scope = tables.Column()
    user_count = tables.Column(verbose_name=_("users"), default=0)
    permission_count = tables.Column(verbose_name=_("permissions"), default=0)
    is_active = tables.TemplateColumn(ACTIVE_BADGE, verbose_name=_("status"))
    sort_order = tables.Column()
    actions = tables.TemplateColumn(
        template_name="accounts/role_actions.html",
        verbose_name=_("Actions"),
        orderable=False,
        exclude_from_export=True,
    )

    class Meta(BaseTable.Meta):
        model = Role
        fields = (
            "select",
            "name",
            "code",
            "data_scope",
            "user_count",
            "permission_count",
            "is_active",
            "sort_order",
            "actions",
        )
