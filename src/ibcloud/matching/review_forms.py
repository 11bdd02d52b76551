"""Forms of review, assignment, the inbox and assignment rules.

Choices of people, departments, projects, investors and rule sets are limited to what the user
may see (``restrict`` / ``users_in_reach``), so a form cannot point outside the user's reach.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ibcloud.accounts.services import departments_in_reach, users_in_reach
from ibcloud.catalog.filters import city_choices, industry_choices, province_choices
from ibcloud.catalog.models import Investor, Project
from ibcloud.core.forms import BootstrapForm, BootstrapModelForm
from ibcloud.core.scoping import restrict
from ibcloud.matching.models import AssignmentRule, Match, MatchRuleSet
from ibcloud.matching.services import MAX_NOTE, RejectReason, clean_reason

#: options a name search offers in the manual-match selects
PICK_LIMIT = 50


def _note() -> forms.CharField:
    return forms.CharField(
        label=_("Note"),
        required=False,
        max_length=MAX_NOTE,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class NoteForm(BootstrapForm):
    """Approve, unmatch, rematch: an optional note."""

    note = _note()


class RejectForm(BootstrapForm):
    reason = forms.ChoiceField(label=_("Reason"), choices=RejectReason.choices)
    note = _note()

    def clean(self):
        data = super().clean()
        if "reason" in data:
            try:
                clean_reason(data["reason"], data.get("note", ""))
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    self.add_error(name if name in self.fields else None, errors)
        return data


class ProgressForm(BootstrapForm):
    work_status = forms.ChoiceField(label=_("Progress"), choices=Match.WorkStatus.choices)
    note = _note()


class SendToForm(BootstrapForm):
    """A person, or a department whose least-loaded member receives the match."""

    user = forms.ModelChoiceField(label=_("Person"), queryset=None, required=False)
    department = forms.ModelChoiceField(label=_("or department"), queryset=None, required=False)
    note = _note()

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = users_in_reach(actor).filter(is_active=True)
        self.fields["department"].queryset = departments_in_reach(actor)

    def clean(self):
        data = super().clean()
        if not data.get("user") and not data.get("department"):
            raise ValidationError(_("Choose a person or a department."))
        if data.get("user") and data.get("department"):
            raise ValidationError(_("Choose a person or a department, not both."))
        return data

    @property
    def target(self) -> Any:
        return self.cleaned_data.get("user") or self.cleaned_data.get("department")


class ManualMatchForm(BootstrapForm):
    """Pick a project and an investor (searched by name), with a note."""

    project_q = forms.CharField(label=_("Find project"), required=False, max_length=100)
    project = forms.ModelChoiceField(label=_("Project"), queryset=None)
    investor_q = forms.CharField(label=_("Find investor"), required=False, max_length=100)
    investor = forms.ModelChoiceField(label=_("Investor"), queryset=None)
    note = _note()

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        source = self.data or self.initial
        for name, model in (("project", Project), ("investor", Investor)):
            field = self.fields[name]
            field.queryset = restrict(model.objects.all(), actor, "view").only(
                "id", "name", "full_name"
            )
            field.widget.choices = self._offered(field.queryset, source, name)
            if not self.is_bound and not self.initial.get(name) and len(field.widget.choices) == 2:
                # the search found exactly one record: choose it
                self.initial[name] = field.widget.choices[1][0]
            field.widget.attrs["data-plain"] = "1"

    @staticmethod
    def _offered(queryset, source, name: str) -> list[tuple[Any, str]]:
        text = str(source.get(f"{name}_q") or "").strip()[:100]
        found = queryset.order_by("name", "id")
        if text:
            found = found.filter(name__icontains=text) | found.filter(full_name__icontains=text)
        rows = list(found[:PICK_LIMIT])
        chosen = str(source.get(name) or "")
        if chosen.isascii() and chosen.isdigit() and all(str(r.pk) != chosen for r in rows):
            rows = list(queryset.filter(pk=int(chosen)))[:1] + rows
        return [("", "---------")] + [
            (r.pk, f"{r.name}（{r.full_name}）" if r.full_name else r.name) for r in rows
        ]


def region_choices() -> list[tuple[str, Any]]:
    """Provinces, then cities grouped by province (6-digit codes)."""
    return [(str(_("Provinces")), province_choices()), *city_choices()]


class AssignmentRuleForm(BootstrapModelForm):
    industries = forms.MultipleChoiceField(
        label=_("Industries"),
        required=False,
        choices=industry_choices,
        help_text=_("A section covers all its divisions. Empty: any industry."),
    )
    regions = forms.MultipleChoiceField(
        label=_("Regions"),
        required=False,
        choices=region_choices,
        help_text=_("A province covers its cities. Empty: any region."),
    )

    class Meta:
        model = AssignmentRule
        fields = [
            "name",
            "is_active",
            "auto_assign",
            "priority",
            "industries",
            "regions",
            "min_score",
            "rule_sets",
            "match_department",
            "target_user",
            "target_department",
            "strategy",
            "cap_per_person",
            "department",
        ]
        help_texts = {
            "priority": _(
                "Rules are tried from the lowest number; the first that finds someone assigns."
            ),
            "target_user": _("Leave empty to pick among the target department's people."),
            "target_department": _(
                "Its people and those of its sub-departments; empty: the match's department."
            ),
            "department": _("Who else may see and edit this rule."),
        }

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        instance = self.instance
        self.fields["rule_sets"].queryset = restrict(MatchRuleSet.objects.all(), actor, "view")
        departments = departments_in_reach(
            actor,
            include=[
                instance.match_department_id,
                instance.target_department_id,
                instance.department_id,
            ],
        )
        for name in ("match_department", "target_department", "department"):
            self.fields[name].queryset = departments
        self.fields["target_user"].queryset = users_in_reach(
            actor, include=[instance.target_user_id]
        ).filter(is_active=True)
        self.fields["min_score"].widget.attrs.update({"min": 0, "max": 100, "step": "0.01"})

    def clean_min_score(self):
        value = self.cleaned_data.get("min_score")
        if value is not None and not 0 <= value <= 100:
            raise ValidationError(_("Enter a score from 0 to 100."))
        return value

    def clean_cap_per_person(self):
        value = self.cleaned_data.get("cap_per_person")
        if value is not None and value < 1:
            raise ValidationError(_("At least 1."))
        return value

    def clean(self):
        data = super().clean()
        if data.get("target_user") and data.get("target_department"):
            self.add_error(
                "target_user", _("Choose a person or a department to assign within, not both.")
            )
        return data
