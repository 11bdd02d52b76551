"""What every list page's filters share, across the apps."""

import importlib
import pkgutil

import django_filters
import pytest

import ibcloud


def filtersets() -> list[type[django_filters.FilterSet]]:
    """Every FilterSet the apps declare (in their ``*filters`` modules)."""
    found = []
    for module_info in pkgutil.walk_packages(ibcloud.__path__, "ibcloud."):
        if not module_info.name.endswith("filters") or ".api" in module_info.name:
            continue
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, django_filters.FilterSet)
                and value.__module__ == module.__name__
            ):
                found.append(value)
    return found


def test_the_apps_filtersets_are_found():
    names = {filterset.__name__ for filterset in filtersets()}
    assert {"ProjectFilterSet", "MatchFilterSet", "DealFilterSet", "AuditEntryFilterSet"} <= names


@pytest.mark.parametrize("filterset", filtersets(), ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_every_date_filter_offers_the_date_picker(filterset):
    for name, declared in filterset.base_filters.items():
        if isinstance(declared, django_filters.DateFilter):
            widget = declared.field.widget
            assert getattr(widget, "input_type", "") == "date", f"{name}: {type(widget).__name__}"
