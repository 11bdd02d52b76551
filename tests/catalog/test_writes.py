"""Batched row writes: what they store reads back exactly as the ORM would have stored it."""

import datetime
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from ibcloud.catalog import ingest
from ibcloud.catalog.models import Investor, Project, Tag
from ibcloud.catalog.writes import (
    dump_json,
    insert_objects,
    insert_rows,
    load_objects,
    reserve_ids,
    update_rows,
)
from tests.catalog.factories import raw_item
from tests.factories import CrawlSourceFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2025, 3, 1, 9, 30, tzinfo=datetime.UTC)
STAMP = {"kind": "source", "source": 1, "source_name": "36氪", "raw_item": 7}


def project(**values) -> Project:
    fields = {
        "name": "云图智能",
        "full_name": "深圳市云图智能科技有限公司",
        "province_code": "440000",
        "founded_on": datetime.date(2019, 5, 1),
        "published_at": NOW,
        "share_offered": Decimal("12.50"),
        "amount_low": 10_000_000,
        "provenance": {"name": STAMP, "full_name": STAMP, "summary": {"kind": "manual"}},
        "search_text": "云图 智能",
        **values,
    }
    return Project(**fields)


def comparable(entity) -> dict:
    return {
        f.attname: getattr(entity, f.attname)
        for f in type(entity)._meta.concrete_fields
        if f.attname not in {"id", "created_at", "updated_at"}
    }


def test_inserted_records_read_back_as_the_orm_stores_them():
    by_orm = project()
    by_orm.save()
    mine = project()

    with transaction.atomic():
        insert_objects(Project, [mine], NOW)

    assert mine.pk is not None and mine.pk != by_orm.pk
    stored = Project.objects.get(pk=mine.pk)
    assert comparable(stored) == comparable(Project.objects.get(pk=by_orm.pk))
    assert stored.created_at == stored.updated_at == NOW


def test_updated_columns_and_loaded_records_match_the_orm():
    entity = project()
    entity.save()
    entity.provenance["website"] = STAMP
    entity.website = "https://yuntu.example"
    entity.published_at = NOW + datetime.timedelta(days=1)

    update_rows(Project, [entity], ["provenance", "website", "published_at"])

    (loaded,) = load_objects(Project, [entity.pk])
    assert comparable(loaded) == comparable(Project.objects.get(pk=entity.pk))
    assert loaded.provenance["website"] == STAMP
    assert loaded.published_at == NOW + datetime.timedelta(days=1)


def test_new_ids_never_reuse_a_deleted_records_id():
    first, second = project(name="甲"), project(name="乙", full_name="")
    first.save()
    second.save()
    deleted = second.pk
    second.delete()

    with transaction.atomic():
        ids = reserve_ids(Project, 2)

    assert min(ids) > deleted
    assert len(set(ids)) == 2


def test_duplicate_links_are_skipped_when_asked():
    entity = project()
    entity.save()
    tag = Tag.objects.create(name="专精特新")
    through = Project.tags.through

    insert_rows(through, ("project_id", "tag_id"), [(entity.pk, tag.pk)], ignore_conflicts=True)
    insert_rows(through, ("project_id", "tag_id"), [(entity.pk, tag.pk)], ignore_conflicts=True)

    assert list(entity.tags.all()) == [tag]


def test_shared_members_are_written_once_and_read_back_whole():
    text = dump_json({"name": STAMP, "full_name": STAMP, "tags": ["a"], "n": 1})

    investor = Investor.objects.create(name="鼎晖投资", provenance={})
    Investor.objects.filter(pk=investor.pk).update(aliases=["鼎晖"])
    update_rows(Investor, [_with(investor, provenance=text)], ["provenance"])

    investor.refresh_from_db()
    assert investor.provenance == {"name": STAMP, "full_name": STAMP, "tags": ["a"], "n": 1}
    assert investor.aliases == ["鼎晖"]


def _with(entity, **values):
    for name, value in values.items():
        setattr(entity, name, value)
    return entity


def test_prepared_records_cross_processes_with_their_normalized_values():
    import pickle

    ingest.set_rules(None)
    prepared = ingest.prepare(
        (1, "project", {"name": "云图智能", "amount": "数千万元", "extra": "x"}, NOW.isoformat())
    )

    copy = pickle.loads(pickle.dumps(prepared))  # noqa: S301 - our own object, as the pool does

    assert copy.normalized == {}  # the JSON text stands in for it
    assert copy.normalized_values() == prepared.normalized
    assert copy.columns == prepared.columns
    assert copy.stored_json() == prepared.stored_json()


def test_ingestion_rows_store_the_normalized_values_and_ignored_keys():
    from ibcloud.catalog import services
    from ibcloud.catalog.models import Ingestion

    source = CrawlSourceFactory()
    item = raw_item(source, {"name": "云图智能", "amount": "数千万元", "colour": "红"})

    services.ingest_pending()

    ingestion = Ingestion.objects.get(raw_item=item)
    assert ingestion.normalized["amount"]["value"]["low"] == 10_000_000
    assert ingestion.normalized["amount"]["raw"] == "数千万元"
    assert ingestion.normalized["_ignored"] == {"value": ["colour"]}
    assert ingestion.processed_at <= timezone.now()


def test_json_checks_are_skipped_only_while_writing_own_json():
    from django.db import IntegrityError, connection

    from ibcloud.catalog.models import Ingestion

    if connection.vendor != "sqlite":
        pytest.skip("JSON_VALID checks are SQLite's")
    source = CrawlSourceFactory()
    item = raw_item(source, {"name": "云图智能"})
    insert_rows(
        Ingestion,
        ingest.INGESTION_COLUMNS[:3]
        + ("normalized", "processed_at", "content_hash", "raw_item_id"),
        [("created", "", "", {"name": {"value": "云图智能"}}, NOW, "h", item.pk)],
    )
    assert Ingestion.objects.get().normalized == {"name": {"value": "云图智能"}}
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA ignore_check_constraints")
        assert cursor.fetchone()[0] == 0  # back on after the write
        with pytest.raises(IntegrityError), transaction.atomic():
            cursor.execute("UPDATE catalog_ingestion SET normalized = 'not json'")
