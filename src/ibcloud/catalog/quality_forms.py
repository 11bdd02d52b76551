"""Forms of the data-quality pages: the normalization preview, the editable normalization rules
(exchange rates, industry keywords, round aliases) and manual merge and split.

The checks here are shared with the API (``quality_api``) so both refuse the same input with the
same messages: :func:`parse_raw_record` / :func:`check_raw_record` for a pasted record,
:func:`validate_currency`, :func:`industry_division_choices` and :func:`round_choices` for rules.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.catalog.models import ExchangeRate, IndustryKeyword, RoundAlias
from ibcloud.core import dictionaries
from ibcloud.core.forms import BootstrapForm, BootstrapModelForm

#: a pasted record longer than this is refused (a listing is a few KB; this keeps the preview
#: cheap and the page small whatever is pasted)
MAX_RECORD_CHARS = 20_000
#: at most this many keys in one record
MAX_RECORD_KEYS = 100
#: at most this many items in a list value
MAX_LIST_ITEMS = 200
#: others merged into one record at a time
MAX_MERGE = 20

ITEM_TYPES = (("project", gettext_lazy("Project")), ("investor", gettext_lazy("Investor")))

#: ISO 4217 codes of currencies in use (2024 list), so a typo ("USB") is refused when saved
ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
    KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
    MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
    SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
    """.split()
)


# --- Pasted records ---------------------------------------------------------------------------


def parse_raw_record(text: str) -> dict[str, Any]:
    """A pasted record as a dict: a JSON object, or one ``key: value`` per line.

    Lines may use a full-width colon (``融资金额：5000万元``) or ``=``; blank lines and lines
    without a separator are refused with the line number so the user can fix them. Raises
    ``ValidationError`` with a message for the user.
    """
    text = (text or "").strip()
    if not text:
        raise ValidationError(_("Paste a record: a JSON object or one 'key: value' per line."))
    if len(text) > MAX_RECORD_CHARS:
        raise ValidationError(
            _("The record is too long (at most %(n)d characters).") % {"n": MAX_RECORD_CHARS}
        )
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ValidationError(_("This is not valid JSON: %(error)s") % {"error": exc}) from exc
        return check_raw_record(data)
    data: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        positions = [p for p in (line.find(":"), line.find("："), line.find("=")) if p > 0]
        if not positions:
            raise ValidationError(_("Line %(n)d has no 'key: value' separator.") % {"n": number})
        cut = min(positions)
        key, value = line[:cut].strip(), line[cut + 1 :].strip()
        if not key:
            raise ValidationError(_("Line %(n)d has no key.") % {"n": number})
        data[key] = value
    return check_raw_record(data)


def check_raw_record(data: Any) -> dict[str, Any]:
    """``data`` if it is a record the normalization can take: an object of at most
    :data:`MAX_RECORD_KEYS` keys whose values are text, numbers, booleans, null or lists of
    those. Raises ``ValidationError`` otherwise (the API and the form share this check)."""
    if not isinstance(data, dict):
        raise ValidationError(_("The record must be an object of field names and values."))
    if not data:
        raise ValidationError(_("The record has no fields."))
    if len(data) > MAX_RECORD_KEYS:
        raise ValidationError(
            _("The record has too many fields (at most %(n)d).") % {"n": MAX_RECORD_KEYS}
        )
    size = 0
    for key, value in data.items():
        if not isinstance(key, str) or not key.strip() or len(key) > 100:
            raise ValidationError(_("Field names must be text of 1 to 100 characters."))
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list) and len(value) > MAX_LIST_ITEMS:
            raise ValidationError(
                _("%(key)s: too many values (at most %(n)d).") % {"key": key, "n": MAX_LIST_ITEMS}
            )
        for item in values:
            if item is not None and not isinstance(item, str | int | float | bool):
                raise ValidationError(
                    _("%(key)s: values must be text, numbers or lists of them.") % {"key": key}
                )
            size += len(str(item))
    if size > MAX_RECORD_CHARS:
        raise ValidationError(
            _("The record is too long (at most %(n)d characters).") % {"n": MAX_RECORD_CHARS}
        )
    return data


class NormalizePreviewForm(BootstrapForm):
    """Paste a raw record and choose its type; the page shows each field's normalized value."""

    item_type = forms.ChoiceField(label=gettext_lazy("Item type"), choices=ITEM_TYPES)
    raw = forms.CharField(
        label=gettext_lazy("Raw record"),
        # The browser stops typing at the limit; the clean method refuses longer posts anyway.
        max_length=MAX_RECORD_CHARS,
        widget=forms.Textarea(
            attrs={
                "rows": 12,
                "class": "font-monospace",
                "placeholder": "name: 云图智能\namount: 数千万元\nround: A轮\nlocation: 广东·深圳",
            }
        ),
        help_text=gettext_lazy("A JSON object, or one 'key: value' per line."),
    )

    def clean_raw(self) -> dict[str, Any]:
        return parse_raw_record(self.cleaned_data["raw"])


# --- Rules ----------------------------------------------------------------------------------------


def validate_currency(value: str) -> str:
    """The ISO 4217 code in upper case; CNY itself needs no rate. Raises ``ValidationError``."""
    code = (value or "").strip().upper()
    if code not in ISO_4217:
        raise ValidationError(_("Enter an ISO 4217 currency code such as USD, HKD or EUR."))
    if code == "CNY":
        raise ValidationError(_("Amounts in CNY need no rate."))
    return code


def validate_rate(value: Decimal | None) -> Decimal | None:
    """A rate must be positive (0 would turn every amount in that currency into 0 CNY)."""
    if value is not None and value <= 0:
        raise ValidationError(_("The rate must be greater than 0."))
    return value


def industry_division_choices() -> list[tuple[str, str]]:
    """GB/T 4754 divisions from the ``industry`` dictionary, labelled "I65 软件和信息技术服务业"."""
    rows = dictionaries.items("industry")
    sections = {row.pk: row.value for row in rows if row.parent_id is None}
    return [
        (row.value, f"{sections.get(row.parent_id, '')}{row.value} {row.label}")
        for row in rows
        if row.parent_id is not None
    ]


def round_choices() -> list[tuple[str, str]]:
    """Financing rounds from the ``financing_round`` dictionary."""
    return dictionaries.choices("financing_round")


def industry_label(code: str) -> str:
    """ "I65 软件和信息技术服务业" for a division code, the code itself when unknown."""
    return dict(industry_division_choices()).get(code, code)


class ExchangeRateForm(BootstrapModelForm):
    class Meta:
        model = ExchangeRate
        fields = ["currency", "rate_to_cny"]
        help_texts = {
            "currency": gettext_lazy("ISO 4217 code, e.g. USD."),
            "rate_to_cny": gettext_lazy("How many CNY one unit is worth, e.g. 7.1 for USD."),
        }

    def clean_currency(self) -> str:
        code = validate_currency(self.cleaned_data["currency"])
        clash = ExchangeRate.objects.filter(currency=code).exclude(pk=self.instance.pk)
        if clash.exists():
            raise ValidationError(_("A rate for %(code)s already exists.") % {"code": code})
        return code

    def clean_rate_to_cny(self) -> Decimal:
        return validate_rate(self.cleaned_data["rate_to_cny"])


class IndustryKeywordForm(BootstrapModelForm):
    industry = forms.ChoiceField(label=gettext_lazy("Industry"), choices=())

    class Meta:
        model = IndustryKeyword
        fields = ["keyword", "industry", "priority", "is_active"]
        help_texts = {
            "keyword": gettext_lazy("A word in names, summaries or sectors, e.g. 医疗器械."),
            "priority": gettext_lazy("Breaks ties between keywords of equal length: higher wins."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["industry"].choices = [("", "---------"), *industry_division_choices()]

    def clean_keyword(self) -> str:
        keyword = " ".join(self.cleaned_data["keyword"].split())
        if not keyword:
            raise ValidationError(_("Enter a keyword."))
        return keyword


class RoundAliasForm(BootstrapModelForm):
    round = forms.ChoiceField(label=gettext_lazy("Round"), choices=())

    class Meta:
        model = RoundAlias
        fields = ["alias", "round"]
        help_texts = {"alias": gettext_lazy('A spelling found in listings, e.g. "A1轮".')}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["round"].choices = [("", "---------"), *round_choices()]

    def clean_alias(self) -> str:
        alias = " ".join(self.cleaned_data["alias"].split())
        if not alias:
            raise ValidationError(_("Enter an alias."))
        return alias


# --- Merge and split ------------------------------------------------------------------------------


class MergeForm(BootstrapForm):
    """The records to merge into the one the page is about (each within the user's reach)."""

    others = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Merge these into it"),
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, target, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.target = target
        self.fields["others"].queryset = candidates.exclude(pk=target.pk)

    def clean_others(self):
        others = list(self.cleaned_data["others"])
        if len(others) > MAX_MERGE:
            raise ValidationError(_("Merge at most %(n)d records at a time.") % {"n": MAX_MERGE})
        return others


class SplitForm(BootstrapForm):
    """The ingestions (source records) of a project or investor to split off into a new one."""

    ingestions = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Split these source records off into a new record"),
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, ingestions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ingestions"].queryset = ingestions

    def clean_ingestions(self):
        chosen = list(self.cleaned_data["ingestions"])
        if len(chosen) >= self.fields["ingestions"].queryset.count():
            raise ValidationError(
                _("Leave at least one source record on this record; to move all, merge instead.")
            )
        return chosen
