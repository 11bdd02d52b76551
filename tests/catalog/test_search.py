"""Keyword search: the query language gives exactly the expected rows, on SQLite and PostgreSQL."""

import pytest
from django.db import connection
from django.utils import timezone

from ibcloud.catalog import search
from ibcloud.catalog.models import Investor, Project
from ibcloud.catalog.search import (
    And,
    Not,
    Or,
    QuerySyntaxError,
    Term,
    apply_keyword_search,
    page_of,
    parse_query,
)
from ibcloud.catalog.segmentation import search_text
from ibcloud.core.scoping import restrict
from tests.catalog.factories import InvestorFactory, ProjectFactory
from tests.conftest import make_org

#: key → (short name, registered name, summary)
FIXTURE = {
    "yuntu": ("云图智能", "深圳市云图智能科技有限公司", "专注计算机视觉，产品为视觉质检一体机。"),
    "yuntu_med": ("云图医疗", "上海云图医疗器械有限公司", "研发体外诊断试剂与医疗器械。"),
    # 智能 and 云图 both, but never 云图 followed by 智能
    "zhineng_yuntu": ("智能云图", "", "遥感影像与地图服务。"),
    "xinghe": ("星河数据", "", "为零售企业提供云计算与智能调度服务。"),
    "lanhai": ("蓝海新能源", "", "新能源汽车动力电池研发与生产。"),
    "lvyuan": ("绿源能源", "", "光伏电站与储能系统集成。"),
    "deepblue": ("DeepBlue AI", "", "Machine learning platform for retail; AI 质检。"),
    "robot": ("灵巧机器人", "", "人形机器人与 machine vision 传感器。"),
    "chip": ("芯原微", "", "芯片设计与封装测试服务。"),
    "chip2": ("华芯半导体", "", "功率器件和碳化硅芯片。"),
    "med_ai": ("影像智医", "", "AI 医疗影像辅助诊断。"),
    "bio": ("合源生物", "", "合成生物与创新药研发。"),
    "agri": ("丰收农业", "", "智慧农业与冷链物流。"),
    "fin": ("鼎信金融科技", "", "供应链金融 SaaS 服务。"),
    # machine and learning, but not the phrase "machine learning"
    "learning": ("学而思考", "", "Learning machine 教育硬件。"),
    "space": ("星箭航天", "", "商业航天发射服务，专精特新小巨人。"),
    "drone": ("天翼无人机", "", "低空经济与无人机物流。"),
    "blank": ("空白公司", "", ""),
}
ALL = set(FIXTURE)


def make_project(name, full_name="", summary="", **kwargs):
    return ProjectFactory(
        name=name,
        full_name=full_name,
        summary=summary,
        search_text=search_text(name, full_name, summary),
        **kwargs,
    )


@pytest.fixture
def catalog(db):
    """The fixture projects by key."""
    return {key: make_project(*texts) for key, texts in FIXTURE.items()}


def keys(catalog, queryset):
    by_id = {project.pk: key for key, project in catalog.items()}
    return {by_id[pk] for pk in queryset.values_list("pk", flat=True)}


def found(catalog, q):
    return keys(catalog, apply_keyword_search(Project.objects.all(), q))


QUERIES = [
    # a word matches as a phrase of its tokens
    ("云图智能", {"yuntu"}),
    ('"云图智能"', {"yuntu"}),
    # two words: both anywhere
    ("云图 智能", {"yuntu", "zhineng_yuntu"}),
    ("云图", {"yuntu", "yuntu_med", "zhineng_yuntu"}),
    ("云图 AND 医疗", {"yuntu_med"}),
    ("云图 and 医疗", {"yuntu_med"}),
    ("云图 与 医疗", {"yuntu_med"}),
    ("云图 NOT 医疗", {"yuntu", "zhineng_yuntu"}),
    ("云图 -医疗", {"yuntu", "zhineng_yuntu"}),
    ("云图 非 医疗", {"yuntu", "zhineng_yuntu"}),
    ("芯片 OR 机器人", {"chip", "chip2", "robot"}),
    ("芯片 or 无人机", {"chip", "chip2", "drone"}),
    ("芯片 或 无人机", {"chip", "chip2", "drone"}),
    # parentheses; AND binds tighter than OR
    ("(芯片 OR 机器人) AND 设计", {"chip"}),
    ("芯片 OR 机器人 AND 传感器", {"chip", "chip2", "robot"}),
    ("芯片 OR 机器人 AND 设计", {"chip", "chip2"}),
    ("(云图 OR 芯片) NOT (医疗 OR 设计)", {"yuntu", "zhineng_yuntu", "chip2"}),
    # full-width parentheses and Chinese quotation marks from Chinese input methods
    ("（芯片 OR 机器人）设计", {"chip"}),
    ("“machine learning”", {"deepblue"}),
    # phrase against words that are not next to each other
    ("machine learning", {"deepblue", "learning"}),
    ('"machine learning"', {"deepblue"}),
    ('"learning machine"', {"learning"}),
    # mixed Chinese and English, case-insensitive
    ("ai 医疗", {"med_ai"}),
    ("AI", {"deepblue", "med_ai"}),
    ("SaaS 金融", {"fin"}),
    ("ai 质检", {"deepblue"}),
    # the query is cut differently from the text: 云图/智 against 云图/智能
    ("云图智", {"yuntu"}),
    # a name that runs on into a longer word: 上海/云图/医疗 against 上海/云图/医疗器械
    ("上海云图医疗", {"yuntu_med"}),
    # a single character finds the words starting with it
    ("芯", {"chip", "chip2"}),
    ("计算机", {"yuntu"}),
    # a word inside a longer word of the text
    ("器械", {"yuntu_med"}),
    ("能源", {"lanhai", "lvyuan"}),
    ("设计", {"chip"}),
    ("专精特新", {"space"}),
    ("小巨人", {"space"}),
    # Latin words match whole unless asked for a prefix
    ("mach", set()),
    ("mach*", {"deepblue", "robot", "learning"}),
    # NOT on its own, and under OR
    ("NOT 云图", ALL - {"yuntu", "yuntu_med", "zhineng_yuntu"}),
    ("-云图 -芯片", ALL - {"yuntu", "yuntu_med", "zhineng_yuntu", "chip", "chip2"}),
    ("云图 OR NOT 智能", ALL - {"xinghe"}),
    ("NOT NOT 云图", {"yuntu", "yuntu_med", "zhineng_yuntu"}),
    # words the databases would read as their own syntax are plain words here
    ("NEAR 云图", set()),
    ("云图 ^ : * 智能", {"yuntu", "zhineng_yuntu"}),
    ("{col}: 云图", set()),
    ("nothing-here", set()),
]


@pytest.mark.parametrize(("q", "expected"), QUERIES, ids=[q for q, _ in QUERIES])
def test_keyword_query_returns_exactly_the_expected_rows(catalog, q, expected):
    assert found(catalog, q) == expected


SYNTAX_ERRORS = [
    ('"云图', "quotation mark is not closed"),
    ("(云图 OR 芯片", 'parenthesis "(" is not closed'),
    ("云图)", 'parenthesis ")" has no opening'),
    ("AND 云图", "“AND” needs a word on each side"),
    ("云图 OR OR 芯片", "“OR” needs a word on each side"),
    ("云图 或", "ends with an operator"),
    ("NOT", "ends with an operator"),
    ("()", "Empty parentheses"),
    ("，。！", "no word to search for"),
    ("云" * 501, "too long"),
    (" ".join(f"词{i}" for i in range(40)), "Too many words"),
]


@pytest.mark.parametrize(("q", "message"), SYNTAX_ERRORS, ids=[q[:20] for q, _ in SYNTAX_ERRORS])
def test_malformed_query_raises_a_clear_error(q, message, english):
    with pytest.raises(QuerySyntaxError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_query(q)


def test_parse_tree():
    assert parse_query("云图智能 (芯片 OR ai) -医疗") == And(
        (
            Term("云图智能", ("云图", "智能"), prefix=True),
            Or((Term("芯片", ("芯片",)), Term("ai", ("ai",)))),
            Not(Term("医疗", ("医疗",))),
        )
    )


def test_blank_query_leaves_the_queryset_alone(catalog):
    queryset = Project.objects.all()
    assert apply_keyword_search(queryset, "") is queryset
    assert apply_keyword_search(queryset, "   ") is queryset


def test_search_composes_with_filters_ordering_and_slicing(catalog):
    queryset = apply_keyword_search(Project.objects.filter(industry="65"), "芯片 OR 能源")
    catalog["chip2"].industry = "39"
    catalog["chip2"].save()
    ordered = list(queryset.order_by("name").values_list("name", flat=True))
    assert ordered == sorted(["芯原微", "蓝海新能源", "绿源能源"])
    assert queryset.order_by("name")[1:2].get().name == ordered[1]
    assert queryset.count() == 3


def test_search_respects_the_data_scope(db):
    org = make_org(["catalog.view_project"])
    mine = make_project("云图智能", department=org.dept_a)
    make_project("云图医疗", department=org.dept_b)
    visible = apply_keyword_search(restrict(Project.objects.all(), org.dept_user), "云图")
    assert list(visible) == [mine]
    # the same, in the other order
    searched = apply_keyword_search(Project.objects.all(), "云图")
    assert list(restrict(searched, org.dept_user)) == [mine]


def test_search_works_as_a_subquery(catalog):
    matched = apply_keyword_search(Project.objects.all(), "云图 -医疗")
    outer = Project.objects.filter(pk__in=matched.values("pk")).exclude(name="智能云图")
    assert keys(catalog, outer) == {"yuntu"}


def test_index_follows_saves_bulk_writes_and_deletes(db):
    project = make_project("云图智能")
    assert found_names("云图") == {"云图智能"}

    project.name = "星河数据"
    project.search_text = search_text(project.name)
    project.save()
    assert found_names("云图") == set()
    assert found_names("星河") == {"星河数据"}

    created = Project.objects.bulk_create(
        [
            Project(name="芯原微", search_text=search_text("芯原微 芯片设计")),
            Project(name="华芯", search_text=search_text("华芯 功率芯片")),
        ]
    )
    assert found_names("芯片") == {"芯原微", "华芯"}

    created[1].search_text = search_text("华芯 储能")
    Project.objects.bulk_update([created[1]], ["search_text"])
    assert found_names("芯片") == {"芯原微"}
    assert found_names("储能") == {"华芯"}

    Project.objects.filter(name="芯原微").delete()
    assert found_names("芯片") == set()
    # an update that does not touch search_text leaves the index as it was
    Project.objects.filter(name="华芯").update(name="华芯科技")
    assert found_names("储能") == {"华芯科技"}


def found_names(q):
    return set(apply_keyword_search(Project.objects.all(), q).values_list("name", flat=True))


def test_investors_are_searched_by_their_own_text(db):
    investor = InvestorFactory(
        name="鼎盛资本", search_text=search_text("鼎盛资本", "专注医疗器械与生物医药早期投资")
    )
    InvestorFactory(name="远望资本", search_text=search_text("远望资本", "消费与企业服务"))
    make_project("鼎盛医疗", summary="医疗器械")
    result = apply_keyword_search(Investor.objects.all(), "器械 资本")
    assert list(result) == [investor]


def test_page_of_gives_one_ordered_page_and_the_count(catalog):
    page = page_of(Project.objects.all(), "云图 OR 芯片 OR 能源", per_page=3, order_by=["name"])
    names = sorted(
        FIXTURE[k][0]
        for k in ("yuntu", "yuntu_med", "zhineng_yuntu", "chip", "chip2", "lanhai", "lvyuan")
    )
    assert [p.name for p in page.rows] == names[:3]
    assert (page.count, page.count_is_exact, page.num_pages) == (7, True, 3)
    last = page_of(
        Project.objects.all(), "云图 OR 芯片 OR 能源", page=3, per_page=3, order_by=["name"]
    )
    assert [p.name for p in last.rows] == names[6:]


def test_page_of_caps_the_count(catalog):
    page = page_of(Project.objects.all(), "NOT 云图", per_page=5, count_limit=10)
    assert (page.count, page.count_is_exact) == (10, False)
    assert len(page.rows) == 5
    # the model's ordering by default: newest published first, then newest id
    ids = [p.pk for p in page.rows]
    assert ids == sorted(ids, reverse=True)


def test_capped_paginator_counts_no_further_than_its_limit(catalog):
    class Paginator(search.CappedPaginator):
        count_limit = 4

    paginator = Paginator(Project.objects.order_by("pk"), 2)
    assert paginator.count == 4
    assert paginator.count_is_exact is False
    assert paginator.num_pages == 2


@pytest.mark.skipif(connection.vendor != "sqlite", reason="triggers are SQLite's")
def test_repair_index_restores_triggers_a_table_rebuild_dropped(db):
    make_project("云图智能")
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER catalog_project_fts_insert")
    assert not search.index_is_complete(connection)
    search.repair_index()
    assert search.index_is_complete(connection)
    make_project("云图医疗")
    assert found_names("云图") == {"云图智能", "云图医疗"}


# --- Reading a search fast: the same rows as the plain query ----------------------------------

WORDS = ["芯片", "储能", "机器人", "医疗器械"]
ROUNDS = ["seed", "a", "b"]


@pytest.fixture
def many(db):
    """60 projects over two departments, four words, rounds and amounts (some undisclosed)."""
    org = make_org(["catalog.view_project"])
    projects = []
    for n in range(60):
        word = WORDS[n % 4] if n % 5 else "芯片"  # 芯片 in more rows than the others
        name = f"项目{n}"
        summary = f"{word}研发与生产。" + ("机器人应用。" if n % 7 == 0 else "")
        projects.append(
            Project(
                name=name,
                summary=summary,
                search_text=search_text(name, summary),
                round=ROUNDS[n % 3],
                amount_low=None if n % 11 == 0 else (n * 37 % 23) * 1_000_000,
                department=org.dept_a if n % 2 else org.dept_b,
            )
        )
    Project.objects.bulk_create(projects)
    return org


def plain_ids(queryset):
    """The ids the ordinary query gives, in its order (iteration never takes a fast path; a
    clone, so that ``queryset`` itself is not evaluated)."""
    return [project.pk for project in queryset.all()]


SEARCHES = [
    ("芯片", {}),
    ("芯片", {"round": "a"}),
    ("机器人 OR 储能", {"round__in": ["a", "b"]}),
    ("芯片 -机器人", {"amount_low__gte": 5_000_000}),
    ("医疗器械", {"round": "seed", "amount_low__isnull": False}),
    ("nothing-here", {}),
]


@pytest.mark.parametrize(("q", "filters"), SEARCHES)
@pytest.mark.parametrize("order", [(), ("id",), ("-amount_low", "-id"), ("amount_low", "id")])
def test_slices_and_counts_give_the_rows_of_the_plain_query(many, monkeypatch, q, filters, order):
    # every column sort takes the row-by-row path, whatever the number of matches
    monkeypatch.setattr(search, "PROBE_ABOVE", 0)
    for user in (many.admin, many.dept_user):
        queryset = apply_keyword_search(restrict(Project.objects.filter(**filters), user), q)
        if order:
            queryset = queryset.order_by(*order)
        expected = plain_ids(queryset)
        assert queryset.count() == len(expected)
        for start, stop in [(0, 5), (3, 9), (0, None), (len(expected), len(expected) + 5)]:
            assert [p.pk for p in queryset[start:stop]] == expected[start:stop]


def test_keyword_results_are_newest_in_the_catalog_first_unless_sorted(many):
    page = page_of(Project.objects.all(), "芯片", per_page=100)
    ids = [p.pk for p in page.rows]
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == page.count == 24
    by_name = page_of(Project.objects.all(), "芯片", per_page=100, order_by=["name"])
    assert [p.name for p in by_name.rows] == sorted(p.name for p in by_name.rows)


def test_count_is_exact_when_the_walk_reaches_the_last_match(many):
    counted = search.count_matches(apply_keyword_search(Project.objects.all(), "芯片"))
    assert counted == search.MatchCount(24, True)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL counts up to the limit")
def test_count_past_the_walk_is_an_estimate(many, monkeypatch):
    monkeypatch.setattr(search, "COUNT_WALK", 8)
    monkeypatch.setattr(search, "FEW_PASSED", 0)
    queryset = apply_keyword_search(Project.objects.all(), "芯片")
    counted = search.count_matches(queryset, limit=10)
    # 8 walked matches of 24, spread evenly over the ids: about 24, paged up to the limit
    assert counted.exact is False
    assert 15 <= counted.estimate <= 40
    assert counted.count == min(counted.estimate, 10)
    # the page after the count reads the walked ids, and walks on past them
    expected = plain_ids(apply_keyword_search(Project.objects.all(), "芯片"))
    assert [p.pk for p in queryset[5:12]] == expected[5:12]


def test_count_walks_on_when_few_walked_matches_pass(many, monkeypatch):
    monkeypatch.setattr(search, "COUNT_WALK", 8)
    queryset = apply_keyword_search(Project.objects.filter(round="seed"), "芯片")
    expected = plain_ids(queryset)
    assert search.count_matches(queryset) == search.MatchCount(len(expected), True)
    assert [p.pk for p in queryset[0:25]] == expected


def test_page_of_reports_the_estimate(many, monkeypatch):
    monkeypatch.setattr(search, "COUNT_WALK", 8)
    monkeypatch.setattr(search, "FEW_PASSED", 0)
    page = page_of(Project.objects.all(), "芯片", per_page=5, count_limit=10)
    if connection.vendor == "sqlite":
        assert (page.count_is_exact, page.count_estimate is not None) == (False, True)
    else:  # PostgreSQL counts up to the limit
        assert (page.count, page.count_is_exact, page.count_estimate) == (10, False, None)
    assert [p.pk for p in page.rows] == plain_ids(
        apply_keyword_search(Project.objects.all(), "芯片")
    )[:5]


def test_fast_path_keeps_the_data_scope(many):
    queryset = apply_keyword_search(restrict(Project.objects.all(), many.dept_user), "芯片")
    rows = list(queryset[0:100])
    assert rows and {p.department_id for p in rows} == {many.dept_a.pk}
    assert search.count_matches(queryset).count == len(rows)


def test_list_page_and_api_tell_an_estimated_count(many, client, api, monkeypatch):
    from django.urls import reverse

    monkeypatch.setattr(search, "COUNT_WALK", 8)
    monkeypatch.setattr(search, "FEW_PASSED", 0)
    expected = plain_ids(apply_keyword_search(Project.objects.all(), "芯片"))
    client.force_login(many.admin)
    response = client.get(reverse("catalog:project_list"), {"q": "芯片", "per_page": 10})
    paginator = response.context["table"].paginator
    rows = [row.record.pk for row in response.context["table"].page.object_list]
    assert rows == expected[:10]  # newest in the catalog first
    body = api.as_user(many.admin).get("/api/v1/catalog/projects/", {"q": "芯片"}).json()
    assert [row["id"] for row in body["results"]] == expected
    if connection.vendor == "sqlite":
        assert (paginator.count_is_exact, paginator.count_estimate is not None) == (False, True)
        assert body["count_is_exact"] is False
        assert body["count"] == paginator.count_estimate
    else:
        assert (paginator.count, paginator.count_is_exact) == (24, True)
        assert (body["count"], body["count_is_exact"]) == (24, True)


def test_a_searched_queryset_survives_pickling(many):
    import pickle

    queryset = apply_keyword_search(Project.objects.all(), "芯片")
    copy = pickle.loads(pickle.dumps(queryset))  # noqa: S301 - our own data
    assert [p.pk for p in copy] == plain_ids(queryset)
    assert isinstance(copy, search.KeywordSearchMixin)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the sorted read is SQLite's")
def test_a_sort_index_gone_since_it_was_read_falls_back_to_the_plain_query(many, monkeypatch):
    monkeypatch.setattr(search, "PROBE_ABOVE", 0)
    monkeypatch.setitem(
        search._INDEXES, (connection.alias, "catalog_project"), {"amount_low": "gone_index"}
    )
    queryset = apply_keyword_search(
        restrict(Project.objects.filter(round="a"), many.dept_user), "芯片"
    ).order_by("-amount_low", "-id")
    assert [p.pk for p in queryset[0:5]] == plain_ids(queryset)[:5]


# --- Bulk index maintenance (the ingest pipeline's writes) ---------------------------------------


def _fts_is_whole():
    """FTS5's own check that the index holds exactly the table's rows and texts."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO catalog_project_fts(catalog_project_fts, rank)"
            " VALUES ('integrity-check', 1)"
        )
    return True


@pytest.mark.skipif(connection.vendor != "sqlite", reason="triggers are SQLite's")
def test_bulk_writes_index_their_rows_themselves_and_leave_the_triggers_in_place(db):
    from django.db import transaction

    from ibcloud.catalog.writes import insert_objects, update_rows

    kept = make_project("云图智能")
    table = Project._meta.db_table
    with transaction.atomic():
        with search.triggers_suspended(connection, table):
            assert not search.index_is_complete(connection)
            new = Project(name="芯原微", search_text=search_text("芯原微 芯片设计"), provenance={})
            insert_objects(Project, [new], timezone.now())
            search.index_rows(connection, table, [(new.pk, new.search_text)])
            old = kept.search_text
            kept.search_text = search_text("云图智能 储能")
            update_rows(Project, [kept], ["search_text"])
            search.reindex_rows(connection, table, [(kept.pk, old, kept.search_text)])
        assert search.index_is_complete(connection)

    assert found_names("芯片") == {"芯原微"}
    assert found_names("储能") == {"云图智能"}
    assert _fts_is_whole()
    make_project("云图医疗")  # an ordinary save after a bulk write is indexed by the trigger
    assert found_names("云图") == {"云图智能", "云图医疗"}


@pytest.mark.skipif(connection.vendor != "sqlite", reason="triggers are SQLite's")
def test_a_failed_bulk_write_keeps_the_triggers(db):
    from django.db import transaction

    table = Project._meta.db_table
    with pytest.raises(RuntimeError), transaction.atomic():
        with search.triggers_suspended(connection, table):
            raise RuntimeError("the batch failed")
    assert search.index_is_complete(connection)
