"""Incremental matching: edited projects and investors are matched again, without a full run."""

from ibcloud.catalog import services as catalog_services
from ibcloud.catalog.models import Investor, Project
from ibcloud.matching import engine, tasks
from ibcloud.matching.models import Match
from tests.catalog.factories import FundingRoundFactory, InvestorFactory, ProjectFactory
from tests.matching.factories import MatchRuleSetFactory
from tests.matching.test_engine import catalog  # noqa: F401 - fixture


def test_a_new_project_is_matched_alone(catalog):  # noqa: F811
    rule_set = MatchRuleSetFactory(threshold=40, max_per_project=2)
    engine.run_rule_set(rule_set)
    project = ProjectFactory(industry="35", industry_section="C")
    report = engine.match_projects([project.pk], [rule_set])
    assert report.projects == 1 and report.added == 2
    assert Match.objects.filter(project=project, status="pending").count() == 2


def test_a_project_edit_moves_its_matches(catalog):  # noqa: F811
    projects, investors = catalog
    rule_set = MatchRuleSetFactory(threshold=40, max_per_project=2)
    engine.run_rule_set(rule_set)
    Project.objects.filter(pk=projects[0].pk).update(industry="65", industry_section="I")
    report = engine.match_projects([projects[0].pk], [rule_set])
    # investor 3 prefers software too and stays; the medical-devices-only ones leave
    assert (report.withdrawn, report.kept, report.added) == (1, 1, 1)
    mine = Match.objects.filter(project=projects[0], status="pending")
    assert {m.investor_id for m in mine} <= {investors[3].pk, investors[4].pk}
    # the same as a full run would give
    full = engine.dry_run(
        {"criteria": rule_set.criteria, "threshold": 40, "max_per_project": 2}, rule_set=rule_set
    )
    assert full.summary["added"] == full.summary["removed"] == 0


def test_an_investor_change_reaches_the_projects_in_its_blocks(catalog):  # noqa: F811
    projects, investors = catalog
    rule_set = MatchRuleSetFactory(threshold=40, max_per_project=2)
    engine.run_rule_set(rule_set)
    newcomer = InvestorFactory(
        preferred_industries=["35"], preferred_rounds=["a"], nationwide=True,
        revealed_preferences={"deal_count": 4, "industries": {"35": 4}, "rounds": {"a": 4},
                              "regions": {"440000": 4}, "amount_median": 50_000_000},
    )  # fmt: skip
    engine.match_investors([newcomer.pk], [rule_set])
    assert Match.objects.filter(investor=newcomer, status="pending").count() == 3
    # and leaves them again when its preferences change
    Investor.objects.filter(pk=newcomer.pk).update(preferred_industries=["65"])
    report = engine.match_investors([newcomer.pk], [rule_set])
    assert report.withdrawn >= 3
    assert not Match.objects.filter(investor=newcomer, status="pending").exists()
    dry = engine.dry_run(
        {"criteria": rule_set.criteria, "threshold": 40, "max_per_project": 2}, rule_set=rule_set
    )
    assert dry.summary["added"] == dry.summary["removed"] == 0


def test_a_manual_edit_starts_the_incremental_job(catalog, django_capture_on_commit_callbacks):  # noqa: F811
    projects, _investors = catalog
    rule_set = MatchRuleSetFactory(threshold=40, max_per_project=2)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.incremental_match_job.enqueue()  # first run: a full match, sets the watermark
    assert Match.objects.filter(rule_set=rule_set).count() == 6
    Project.objects.filter(pk=projects[0].pk).update(industry="65", industry_section="I")
    project = Project.objects.get(pk=projects[0].pk)
    project.save()  # bumps updated_at, as an edit does
    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.save_manual_edit(project, ["industry"], user=None)
    assert Match.objects.filter(project=project, status="withdrawn").count() == 1
    assert Match.objects.filter(project=project, status="pending").count() == 2


def test_revealed_preferences_refresh_bumps_updated_at(db):
    investor = InvestorFactory()
    FundingRoundFactory(project=ProjectFactory(), round="a").investors.add(investor)
    before = Investor.objects.get(pk=investor.pk).updated_at
    assert catalog_services.refresh_revealed_preferences() == 1
    after = Investor.objects.get(pk=investor.pk)
    assert after.revealed_preferences["deal_count"] == 1
    assert after.updated_at > before


def test_engine_jobs_do_not_overlap_on_a_rule_set(catalog, django_capture_on_commit_callbacks):  # noqa: F811
    rule_set = MatchRuleSetFactory(threshold=40, max_per_project=2)
    assert tasks.acquire(f"lock:rule_set:{rule_set.pk}")
    with django_capture_on_commit_callbacks(execute=True):
        row = tasks.run_rule_set_job.enqueue(rule_set_id=rule_set.pk)
    row.refresh_from_db()
    assert row.result == {"skipped": "locked"}
    tasks.release(f"lock:rule_set:{rule_set.pk}")
    with django_capture_on_commit_callbacks(execute=True):
        row = tasks.run_rule_set_job.enqueue(rule_set_id=rule_set.pk)
    row.refresh_from_db()
    assert row.result["added"] == 6
