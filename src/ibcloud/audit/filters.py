"""The audit log's filters, shared by the list page, its export and the API."""

from __future__ import annotations

import datetime
import re

import django_filters
from django import forms
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ibcloud.accounts.models import Department
from ibcloud.audit.models import AuditEntry
from ibcloud.audit.services import event_choices
from ibcloud.core.forms import BootstrapForm, date_input
from ibcloud.core.scoping import restrict

IP_PREFIX = re.compile(r"^[0-9A-Fa-f.:]{1,45}$")


def _visible_entries(request):
    user = getattr(request, "user", None)
    return restrict(AuditEntry.objects.all(), user, "view")


def actors(request):
    """Choices for the actor filter: only people who appear in entries the user may see."""
    if request is None:
        return get_user_model().objects.none()
    return get_user_model().objects.filter(
        pk__in=_visible_entries(request).exclude(actor=None).values("actor")
    )


def departments(request):
    """Choices for the department filter: the departments of visible entries' actors."""
    if request is None:
        return Department.objects.none()
    return Department.objects.filter(
        pk__in=_visible_entries(request).exclude(actor_department=None).values("actor_department")
    )


def _aware(day: datetime.date, at: datetime.time) -> datetime.datetime | None:
    try:
        moment = timezone.make_aware(datetime.datetime.combine(day, at))
        moment.astimezone(datetime.UTC)  # the database compares in UTC
        return moment
    except (OverflowError, ValueError):
        # Dates at the ends of the calendar (year 1, 9999) cannot shift time zone: no bound.
        return None


class AuditEntryFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search",
        label=_("Search"),
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Object or change")}),
    )
    actor = django_filters.ModelChoiceFilter(queryset=actors, label=_("Actor"))
    actor_department = django_filters.ModelChoiceFilter(
        queryset=departments, label=_("Actor's department")
    )
    event = django_filters.CharFilter(
        field_name="event", label=_("Event"), widget=forms.Select(choices=[])
    )
    model = django_filters.CharFilter(
        method="filter_model",
        label=_("Model"),
        help_text=_("app_label.model, e.g. accounts.user"),
        widget=forms.Select(choices=[]),
    )
    object_id = django_filters.CharFilter(field_name="object_pk", label=_("Object ID"))
    object_repr = django_filters.CharFilter(
        field_name="object_repr", lookup_expr="icontains", label=_("Object")
    )
    ip = django_filters.CharFilter(method="filter_ip", label=_("IP"))
    date_from = django_filters.DateFilter(
        method="filter_date_from",
        label=_("From"),
        widget=date_input(),
    )
    date_to = django_filters.DateFilter(
        method="filter_date_to",
        label=_("To"),
        widget=date_input(),
    )

    class Meta:
        model = AuditEntry
        fields: list[str] = []
        form = BootstrapForm

    def offer_choices(self) -> None:
        """Fill the event and model selects of the page's form: the known event codes and the
        platform's models. Both come from registries, not from scanning the log, which grows
        without bound. The filters accept any value (an unknown one matches nothing)."""
        blank = [("", "---------")]
        self.form.fields["event"].widget.choices = blank + event_choices()
        self.form.fields["model"].widget.choices = blank + self._model_choices()

    @staticmethod
    def _model_choices() -> list[tuple[str, str]]:
        labels = [c.label for c in apps.get_app_configs() if c.name.startswith("ibcloud.")]
        choices = []
        for content_type in ContentType.objects.filter(app_label__in=labels):
            model = content_type.model_class()
            if model is None:
                continue
            label = f"{content_type.app_label}.{content_type.model}"
            choices.append((label, str(model._meta.verbose_name)))
        return sorted(choices, key=lambda c: c[1])

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(object_repr__icontains=value)
            | Q(changes_text__icontains=value)
            | Q(description__icontains=value)
            | Q(actor_username__icontains=value)
        )

    def filter_model(self, queryset, name, value):
        app_label, _dot, model = value.strip().lower().partition(".")
        if not app_label or not model:
            return queryset.none()
        return queryset.filter(content_type__app_label=app_label, content_type__model=model)

    def filter_ip(self, queryset, name, value):
        value = value.strip()
        if not IP_PREFIX.match(value):
            return queryset.none()
        return queryset.filter(remote_addr__startswith=value)

    def filter_date_from(self, queryset, name, value):
        start = _aware(value, datetime.time.min)
        return queryset if start is None else queryset.filter(timestamp__gte=start)

    def filter_date_to(self, queryset, name, value):
        if value >= datetime.date.max:
            return queryset
        end = _aware(value + datetime.timedelta(days=1), datetime.time.min)
        return queryset if end is None else queryset.filter(timestamp__lt=end)
