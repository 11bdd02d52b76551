"""System parameters (参数): declared in code with a type, default and bounds, overridden by admins.

A module declares what it reads::

    LOCKOUT_LIMIT = define("accounts.lockout_limit", default=5, kind=int, minimum=1, maximum=100,
                           label=_("Failed logins before lockout"))

and reads it with ``LOCKOUT_LIMIT.get()`` (or ``get_parameter("accounts.lockout_limit")``). The
value comes from the cache, then the ``Parameter`` row, then the default; saving through
:func:`set_parameter` validates, stores and clears the cache for every process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.core.signals import acting_as

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
            # Lists, objects and null (possible from JSON) are never a valid scalar value.
            if not isinstance(raw, str | int | float):
                raise TypeError(raw)
            if self.kind is bool:
                if isinstance(raw, str):
                    lowered = raw.strip().lower()
                    if lowered not in {"true", "false", "1", "0", "yes", "no", "on", "off"}:
                        raise ValueError(raw)
                    value: Any = lowered in {"true", "1", "yes", "on"}
                elif raw in (0, 1):
                    value = bool(raw)
                else:
                    raise ValueError(raw)
            elif self.kind is int:
                if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                    raise ValueError(raw)
                value = int(raw) if isinstance(raw, float) else int(str(raw).strip())
            elif self.kind is float:
                if isinstance(raw, bool):
                    raise ValueError(raw)
                value = float(str(raw).strip())
                # NaN and infinity pass every bound check and cannot be stored as JSON.
                if not math.isfinite(value):
                    raise ValueError(raw)
            else:
                if isinstance(raw, bool):
                    raise ValueError(raw)
                value = str(raw).strip()
        except (TypeError, ValueError, OverflowError) as exc:
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


def set_parameter(key: str, raw: Any, actor: Any = None) -> Any:
    """Validate and store a new value; returns the cleaned value.

    The row is saved through the model, so the audit log records the change. Inside a request the
    audit middleware already knows who acts; ``actor`` names the person when there is no request
    (a management command, a job).
    """
    from ibcloud.core.models import Parameter

    spec = definition(key)
    value = spec.clean(raw)
    with acting_as(actor):
        row = Parameter.objects.filter(key=key).first()
        if row is None:
            Parameter.objects.create(key=key, value=value)
        elif row.value != value:
            row.value = value
            row.save()
    cache.delete(CACHE_PREFIX + key)
    return value


def reset_parameter(key: str, actor: Any = None) -> Any:
    """Return ``key`` to its declared default (deletes the override, audited); returns it."""
    from ibcloud.core.models import Parameter

    spec = definition(key)
    with acting_as(actor):
        for row in Parameter.objects.filter(key=key):
            row.delete()
    cache.delete(CACHE_PREFIX + key)
    return spec.default


def stored_value(key: str) -> tuple[bool, Any]:
    """``(overridden, raw stored value)`` of ``key`` as the database holds it (no cache)."""
    from ibcloud.core.models import Parameter

    row = Parameter.objects.filter(key=key).first()
    return (row is not None, row.value if row is not None else None)


# --- Parameters shared by several modules ---------------------------------------------------
# Declared here (rather than in the module that reads them first) because more than one module,
# or a module not written yet, reads them; the UI lists them from the start.

JOBS_RETENTION_DAYS = define(
    "jobs.retention_days",
    default=30,
    kind=int,
    minimum=1,
    maximum=3650,
    label=gettext_lazy("Days finished background jobs are kept"),
)
DEALS_REMINDER_DAYS = define(
    "deals.reminder_days",
    default=3,
    kind=int,
    minimum=0,
    maximum=365,
    label=gettext_lazy("Days before a milestone is due that its owner is reminded"),
)
CRAWLER_ERROR_RATE_THRESHOLD = define(
    "crawler.error_rate_threshold",
    default=0.2,
    kind=float,
    minimum=0.0,
    maximum=1.0,
    label=gettext_lazy("Share of failed requests in a crawl that raises an alert (0–1)"),
)
