"""Form conventions: Bootstrap classes on every widget; departments limited to the user's reach."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms


def apply_bootstrap(form: forms.BaseForm) -> forms.BaseForm:
    """Give every widget of ``form`` its Tabler/Bootstrap class (forms and filter forms alike)."""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxSelectMultiple | forms.RadioSelect):
            continue
        if isinstance(widget, forms.CheckboxInput):
            css = "form-check-input"
        elif isinstance(widget, forms.Select | forms.SelectMultiple):
            css = "form-select"
        else:
            css = "form-control"
        classes = widget.attrs.get("class", "")
        if css not in classes.split():
            widget.attrs["class"] = f"{classes} {css}".strip()
    return form


class BootstrapMixin:
    """Adds Tabler/Bootstrap classes so every form renders the same way."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        apply_bootstrap(self)

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()


class BootstrapForm(BootstrapMixin, forms.Form):
    pass


class BootstrapModelForm(BootstrapMixin, forms.ModelForm):
    pass


def date_input(label: str | None = None) -> forms.DateInput:
    """The browser's date picker, the widget of every date field and filter (``label``: its
    aria-label)."""
    attrs = {"type": "date"}
    if label is not None:
        attrs["aria-label"] = label
    return forms.DateInput(attrs=attrs)


class ChartFilterForm(forms.Form):
    """A dashboard's filter form: a date range, plus what the subclass adds.

    A subclass sets ``check_filters`` (its app's ``charts.check_filters``, which the API's
    serializer also applies), ``chart_filters`` (cleaned data → its app's chart filters) and
    ``date_labels`` (what the dates are: "Opened from", "Opened up to"); the form then shows the
    check's errors next to the fields.
    """

    date_from = forms.DateField(required=False, widget=date_input())
    date_to = forms.DateField(required=False, widget=date_input())

    #: field errors of a chart filters object (empty when valid)
    check_filters: Callable[[Any], dict[str, str]]
    #: the labels of ``date_from`` and ``date_to``
    date_labels: tuple[Any, Any] = ("", "")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["date_from"].label, self.fields["date_to"].label = self.date_labels

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not self.errors:
            for field, message in type(self).check_filters(self.chart_filters(cleaned)).items():
                self.add_error(field, message)
        return cleaned

    @staticmethod
    def chart_filters(cleaned: dict) -> Any:
        raise NotImplementedError
