"""Forms of the system pages kept by ``core``: dictionaries and parameters."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ibcloud.core import dictionaries
from ibcloud.core.forms import BootstrapForm, BootstrapModelForm
from ibcloud.core.models import DictItem, DictType
from ibcloud.core.parameters import ParameterDefinition


class DictTypeForm(BootstrapModelForm):
    class Meta:
        model = DictType
        fields = ["code", "name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.is_system:
            # Modules read built-in lists by code; renaming one would empty their choices.
            self.fields["code"].disabled = True
            self.fields["code"].help_text = _("Built-in dictionaries keep their code.")


class DictItemForm(BootstrapModelForm):
    """An item of one dictionary; the parent is chosen among that dictionary's top level."""

    class Meta:
        model = DictItem
        fields = ["value", "label", "parent", "sort_order", "is_active"]

    def __init__(self, *args, dict_type: DictType, **kwargs):
        super().__init__(*args, **kwargs)
        self.dict_type = dict_type
        self.instance.dict_type = dict_type
        parents = DictItem.objects.filter(dict_type=dict_type, parent__isnull=True)
        if self.instance.pk:
            parents = parents.exclude(pk=self.instance.pk)
        self.fields["parent"].queryset = parents.order_by("sort_order", "id")
        self.fields["parent"].required = False
        if not self.instance.pk and not self.initial.get("sort_order"):
            self.initial["sort_order"] = dictionaries.next_sort_order(dict_type)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        errors = dictionaries.validate_item(
            self.dict_type, cleaned.get("value", ""), cleaned.get("parent"), self.instance
        )
        for field, messages in errors.items():
            for message in messages:
                self.add_error(field, message)
        return cleaned

    def validate_unique(self) -> None:
        # validate_item already reports a duplicate value next to the field.
        if "value" not in self.errors:
            super().validate_unique()


class ParameterForm(BootstrapForm):
    """One field, typed after the parameter's definition, validated by the definition."""

    def __init__(self, *args, definition: ParameterDefinition, **kwargs):
        super().__init__(*args, **kwargs)
        self.definition = definition
        self.fields["value"] = self._field(definition)
        # BootstrapMixin styled the fields in super().__init__; the field added here needs it too.
        widget = self.fields["value"].widget
        css = "form-check-input" if isinstance(widget, forms.CheckboxInput) else "form-control"
        if isinstance(widget, forms.Select):
            css = "form-select"
        widget.attrs["class"] = css

    @staticmethod
    def _field(definition: ParameterDefinition) -> forms.Field:
        label = definition.label
        help_text = definition.help_text or _bounds_text(definition)
        if definition.choices is not None:
            return forms.ChoiceField(
                label=label,
                help_text=help_text,
                choices=[(str(c), str(c)) for c in definition.choices],
            )
        if definition.kind is bool:
            return forms.BooleanField(label=label, help_text=help_text, required=False)
        attrs: dict[str, Any] = {}
        if definition.kind in (int, float):
            attrs = {"type": "number", "step": "1" if definition.kind is int else "any"}
            if definition.minimum is not None:
                attrs["min"] = definition.minimum
            if definition.maximum is not None:
                attrs["max"] = definition.maximum
        return forms.CharField(
            label=label,
            help_text=help_text,
            widget=forms.TextInput(attrs=attrs),
            strip=True,
            max_length=2000,
        )

    def clean_value(self) -> Any:
        raw = self.cleaned_data.get("value")
        if self.definition.choices is not None:
            # The form posts text; map it back to the declared choice of the right type.
            by_text = {str(c): c for c in self.definition.choices}
            raw = by_text.get(raw, raw)
        try:
            return self.definition.clean(raw)
        except ValidationError as exc:
            raise ValidationError(exc.messages) from exc


def _bounds_text(definition: ParameterDefinition) -> str:
    parts = []
    if definition.minimum is not None:
        parts.append(str(_("minimum %(v)s") % {"v": definition.minimum}))
    if definition.maximum is not None:
        parts.append(str(_("maximum %(v)s") % {"v": definition.maximum}))
    parts.append(str(_("default %(v)s") % {"v": definition.default}))
    return ", ".join(parts)
