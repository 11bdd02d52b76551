"""Forms of deals: the deal form (by hand or from a match), the timeline note and attachments.

Every choice is limited to what the user may see (``restrict`` / ``users_in_reach`` /
``departments_in_reach``). The business rules (stage belongs to the type, owner follows the
lead, closing dates) live in ``services``; the views save through it, never ``form.save()``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.accounts.services import departments_in_reach, users_in_reach
from ibcloud.catalog.filters import industry_choices
from ibcloud.catalog.models import Investor, Project, Tag
from ibcloud.core.forms import BootstrapForm, BootstrapModelForm
from ibcloud.core.scoping import restrict
from ibcloud.deals import services
from ibcloud.deals.attachments import check_attachment_size
from ibcloud.deals.filters import all_stage_choices, deal_type_choices
from ibcloud.deals.models import Deal, DealAttachment

#: model fields the deal form edits (``services.EDITABLE_FIELDS`` minus ``match``)
DEAL_FIELDS = [
    "name",
    "deal_type",
    "stage",
    "status",
    "client",
    "project",
    "investors",
    "lead",
    "members",
    "department",
    "industry",
    "deal_size",
    "expected_fee",
    "tags",
    "opened_on",
    "expected_close_on",
    "description",
]


def add_service_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Put a service's ``ValidationError`` on the form: on the field it names when the form has
    that field, else above the form (e.g. ``match``)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, messages in error.message_dict.items():
        form.add_error(name if name in form.fields else None, messages)


def stage_lists() -> dict[str, list[tuple[str, str]]]:
    """Each deal type's stages, for the form's script that swaps the stage options."""
    return {value: services.stage_choices(value) for value, _label in deal_type_choices()}


class RemoteSelectMixin:
    """A select of catalog records searched through the catalog API as the user types.

    Only the chosen records are rendered as options (there may be tens of thousands);
    validation still accepts any record of the field's (scoped) queryset.
    """

    def offer_only(self, field_name: str, chosen: list[Any]) -> None:
        field = self.fields[field_name]
        ids = [int(v) for v in chosen if str(v).isascii() and str(v).isdigit()]
        rows = field.queryset.filter(pk__in=ids).only("id", "name") if ids else []
        field.widget.choices = ([] if field.widget.allow_multiple_selected else [("", "")]) + [
            (row.pk, row.name) for row in rows
        ]


class DealForm(RemoteSelectMixin, BootstrapModelForm):
    deal_type = forms.ChoiceField(label=gettext_lazy("Type"), choices=deal_type_choices)
    stage = forms.ChoiceField(
        label=gettext_lazy("Stage"),
        choices=all_stage_choices,
        required=False,
        help_text=gettext_lazy("The stages of the chosen type, in pipeline order."),
    )
    industry = forms.ChoiceField(
        label=gettext_lazy("Industry"),
        choices=lambda: [("", "---------"), *industry_choices()],
        required=False,
    )
    deal_size = forms.DecimalField(
        label=gettext_lazy("Deal size (CNY)"),
        min_value=0,
        max_digits=18,
        decimal_places=2,
        required=False,
    )
    expected_fee = forms.DecimalField(
        label=gettext_lazy("Expected fee (CNY)"),
        min_value=0,
        max_digits=16,
        decimal_places=2,
        required=False,
    )

    class Meta:
        model = Deal
        fields = DEAL_FIELDS
        widgets = {
            "opened_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "expected_close_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "description": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(
        self,
        *args: Any,
        actor: Any,
        keep_projects: tuple[int, ...] = (),
        keep_investors: tuple[int, ...] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        deal = self.instance
        lead_ids = [deal.lead_id] if deal.pk else []
        member_ids = list(deal.members.values_list("pk", flat=True)) if deal.pk else []
        # active people in reach; the current lead stays selectable even when no longer active
        self.fields["lead"].queryset = users_in_reach(actor, include=lead_ids).filter(
            Q(is_active=True) | Q(pk__in=lead_ids)
        )
        self.fields["lead"].required = True
        if not deal.pk and not self.initial.get("lead"):
            self.initial["lead"] = actor.pk
        self.fields["members"].queryset = users_in_reach(actor, include=member_ids)
        self.fields["department"].queryset = departments_in_reach(
            actor, include=[deal.department_id]
        )
        self.fields["department"].label_from_instance = lambda d: d.full_name
        self.fields["department"].help_text = _("Empty: the lead's department.")
        self.fields["tags"].queryset = Tag.objects.all()
        # the catalog records in reach, plus those the deal (or its match) already names: a
        # banker may keep the match's project without the right to browse the catalog
        self.fields["project"].queryset = restrict(
            Project.objects.all(), actor, "view"
        ) | Project.objects.filter(pk__in=self._named("project", keep_projects))
        self.fields["investors"].queryset = restrict(
            Investor.objects.all(), actor, "view"
        ) | Investor.objects.filter(pk__in=self._named("investors", keep_investors))
        self.fields["opened_on"].required = False
        source = self.data if self.is_bound else None
        for name, url_name in (("project", "project"), ("investors", "investor")):
            widget = self.fields[name].widget
            widget.attrs.update({"data-plain": "1", "data-remote": f"/api/v1/catalog/{url_name}s/"})
            if source is not None:
                chosen = source.getlist(name) if hasattr(source, "getlist") else source.get(name)
            else:
                chosen = self.initial.get(name)  # the deal's current records on an edit
            if not isinstance(chosen, list | tuple):
                chosen = [chosen] if chosen not in (None, "") else []
            self.offer_only(name, [getattr(c, "pk", c) for c in chosen])
        self.fields["stage"].widget.attrs["data-stage-select"] = "1"
        self.fields["deal_type"].widget.attrs["data-type-select"] = "1"

    def _named(self, name: str, given: tuple[int, ...]) -> list[int]:
        """Ids of ``name`` the deal holds now plus ``given`` (kept selectable)."""
        current = self._current(name) if self.instance.pk else []
        return [pk for pk in [*current, *given] if pk]

    def _current(self, name: str) -> list[Any]:
        if name == "project":
            return [self.instance.project_id] if self.instance.project_id else []
        return list(self.instance.investors.values_list("pk", flat=True))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        deal_type = data.get("deal_type")
        if deal_type:
            stage = data.get("stage") or services.first_stage(deal_type)
            try:
                services.check_type_and_stage(deal_type, stage)
            except ValidationError as error:
                add_service_errors(self, error)
            else:
                data["stage"] = stage
        opened, expected = data.get("opened_on"), data.get("expected_close_on")
        if opened and expected and expected < opened:
            self.add_error(
                "expected_close_on", _("The expected close cannot be before the opening date.")
            )
        return data

    def _post_clean(self) -> None:
        # The model is saved by services, which check the rules; the form only validates the
        # fields (no construct_instance: the view hands services a fresh copy of the deal).
        pass

    def values(self) -> dict[str, Any]:
        """The cleaned fields as ``services.create_deal`` / ``update_deal`` take them."""
        values = {name: self.cleaned_data.get(name) for name in DEAL_FIELDS}
        for name in ("investors", "members", "tags"):
            values[name] = list(values[name] or [])
        for name in ("client", "industry", "description"):
            values[name] = values[name] or ""
        if values["department"] is None and values["lead"] is not None:
            values["department"] = getattr(values["lead"], "department", None)
        if values["opened_on"] is None:
            values.pop("opened_on")
        return values


class NoteForm(BootstrapForm):
    text = forms.CharField(
        label=gettext_lazy("Note"),
        max_length=services.MAX_NOTE,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": gettext_lazy("Call, meeting, next step…")}
        ),
    )


class AttachmentForm(BootstrapModelForm):
    class Meta:
        model = DealAttachment
        fields = ["file", "description"]
        widgets = {
            "description": forms.TextInput(
                attrs={"placeholder": gettext_lazy("Description (optional)")}
            )
        }

    def clean_file(self):
        upload = self.cleaned_data["file"]
        check_attachment_size(upload.size)
        return upload
