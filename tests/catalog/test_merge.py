"""The conflict policy, manual merge and split (audited), and ingest after a crawl ends."""

import datetime

import pytest

from ibcloud.audit.models import AuditEntry
from ibcloud.catalog import merge, services
from ibcloud.catalog.models import Ingestion, Project
from ibcloud.core.models import Job
from ibcloud.crawler import services as crawler_services
from ibcloud.crawler.models import CrawlJob
from tests.catalog.factories import catalog_dump, raw_item
from tests.factories import CrawlJobFactory, CrawlSourceFactory, UserFactory

T0 = datetime.datetime(2025, 3, 1, tzinfo=datetime.UTC)


def provenance(raw_item, trust, days=0, published=None):
    return merge.source_provenance(
        raw_item, 1, "s", trust, "u", T0 + datetime.timedelta(days=days), published
    )


# --- the policy (pure) ----------------------------------------------------------------------


def test_more_trusted_source_wins_then_newest_then_lowest_raw_item():
    assert merge.wins(provenance(2, 80), provenance(1, 50), True)
    assert not merge.wins(provenance(2, 50), provenance(1, 80, days=9), True)
    assert merge.wins(provenance(2, 50, days=2), provenance(1, 50, days=1), True)
    published_later = provenance(1, 50, published=T0 + datetime.timedelta(days=30))
    assert not merge.wins(provenance(2, 50, days=5), published_later, True)
    assert merge.wins(provenance(1, 50), provenance(2, 50), True)  # all equal: lower id


def test_manual_values_and_values_of_unknown_origin_are_kept():
    manual = merge.manual_provenance(None)
    assert not merge.wins(provenance(1, 100), manual, True)
    assert not merge.wins(provenance(1, 100), None, True)
    assert merge.wins(provenance(1, 0), None, False)


def test_empty_values_never_overwrite():
    project = Project(name="云图智能", amount_low=1, amount_high=2, provenance={})
    project.provenance["amount"] = provenance(1, 10)
    normalized = {
        "amount": {"value": {"low": None, "high": None, "disclosed": False}, "raw": "未披露"},
        "summary": {"value": "", "raw": "<p></p>"},
    }
    assert merge.apply_values(project, "project", normalized, provenance(2, 90)) == set()
    assert (project.amount_low, project.amount_high) == (1, 2)


def test_applying_in_any_order_gives_the_same_values():
    contributions = [
        ({"summary": {"value": "A"}, "round": {"value": "a"}}, provenance(1, 50, days=1)),
        ({"summary": {"value": "B"}}, provenance(2, 80)),
        ({"round": {"value": "b"}, "website": {"value": "https://x.cn"}}, provenance(3, 50)),
    ]
    results = []
    for order in (contributions, contributions[::-1], contributions[1:] + contributions[:1]):
        project = Project(name="x", provenance={})
        for normalized, prov in order:
            merge.apply_values(project, "project", normalized, prov)
        results.append((project.summary, project.round, project.website, project.provenance))
    assert results[0] == results[1] == results[2]
    assert results[0][:3] == ("B", "a", "https://x.cn")


# --- manual merge and split -------------------------------------------------------------------


@pytest.fixture
def banker(db):
    return UserFactory(username="banker")


@pytest.fixture
def two_projects(db):
    kr = CrawlSourceFactory(name="36氪", trust=80)
    local = CrawlSourceFactory(name="地方平台", trust=40)
    a = raw_item(kr, {"name": "云图智能", "location": "深圳", "round": "A轮", "tags": ["AI"]})
    b = raw_item(local, {"name": "YunTu Vision", "amount": "5000万元", "tags": ["视觉"]})
    services.ingest_pending()
    return Project.objects.get(name="云图智能"), Project.objects.get(name="YunTu Vision"), a, b


def test_merge_moves_raw_items_and_tags_recomputes_and_is_audited(two_projects, banker):
    target, other, a, b = two_projects
    other_id = other.pk

    merged = services.merge_projects(target, [other], banker)

    assert not Project.objects.filter(pk=other_id).exists()
    merged.refresh_from_db()
    assert merged.name == "云图智能"  # the more trusted source's name
    assert merged.amount_low == 50_000_000  # the other's amount fills the gap
    assert merged.provenance["amount"]["raw_item"] == b.pk
    assert set(merged.tags.values_list("name", flat=True)) == {"AI", "视觉"}
    assert set(Ingestion.objects.values_list("project", flat=True)) == {merged.pk}
    entry = AuditEntry.objects.get(event="project_merge")
    assert entry.actor == banker and entry.object_pk == str(merged.pk)
    assert entry.additional_data["merged"] == [other_id]
    assert entry.additional_data["before"]["amount_low"] is None
    assert entry.additional_data["after"]["amount_low"] == 50_000_000


def test_split_makes_a_new_project_that_ingest_does_not_merge_back(two_projects, banker):
    target, other, a, b = two_projects
    merged = services.merge_projects(target, [other], banker)

    new = services.split_project(merged, [Ingestion.objects.get(raw_item=b)], banker)

    merged.refresh_from_db()
    assert new.name == "YunTu Vision" and new.amount_low == 50_000_000
    assert merged.amount_low is None and "amount" not in merged.provenance
    assert set(merged.tags.values_list("name", flat=True)) == {"AI"}
    assert set(new.tags.values_list("name", flat=True)) == {"视觉"}
    assert AuditEntry.objects.filter(event="project_split", object_pk=str(merged.pk)).exists()
    before = catalog_dump()
    services.ingest_raw_items([a, b], reprocess=True)
    services.ingest_pending()
    assert catalog_dump() == before


def test_split_refuses_to_empty_the_record_or_take_other_records_items(two_projects, banker):
    from django.core.exceptions import ValidationError

    target, other, a, b = two_projects
    with pytest.raises(ValidationError):
        services.split_project(target, [Ingestion.objects.get(raw_item=a)], banker)
    with pytest.raises(ValidationError):
        services.split_project(target, [Ingestion.objects.get(raw_item=b)], banker)
    with pytest.raises(ValidationError):
        services.merge_projects(target, [target], banker)


def test_suggested_duplicates_are_the_records_dedup_would_match(db):
    kr = CrawlSourceFactory(trust=80)
    raw_item(kr, {"name": "云图智能", "location": "深圳"})
    raw_item(kr, {"name": "深圳市云图智能科技有限公司", "location": "北京"})
    raw_item(kr, {"name": "云途智能", "location": "深圳"})
    services.ingest_pending()
    shenzhen = Project.objects.get(name="云图智能")
    # a record without a region (e.g. added by hand) is near both 云图智能 records
    loose = Project.objects.create(name="云图智能科技", name_key="云图智能", provenance={})

    suggested = [p.pk for p, _reason in services.suggest_duplicates(loose)]

    assert shenzhen.pk in suggested
    assert Project.objects.get(name="云途智能").pk not in suggested


# --- after a crawl ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_finished_crawl_starts_the_ingest_of_its_raw_items():
    source = CrawlSourceFactory(trust=50)
    crawl_job = CrawlJobFactory(source=source, status="running")
    raw_item(source, {"name": "远航储能", "location": "合肥"})

    crawler_services.finish_crawl_job(crawl_job, CrawlJob.Status.SUCCEEDED, "done")

    assert Project.objects.filter(name="远航储能").exists()
    job = Job.objects.get(name="ibcloud.catalog.tasks.ingest_pending_job")
    assert job.status == "succeeded" and job.result["created"] == 1


@pytest.mark.django_db(transaction=True)
def test_the_safety_net_takes_in_raw_items_nobody_announced():
    from ibcloud.catalog.tasks import ingest_safety_net

    raw_item(CrawlSourceFactory(), {"name": "磐石机器人", "location": "苏州"})

    ingest_safety_net(None)

    assert Project.objects.filter(name="磐石机器人").exists()
