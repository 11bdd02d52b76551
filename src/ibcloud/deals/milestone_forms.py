"""Forms of milestones, applying a template to a deal, milestone templates with their items,
and the calendar's filters."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.forms import inlineformset_factory
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ibcloud.accounts.services import departments_in_reach, users_in_reach
from ibcloud.core.forms import BootstrapForm, BootstrapModelForm
from ibcloud.deals import milestones
from ibcloud.deals.milestone_filters import deal_type_choices
from ibcloud.deals.models import Deal, Milestone, MilestoneTemplate, MilestoneTemplateItem

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
#: a template spans at most ten years
MAX_TEMPLATE_DAYS = 3650


def owner_choices(actor: Any, deal: Deal | None, current: int | None = None):
    """People a milestone may be given to: those in ``actor``'s reach, the deal's team and the
    current owner."""
    include = [current]
    if deal is not None and deal.pk:
        include.append(deal.lead_id)
        include.extend(deal.members.values_list("pk", flat=True))
    return users_in_reach(actor, include).filter(is_active=True).order_by("username")


class MilestoneForm(BootstrapModelForm):
    class Meta:
        model = Milestone
        fields = [
            "name",
            "owner",
            "start_date",
            "due_date",
            "status",
            "completed_on",
            "sort_order",
            "note",
        ]
        widgets = {
            "start_date": DATE,
            "due_date": DATE,
            "completed_on": DATE,
            "note": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, actor: Any = None, **kwargs):
        super().__init__(*args, **kwargs)
        deal = self.instance.deal if self.instance.deal_id else None
        self.fields["owner"].queryset = owner_choices(actor, deal, self.instance.owner_id)
        self.fields["owner"].help_text = _("Left empty, the deal's lead is reminded.")
        self.fields["completed_on"].help_text = _("Filled with today when marked done.")
        self.fields["sort_order"].required = False

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        candidate = Milestone(
            deal=self.instance.deal if self.instance.deal_id else None,
            name=cleaned.get("name") or "",
            due_date=cleaned.get("due_date"),
            start_date=cleaned.get("start_date"),
            status=cleaned.get("status") or Milestone.Status.PENDING,
            completed_on=cleaned.get("completed_on"),
        )
        try:
            milestones.clean_milestone(candidate)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                self.add_error(name if name in self.fields else None, messages)
        else:
            cleaned["completed_on"] = candidate.completed_on
        if cleaned.get("sort_order") is None:
            cleaned["sort_order"] = self.instance.sort_order or 0
        return cleaned


class ApplyTemplateForm(BootstrapForm):
    """Which template to apply to a deal, counted from which day."""

    template = forms.ModelChoiceField(
        label=_("Template"), queryset=MilestoneTemplate.objects.none(), empty_label=None
    )
    start = forms.DateField(label=_("Counted from"), widget=DATE)

    def __init__(self, *args, deal: Deal, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = milestones.templates_for(deal.deal_type)
        default = milestones.default_template(deal.deal_type)
        if default is not None:
            self.fields["template"].initial = default.pk
        self.fields["start"].initial = deal.opened_on or timezone.localdate()

    def clean_start(self):
        start = self.cleaned_data["start"]
        if abs(start.year - timezone.localdate().year) > milestones.MAX_YEARS_AHEAD:
            raise ValidationError(
                _("Give a date within %(n)d years of today.") % {"n": milestones.MAX_YEARS_AHEAD}
            )
        return start


class MilestoneTemplateForm(BootstrapModelForm):
    deal_type = forms.ChoiceField(label=_("deal type"), required=False)

    class Meta:
        model = MilestoneTemplate
        fields = ["name", "deal_type", "description", "is_active"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["deal_type"].choices = [("", _("Any type"))] + deal_type_choices()
        self.fields["deal_type"].help_text = _("Offered first for deals of this type.")


class MilestoneTemplateItemForm(BootstrapModelForm):
    class Meta:
        model = MilestoneTemplateItem
        fields = ["name", "sort_order", "offset_days", "duration_days"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("offset_days", "duration_days"):
            self.fields[name].validators.append(MaxValueValidator(MAX_TEMPLATE_DAYS))
            self.fields[name].widget.attrs["max"] = MAX_TEMPLATE_DAYS


class _UniqueNames(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        names = [
            form.cleaned_data.get("name")
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        names = [n for n in names if n]
        if len(names) != len(set(names)):
            raise ValidationError(_("Each milestone name may appear once."), code="duplicate")


MilestoneTemplateItemFormSet = inlineformset_factory(
    MilestoneTemplate,
    MilestoneTemplateItem,
    form=MilestoneTemplateItemForm,
    formset=_UniqueNames,
    extra=2,
    can_delete=True,
    max_num=60,
    validate_max=True,
)


class CalendarForm(BootstrapForm):
    """The calendar's month and filters (department, owner, deal type)."""

    month = forms.CharField(required=False, widget=forms.HiddenInput)
    department = forms.ModelChoiceField(
        label=_("department"), queryset=None, required=False, empty_label=_("All")
    )
    owner = forms.ModelChoiceField(
        label=_("owner"), queryset=None, required=False, empty_label=_("All")
    )
    deal_type = forms.ChoiceField(label=_("deal type"), required=False)

    def __init__(self, *args, actor: Any, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments_in_reach(actor).order_by("name")
        self.fields["owner"].queryset = (
            users_in_reach(actor).filter(is_active=True).order_by("username")
        )
        self.fields["deal_type"].choices = [("", _("All"))] + deal_type_choices()

    def month_start(self) -> datetime.date:
        return milestones.parse_month(self.data.get("month"))
