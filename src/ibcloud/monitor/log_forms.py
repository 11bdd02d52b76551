"""The log viewer's filter: one form validates the page's query and the API's alike."""

from __future__ import annotations

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from ibcloud.core.forms import apply_bootstrap
from ibcloud.monitor import logs

PAGE_SIZES = (50, 100, 200, 500)
DEFAULT_PAGE_SIZE = 100
MIN_YEAR, MAX_YEAR = 1970, 9000


class LogFilterForm(forms.Form):
    since = forms.DateTimeField(
        label=_("From"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    until = forms.DateTimeField(
        label=_("To"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    level = forms.ChoiceField(
        label=_("Lowest level"),
        required=False,
        choices=[("", _("All levels")), *[(name, name) for name in logs.LEVELS]],
    )
    module = forms.CharField(
        label=_("Module"),
        required=False,
        max_length=200,
        validators=[
            RegexValidator(
                r"^[\w.\-]*$", _("A logger name: letters, digits, dots, dashes and underscores.")
            )
        ],
        widget=forms.TextInput(attrs={"placeholder": "ibcloud.crawler", "list": "log-modules"}),
    )
    q = forms.CharField(
        label=_("Text"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    limit = forms.TypedChoiceField(
        label=_("Per page"),
        required=False,
        coerce=int,
        empty_value=DEFAULT_PAGE_SIZE,
        choices=[(n, n) for n in PAGE_SIZES],
    )
    cursor = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        apply_bootstrap(self)

    def clean_cursor(self) -> logs.Cursor | None:
        value = self.cleaned_data.get("cursor")
        if not value:
            return None
        try:
            return logs.parse_cursor(value)
        except logs.CursorError:
            raise forms.ValidationError(_("Not a position in the log."), code="invalid") from None

    def clean(self):
        data = super().clean()
        for name in ("since", "until"):
            value = data.get(name)
            # Far-off years would overflow the reader's time arithmetic, and no log is that old.
            if value and not MIN_YEAR <= value.year <= MAX_YEAR:
                self.add_error(name, _("Enter a date between 1970 and 9000."))
                data.pop(name, None)
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", _("The end of the range is before its start."))
        return data

    def log_filter(self) -> logs.LogFilter:
        """The validated query as a filter (call after ``is_valid()``)."""
        data = self.cleaned_data
        return logs.LogFilter(
            since=data.get("since"),
            until=data.get("until"),
            level=data.get("level") or "",
            module=data.get("module") or "",
            text=data.get("q") or "",
        )
