"""Dry runs: what a changed rule would add and remove, applied exactly as shown."""

import pytest
from django.core.exceptions import ValidationError

from ibcloud.catalog.models import Investor
from ibcloud.matching import engine, tasks
from ibcloud.matching.models import DryRun, Match
from tests.matching.factories import MatchRuleSetFactory
from tests.matching.test_engine import catalog  # noqa: F401 - fixture


def pairs(rule_set, *statuses):
    return set(
        Match.objects.filter(rule_set=rule_set, status__in=statuses).values_list(
            "project_id", "investor_id"
        )
    )


def test_a_dry_run_shows_the_changes_and_apply_produces_exactly_those(catalog):  # noqa: F811
    rule_set = MatchRuleSetFactory(threshold=40, max_per_project=2)
    engine.run_rule_set(rule_set)
    before = pairs(rule_set, "pending", "approved")
    configuration = {"criteria": rule_set.criteria, "threshold": 40, "max_per_project": 3}
    dry = engine.dry_run(configuration, rule_set=rule_set)
    assert pairs(rule_set, "pending", "approved") == before  # nothing written
    added = {(p, i) for p, i, _s in dry.added}
    removed = {(p, i) for p, i, _s in dry.removed}
    assert dry.summary["added"] == len(added) > 0
    engine.apply_dry_run(dry, user=None)
    after = pairs(rule_set, "pending", "approved")
    assert after == (before - removed) | added
    rule_set.refresh_from_db()
    assert (rule_set.max_per_project, rule_set.version) == (3, 2)


def test_a_stricter_rule_shows_removals(catalog):  # noqa: F811
    rule_set = MatchRuleSetFactory(threshold=40, max_per_project=2)
    engine.run_rule_set(rule_set)
    dry = engine.dry_run(
        {"criteria": rule_set.criteria, "threshold": 40, "max_per_project": 1}, rule_set=rule_set
    )
    assert dry.summary["removed"] == 3 and dry.summary["added"] == 0
    report = engine.apply_dry_run(dry, user=None)
    assert report.withdrawn == 3
    assert len(pairs(rule_set, "withdrawn")) == 3


def test_apply_refuses_when_the_data_changed_since(catalog):  # noqa: F811
    _projects, investors = catalog
    rule_set = MatchRuleSetFactory(threshold=40, max_per_project=2)
    dry = engine.dry_run(
        {"criteria": rule_set.criteria, "threshold": 40, "max_per_project": 2}, rule_set=rule_set
    )
    Investor.objects.filter(pk=investors[4].pk).update(preferred_industries=["35"])
    with pytest.raises(ValidationError, match="new dry run"):
        engine.apply_dry_run(dry, user=None)
    assert not Match.objects.exists()


def test_apply_refuses_after_the_rule_set_changed(catalog):  # noqa: F811
    rule_set = MatchRuleSetFactory(threshold=40, max_per_project=2)
    dry = engine.dry_run(
        {"criteria": rule_set.criteria, "threshold": 40, "max_per_project": 2}, rule_set=rule_set
    )
    rule_set.version += 1
    rule_set.save()
    with pytest.raises(ValidationError, match="new dry run"):
        engine.apply_dry_run(dry, user=None)


def test_a_dry_run_of_a_bad_configuration_is_refused(db, english):
    with pytest.raises(ValidationError) as caught:
        engine.dry_run({"criteria": [{"kind": "text", "mode": "score", "weight": 5}]})
    assert "hard filter" in str(caught.value)


def test_the_dry_run_job_fills_the_prepared_row(catalog, django_capture_on_commit_callbacks):  # noqa: F811
    rule_set = MatchRuleSetFactory(threshold=40, max_per_project=2)
    prepared = DryRun.objects.create(
        rule_set=rule_set,
        configuration={"criteria": rule_set.criteria, "threshold": 40, "max_per_project": 2},
    )
    with django_capture_on_commit_callbacks(execute=True):
        row = tasks.dry_run_job.enqueue(dry_run_id=prepared.pk)
    row.refresh_from_db()
    assert row.status == "succeeded", row.error
    prepared.refresh_from_db()
    assert prepared.summary["added"] == 6 and len(prepared.added) == 6
    assert DryRun.objects.count() == 1
