"""The ingest pipeline: raw items become one project per company, with provenance per field."""

import datetime

import pytest
from django.utils import timezone

from ibcloud.catalog import ingest, services
from ibcloud.catalog.models import FundingRound, Ingestion, Investor, Project
from ibcloud.catalog.normalization.names import credit_code_check_char
from ibcloud.core.parameters import set_parameter
from ibcloud.crawler.models import RawItem
from tests.catalog.factories import catalog_dump, raw_item
from tests.factories import CrawlSourceFactory

pytestmark = pytest.mark.django_db

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def at(day: int, hour: int = 9) -> datetime.datetime:
    return datetime.datetime(2025, 3, day, hour, tzinfo=SHANGHAI)


@pytest.fixture
def sources():
    return (
        CrawlSourceFactory(name="36氪", trust=80),
        CrawlSourceFactory(name="投资界", trust=60),
        CrawlSourceFactory(name="地方股权交易中心", trust=40),
    )


def three_listings(sources):
    """The same company as three sources list it, with name variants and different fields."""
    kr, pedaily, exchange = sources
    return [
        raw_item(
            kr,
            {
                "name": "云图智能",
                "full_name": "深圳市云图智能科技有限公司",
                "location": "广东·深圳",
                "round": "A轮",
                "amount": "数千万元",
                "summary": "<p>专注于计算机视觉，核心产品为视觉质检一体机。</p>",
                "published": "2025-03-01 10:00",
            },
            url="https://36kr.example/p/1",
            fetched_at=at(2),
        ),
        raw_item(
            pedaily,
            {
                "name": "云图智能科技（深圳）有限公司",
                "industry": "人工智能",
                "round": "A+轮",
                "amount": "5000万元",
                "founded": "2018年5月",
                "website": "https://www.yuntu.example",
                "tags": ["专精特新"],
                "published": "2025-03-03 10:00",
            },
            url="https://pedaily.example/c/9",
            fetched_at=at(4),
        ),
        raw_item(
            exchange,
            {
                "name": "云图智能",
                "location": "深圳",
                "amount": "1亿元",
                "summary": "视觉质检。",
                "tags": ["高新技术企业"],
                "published": "2025-03-05 10:00",
            },
            url="https://otc.example/x/3",
            fetched_at=at(6),
        ),
    ]


def project_groups():
    """The raw item ids of each project, sorted."""
    return sorted(
        sorted(Ingestion.objects.filter(project_id=pid).values_list("raw_item_id", flat=True))
        for pid in Project.objects.values_list("id", flat=True)
    )


def groups_in_one_batch_and_one_by_one(items):
    """:func:`project_groups` after ingesting ``items`` in one batch, then one by one."""
    services.ingest_pending()
    in_one_batch = project_groups()
    Project.objects.all().delete()
    Ingestion.objects.all().delete()
    RawItem.objects.update(processed_at=None)
    for item in items:
        services.ingest_raw_items([item])
    return in_one_batch, project_groups()


# --- acceptance -------------------------------------------------------------------------------


def test_same_company_from_three_sources_becomes_one_project_with_provenance(sources):
    items = three_listings(sources)

    report = services.ingest_pending()

    assert (report.created, report.merged, report.quarantined) == (1, 2, 0)
    project = Project.objects.get()
    kr, pedaily, exchange = sources
    # The most trusted source (36氪, trust 80) wins the fields it has...
    assert project.name == "云图智能"
    assert project.full_name == "深圳市云图智能科技有限公司"
    assert project.amount_low == 10_000_000 and project.amount_high == 100_000_000
    assert project.amount_text == "数千万元"
    assert project.round == "a"
    assert project.summary == "专注于计算机视觉，核心产品为视觉质检一体机。"
    assert (project.province_code, project.city_code) == ("440000", "440300")
    # ...and the others fill what it lacks.
    assert project.website == "https://www.yuntu.example"
    assert project.founded_on == datetime.date(2018, 5, 1)
    assert project.industry_section == "I"
    assert set(project.tags.values_list("name", flat=True)) == {"专精特新", "高新技术企业"}
    provenance = project.provenance
    for field, source, item in [
        ("amount", kr, items[0]),
        ("name", kr, items[0]),
        ("website", pedaily, items[1]),
        ("founded_on", pedaily, items[1]),
        ("industry", pedaily, items[1]),
        ("place", kr, items[0]),
    ]:
        assert provenance[field]["kind"] == "source"
        assert provenance[field]["source"] == source.pk
        assert provenance[field]["source_name"] == source.name
        assert provenance[field]["url"] == item.url
        assert provenance[field]["raw_item"] == item.pk
        fetched_at = datetime.datetime.fromisoformat(provenance[field]["fetched_at"])
        assert fetched_at == item.fetched_at
    assert project.first_seen_at == at(2) and project.last_seen_at == at(6)
    assert set(Ingestion.objects.values_list("project", flat=True)) == {project.pk}
    assert not RawItem.objects.filter(processed_at__isnull=True).exists()


def test_the_result_does_not_depend_on_the_order_raw_items_arrive(sources):
    items = three_listings(sources)
    services.ingest_pending()
    together = catalog_dump(ids=False)
    Project.objects.all().delete()
    Ingestion.objects.all().delete()
    RawItem.objects.update(processed_at=None)

    for item in reversed(items):  # one run per item, newest first
        services.ingest_raw_items([item])

    assert catalog_dump(ids=False) == together


def test_a_listing_naming_two_records_joins_the_older_whatever_the_batches(sources):
    """Two records hold the listing's two names (registered and short): it joins the older one,
    whether the three items are processed in one batch or one by one."""
    kr, _pedaily, exchange = sources
    full_name = "睿博智能驾驶科技（青岛）有限公司"
    registered = raw_item(kr, {"full_name": full_name, "location": "山东青岛"})
    short = raw_item(exchange, {"name": "睿博智驾", "city": "青岛"})
    both = raw_item(kr, {"name": "睿博智驾", "full_name": full_name, "location": "山东·青岛"})

    in_one_batch, one_by_one = groups_in_one_batch_and_one_by_one([registered, short, both])

    assert in_one_batch == [[registered.pk, both.pk], [short.pk]]
    assert one_by_one == in_one_batch


def test_a_record_is_matched_by_the_names_it_holds_whatever_the_batches(sources):
    """A name that lost to a more trusted source's no longer finds the record, whether the
    listings come in one batch or one by one (a batch used to remember the lost name)."""
    kr, pedaily, exchange = sources
    full_name = "深圳市云图智能科技有限公司"
    lost = raw_item(exchange, {"name": "云图视觉", "full_name": full_name, "location": "深圳"})
    winner = raw_item(kr, {"name": "云图智能", "full_name": full_name, "location": "广东·深圳"})
    later = raw_item(pedaily, {"name": "云图视觉", "location": "深圳"})

    in_one_batch, one_by_one = groups_in_one_batch_and_one_by_one([lost, winner, later])

    assert in_one_batch == [[lost.pk, winner.pk], [later.pk]]
    assert one_by_one == in_one_batch


def test_similar_names_of_different_companies_stay_apart(sources):
    kr, pedaily, _ = sources
    raw_item(kr, {"name": "云图智能", "location": "深圳", "round": "A轮"})
    raw_item(pedaily, {"name": "云途智能", "location": "杭州", "round": "B轮"})
    raw_item(kr, {"name": "星河智能", "location": "深圳"})
    raw_item(pedaily, {"name": "星河智联", "location": "深圳"})
    # the same short name in another city is another company
    raw_item(pedaily, {"name": "云图智能", "location": "北京", "round": "天使轮"})

    report = services.ingest_pending()

    assert report.created == 5
    assert sorted(Project.objects.values_list("name", "city")) == [
        ("云图智能", "北京市"),
        ("云图智能", "深圳市"),
        ("云途智能", "杭州市"),
        ("星河智联", "深圳市"),
        ("星河智能", "深圳市"),
    ]


def test_investors_with_one_trade_name_in_two_cities_stay_apart():
    # Directories seldom say where an investor sits; the registered name does.
    directory = CrawlSourceFactory(item_type="investor", trust=60)
    news = CrawlSourceFactory(item_type="investor", trust=40)
    raw_item(directory, {"name": "石新资本", "full_name": "天津石新创业投资管理有限公司"})
    raw_item(directory, {"name": "石新投资", "full_name": "上海石新创业投资管理有限公司"})
    raw_item(news, {"name": "上海石新创业投资管理有限公司", "investor_type": "VC"})

    report = services.ingest_pending()

    assert (report.created, report.merged) == (2, 1)
    by_city = {i.city: i for i in Investor.objects.all()}
    assert set(by_city) == {"天津市", "上海市"}
    assert by_city["上海市"].investor_type == "vc"
    assert by_city["天津市"].investor_type != "vc"


def test_credit_code_joins_records_whatever_their_names(sources):
    kr, pedaily, _ = sources
    code = "91440300MA5FXXXX0" + credit_code_check_char("91440300MA5FXXXX0")
    raw_item(kr, {"name": "云图", "credit_code": code, "location": "深圳"})
    raw_item(pedaily, {"name": "YunTu AI", "credit_code": code})

    services.ingest_pending()

    project = Project.objects.get()
    ingestion = Ingestion.objects.get(outcome="merged")
    assert ingestion.project == project and "credit code" in ingestion.reason
    assert project.credit_code == code


def test_exact_duplicate_from_another_source_is_linked_and_counted(sources):
    kr, pedaily, _ = sources
    data = {"name": "磐石机器人", "location": "苏州", "round": "B轮"}
    first = raw_item(pedaily, data)
    second = raw_item(kr, data)

    report = services.ingest_pending()

    assert (report.created, report.duplicate) == (1, 1)
    project = Project.objects.get()
    duplicate = Ingestion.objects.get(raw_item=second)
    assert duplicate.outcome == "duplicate" and duplicate.project == project
    assert f"#{first.pk}" in duplicate.reason
    # the copy from the more trusted source is the provenance of its values
    assert project.provenance["round"]["source"] == kr.pk


def test_quarantine_keeps_each_bad_record_with_its_reason(sources):
    kr = sources[0]
    empty = raw_item(kr, {"name": "  ", "summary": "<p></p>"})
    spam = raw_item(kr, {"name": "博彩娱乐城", "summary": "注册送金"})
    nameless = raw_item(kr, {"amount": "5000万元", "round": "A轮"})
    good = raw_item(kr, {"name": "远航储能", "location": "合肥"})

    report = services.ingest_pending()

    assert report.quarantined == 3 and report.created == 1
    assert report.reasons == {"empty": 1, "spam": 1, "missing_name": 1}
    by_item = {i.raw_item_id: i for i in Ingestion.objects.all()}
    assert by_item[empty.pk].reason_code == "empty"
    assert by_item[spam.pk].reason_code == "spam" and "博彩" in by_item[spam.pk].reason
    assert by_item[nameless.pk].reason_code == "missing_name"
    assert by_item[nameless.pk].normalized["amount"]["value"]["low"] == 50_000_000
    assert by_item[good.pk].outcome == "created"
    # nothing is lost: every raw item has exactly one ingestion and is marked processed
    assert Ingestion.objects.count() == RawItem.objects.count() == 4
    assert not RawItem.objects.filter(processed_at__isnull=True).exists()


def test_reprocessing_after_a_rule_fix_takes_the_record_in(sources):
    kr = sources[0]
    item = raw_item(kr, {"name": "彩票代购科技", "location": "上海"})
    services.ingest_pending()
    ingestion = Ingestion.objects.get(raw_item=item)
    assert ingestion.outcome == "quarantined"

    set_parameter("catalog.spam_words", "博彩,赌博")  # the word was a false positive
    report = services.reprocess_quarantined([ingestion])

    assert report.created == 1
    ingestion.refresh_from_db()
    assert ingestion.outcome == "created" and ingestion.reason_code == ""
    assert ingestion.project.name == "彩票代购科技"
    assert Ingestion.objects.count() == 1


def test_a_record_reprocessed_into_quarantine_leaves_its_project(sources):
    kr, pedaily, _ = sources
    raw_item(kr, {"name": "九章量子", "location": "合肥", "summary": "量子计算"})
    later = raw_item(pedaily, {"name": "九章量子", "location": "合肥", "summary": "兼职日结"})
    services.ingest_pending()
    assert Project.objects.get().summary == "量子计算"  # trust 80 wins over 60
    set_parameter("catalog.spam_words", "兼职日结")

    services.ingest_raw_items([later], reprocess=True)

    assert Ingestion.objects.get(raw_item=later).outcome == "quarantined"
    project = Project.objects.get()
    assert project.summary == "量子计算"
    assert later.pk not in {p.get("raw_item") for p in project.provenance.values()}


def test_running_again_changes_nothing(sources):
    three_listings(sources)
    raw_item(sources[1], {"name": "磐石机器人", "location": "苏州", "investors": ["红杉中国"]})
    raw_item(sources[2], {"name": "", "summary": ""})
    services.ingest_pending()
    before = catalog_dump()

    assert services.ingest_pending().processed == 0
    report = services.ingest_raw_items(RawItem.objects.all(), reprocess=True)

    assert report.processed == 5
    assert catalog_dump() == before


def test_manual_edit_wins_over_crawled_values(sources, django_user_model):
    kr, pedaily, _ = sources
    raw_item(pedaily, {"name": "青禾生物", "location": "杭州", "amount": "3000万元"})
    services.ingest_pending()
    project = Project.objects.get()
    project.amount_low = project.amount_high = 40_000_000
    project.save()
    user = django_user_model.objects.create(username="banker")
    services.save_manual_edit(project, ["amount_low", "amount_high"], user)

    raw_item(kr, {"name": "青禾生物", "location": "杭州", "amount": "1亿元", "round": "B轮"})
    services.ingest_pending()

    project.refresh_from_db()
    assert project.amount_low == 40_000_000
    assert project.provenance["amount"]["kind"] == "manual"
    assert project.provenance["amount"]["username"] == "banker"
    assert project.round == "b"  # other fields still follow the sources

    services.clear_manual_edit(project, ["amount"], user)
    project.refresh_from_db()
    assert project.amount_low == 100_000_000
    assert project.provenance["amount"]["source"] == kr.pk


def test_new_records_belong_to_their_sources_owner(sources, django_user_model):
    kr = sources[0]
    owner = django_user_model.objects.create(username="owner")
    kr.owner = owner
    kr.save()
    raw_item(kr, {"name": "曜石半导体", "location": "无锡"})

    services.ingest_pending()

    assert Project.objects.get().owner == owner


def test_funding_rounds_link_investors_known_to_the_catalog(sources):
    kr, pedaily, _ = sources
    investor_source = CrawlSourceFactory(item_type="investor", trust=70)
    raw_item(
        investor_source, {"name": "红杉中国", "full_name": "红杉资本股权投资管理（天津）有限公司"}
    )
    services.ingest_pending()
    raw_item(
        kr,
        {
            "name": "光年智驾",
            "location": "上海",
            "round": "B轮",
            "amount": "2亿元",
            "investors": ["红杉中国", "某不知名基金"],
            "published": "2025-03-01",
        },
    )

    services.ingest_pending()
    services.refresh_revealed_preferences()

    funding = FundingRound.objects.get()
    investor = Investor.objects.get()
    assert funding.round == "b" and funding.project.name == "光年智驾"
    assert funding.investor_names == ["某不知名基金", "红杉中国"]
    assert list(funding.investors.all()) == [investor]
    investor.refresh_from_db()
    assert investor.revealed_preferences["deal_count"] == 1
    assert investor.revealed_preferences["rounds"] == {"b": 1}
    assert investor.revealed_preferences["regions"] == {"310000": 1}
    assert investor.revealed_preferences["amount_median"] == 200_000_000
    assert investor.last_active_on == datetime.date(2025, 3, 1)


def test_investor_aliases_collect_the_other_names(sources):
    source_a = CrawlSourceFactory(item_type="investor", trust=70)
    source_b = CrawlSourceFactory(item_type="investor", trust=50)
    raw_item(source_a, {"name": "鼎晖投资", "full_name": "天津鼎晖股权投资管理有限公司"})
    raw_item(source_b, {"name": "鼎晖", "full_name": "鼎晖股权投资管理（天津）有限公司"})

    services.ingest_pending()

    investor = Investor.objects.get()
    assert investor.name == "鼎晖投资"
    assert investor.aliases == ["鼎晖"]


def test_the_process_pool_gives_the_same_catalog(sources, monkeypatch):
    three_listings(sources)
    raw_item(sources[1], {"name": "星河智联", "location": "深圳"})
    raw_item(sources[0], {"name": "", "tags": []})
    # a round naming its investors: read back from the workers' JSON text
    raw_item(sources[0], {"name": "光年智驾", "round": "B轮", "investors": ["红杉中国"]})
    services.ingest_pending()
    in_process = catalog_dump(ids=False)
    assert in_process["rounds"]
    Project.objects.all().delete()
    Ingestion.objects.all().delete()
    RawItem.objects.update(processed_at=None)
    monkeypatch.setattr(ingest, "POOL_THRESHOLD", 1)

    report = ingest.run_batches(ingest.pending_pages(batch_size=2), total=6, workers=2)

    assert report.processed == 6
    assert catalog_dump(ids=False) == in_process


def test_processed_at_is_set_even_for_quarantined_items(sources):
    item = raw_item(sources[0], {"title": ["not", {"a": "name"}]})

    services.ingest_pending()

    item.refresh_from_db()
    assert item.processed_at is not None
    assert item.processed_at <= timezone.now()
    ingestion = Ingestion.objects.get(raw_item=item)
    assert (ingestion.outcome, ingestion.reason_code) == ("quarantined", "broken")
    assert "title" in ingestion.reason


def test_first_ingest_with_enough_projects_queues_one_topic_clustering(monkeypatch):
    """A new installation sees its themes without waiting for the weekly clustering run."""
    from ibcloud.catalog import tasks
    from ibcloud.catalog.dashboard_tasks import run_clustering_now
    from ibcloud.core.models import Job
    from tests.catalog.factories import ProjectFactory

    monkeypatch.setattr(tasks, "FIRST_CLUSTERING_MIN_PROJECTS", 3)
    ProjectFactory.create_batch(2)
    assert tasks.start_first_clustering() is None
    ProjectFactory()
    first = tasks.start_first_clustering()
    assert first == Job.objects.get(name=run_clustering_now.job_name).pk
    assert tasks.start_first_clustering() is None  # queued once, not on every ingest


def test_ingested_records_are_found_by_keyword_search(sources):
    from django.db import connection

    from ibcloud.catalog.search import apply_keyword_search

    three_listings(sources)
    raw_item(sources[1], {"name": "星河智联", "location": "深圳", "summary": "储能电池管理"})
    services.ingest_pending()
    raw_item(sources[0], {"name": "星河智联", "location": "深圳", "tags": ["专精特新"]})
    services.ingest_pending()  # a merge that changes the record's search text

    def found(q):
        return set(apply_keyword_search(Project.objects.all(), q).values_list("name", flat=True))

    assert found("视觉质检") == {"云图智能"}
    assert found("储能") == {"星河智联"}
    assert found("专精特新") == {"云图智能", "星河智联"}
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:  # the index holds exactly the rows' texts
            cursor.execute(
                "INSERT INTO catalog_project_fts(catalog_project_fts, rank)"
                " VALUES ('integrity-check', 1)"
            )


def test_a_large_run_stores_without_the_garbage_collector_and_restores_it(sources, monkeypatch):
    import gc

    three_listings(sources)
    monkeypatch.setattr(ingest, "POOL_THRESHOLD", 1)  # this run counts as large
    during = []
    store = ingest.Run.store

    def spy(self, *args, **kwargs):
        during.append(gc.isenabled())
        return store(self, *args, **kwargs)

    monkeypatch.setattr(ingest.Run, "store", spy)
    assert gc.isenabled()

    report = ingest.run_batches(ingest.pending_pages(), total=3, workers=1)

    assert report.processed == 3
    assert during == [False]
    assert gc.isenabled()
