"""System parameters (参数): declared in code with a type, default and bounds, overridden by admins.

A module declares what it reads::

    LOCKOUT_LIMIT = define("accounts.lockout_limit", default=5, kind=int, minimum=1, maximum=100,
                           label=_("Failed logins before lockout"))

and reads it with ``LOCKOUT_LIMIT.get()`` (or ``get_parameter("accounts.lockout_limit")``). The
value comes from the cache, then the ``Parameter`` row, then the default; saving through
:func:`set_parameter` validates, stores and clears the cache for every process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

CACHE_PREFIX = "ibcloud:param:"
CACHE_SECONDS = 300


@dataclass(frozen=True)
class ParameterDefinition:
    key: str
    default: Any
    kind: type
    label: str
    help_text: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None

    def clean(self, raw: Any) -> Any:
        """Convert ``raw`` (from a form, the API or JSON) to the declared type, or raise."""
        try:
            if self.kind is bool:
                if isinstance(raw, str):
                    lowered = raw.strip().lower()
                    if lowered not in {"true", "false", "1", "0", "yes", "no", "on", "off"}:
                        raise ValueError(raw)
                    value: Any = lowered in {"true", "1", "yes", "on"}
                else:
                    value = bool(raw)
            elif self.kind is int:
                if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                    raise ValueError(raw)
                value = int(str(raw).strip())
            elif self.kind is float:
                value = float(str(raw).strip())
            else:
                value = str(raw).strip()
        except (TypeError, ValueError) as exc:
            raise ValidationError(
                _("Enter a valid value of type %(kind)s.") % {"kind": self.kind.__name__}
            ) from exc
        if self.minimum is not None and value < self.minimum:
            raise ValidationError(_("Must be at least %(min)s.") % {"min": self.minimum})
        if self.maximum is not None and value > self.maximum:
            raise ValidationError(_("Must be at most %(max)s.") % {"max": self.maximum})
        if self.choices is not None and value not in self.choices:
            raise ValidationError(
                _("Choose one of: %(choices)s.") % {"choices": ", ".join(map(str, self.choices))}
            )
        return value

    def get(self) -> Any:
        return get_parameter(self.key)


_REGISTRY: dict[str, ParameterDefinition] = {}


def define(key: str, default: Any, kind: type, label: str, **options: Any) -> ParameterDefinition:
    """Declare a parameter; modules call this at import time."""
    definition = ParameterDefinition(key=key, default=default, kind=kind, label=label, **options)
    _REGISTRY[key] = definition
    return definition


def definitions() -> list[ParameterDefinition]:
    return sorted(_REGISTRY.values(), key=lambda d: d.key)


def definition(key: str) -> ParameterDefinition:
    try:
        return _REGISTRY[key]
    except KeyError as exc:
        raise KeyError(f"Unknown system parameter {key!r}") from exc


def get_parameter(key: str) -> Any:
    """Current value of parameter ``key``."""
    from ibcloud.core.models import Parameter

    spec = definition(key)
    cached = cache.get(CACHE_PREFIX + key)
    if cached is not None:
        return cached["v"]
    row = Parameter.objects.filter(key=key).first()
    value = spec.default
    if row is not None:
        try:
            value = spec.clean(row.value)
        except ValidationError:
            value = spec.default
    cache.set(CACHE_PREFIX + key, {"v": value}, CACHE_SECONDS)
    return value


def set_parameter(key: str, raw: Any) -> Any:
    """Validate and store a new value; returns the cleaned value. Audited through the model."""
    from ibcloud.core.models import Parameter

    spec = definition(key)
    value = spec.clean(raw)
    row = Parameter.objects.filter(key=key).first()
    if row is None:
        Parameter.objects.create(key=key, value=value)
    elif row.value != value:
        row.value = value
        row.save()
    cache.delete(CACHE_PREFIX + key)
    return value
