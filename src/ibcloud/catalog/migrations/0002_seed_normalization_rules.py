"""Seed the editable normalization rules: exchange rates, industry keywords, round aliases.

The seed lives in ``catalog/data/`` (exchange_rates.csv, industry_keywords.csv,
round_aliases.csv), the same files ``normalization.rules.default_rules()`` reads, so a fresh
database and the built-in rules agree. Rows an admin already has are left alone.
"""

import csv
from decimal import Decimal
from pathlib import Path

from django.db import migrations

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def _rows(name):
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def seed(apps, schema_editor):
    ExchangeRate = apps.get_model("catalog", "ExchangeRate")
    IndustryKeyword = apps.get_model("catalog", "IndustryKeyword")
    RoundAlias = apps.get_model("catalog", "RoundAlias")
    for row in _rows("exchange_rates.csv"):
        ExchangeRate.objects.get_or_create(
            currency=row["currency"], defaults={"rate_to_cny": Decimal(row["rate_to_cny"])}
        )
    existing = set(IndustryKeyword.objects.values_list("keyword", flat=True))
    IndustryKeyword.objects.bulk_create(
        IndustryKeyword(
            keyword=row["keyword"],
            industry=row["industry"].zfill(2),
            priority=int(row["priority"] or 0),
        )
        for row in _rows("industry_keywords.csv")
        if row["keyword"] not in existing
    )
    for row in _rows("round_aliases.csv"):
        RoundAlias.objects.get_or_create(alias=row["alias"], defaults={"round": row["round"]})


def unseed(apps, schema_editor):
    apps.get_model("catalog", "ExchangeRate").objects.filter(
        currency__in=[row["currency"] for row in _rows("exchange_rates.csv")]
    ).delete()
    apps.get_model("catalog", "IndustryKeyword").objects.filter(
        keyword__in=[row["keyword"] for row in _rows("industry_keywords.csv")]
    ).delete()
    apps.get_model("catalog", "RoundAlias").objects.filter(
        alias__in=[row["alias"] for row in _rows("round_aliases.csv")]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
