"""Forms of the notification pages: channels (admin) and personal preferences."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ibcloud.core.forms import BootstrapForm, BootstrapModelForm
from ibcloud.notify import events, services
from ibcloud.notify.channels import get_transport
from ibcloud.notify.models import Channel, ChannelKind
from ibcloud.notify.services import ChannelChoice, EventPreference

#: Form field -> key in ``Channel.config``; which kinds use it. The robots' URL is not in
#: ``config`` but in the encrypted ``Channel.webhook_url``.
ROBOT_FIELDS = ("msgtype",)
EMAIL_FIELDS = ("host", "port", "username", "use_tls", "use_ssl", "from_email", "timeout")


class SecretURLInput(forms.URLInput):
    """A URL input that never renders a value: robot URLs carry their access token."""

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        return super().get_context(name, None, attrs)


class ChannelForm(BootstrapModelForm):
    """A channel with its kind-specific settings flattened into fields.

    The stored secret and webhook URL are never rendered back (not even after a failed
    submission): leave the field blank to keep them.
    """

    events = forms.MultipleChoiceField(
        label=_("Events"),
        required=False,
        help_text=_("Events a group robot posts; none selected means all events."),
    )
    webhook_url = forms.URLField(
        label=_("Webhook URL"),
        required=False,
        max_length=1000,
        assume_scheme="https",
        widget=SecretURLInput(attrs={"autocomplete": "off"}),
        help_text=_(
            "The robot's webhook address with its access token (robots and webhooks). Stored "
            "encrypted and never shown again; leave blank to keep the current one."
        ),
    )
    msgtype = forms.ChoiceField(
        label=_("Message format"),
        required=False,
        choices=[("text", _("Plain text")), ("markdown", _("Markdown"))],
        help_text=_("DingTalk and WeCom robots."),
    )
    host = forms.CharField(label=_("SMTP server"), required=False, max_length=255)
    port = forms.IntegerField(label=_("SMTP port"), required=False, min_value=1, max_value=65535)
    username = forms.CharField(label=_("SMTP user"), required=False, max_length=255)
    use_tls = forms.BooleanField(label=_("Use STARTTLS"), required=False)
    use_ssl = forms.BooleanField(label=_("Use SSL/TLS"), required=False)
    from_email = forms.EmailField(label=_("Sender address"), required=False)
    timeout = forms.IntegerField(
        label=_("Timeout (seconds)"), required=False, min_value=1, max_value=300
    )
    secret = forms.CharField(
        label=_("Secret"),
        required=False,
        strip=False,
        max_length=1000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_(
            "SMTP password or robot signing secret. Stored encrypted and never shown again; "
            "leave blank to keep the current one."
        ),
    )
    clear_secret = forms.BooleanField(label=_("Remove the stored secret"), required=False)

    class Meta:
        model = Channel
        fields = ["name", "kind", "enabled", "events"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["events"].choices = [
            choice for choice in events.choices() if choice[0] != events.CHANNEL_TEST
        ]
        self.fields["events"].initial = list(self.instance.events or [])
        config = self.instance.config or {}
        for name in ROBOT_FIELDS + EMAIL_FIELDS:
            if name in config:
                self.fields[name].initial = config[name]
        if not self.instance.pk or not self.instance.secret:
            del self.fields["clear_secret"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind")
        if not kind:
            return data
        names = EMAIL_FIELDS if kind == ChannelKind.EMAIL else ROBOT_FIELDS
        raw = {name: data.get(name) for name in names if data.get(name) not in (None, "")}
        transport = get_transport(kind)
        try:
            self.cleaned_config = transport.clean_config(raw)
        except ValidationError as exc:
            self._add_errors(exc)
        self.cleaned_webhook_url = ""
        if transport.uses_webhook_url:
            try:
                self.cleaned_webhook_url = services.clean_webhook_url(
                    self.instance if self.instance.pk else None, kind, data.get("webhook_url")
                )
            except ValidationError as exc:
                self._add_errors(exc)
        return data

    def _add_errors(self, exc: ValidationError) -> None:
        for field, messages in exc.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)

    def save(self, commit: bool = True) -> Channel:
        channel: Channel = super().save(commit=False)
        channel.config = self.cleaned_config
        channel.webhook_url = self.cleaned_webhook_url
        channel.events = list(self.cleaned_data.get("events") or [])
        if self.cleaned_data.get("clear_secret"):
            channel.secret = ""
        elif self.cleaned_data.get("secret"):
            channel.secret = self.cleaned_data["secret"]
        if commit:
            channel.save()
        return channel


class SendTestForm(BootstrapForm):
    to = forms.EmailField(
        label=_("Send to"),
        required=False,
        help_text=_("Email channels: the address to send the test to (default: yours)."),
    )


class PreferencesForm(BootstrapForm):
    """One row per event with in-app and email checkboxes, plus the "all events" row."""

    def __init__(
        self,
        *args: Any,
        general: ChannelChoice,
        per_event: list[EventPreference],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.rows: list[dict[str, Any]] = []
        self.previous_general = general
        self._add_row(events.ALL_EVENTS, _("All events (default)"), general)
        for pref in per_event:
            self._add_row(pref.event, pref.label, pref.choice, pref.inherited)

    def _add_row(self, code: str, label: Any, choice: ChannelChoice, inherited=False) -> None:
        in_app = f"in_app__{code}"
        email = f"email__{code}"
        self.fields[in_app] = forms.BooleanField(required=False, initial=choice.in_app)
        self.fields[email] = forms.BooleanField(required=False, initial=choice.email)
        self.rows.append(
            {"code": code, "label": label, "in_app": in_app, "email": email, "inherited": inherited}
        )

    def bound_rows(self) -> list[dict[str, Any]]:
        return [
            {**row, "in_app_field": self[row["in_app"]], "email_field": self[row["email"]]}
            for row in self.rows
        ]

    def choices(self) -> tuple[ChannelChoice, dict[str, ChannelChoice]]:
        """The general choice and the per-event choices from the cleaned data."""
        data = self.cleaned_data
        general = ChannelChoice(
            in_app=data[f"in_app__{events.ALL_EVENTS}"], email=data[f"email__{events.ALL_EVENTS}"]
        )
        by_event = {}
        for row in self.rows[1:]:
            choice = ChannelChoice(in_app=data[row["in_app"]], email=data[row["email"]])
            if row["inherited"] and choice == self.previous_general:
                # Untouched rows that followed the general choice keep following it.
                choice = general
            by_event[row["code"]] = choice
        return general, by_event
