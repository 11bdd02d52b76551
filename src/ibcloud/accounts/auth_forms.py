"""Forms of authentication: login, own profile, password change, new API token."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ibcloud.accounts import lockout
from ibcloud.accounts.models import User
from ibcloud.core.forms import BootstrapForm, BootstrapMixin, BootstrapModelForm


class LoginForm(BootstrapMixin, AuthenticationForm):
    """Django's login form, telling a locked or disabled account apart from a wrong password."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "inactive": _("This account is disabled. Ask an administrator to enable it."),
    }

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            return self.cleaned_data
        # The request is passed so that axes counts the failure and refuses locked accounts.
        self.user_cache = authenticate(self.request, username=username, password=password)
        if self.user_cache is not None:
            self.confirm_login_allowed(self.user_cache)
            return self.cleaned_data
        if getattr(self.request, "axes_locked_out", False):
            raise ValidationError(lockout.lockout_message(), code="locked")
        if self._disabled_with_right_password(username, password):
            # Only someone who knows the password learns that the account exists but is off.
            raise ValidationError(self.error_messages["inactive"], code="inactive")
        raise self.get_invalid_login_error()

    @staticmethod
    def _disabled_with_right_password(username: str, password: str) -> bool:
        user = User.objects.filter(username=username, is_active=False).first()
        return user is not None and user.check_password(password)


class ProfileForm(BootstrapModelForm):
    """What a user may change about themselves; department and roles are set by admins."""

    class Meta:
        model = User
        fields = ["name", "phone", "email", "position", "language"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [("", _("The site's language")), *settings.LANGUAGES]


class BootstrapPasswordChangeForm(BootstrapMixin, PasswordChangeForm):
    """Old password plus the new one twice; the password policy reports on the new password."""


class TokenCreateForm(BootstrapForm):
    name = forms.CharField(
        label=_("Token name"),
        max_length=100,
        help_text=_("What the token is for, e.g. the system that uses it."),
    )
