"""Dictionaries (字典): named value lists such as financing rounds, deal types and industries.

Modules read a list by its code::

    from ibcloud.core import dictionaries
    dictionaries.choices("deal_type")           # [("ipo", "IPO"), ("ma", "并购"), ...]
    dictionaries.label("industry", "C")         # "制造业"

Reads come from the shared cache (so every process sees an admin's change at once: saving or
deleting a type or an item clears its entry through the signals below). Only active items are
returned, ordered as the admin sorted them; in two-level lists (industries) children follow their
parent.

The rules an item must follow (unique value in its list, a parent from the same list, two levels
at most) live in :func:`validate_item`, shared by the form and the API.
"""

from __future__ import annotations

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from django.utils.translation import gettext as _

from ibcloud.core.models import DictItem, DictType

CACHE_PREFIX = "ibcloud:dict:"
CACHE_SECONDS = 3600


def _cache_key(code: str) -> str:
    return CACHE_PREFIX + code


def _ordered(rows: list[DictItem]) -> list[DictItem]:
    """Top-level items in sort order, each followed by its children in sort order."""
    by_parent: dict[int | None, list[DictItem]] = {}
    for row in rows:
        by_parent.setdefault(row.parent_id, []).append(row)
    known = {row.pk for row in rows}
    result: list[DictItem] = []
    for top in by_parent.get(None, []):
        result.append(top)
        result.extend(by_parent.get(top.pk, []))
    # Children of an inactive parent stay reachable (a list may retire a section, not its rows).
    for parent_id, children in by_parent.items():
        if parent_id is not None and parent_id not in known:
            result.extend(children)
    return result


def items(code: str) -> list[DictItem]:
    """Active items of dictionary ``code`` in display order; ``[]`` for an unknown code."""
    cached = cache.get(_cache_key(code))
    if cached is not None:
        return cached
    rows = list(
        DictItem.objects.filter(dict_type__code=code, is_active=True).order_by("sort_order", "id")
    )
    result = _ordered(rows)
    cache.set(_cache_key(code), result, CACHE_SECONDS)
    return result


def choices(code: str, include_children: bool = True) -> list[tuple[str, str]]:
    """``(value, label)`` pairs for a form field or a serializer ``ChoiceField``.

    ``include_children=False`` keeps only the top level (e.g. industry sections).
    """
    return [
        (item.value, item.label)
        for item in items(code)
        if include_children or item.parent_id is None
    ]


def label(code: str, value: str | None, default: str | None = None) -> str:
    """The label of ``value`` in list ``code``; the value itself (or ``default``) if absent."""
    if value in (None, ""):
        return default or ""
    for item in items(code):
        if item.value == value:
            return item.label
    return default if default is not None else str(value)


def invalidate(code: str) -> None:
    """Forget the cached list ``code`` (after saving or deleting anything in it)."""
    cache.delete(_cache_key(code))


def with_item_counts(queryset: QuerySet) -> QuerySet:
    """Annotate dictionaries with ``item_count``.

    A subquery rather than ``Count``: an aggregate would GROUP BY, and Django then drops the
    model's default ordering (lists and pages must stay ordered).
    """
    counts = (
        DictItem.objects.filter(dict_type=OuterRef("pk"))
        .order_by()
        .values("dict_type")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return queryset.annotate(item_count=Coalesce(Subquery(counts), 0))


def validate_item(
    dict_type: DictType | None,
    value: str,
    parent: DictItem | None,
    instance: DictItem | None = None,
) -> dict[str, list[str]]:
    """Field errors of an item about to be saved (empty when it is valid).

    Values are unique within a list; a parent belongs to the same list, is not the item itself
    and is a top-level item (lists have two levels at most); an item with children cannot
    become a child.
    """
    errors: dict[str, list[str]] = {}
    pk = instance.pk if instance is not None else None
    if dict_type is not None and value:
        clash = DictItem.objects.filter(dict_type=dict_type, value=value).exclude(pk=pk)
        if clash.exists():
            errors["value"] = [_("This value already exists in the dictionary.")]
    if parent is not None:
        if pk is not None and parent.pk == pk:
            errors["parent"] = [_("An item cannot be its own parent.")]
        elif dict_type is not None and parent.dict_type_id != dict_type.pk:
            errors["parent"] = [_("The parent must belong to the same dictionary.")]
        elif parent.parent_id is not None:
            errors["parent"] = [_("Dictionaries have two levels: choose a top-level parent.")]
        elif pk is not None and DictItem.objects.filter(parent_id=pk).exists():
            errors["parent"] = [_("An item with children cannot be placed under another item.")]
    return errors


def check_item(
    dict_type: DictType | None,
    value: str,
    parent: DictItem | None,
    instance: DictItem | None = None,
) -> None:
    """Raise ``ValidationError`` (by field) when :func:`validate_item` finds problems."""
    errors = validate_item(dict_type, value, parent, instance)
    if errors:
        raise ValidationError(errors)


def deletion_refusal(dict_type: DictType) -> str | None:
    """Why ``dict_type`` may not be deleted, or ``None``: built-in lists stay."""
    if dict_type.is_system:
        return _("%(name)s is a built-in dictionary: it can be edited but not deleted.") % {
            "name": dict_type.name
        }
    return None


def next_sort_order(dict_type: DictType) -> int:
    """The sort order that puts a new item last in ``dict_type``."""
    last = (
        DictItem.objects.filter(dict_type=dict_type)
        .order_by("-sort_order")
        .values_list("sort_order", flat=True)
        .first()
    )
    return (last or 0) + 10


def move_item(item: DictItem, direction: str) -> bool:
    """Swap ``item`` with its previous (``"up"``) or next (``"down"``) sibling.

    Siblings are renumbered 10, 20, 30... first so equal sort orders still move; each changed
    row is saved through the model (audited). Returns whether anything moved.
    """
    siblings = list(
        DictItem.objects.filter(dict_type_id=item.dict_type_id, parent_id=item.parent_id).order_by(
            "sort_order", "id"
        )
    )
    index = next((i for i, row in enumerate(siblings) if row.pk == item.pk), None)
    if index is None:
        return False
    target = index - 1 if direction == "up" else index + 1
    if direction not in ("up", "down") or not 0 <= target < len(siblings):
        return False
    siblings[index], siblings[target] = siblings[target], siblings[index]
    with transaction.atomic():
        for position, row in enumerate(siblings, start=1):
            if row.sort_order != position * 10:
                row.sort_order = position * 10
                row.save(update_fields=["sort_order", "updated_at"])
    return True


# --- Cache invalidation ---------------------------------------------------------------------------


@receiver(pre_save, sender=DictType, dispatch_uid="dictionaries_remember_old_code")
def _remember_old_code(sender, instance: DictType, **kwargs) -> None:
    if instance.pk:
        instance._old_code = (
            DictType.objects.filter(pk=instance.pk).values_list("code", flat=True).first()
        )


@receiver(post_save, sender=DictType, dispatch_uid="dictionaries_type_saved")
@receiver(post_delete, sender=DictType, dispatch_uid="dictionaries_type_deleted")
def _type_changed(sender, instance: DictType, **kwargs) -> None:
    invalidate(instance.code)
    old = getattr(instance, "_old_code", None)
    if old and old != instance.code:
        invalidate(old)


@receiver(post_save, sender=DictItem, dispatch_uid="dictionaries_item_saved")
@receiver(post_delete, sender=DictItem, dispatch_uid="dictionaries_item_deleted")
def _item_changed(sender, instance: DictItem, **kwargs) -> None:
    code = DictType.objects.filter(pk=instance.dict_type_id).values_list("code", flat=True).first()
    # When a whole type is deleted its items go first (cascade) and the type's own signal
    # clears the entry, so a missing type needs nothing here.
    if code:
        invalidate(code)
