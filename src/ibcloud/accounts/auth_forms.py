"""Forms of the accounts module."""

from django.contrib.auth.forms import AuthenticationForm

from ibcloud.core.forms import BootstrapMixin


class LoginForm(BootstrapMixin, AuthenticationForm):
    pass
