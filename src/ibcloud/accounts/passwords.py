"""Password policy: length and character classes, set as system parameters."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.core.parameters import define

MIN_LENGTH = define(
    "accounts.password_min_length",
    default=8,
    kind=int,
    minimum=6,
    maximum=64,
    label=gettext_lazy("Minimum password length"),
)
MIN_CLASSES = define(
    "accounts.password_min_classes",
    default=3,
    kind=int,
    minimum=1,
    maximum=4,
    label=gettext_lazy("Character classes a password needs (of lower, upper, digit, symbol)"),
)


def character_classes(password: str) -> int:
    return sum(
        [
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ]
    )


class PolicyValidator:
    """Django password validator reading the policy from system parameters."""

    def validate(self, password: str, user=None) -> None:
        errors = []
        min_length = MIN_LENGTH.get()
        if len(password) < min_length:
            errors.append(
                ValidationError(
                    _("The password must be at least %(n)d characters long.") % {"n": min_length},
                    code="password_too_short",
                )
            )
        min_classes = MIN_CLASSES.get()
        if character_classes(password) < min_classes:
            errors.append(
                ValidationError(
                    _(
                        "The password must mix at least %(n)d of: lowercase letters, uppercase "
                        "letters, digits, symbols."
                    )
                    % {"n": min_classes},
                    code="password_too_simple",
                )
            )
        if errors:
            raise ValidationError(errors)

    def get_help_text(self) -> str:
        return _(
            "At least %(length)d characters, mixing %(classes)d of: lowercase, uppercase, digits, "
            "symbols."
        ) % {"length": MIN_LENGTH.get(), "classes": MIN_CLASSES.get()}
