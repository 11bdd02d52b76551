"""Filters of the login log, shared by the list page, its export and the API."""

from __future__ import annotations

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from ibcloud.accounts.models import ApiToken, LoginLog, User
from ibcloud.core.forms import date_input
from ibcloud.core.scoping import restrict

MAX_ID = 2**63 - 1
CHANNELS = [("web", _("Web")), ("api", _("API"))]


def users_in_log(request):
    """Users the viewer may see log rows of (the choice list never leaks other users)."""
    if request is None:
        return User.objects.none()
    visible = restrict(LoginLog.objects.all(), request.user, "view")
    return User.objects.filter(pk__in=visible.values("user")).order_by("username")


class LoginLogFilterSet(django_filters.FilterSet):
    user = django_filters.ModelChoiceFilter(label=_("user"), queryset=users_in_log)
    username = django_filters.CharFilter(label=_("username"), lookup_expr="icontains")
    result = django_filters.ChoiceFilter(label=_("result"), choices=LoginLog.Result.choices)
    channel = django_filters.ChoiceFilter(label=_("channel"), choices=CHANNELS)
    # A prefix search ("10.1.") is what people mean; HOST() on PostgreSQL keeps it valid for inet.
    ip = django_filters.CharFilter(label=_("IP"), lookup_expr="startswith", max_length=45)
    time_from = django_filters.DateFilter(
        label=_("From"),
        field_name="time",
        lookup_expr="date__gte",
        widget=date_input(),
    )
    time_to = django_filters.DateFilter(
        label=_("To"),
        field_name="time",
        lookup_expr="date__lte",
        widget=date_input(),
    )

    class Meta:
        model = LoginLog
        fields = ["user", "username", "result", "channel", "ip", "time_from", "time_to"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.form.fields.values():
            css = "form-select" if hasattr(field, "choices") else "form-control"
            field.widget.attrs["class"] = f"{field.widget.attrs.get('class', '')} {css}".strip()


class IdFilter(django_filters.NumberFilter):
    """A row id: an integer the database can hold (a huge number is a 400, not a crash)."""

    field_class = forms.IntegerField


class TokenFilterSet(django_filters.FilterSet):
    user = IdFilter(label=_("user"), field_name="user_id", min_value=1, max_value=MAX_ID)
    name = django_filters.CharFilter(label=_("name"), lookup_expr="icontains")

    class Meta:
        model = ApiToken
        fields = ["user", "name"]
