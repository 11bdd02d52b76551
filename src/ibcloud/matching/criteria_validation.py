"""Validation of a rule set's criteria and of a dry run's configuration (the rule-set form, the
API and the engine clean them here): every item names a known kind and mode, a weight within
bounds and parameters each kind's :class:`~ibcloud.matching.criteria.Param` accepts; a rule set
needs at least one blocking filter (see :mod:`ibcloud.matching.criteria`).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_noop

from ibcloud.matching.criteria import CRITERIA

MAX_CRITERIA = 30
MAX_WEIGHT = 100

NO_BLOCKING_MESSAGE = gettext_noop(
    "needs at least one hard filter on industry, round, region or capital type, "
    "or matching would compare every pair"
)


def _no_blocking() -> dict[str, str]:
    return {"reason": gettext(NO_BLOCKING_MESSAGE)}


def _weight_message(number: bool) -> str:
    if number:
        return gettext("weight must be a number 0–%(max)s") % {"max": MAX_WEIGHT}
    return gettext("weight must be 0–%(max)s") % {"max": MAX_WEIGHT}


def validate_criteria(items: Any) -> list[dict]:
    """Clean a rule set's criteria: ``[{"kind", "mode", "weight", "params"}]`` with every
    parameter present. Raises ``ValidationError({"criteria": [messages]})``; each message names
    the item ("criterion 3 (amount): tolerance_pct must be 0–100")."""
    if not isinstance(items, list):
        raise ValidationError({"criteria": [gettext("criteria must be a list")]})
    if not items:
        raise ValidationError(
            {"criteria": [gettext("add at least one criterion; %(reason)s") % _no_blocking()]}
        )
    if len(items) > MAX_CRITERIA:
        raise ValidationError(
            {"criteria": [gettext("at most %(count)s criteria") % {"count": MAX_CRITERIA}]}
        )
    errors: list[str] = []
    cleaned: list[dict] = []
    for number, item in enumerate(items, start=1):
        try:
            cleaned.append(_clean_item(item))
        except ValueError as exc:
            kind = item.get("kind") if isinstance(item, dict) else None
            name = (
                f"criterion {number} ({kind})" if isinstance(kind, str) else f"criterion {number}"
            )
            # "criterion 3 (amount): " locates the item (the rule-set form and the API read
            # it to put the message on its row); the message after it is translated
            errors.append(f"{name}: {exc}")
    if not errors and not any(
        c["mode"] == "filter" and CRITERIA[c["kind"]].blocking for c in cleaned
    ):
        errors.append(gettext("the rule set %(reason)s") % _no_blocking())
    if errors:
        raise ValidationError({"criteria": errors})
    return cleaned


def _clean_item(item: Any) -> dict:
    if not isinstance(item, dict):
        raise ValueError(gettext("must be an object with kind, mode, weight and params"))
    unknown = sorted(set(item) - {"kind", "mode", "weight", "params"})
    if unknown:
        raise ValueError(gettext("unknown key %(key)s") % {"key": unknown[0]})
    kind = item.get("kind")
    if not isinstance(kind, str) or kind not in CRITERIA:
        raise ValueError(
            gettext("unknown kind; choose one of %(kinds)s") % {"kinds": ", ".join(CRITERIA)}
        )
    criterion = CRITERIA[kind]
    mode = item.get("mode", "score")
    if mode not in criterion.modes:
        raise ValueError(
            gettext("mode must be one of %(modes)s") % {"modes": ", ".join(criterion.modes)}
        )
    weight = item.get("weight", 0)
    if isinstance(weight, bool) or not isinstance(weight, int | float | str | Decimal):
        raise ValueError(_weight_message(number=True))
    try:
        weight = float(weight)
    except ValueError:
        raise ValueError(_weight_message(number=True)) from None
    if not math.isfinite(weight) or not 0 <= weight <= MAX_WEIGHT:
        raise ValueError(_weight_message(number=False))
    if mode == "score" and weight <= 0:
        raise ValueError(gettext("a score needs a weight above 0"))
    if mode == "filter":
        weight = 0
    params = criterion.clean_params(item.get("params"))
    criterion.check(params)
    weight = int(weight) if float(weight).is_integer() else weight
    return {"kind": kind, "mode": mode, "weight": weight, "params": params}


def validate_configuration(configuration: Any) -> dict:
    """Clean a dry run's configuration ``{"criteria", "threshold", "max_per_project"}``."""
    if not isinstance(configuration, dict):
        raise ValidationError({"configuration": [gettext("must be an object")]})
    errors: dict[str, list[str]] = {}
    result: dict[str, Any] = {}
    try:
        result["criteria"] = validate_criteria(configuration.get("criteria"))
    except ValidationError as exc:
        errors.update(exc.message_dict)
    threshold = configuration.get("threshold", 60)
    try:
        threshold = float(threshold)
        if isinstance(configuration.get("threshold"), bool) or not 0 <= threshold <= 100:
            raise ValueError
        result["threshold"] = threshold
    except (TypeError, ValueError):
        errors["threshold"] = [gettext("threshold must be a number 0–100")]
    per_project = configuration.get("max_per_project", 5)
    if isinstance(per_project, bool) or not isinstance(per_project, int | str):
        errors["max_per_project"] = [gettext("max_per_project must be a whole number 1–50")]
    else:
        try:
            per_project = int(per_project)
            if not 1 <= per_project <= 50:
                raise ValueError
            result["max_per_project"] = per_project
        except ValueError:
            errors["max_per_project"] = [gettext("max_per_project must be a whole number 1–50")]
    if errors:
        raise ValidationError(errors)
    return result
