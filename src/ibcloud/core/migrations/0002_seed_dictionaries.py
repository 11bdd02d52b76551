"""Seed the built-in dictionaries (rounds, deal types and stages, investor types, currencies,
industries) from ``core/fixtures/seed_dictionaries.json``.

The JSON file belongs to this migration: a later change to the built-in lists is a new migration,
so databases seeded earlier receive it too.
"""

import json
from pathlib import Path

from django.db import migrations

SEED = Path(__file__).resolve().parent.parent / "fixtures" / "seed_dictionaries.json"


def seed(apps, schema_editor):
    DictType = apps.get_model("core", "DictType")
    DictItem = apps.get_model("core", "DictItem")
    data = json.loads(SEED.read_text(encoding="utf-8"))
    for spec in data["types"]:
        dict_type, _ = DictType.objects.get_or_create(
            code=spec["code"],
            defaults={
                "name": spec["name"],
                "description": spec.get("description", ""),
                "is_system": True,
            },
        )
        if not dict_type.is_system:
            dict_type.is_system = True
            dict_type.save(update_fields=["is_system"])
        for order, item in enumerate(spec["items"], start=1):
            parent, _ = DictItem.objects.get_or_create(
                dict_type=dict_type,
                value=item["value"],
                defaults={
                    "label": item["label"],
                    "sort_order": order * 10,
                    "extra": item.get("extra", {}),
                },
            )
            for child_order, child in enumerate(item.get("children", []), start=1):
                DictItem.objects.get_or_create(
                    dict_type=dict_type,
                    value=child["value"],
                    defaults={
                        "label": child["label"],
                        "parent": parent,
                        "sort_order": child_order * 10,
                        "extra": child.get("extra", {}),
                    },
                )


def unseed(apps, schema_editor):
    DictType = apps.get_model("core", "DictType")
    codes = [spec["code"] for spec in json.loads(SEED.read_text(encoding="utf-8"))["types"]]
    DictType.objects.filter(code__in=codes, is_system=True).delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
