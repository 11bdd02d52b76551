"""Forms of the rule-set pages: a rule set a non-programmer edits, with its criteria as an editable
table (one row per criterion: kind, filter or score, weight, and the parameters of that kind).

The rows are built from ``criteria.CRITERIA`` (each kind's label, modes and parameters with their
labels and defaults), and the whole list is checked by
``criteria_validation.validate_criteria``: its messages name the criterion ("criterion 3
(amount): ..."), and the form shows each on its row.
The same table pattern as the crawler's field rules (``crawler/forms.py``): rows are never
"initial", a row without a kind is skipped, a few blank rows and an "add row" button give room.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from ibcloud.accounts.services import departments_in_reach
from ibcloud.core.forms import BootstrapForm, BootstrapModelForm
from ibcloud.matching.criteria import RECOMMENDED_CRITERIA
from ibcloud.matching.models import MatchRuleSet

MAX_CRITERIA = 30
#: blank rows offered under the criteria of a rule set (without JavaScript: room to add)
EXTRA_ROWS = 2
MODES = (("filter", _("Hard filter")), ("score", _("Weighted score")))
#: how ``validate_criteria`` names an item: "criterion 3 (amount): ..." (1-based)
CRITERION_MESSAGE = re.compile(r"^\s*criterion\s+(\d+)(?:\s*\([^)]*\))?\s*:\s*(.*)$", re.S | re.I)
#: message_dict keys that name an item: "criteria[2]", "criterion 3", "2"
CRITERION_KEY = re.compile(r"(?:criteria\[(\d+)\]|criterion\s+(\d+)|^(\d+)$)", re.I)


# --- The catalogue of criterion kinds (from the engine's criteria module) ----------------------


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a criterion kind, as the form shows it."""

    name: str
    label: str
    type: str  # "int", "float", "bool", "str", "choice", "list"
    default: Any = None
    help: str = ""
    choices: tuple = ()


@dataclass(frozen=True)
class KindSpec:
    code: str
    label: str
    modes: tuple[str, ...]
    params: tuple[ParamSpec, ...]
    help: str = ""


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    """The first of ``names`` found on ``obj`` (attribute or key)."""
    for name in names:
        if isinstance(obj, dict) and name in obj:
            return obj[name]
        if not isinstance(obj, dict) and hasattr(obj, name):
            return getattr(obj, name)
    return default


def _type_name(value: Any, default: Any, choices: Any) -> str:
    if choices:
        return "choice"
    if isinstance(value, type):
        value = value.__name__
    text = str(value or "").lower()
    for name, words in (
        ("bool", ("bool",)),
        ("int", ("int",)),
        ("float", ("float", "decimal", "number")),
        ("list", ("list", "tuple")),
    ):
        if any(word in text for word in words):
            return name
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float | Decimal):
        return "float"
    if isinstance(default, list | tuple):
        return "list"
    return "str"


def _choices(value: Any) -> tuple:
    if not value:
        return ()
    if callable(value):
        value = value()
    result = []
    for item in value:
        if isinstance(item, list | tuple) and len(item) == 2:
            result.append((str(item[0]), str(item[1])))
        else:
            result.append((str(item), str(CHOICE_LABELS.get(str(item), item))))
    return tuple(result)


#: labels of the engine's parameter names, for people who do not read code
PARAM_LABELS = {
    "pass_score": _("Pass score"),
    "any_when_empty": _("Pass when data is missing"),
    "missing_score": _("Score when data is missing"),
    "section_score": _("Score: whole section preferred"),
    "same_section_score": _("Score: same section"),
    "adjacent_score": _("Score: adjacent stage"),
    "nationwide_score": _("Score: nationwide investor"),
    "same_province_score": _("Score: same province"),
    "tolerance_pct": _("Tolerance (%)"),
    "saturation": _("Saturation"),
    "months": _("Months"),
    "mismatch_score": _("Score: other currency"),
    "entity": _("Whose field"),
    "field": _("Field"),
    "op": _("Comparison"),
    "value": _("Value"),
}
#: labels of choice values of parameters
CHOICE_LABELS = {
    "project": _("Project"),
    "investor": _("Investor"),
    "eq": _("equals"),
    "ne": _("does not equal"),
    "gt": _("greater than"),
    "gte": _("at least"),
    "lt": _("less than"),
    "lte": _("at most"),
    "in": _("one of (comma list)"),
    "contains": _("contains"),
    "empty": _("is empty"),
    "not_empty": _("is not empty"),
}


def _field_choices() -> tuple:
    """The ``field`` criterion's allowlist as grouped choices (project fields, investor fields)."""
    from ibcloud.matching.features import FIELDS

    groups = []
    for entity, fields in FIELDS.items():
        options = tuple(
            (name, f"{name} · {_get(spec, 'label', default=name)}") for name, spec in fields.items()
        )
        groups.append((str(CHOICE_LABELS.get(entity, entity)), options))
    return tuple(groups)


def criterion_kinds() -> dict[str, KindSpec]:
    """The criterion kinds the engine knows, with their modes and parameters (label, type,
    default), read from ``criteria.CRITERIA``."""
    from ibcloud.matching import criteria

    kinds: dict[str, KindSpec] = {}
    for code, kind in getattr(criteria, "CRITERIA", {}).items():
        raw_params = _get(kind, "params", default={}) or {}
        if isinstance(raw_params, dict):
            items = list(raw_params.items())
        else:  # a list of parameter objects with a name
            items = [(_get(p, "name"), p) for p in raw_params]
        params = []
        for name, spec in items:
            default = _get(spec, "default")
            choices = _choices(_get(spec, "choices"))
            if code == "field" and name == "field":
                choices = _field_choices()
            params.append(
                ParamSpec(
                    name=str(name),
                    label=str(
                        _get(spec, "label", "verbose_name", default=None)
                        or PARAM_LABELS.get(str(name), name)
                    ),
                    type=_type_name(_get(spec, "type", "kind"), default, choices),
                    default=default,
                    help=str(_get(spec, "help", "help_text", default="") or ""),
                    choices=choices,
                )
            )
        modes = tuple(_get(kind, "modes", default=("filter", "score")) or ("filter", "score"))
        kinds[str(code)] = KindSpec(
            code=str(code),
            label=str(_get(kind, "label", default=code) or code),
            modes=tuple(str(m) for m in modes),
            params=tuple(params),
            help=str(_get(kind, "help", "description", default="") or ""),
        )
    return kinds


def validate(items: list[dict]) -> list[dict]:
    """``criteria_validation.validate_criteria``: cleaned items; raises ``ValidationError``
    naming the item."""
    from ibcloud.matching.criteria_validation import validate_criteria

    return validate_criteria(items)


def split_messages(exc: ValidationError, count: int) -> tuple[dict[int, list[str]], list[str]]:
    """The messages of a ``validate_criteria`` error by row index (0-based), and the rest."""
    by_row: dict[int, list[str]] = {}
    general: list[str] = []

    def place(message: str, index: int | None = None) -> None:
        found = CRITERION_MESSAGE.match(message)
        if found:
            index, message = int(found.group(1)) - 1, found.group(2)
        if index is not None and 0 <= index < count:
            by_row.setdefault(index, []).append(message)
        else:
            general.append(message)

    if hasattr(exc, "error_dict"):
        for key, errors in exc.error_dict.items():
            found = CRITERION_KEY.search(str(key))
            index = None
            if found:
                bracket, named, bare = found.groups()
                # "criteria[i]" counts from 0; "criterion n" and a bare number from 1
                index = int(bracket) if bracket is not None else int(named or bare) - 1
            for error in errors:
                for message in error.messages:
                    place(str(message), index)
    else:
        for message in exc.messages:
            place(str(message))
    return by_row, general


# --- One criterion row ----------------------------------------------------------------------------


def param_field_name(kind: str, param: str) -> str:
    """The form field of ``param`` of ``kind`` (each kind has its own, shown when chosen)."""
    return f"p__{kind}__{param}"


def _param_field(spec: ParamSpec) -> forms.Field:
    common = {"label": spec.label, "required": False, "help_text": spec.help}
    # Checkboxes and menus start at the engine's default (an unticked box means "no"); number
    # and text boxes stay empty and show the default as a placeholder, so it applies.
    if spec.type == "bool":
        return forms.BooleanField(initial=bool(spec.default), **common)
    if spec.type == "int":
        return forms.IntegerField(widget=forms.NumberInput(attrs={"step": 1}), **common)
    if spec.type == "float":
        return forms.DecimalField(widget=forms.NumberInput(attrs={"step": "any"}), **common)
    if spec.type == "choice":
        return forms.ChoiceField(choices=[("", "—"), *spec.choices], initial=spec.default, **common)
    if spec.type == "list":
        common["help_text"] = spec.help or _("Several values separated by commas.")
        return forms.CharField(max_length=2000, **common)
    return forms.CharField(max_length=500, **common)


def flat_choices(choices: tuple) -> dict[str, str]:
    """Value → label of (possibly grouped) choices."""
    flat: dict[str, str] = {}
    for value, label in choices:
        if isinstance(label, list | tuple):
            flat.update({str(v): str(lab) for v, lab in label})
        else:
            flat[str(value)] = str(label)
    return flat


def _initial_value(spec: ParamSpec, value: Any) -> Any:
    if spec.type == "list" and isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return value


class CriterionForm(BootstrapForm):
    """One row of the criteria table: kind, filter or score, weight, and the kind's parameters."""

    kind = forms.ChoiceField(label=_("Criterion"), required=False)
    mode = forms.ChoiceField(label=_("Use as"), choices=MODES, initial="score")
    weight = forms.DecimalField(
        label=_("Weight"),
        required=False,
        min_value=0,
        max_value=100,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "any", "style": "width: 6rem"}),
        help_text=_("Score criteria: share of the total (weights are scaled to 100)."),
    )

    def __init__(self, *args, kinds: dict[str, KindSpec], **kwargs):
        super().__init__(*args, **kwargs)
        self.kinds = kinds
        self.fields["kind"].choices = [("", "—"), *((k.code, k.label) for k in kinds.values())]
        for kind in kinds.values():
            for spec in kind.params:
                field = _param_field(spec)
                field.widget.attrs.update(
                    {"data-param-of": kind.code, "placeholder": _placeholder(spec)}
                )
                self.fields[param_field_name(kind.code, spec.name)] = field
        for field in self.fields.values():
            css = field.widget.attrs.get("class", "")
            field.widget.attrs["class"] = css.replace(
                "form-control", "form-control form-control-sm"
            ).replace("form-select", "form-select form-select-sm")

    def has_changed(self) -> bool:
        # A row counts when a kind is chosen; a blank row or one the browser removed is skipped.
        return bool(str(self.data.get(self.add_prefix("kind")) or "").strip())

    def param_fields(self) -> list[tuple[KindSpec, list]]:
        """Bound parameter fields grouped by kind, for the template."""
        return [
            (kind, [self[param_field_name(kind.code, spec.name)] for spec in kind.params])
            for kind in self.kinds.values()
        ]

    def clean(self):
        data = super().clean()
        kind = self.kinds.get(data.get("kind") or "")
        if kind is None:
            return data
        if data.get("mode") not in kind.modes:
            self.add_error(
                "mode",
                _("%(kind)s can only be used as: %(modes)s.")
                % {
                    "kind": kind.label,
                    "modes": "、".join(str(dict(MODES).get(m, m)) for m in kind.modes),
                },
            )
        return data

    def criterion(self) -> dict[str, Any]:
        """The row as a criterion item ``{"kind", "mode", "weight", "params"}``: parameters left
        empty are omitted (the kind's default applies)."""
        data = self.cleaned_data
        kind = self.kinds[data["kind"]]
        params: dict[str, Any] = {}
        for spec in kind.params:
            value = data.get(param_field_name(kind.code, spec.name))
            if spec.type == "bool":
                params[spec.name] = bool(value)
                continue
            if value in (None, ""):
                continue
            if spec.type == "list":
                value = [part.strip() for part in re.split(r"[,，、\s]+", value) if part.strip()]
            elif isinstance(value, Decimal):
                value = int(value) if value == value.to_integral_value() else float(value)
            params[spec.name] = value
        weight = data.get("weight") or 0
        weight = int(weight) if weight == int(weight) else float(weight)
        return {"kind": kind.code, "mode": data["mode"], "weight": weight, "params": params}


def _placeholder(spec: ParamSpec) -> str:
    if spec.default in (None, "", [], ()):
        return ""
    if isinstance(spec.default, list | tuple):
        return ", ".join(str(v) for v in spec.default)
    return str(spec.default)


class BaseCriterionFormSet(forms.BaseFormSet):
    """Rows are never "initial": a removed row leaves a gap that is skipped, a blank one too."""

    def __init__(self, *args, kinds: dict[str, KindSpec], **kwargs):
        self.kinds = kinds
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "kinds": self.kinds}

    @property
    def empty_form(self):
        form = self.form(
            auto_id=self.auto_id,
            prefix=self.add_prefix("__prefix__"),
            empty_permitted=True,
            use_required_attribute=False,
            kinds=self.kinds,
            renderer=self.renderer,
        )
        self.add_fields(form, None)
        return form

    def initial_form_count(self):
        return 0

    def criterion_forms(self) -> list[CriterionForm]:
        """The rows that make a criterion, in order: item ``i`` of the list is row ``i`` here."""
        return [
            form for form in self.forms if (getattr(form, "cleaned_data", None) or {}).get("kind")
        ]

    def criteria(self) -> list[dict[str, Any]]:
        return [form.criterion() for form in self.criterion_forms()]


def criteria_formset(data=None, items: list | None = None) -> BaseCriterionFormSet:
    """The criteria table: bound to POST data, or showing ``items`` and a few blank rows."""
    kinds = criterion_kinds()
    formset_class = forms.formset_factory(
        CriterionForm,
        formset=BaseCriterionFormSet,
        extra=0 if data is not None else len(items or []) + EXTRA_ROWS,
        max_num=MAX_CRITERIA,
        absolute_max=MAX_CRITERIA,
        validate_max=True,
    )
    if data is not None:
        return formset_class(data, prefix="criteria", kinds=kinds)
    initial = []
    for item in items or []:
        if not isinstance(item, dict):
            continue
        row = {"kind": item.get("kind"), "mode": item.get("mode"), "weight": item.get("weight")}
        kind = kinds.get(str(item.get("kind")))
        params = item.get("params") if isinstance(item.get("params"), dict) else {}
        for spec in kind.params if kind else ():
            value = params.get(spec.name, spec.default)
            row[param_field_name(kind.code, spec.name)] = _initial_value(spec, value)
        initial.append(row)
    # blank rows start with each kind's defaults once a kind is chosen (placeholders show them)
    return formset_class(prefix="criteria", initial=initial, kinds=kinds)


# --- The rule set form ----------------------------------------------------------------------------

HELP = {
    "name": _("A name people recognise, e.g. Healthcare growth rounds."),
    "description": _("What the rule set is for and who reviews its matches."),
    "is_active": _("Only active rule sets propose matches (full and incremental runs)."),
    "department": _(
        "The department whose reviewers see this rule set's matches. Empty: the whole bank "
        "(seen by people with access to all data)."
    ),
    "threshold": _("Minimum total score (0–100) a pair needs to be proposed, e.g. 60."),
    "max_per_project": _(
        "Best investors proposed per project, e.g. 5. When one is rejected, the next best takes "
        "its place."
    ),
}


class MatchRuleSetForm(BootstrapModelForm):
    """A rule set with its criteria table (``self.criteria``), validated as a whole on save."""

    class Meta:
        model = MatchRuleSet
        fields = ["name", "description", "is_active", "department", "threshold", "max_per_project"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        instance = self.instance
        self.actor = actor
        department = self.fields["department"]
        department.queryset = departments_in_reach(actor, include=[instance.department_id])
        department.label_from_instance = lambda d: d.full_name
        department.empty_label = _("Whole bank")
        self.fields["threshold"].validators += [MinValueValidator(0), MaxValueValidator(100)]
        self.fields["max_per_project"].validators += [
            MinValueValidator(1),
            MaxValueValidator(100),
        ]
        for name, text in HELP.items():
            self.fields[name].help_text = text
        data = args[0] if args else kwargs.get("data")
        # a new rule set starts from the recommended criteria, to adjust rather than to write
        items = instance.criteria if instance.pk else RECOMMENDED_CRITERIA
        self.criteria = criteria_formset(data if self.is_bound else None, items)
        self.criteria_errors: list[str] = []
        self.cleaned_criteria: list[dict] = []

    def is_valid(self) -> bool:
        # Both, always: the table shows its errors even when the form has some too.
        form_valid = super().is_valid()
        table_valid = self.criteria.is_valid()
        if table_valid:
            self._check_criteria()
        return form_valid and table_valid and not self.criteria_errors and not self._row_errors()

    def _row_errors(self) -> bool:
        return any(form.errors for form in self.criteria.forms)

    def _check_criteria(self) -> None:
        items = self.criteria.criteria()
        if not items:
            self.criteria_errors.append(str(_("Add at least one criterion.")))
            return
        try:
            self.cleaned_criteria = validate(items)
        except ValidationError as exc:
            rows = self.criteria.criterion_forms()
            by_row, general = split_messages(exc, len(rows))
            for index, messages in by_row.items():
                for message in messages:
                    rows[index].add_error(None, message)
            self.criteria_errors.extend(general)

    def has_criteria_errors(self) -> bool:
        return bool(self.criteria_errors) or bool(
            self.criteria.is_bound and (self.criteria.non_form_errors() or self._row_errors())
        )

    def configuration(self) -> dict[str, Any]:
        """The validated form as a dry run's configuration."""
        return {
            "criteria": self.cleaned_criteria,
            "threshold": float(self.cleaned_data["threshold"]),
            "max_per_project": self.cleaned_data["max_per_project"],
        }

    def save(self, commit: bool = True) -> MatchRuleSet:
        """Save with the validated criteria; a change of criteria, threshold or matches per project
        bumps ``version`` (runs and dry runs tell a stale configuration by it)."""
        rule_set = super().save(commit=False)
        changed = rule_set.pk is not None and (
            rule_set.criteria != self.cleaned_criteria
            or "threshold" in self.changed_data
            or "max_per_project" in self.changed_data
        )
        rule_set.criteria = self.cleaned_criteria
        if changed:
            rule_set.version += 1
        if commit:
            rule_set.save()
        return rule_set


def describe_criteria(items: list | None) -> list[dict[str, Any]]:
    """The criteria in plain words for the rule set's page: ``{"label", "mode", "weight",
    "params": [(label, value)], "help"}`` per item."""
    kinds = criterion_kinds()
    modes = dict(MODES)
    described = []
    for item in items or []:
        if not isinstance(item, dict):
            continue
        kind = kinds.get(str(item.get("kind")))
        params = item.get("params") if isinstance(item.get("params"), dict) else {}
        specs = {spec.name: spec for spec in kind.params} if kind else {}
        shown = [
            (specs[name].label if name in specs else name, _shown(specs.get(name), value))
            for name, value in params.items()
        ]
        for name, spec in specs.items():
            if name not in params and spec.default not in (None, "", [], ()):
                shown.append((spec.label, _shown(spec, spec.default)))
        described.append(
            {
                "kind": item.get("kind"),
                "label": kind.label if kind else str(item.get("kind")),
                "mode": item.get("mode"),
                "mode_label": modes.get(item.get("mode"), item.get("mode")),
                "weight": item.get("weight"),
                "params": shown,
                "help": kind.help if kind else "",
            }
        )
    return described


def _shown(spec: Any, value: Any) -> Any:
    """A parameter's value as the rule set's page shows it: lists joined, yes/no, choice labels."""
    if isinstance(value, list | tuple):
        return "、".join(str(v) for v in value)
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if spec is not None and spec.choices:
        return flat_choices(spec.choices).get(str(value), value)
    return value
