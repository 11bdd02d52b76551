"""Forms of the catalog pages: manual create and edit of projects (with their round history and
yearly financials) and investors, and saved queries.

Amounts are typed in 万元 and stored in whole yuan; tags and aliases are typed comma-separated.
Places, industries, rounds and investor types are picked from the division list and the
dictionaries. :meth:`EntityForm.changed_fields` names the model fields a person changed, which
the view hands to ``services.save_manual_edit`` so crawled values no longer overwrite them.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.forms import inlineformset_factory
from django.utils.translation import gettext_lazy as _

from ibcloud.accounts.services import departments_in_reach, users_in_reach
from ibcloud.catalog.filters import (
    capital_type_choices,
    city_choices,
    industry_choices,
    investor_type_choices,
    province_choices,
    round_choices,
)
from ibcloud.catalog.models import (
    FundingRound,
    Investor,
    Project,
    ProjectFinancial,
    SavedQuery,
    Tag,
)
from ibcloud.core.forms import BootstrapMixin, BootstrapModelForm

WAN = 10_000
#: 万元 with up to four decimals (whole yuan), below BigIntegerField's limit
MAX_WAN = Decimal("900000000000")
MAX_TAGS = 30
MAX_ALIASES = 50

# GB 32100-2015: 18 characters from this alphabet; the last is a check character.
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
CREDIT_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")


def credit_code_problem(code: str) -> str | None:
    """Why ``code`` is not a valid unified social credit code, or None."""
    if not CREDIT_CODE.match(code):
        return str(_("A unified social credit code has 18 digits and capital letters."))
    total = sum(
        CREDIT_CODE_ALPHABET.index(char) * weight
        for char, weight in zip(code[:17], CREDIT_CODE_WEIGHTS, strict=True)
    )
    expected = CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]
    if code[17] != expected:
        return str(_("The check character does not match: please check the code."))
    return None


def clean_credit_code(model, value: str, instance=None) -> str:
    """Upper-cased, valid and not used by another record of ``model`` (forms and API alike)."""
    code = (value or "").strip().upper().replace(" ", "")
    if not code:
        return ""
    problem = credit_code_problem(code)
    if problem:
        raise ValidationError(problem, code="invalid")
    clash = model._default_manager.filter(credit_code=code)
    if instance is not None and instance.pk:
        clash = clash.exclude(pk=instance.pk)
    if clash.exists():
        raise ValidationError(
            _("Another %(model)s already has this credit code: merge them instead."),
            params={"model": model._meta.verbose_name},
            code="unique",
        )
    return code


def split_names(text: str, limit: int) -> list[str]:
    """Comma-, 、- or newline-separated names, stripped, without repeats."""
    parts = re.split(r"[,，、;；\n]", text or "")
    names = list(dict.fromkeys(part.strip() for part in parts if part.strip()))
    if len(names) > limit:
        raise ValidationError(_("At most %(n)d entries."), params={"n": limit}, code="too_many")
    if any(len(name) > 200 for name in names):
        raise ValidationError(_("Each entry may have at most 200 characters."), code="too_long")
    return names


class WanField(forms.DecimalField):
    """An amount typed in 万元, cleaned to whole yuan (int)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("min_value", Decimal(0))
        kwargs.setdefault("max_value", MAX_WAN)
        kwargs.setdefault("decimal_places", 4)
        kwargs.setdefault("max_digits", 16)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("step", "any")

    def clean(self, value):
        amount = super().clean(value)
        return None if amount is None else int(amount * WAN)

    def prepare_value(self, value):
        # Initial values come from the model in yuan; bound values are what the person typed.
        if isinstance(value, int):
            # "5000", not normalize()'s "5E+3"
            return format((Decimal(value) / WAN).normalize(), "f")
        return value


def _place_fields(form) -> None:
    form.fields["province_code"] = forms.ChoiceField(
        label=_("Province"), required=False, choices=[("", "—"), *province_choices()]
    )
    form.fields["city_code"] = forms.ChoiceField(
        label=_("City"), required=False, choices=[("", "—"), *city_choices()]
    )


def _clean_place(form, cleaned: dict) -> None:
    """City within the province (filled in from the city when missing); names stored too."""
    province, city = cleaned.get("province_code") or "", cleaned.get("city_code") or ""
    if city and not province:
        province = city[:2] + "0000"
        cleaned["province_code"] = province
    if city and city[:2] != province[:2]:
        form.add_error("city_code", _("This city is not in the province chosen."))
    form.instance.province = dict(province_choices()).get(province, "") if province else ""
    cities = {code: name for _group, entries in city_choices() for code, name in entries}
    form.instance.city = cities.get(city, "") if city else ""


class EntityForm(BootstrapModelForm):
    """What the project and investor forms share: place, tags, owner and department, and the
    list of model fields a person changed."""

    tag_names = forms.CharField(
        label=_("Tags"),
        required=False,
        help_text=_("Comma-separated, e.g. 专精特新, 独角兽."),
    )

    #: form field → model fields it sets (for the manual-provenance list)
    field_map: dict[str, tuple[str, ...]] = {
        "province_code": ("province_code", "province"),
        "city_code": ("city_code", "city"),
        "tag_names": ("tags",),
    }

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        instance = self.instance
        _place_fields(self)
        if instance.pk:
            self.fields["tag_names"].initial = ", ".join(t.name for t in instance.tags.all())
        self.fields["owner"].queryset = users_in_reach(actor, include=[instance.owner_id])
        self.fields["department"].queryset = departments_in_reach(
            actor, include=[instance.department_id]
        )
        self.fields["department"].label_from_instance = lambda d: d.full_name
        self.fields["owner"].help_text = _("Default: you.")
        self.fields["department"].help_text = _("Default: your department.")
        from ibcloud.core.forms import apply_bootstrap

        apply_bootstrap(self)

    def clean_tag_names(self):
        return split_names(self.cleaned_data.get("tag_names", ""), MAX_TAGS)

    def clean_credit_code(self):
        return clean_credit_code(
            self._meta.model, self.cleaned_data.get("credit_code", ""), self.instance
        )

    def clean(self):
        cleaned = super().clean()
        _clean_place(self, cleaned)
        return cleaned

    def changed_fields(self, created: bool) -> list[str]:
        """The model fields this form changed (every filled one for a ``created`` record)."""
        names = self.filled() if created else self.changed_data
        result: list[str] = []
        for name in names:
            if name in ("owner", "department"):
                continue
            result.extend(self.field_map.get(name, (name,)))
        return list(dict.fromkeys(result))

    def filled(self) -> list[str]:
        return [
            name
            for name, value in self.cleaned_data.items()
            if value not in (None, "", [], False) and name in self.fields
        ]

    def save_tags(self, entity) -> None:
        names = self.cleaned_data.get("tag_names") or []
        tags = [Tag.objects.get_or_create(name=name[:50])[0] for name in names]
        entity.tags.set(tags)


class ProjectForm(EntityForm):
    industry = forms.ChoiceField(
        label=_("Industry"),
        required=False,
        choices=[],
        help_text=_("A division (大类) where known, else its section (门类)."),
    )
    round = forms.ChoiceField(label=_("Round sought"), required=False, choices=[])
    amount_low = WanField(label=_("Amount from (万元)"))
    amount_high = WanField(label=_("Amount up to (万元)"), help_text=_("Empty: no upper bound."))
    valuation = WanField(label=_("Valuation (万元)"))

    field_map = {**EntityForm.field_map, "industry": ("industry", "industry_section")}

    class Meta:
        model = Project
        fields = [
            "name",
            "full_name",
            "credit_code",
            "province_code",
            "city_code",
            "industry",
            "round",
            "amount_low",
            "amount_high",
            "amount_text",
            "valuation",
            "share_offered",
            "use_of_funds",
            "summary",
            "website",
            "founded_on",
            "owner",
            "department",
        ]
        widgets = {
            "founded_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "use_of_funds": forms.Textarea(attrs={"rows": 2}),
            "summary": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["industry"].choices = [("", "—"), *industry_choices()]
        self.fields["round"].choices = [("", "—"), *round_choices()]
        if self.instance.pk and not self.instance.industry:
            self.initial["industry"] = self.instance.industry_section
        self.fields["share_offered"].validators.append(_percent)
        self.order_fields(
            [*self.Meta.fields[:3], "province_code", "city_code", "industry", "tag_names"]
        )

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("amount_low"), cleaned.get("amount_high")
        if low is not None and high is not None and low > high:
            self.add_error("amount_high", _("The upper bound is below the lower bound."))
        code = cleaned.get("industry") or ""
        from ibcloud.catalog.templatetags.catalog_format import industry_section_of

        self.instance.industry_section = industry_section_of(code)
        cleaned["industry"] = code if code.isdigit() else ""
        if self.instance.amount_currency == "" and (low is not None or high is not None):
            self.instance.amount_currency = "CNY"
        return cleaned


def _percent(value):
    if value is not None and not (0 <= value <= 100):
        raise ValidationError(_("Give a percentage between 0 and 100."), code="range")


class InvestorForm(EntityForm):
    aliases_text = forms.CharField(
        label=_("Aliases"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Other names it is known by, comma-separated or one per line."),
    )
    investor_type = forms.ChoiceField(label=_("Type"), required=False, choices=[])
    capital_type = forms.ChoiceField(label=_("Capital type"), required=False, choices=[])
    fund_size_low = WanField(label=_("Fund size from (万元)"))
    fund_size_high = WanField(label=_("Fund size up to (万元)"))
    ticket_min = WanField(label=_("Ticket from (万元)"))
    ticket_max = WanField(label=_("Ticket up to (万元)"))
    preferred_industries = forms.MultipleChoiceField(
        label=_("Preferred industries"),
        required=False,
        choices=[],
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    preferred_rounds = forms.MultipleChoiceField(
        label=_("Preferred rounds"),
        required=False,
        choices=[],
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    preferred_regions = forms.MultipleChoiceField(
        label=_("Preferred regions"),
        required=False,
        choices=[],
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text=_("Provinces; or tick “invests nationwide”."),
    )

    field_map = {**EntityForm.field_map, "aliases_text": ("aliases",)}

    class Meta:
        model = Investor
        fields = [
            "name",
            "full_name",
            "credit_code",
            "investor_type",
            "capital_type",
            "province_code",
            "city_code",
            "fund_size_low",
            "fund_size_high",
            "description",
            "website",
            "founded_on",
            "preferred_industries",
            "preferred_rounds",
            "preferred_regions",
            "nationwide",
            "ticket_min",
            "ticket_max",
            "coverage_banker",
            "owner",
            "department",
        ]
        widgets = {
            "founded_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "description": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        instance = self.instance
        self.fields["investor_type"].choices = [("", "—"), *investor_type_choices()]
        self.fields["capital_type"].choices = [("", "—"), *capital_type_choices()]
        self.fields["preferred_industries"].choices = industry_choices()
        self.fields["preferred_rounds"].choices = round_choices()
        self.fields["preferred_regions"].choices = province_choices()
        if instance.pk:
            self.fields["aliases_text"].initial = "\n".join(instance.aliases or [])
        bankers = users_in_reach(self.actor, include=[instance.coverage_banker_id])
        self.fields["coverage_banker"].queryset = bankers.filter(is_active=True) | bankers.filter(
            pk=instance.coverage_banker_id or 0
        )
        self.order_fields(["name", "full_name", "aliases_text", "credit_code"])

    def clean_aliases_text(self):
        return split_names(self.cleaned_data.get("aliases_text", ""), MAX_ALIASES)

    def clean(self):
        cleaned = super().clean()
        for low_name, high_name in (
            ("fund_size_low", "fund_size_high"),
            ("ticket_min", "ticket_max"),
        ):
            low, high = cleaned.get(low_name), cleaned.get(high_name)
            if low is not None and high is not None and low > high:
                self.add_error(high_name, _("The upper bound is below the lower bound."))
        self.instance.aliases = cleaned.get("aliases_text") or []
        return cleaned


# --- Round history and yearly financials ----------------------------------------------------------


class FundingRoundForm(BootstrapModelForm):
    round = forms.ChoiceField(label=_("Round"), choices=[])
    amount_low = WanField(label=_("Amount from (万元)"))
    amount_high = WanField(label=_("Amount up to (万元)"))
    investor_text = forms.CharField(
        label=_("Investors"),
        required=False,
        help_text=_("Comma-separated; names found in the catalog are linked."),
    )

    class Meta:
        model = FundingRound
        fields = ["round", "announced_on", "amount_low", "amount_high", "investor_text"]
        widgets = {"announced_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["round"].choices = [("", "—"), *round_choices()]
        if self.instance.pk:
            self.fields["investor_text"].initial = ", ".join(self.instance.investor_names or [])

    def clean_investor_text(self):
        return split_names(self.cleaned_data.get("investor_text", ""), 100)

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("amount_low"), cleaned.get("amount_high")
        if low is not None and high is not None and low > high:
            self.add_error("amount_high", _("The upper bound is below the lower bound."))
        self.instance.investor_names = cleaned.get("investor_text") or []
        return cleaned


class FinancialForm(BootstrapModelForm):
    revenue = WanField(label=_("Revenue (万元)"), min_value=None)
    net_profit = WanField(label=_("Net profit (万元)"), min_value=None)
    total_assets = WanField(label=_("Total assets (万元)"))
    net_assets = WanField(label=_("Net assets (万元)"), min_value=None)

    class Meta:
        model = ProjectFinancial
        fields = ["year", "revenue", "net_profit", "total_assets", "net_assets"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["year"].min_value = 1900
        self.fields["year"].max_value = 2100
        self.fields["year"].validators.append(_year)
        for name in ("revenue", "net_profit", "net_assets"):
            self.fields[name].min_value = -MAX_WAN
            self.fields[name].validators = [
                v for v in self.fields[name].validators if not hasattr(v, "limit_value")
            ]


def _year(value):
    if value is not None and not (1900 <= value <= 2100):
        raise ValidationError(_("Give a year between 1900 and 2100."), code="range")


class _UniqueYears(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        years = [
            form.cleaned_data.get("year")
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        years = [y for y in years if y]
        if len(years) != len(set(years)):
            raise ValidationError(_("Each year may appear once."), code="duplicate_year")


FundingRoundFormSet = inlineformset_factory(
    Project, FundingRound, form=FundingRoundForm, extra=1, can_delete=True, max_num=50
)
FinancialFormSet = inlineformset_factory(
    Project,
    ProjectFinancial,
    form=FinancialForm,
    formset=_UniqueYears,
    extra=1,
    can_delete=True,
    max_num=30,
)


# --- Saved queries --------------------------------------------------------------------------------


#: query-string keys a saved query never keeps (paging, export, htmx noise)
TRANSIENT_KEYS = {"page", "per_page", "export", "file_format", "saved", "csrfmiddlewaretoken"}
MAX_QUERY_STRING = 4000


def clean_query_string(text: str) -> str:
    """A list's query string as stored: leading "?" and paging/export keys dropped, re-encoded.

    Forms and the API share it, so what is saved always re-applies as the same filters.
    """
    from urllib.parse import parse_qsl, urlencode

    text = (text or "").strip().lstrip("?")
    if len(text) > MAX_QUERY_STRING:
        raise ValidationError(
            _("At most %(n)d characters."), params={"n": MAX_QUERY_STRING}, code="too_long"
        )
    pairs = [(k, v) for k, v in parse_qsl(text, keep_blank_values=False) if k not in TRANSIENT_KEYS]
    return urlencode(pairs)


class SavedQueryForm(BootstrapModelForm):
    class Meta:
        model = SavedQuery
        fields = ["name", "kind", "query_string", "shared"]
        widgets = {"query_string": forms.Textarea(attrs={"rows": 2})}

    def clean_query_string(self):
        return clean_query_string(self.cleaned_data.get("query_string", ""))


class SaveQueryForm(BootstrapMixin, forms.Form):
    """The "save this query" box on a list page."""

    name = forms.CharField(label=_("Name"), max_length=100)
    shared = forms.BooleanField(label=_("Share with everyone who sees the list"), required=False)
    query_string = forms.CharField(required=False, widget=forms.HiddenInput, max_length=4000)


# --- Saving a manual edit -------------------------------------------------------------------------


def prepare_derived_columns(entity, user=None) -> None:
    """Refresh ``name_key`` and ``search_text`` from the names, text and tags just saved, the
    way the ingest pipeline computes them (``catalog.merge``), so manual and crawled records
    are matched and searched alike."""
    from ibcloud.catalog import merge

    item_type = "project" if isinstance(entity, Project) else "investor"
    key = merge.entity_key(entity)
    if key != entity.name_key:
        entity.name_key = key
        type(entity).objects.filter(pk=entity.pk).update(name_key=key)
    merge.refresh_search_text(entity, item_type)


def record_manual_edit(entity, changed_fields: list[str], user) -> None:
    """Mark ``changed_fields`` as set by ``user`` (crawls no longer overwrite them)."""
    if not changed_fields:
        return
    from ibcloud.catalog import services

    services.save_manual_edit(entity, changed_fields, user)
