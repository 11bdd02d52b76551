"""Tables of authentication records: login log (list page and export), sessions, tokens."""

from __future__ import annotations

import django_tables2 as tables
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ibcloud.accounts.auth_services import session_id
from ibcloud.accounts.models import ApiToken, LoginLog
from ibcloud.core.tables import BaseTable


def post_button(request, url: str, label, confirm) -> str:
    """A one-button POST form (force logout, revoke), protected by the CSRF token."""
    return format_html(
        '<form method="post" action="{}" class="d-inline">'
        '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
        '<button type="submit" class="btn btn-sm btn-outline-danger" data-confirm="{}">'
        '<i class="ti ti-logout me-1"></i>{}</button></form>',
        url,
        get_token(request),
        confirm,
        label,
    )


class ActionTable(BaseTable):
    """A table whose rows carry a force-logout button when ``can_act`` is set."""

    def __init__(self, *args, can_act: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.can_act = can_act
        if not can_act:
            self.columns.hide("actions")


class LoginLogTable(BaseTable):
    time = tables.DateTimeColumn(verbose_name=_("time"), format="Y-m-d H:i:s")
    username = tables.Column(verbose_name=_("username"))
    user = tables.Column(
        verbose_name=pgettext_lazy("person", "name"), accessor="user__name", default=""
    )
    department = tables.Column(
        verbose_name=_("department"), accessor="user__department__name", default=""
    )
    result = tables.Column(verbose_name=_("result"))
    channel = tables.Column(verbose_name=_("channel"))
    ip = tables.Column(verbose_name=_("IP"), default="")
    user_agent = tables.Column(verbose_name=_("user agent"), default="", orderable=False)

    class Meta(BaseTable.Meta):
        model = LoginLog
        fields = ("time", "username", "user", "department", "result", "channel", "ip")
        sequence = ("time", "username", "user", "department", "result", "channel", "ip")

    def render_result(self, record, value):
        return record.get_result_display()

    def render_user_agent(self, value):
        return value if len(value) <= 80 else value[:79] + "…"


class SessionTable(ActionTable):
    """Active sessions; the session key is a credential, so only an opaque hash is shown."""

    sid = tables.Column(verbose_name=_("session"), accessor="session_key", orderable=False)
    user = tables.Column(verbose_name=_("user"), accessor="user", order_by="user__username")
    department = tables.Column(
        verbose_name=_("department"), accessor="user__department__name", default=""
    )
    ip = tables.Column(verbose_name=_("IP"), default="")
    user_agent = tables.Column(verbose_name=_("user agent"), default="", orderable=False)
    last_activity = tables.DateTimeColumn(verbose_name=_("last activity"), format="Y-m-d H:i")
    expire_date = tables.DateTimeColumn(verbose_name=_("expires at"), format="Y-m-d H:i")
    actions = tables.Column(
        verbose_name=_("Actions"),
        accessor="session_key",
        orderable=False,
        exclude_from_export=True,
    )

    def render_sid(self, value):
        return session_id(value)[:8] + "…"

    def render_actions(self, value):
        url = reverse("accounts:session_logout", args=[session_id(value)])
        return post_button(self.request, url, _("Force logout"), _("End this session now?"))

    def render_user_agent(self, value):
        return value if len(value) <= 80 else value[:79] + "…"


class TokenTable(ActionTable):
    """API tokens: only the prefix of a key is known (the key itself is never stored)."""

    prefix = tables.Column(verbose_name=_("key prefix"))
    name = tables.Column(verbose_name=_("name"))
    user = tables.Column(verbose_name=_("user"), order_by="user__username")
    department = tables.Column(
        verbose_name=_("department"), accessor="user__department__name", default=""
    )
    last_ip = tables.Column(verbose_name=_("last IP"), default="")
    last_user_agent = tables.Column(verbose_name=_("user agent"), default="", orderable=False)
    last_used_at = tables.DateTimeColumn(verbose_name=_("last used at"), format="Y-m-d H:i")
    expires_at = tables.DateTimeColumn(verbose_name=_("expires at"), format="Y-m-d H:i")
    actions = tables.Column(
        verbose_name=_("Actions"), accessor="pk", orderable=False, exclude_from_export=True
    )

    class Meta(BaseTable.Meta):
        model = ApiToken
        fields = ()

    def render_prefix(self, value):
        return f"{value}…"

    def render_actions(self, value):
        url = reverse("accounts:token_logout", args=[value])
        return post_button(self.request, url, _("Revoke"), _("Revoke this API token now?"))

    def render_last_user_agent(self, value):
        return value if len(value) <= 80 else value[:79] + "…"
