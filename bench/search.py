"""Keyword + filter search speed over a million projects, as the catalog list page runs it.

Builds (once, then reuses) a SQLite database of ``--projects`` projects with realistic names,
registered names and summaries (built from an industry vocabulary, cut by the product's own
``segmentation.search_text``), industries, regions, rounds, amounts and publication dates, spread
over four departments. Then runs a mix of list-page searches: keywords (common and rare words,
company names, phrases, OR, NOT, English), with and without filters (province, industry, round,
amount range, publication dates), for a user who sees everything and for department-limited
users, ordered by the list's default or by amount. Each search runs what the list page runs:
the scoped queryset with the model's ordering made explicit (``explicit_order``), the filters,
then ``ibcloud.catalog.search.page_of``: ``apply_keyword_search``, the user's sort,
``count_matches`` (the pager's count: exact, or an estimate) and the slice of 25 rows -- the
functions the list view (``filters.KeywordFilter``, ``tables.ListPaginator``) and the API
(``search.SearchPagination``) call. Prints::

    projects: N
    queries: M
    p50_ms: X
    p95_ms: Y          (target: at most 100)
    max_ms: Z
    segment_records_per_s: S   (search_text of one record: name, registered name, summary)

Run: ``.venv/bin/python bench/search.py [--projects N] [--data-dir DIR] [--rounds N]``. The
database is kept in ``var/bench/search-<N>/`` (or ``--data-dir``); delete it to rebuild.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import random
import sqlite3
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROJECTS = 1_000_000
ROUNDS = 3
PER_PAGE = 25
BATCH = 20_000

# --- Vocabulary ----------------------------------------------------------------------------------

BRAND_CHARS = (
    "云图星河蓝海鼎信华芯源创智联天翼银杉博远恒瑞中科深睿联影思必驰旷视商汤依图寒武纪地平线"
    "小马极飞零跑蔚来理想小鹏宁德比亚迪隆基通威阳光晶科天合正泰汇川埃斯顿新松优必选达闼越疆"
    "迈瑞微创联影乐普鱼跃安图万泰康希诺百济信达君实恒润华熙贝泰妮完美珀莱雅元气喜茶蜜雪奈雪"
    "极兔满帮货拉拉美团拼多多字节跳动快手哔哩知乎得物叮咚朴朴盒马兴盛多多买菜明略帆软观远神策"
)
INDUSTRIES = [
    # (section, division, name suffixes, products, applications)
    (
        "I",
        "65",
        ["智能", "科技", "软件", "数据", "信息"],
        [
            "人工智能",
            "大模型",
            "计算机视觉",
            "自然语言处理",
            "云计算",
            "企业服务",
            "SaaS 平台",
            "数据库",
            "网络安全",
            "低代码平台",
            "数字孪生",
            "区块链",
        ],
        ["金融", "零售", "制造业", "政务", "医疗", "教育", "能源", "交通"],
    ),
    (
        "C",
        "35",
        ["医疗", "机器人", "装备", "精工"],
        [
            "医疗器械",
            "手术机器人",
            "工业机器人",
            "人形机器人",
            "激光雷达",
            "智能制造",
            "高端装备",
            "体外诊断",
            "影像设备",
        ],
        ["医院", "工厂", "物流", "半导体", "汽车"],
    ),
    (
        "C",
        "27",
        ["生物", "医药", "制药", "基因"],
        ["创新药", "生物医药", "细胞治疗", "抗体药物", "基因编辑", "仿制药", "疫苗"],
        ["肿瘤", "罕见病", "自身免疫", "慢病管理", "眼科"],
    ),
    (
        "C",
        "39",
        ["微电子", "半导体", "芯", "光电"],
        [
            "芯片设计",
            "功率器件",
            "碳化硅",
            "氮化镓",
            "传感器",
            "封装测试",
            "晶圆",
            "模拟芯片",
            "AI 芯片",
        ],
        ["消费电子", "汽车电子", "数据中心", "工业控制", "通信"],
    ),
    (
        "C",
        "38",
        ["能源", "新能源", "电气", "储能"],
        ["动力电池", "储能", "光伏", "氢能", "燃料电池", "固态电池", "钠离子电池", "充电桩"],
        ["电网", "新能源汽车", "户用储能", "工商业", "碳中和"],
    ),
    (
        "C",
        "36",
        ["汽车", "智行", "驾驶"],
        ["新能源汽车", "自动驾驶", "智能座舱", "车规级芯片", "线控底盘", "智能网联"],
        ["乘用车", "商用车", "港口", "矿区", "物流"],
    ),
    (
        "A",
        "01",
        ["农业", "农科", "种业"],
        ["智慧农业", "生物育种", "农业无人机", "植物工厂", "精准灌溉"],
        ["种植", "养殖", "乡村振兴", "食品安全"],
    ),
    (
        "F",
        "52",
        ["电商", "零售", "消费"],
        ["跨境电商", "新消费", "预制菜", "连锁餐饮", "宠物经济", "美妆", "直播电商"],
        ["年轻人", "下沉市场", "海外市场", "社区"],
    ),
    (
        "J",
        "66",
        ["金融", "金服", "数科"],
        ["金融科技", "供应链金融", "智能风控", "数字支付", "保险科技"],
        ["银行", "券商", "小微企业", "消费金融"],
    ),
    (
        "G",
        "54",
        ["物流", "航天", "运力"],
        ["冷链物流", "无人机", "低空经济", "商业航天", "卫星互联网", "即时配送"],
        ["电商", "医药", "应急", "城市配送"],
    ),
    (
        "P",
        "83",
        ["教育", "学堂", "书院"],
        ["在线教育", "职业教育", "教育硬件", "AI 学习机", "素质教育"],
        ["中小学", "高校", "企业培训", "银发人群"],
    ),
    (
        "Q",
        "84",
        ["健康", "医疗", "诊所"],
        ["互联网医疗", "医疗服务", "医疗美容", "康复医疗", "体检"],
        ["基层医疗", "养老", "慢病", "社区"],
    ),
]
REGIONS = [
    ("110000", "北京市", "110100", "北京市"),
    ("310000", "上海市", "310100", "上海市"),
    ("440000", "广东省", "440300", "深圳市"),
    ("440000", "广东省", "440100", "广州市"),
    ("330000", "浙江省", "330100", "杭州市"),
    ("320000", "江苏省", "320500", "苏州市"),
    ("320000", "江苏省", "320100", "南京市"),
    ("510000", "四川省", "510100", "成都市"),
    ("420000", "湖北省", "420100", "武汉市"),
    ("610000", "陕西省", "610100", "西安市"),
    ("370000", "山东省", "370200", "青岛市"),
    ("340000", "安徽省", "340100", "合肥市"),
    ("350000", "福建省", "350200", "厦门市"),
    ("430000", "湖南省", "430100", "长沙市"),
    ("120000", "天津市", "120100", "天津市"),
    ("500000", "重庆市", "500100", "重庆市"),
]
ROUNDS_CODES = ["seed", "angel", "pre_a", "a", "a_plus", "b", "c", "d", "pre_ipo"]
ROUND_WEIGHTS = [4, 14, 12, 22, 8, 16, 10, 6, 8]
ORIGINS = [
    "清华大学",
    "北京大学",
    "中科院",
    "浙江大学",
    "华为",
    "阿里巴巴",
    "腾讯",
    "百度",
    "微软",
    "谷歌",
    "上海交大",
    "复旦大学",
]
USES = ["产品研发", "市场拓展", "产能扩建", "团队建设", "补充流动资金", "海外布局"]


def fake_project(rng: random.Random, number: int) -> tuple:
    """One project row's values (without search_text)."""
    section, division, suffixes, products, applications = rng.choice(INDUSTRIES)
    brand = rng.choice(BRAND_CHARS) + rng.choice(BRAND_CHARS)
    name = brand + rng.choice(suffixes)
    province_code, province, city_code, city = rng.choice(REGIONS)
    full_name = f"{city.rstrip('市')}{name}{rng.choice(['科技', '技术', '信息技术', ''])}有限公司"
    p1, p2 = rng.sample(products, 2)
    a1, a2 = rng.sample(applications, 2)
    year = rng.randint(2008, 2024)
    summary = (
        f"{name}成立于{year}年，专注于{p1}与{p2}的研发与产业化，产品应用于{a1}、{a2}等领域。"
        f"公司已获得{rng.randint(3, 200)}项专利，核心团队来自{rng.choice(ORIGINS)}。"
        f"本轮融资将用于{rng.choice(USES)}和{rng.choice(USES)}。"
    )
    round_code = rng.choices(ROUNDS_CODES, ROUND_WEIGHTS)[0]
    amount = int(10 ** rng.uniform(6, 9.3)) // 100_000 * 100_000  # 100万 – 20亿
    published = datetime.datetime(2022, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(
        seconds=rng.randint(0, 3 * 365 * 86400)
    )
    return (
        name,
        full_name,
        summary,
        section,
        division,
        province_code,
        province,
        city_code,
        city,
        round_code,
        amount,
        published.isoformat(sep=" "),
        number % 4,
    )


def _search_texts(rows: list[tuple]) -> list[str]:
    from ibcloud.catalog.segmentation import search_text

    return [search_text(row[0], row[1], row[2]) for row in rows]


# --- Building the database -----------------------------------------------------------------------


def setup_django(data_dir: Path) -> None:
    os.environ["IBCLOUD_DATA_DIR"] = str(data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "ibcloud.settings"
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()


def build(data_dir: Path, projects: int) -> None:
    """Migrate a fresh database and fill it with ``projects`` projects."""
    from django.core.management import call_command
    from django.db import connection

    from ibcloud.accounts.models import Department, Role, User
    from ibcloud.catalog import search

    call_command("migrate", verbosity=0)
    departments = [
        Department.objects.add_root({"name": f"投行{i}部", "code": f"bench{i}"}) for i in range(4)
    ]
    for i, department in enumerate(departments):
        role = Role.objects.create(name=f"bench{i}", code=f"bench-{i}", data_scope="dept")
        role.permissions.add(*permission("catalog.view_project"))
        user = User.objects.create(username=f"bench{i}", department=department)
        user.roles.add(role)
    User.objects.create(username="bench-admin", is_superuser=True, is_staff=True)
    department_ids = [d.pk for d in departments]

    # Loading without the triggers and indexing once at the end is several times faster.
    search.drop_index(connection)
    connection.close()
    database = sqlite3.connect(data_dir / "ibcloud.sqlite3")
    database.execute("PRAGMA journal_mode=WAL")
    database.execute("PRAGMA synchronous=OFF")
    rng = random.Random(20261124)
    now = datetime.datetime.now(datetime.UTC).isoformat(sep=" ")
    started = time.monotonic()
    with multiprocessing.Pool(max(1, os.cpu_count() or 1)) as pool:
        pending = []
        for start in range(0, projects, BATCH):
            rows = [fake_project(rng, n) for n in range(start, min(projects, start + BATCH))]
            pending.append((rows, pool.apply_async(_search_texts, (rows,))))
        for done, (rows, texts) in enumerate(pending, 1):
            values = [
                (
                    now,
                    now,
                    department_ids[r[12]],
                    r[0],
                    r[1],
                    "",
                    "",
                    r[5],
                    r[7],
                    r[6],
                    r[8],
                    "",
                    "{}",
                    text,
                    r[11],
                    r[11],
                    r[3],
                    r[4],
                    r[9],
                    r[10],
                    r[10],
                    "CNY",
                    "",
                    "",
                    r[2],
                    r[11],
                )
                for r, text in zip(rows, texts.get(), strict=True)
            ]
            database.executemany(
                "INSERT INTO catalog_project (created_at, updated_at, department_id, name, "
                "full_name, credit_code, name_key, province_code, city_code, province, city, "
                "website, provenance, search_text, first_seen_at, last_seen_at, "
                "industry_section, industry, round, amount_low, amount_high, amount_currency, "
                "amount_text, use_of_funds, summary, published_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?)",
                values,
            )
            database.commit()
            print(f"  {done * BATCH:,} rows ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    database.close()
    started = time.monotonic()
    search.create_index(connection)  # triggers, then the FTS index over every row
    print(f"  indexed in {time.monotonic() - started:.0f} s", file=sys.stderr)
    connection.close()


def permission(name: str):
    from django.contrib.auth.models import Permission

    app_label, codename = name.split(".")
    return Permission.objects.filter(content_type__app_label=app_label, codename=codename)


# --- The query mix -------------------------------------------------------------------------------

KEYWORDS = [
    # common words (tens of thousands of matches and more)
    "人工智能",
    "医疗器械",
    "芯片",
    "储能",
    "新能源汽车",
    "机器人",
    "SaaS",
    "AI",
    "智能",
    "科技",
    "专利",
    "金融",
    # rarer: brand names, phrases, combinations
    "云图智能",
    "星河",
    "鼎信医疗",
    '"芯片设计与功率器件"',
    '"自动驾驶"',
    "华为 芯片",
    "清华大学 机器人",
    "碳化硅 OR 氮化镓",
    "(光伏 OR 储能) AND 电网",
    "医疗 NOT 器械",
    "细胞治疗 -肿瘤",
    "大模型 金融",
    "跨境电商 海外市场",
    "冷链物流 医药",
    "智能制造 工厂",
    "低空经济 OR 无人机",
    "基因编辑 罕见病",
    "ai 学习机",
]
FILTERS = [
    {},
    {},
    {"province_code__in": ["440000"]},
    {"industry": "65"},
    {"round__in": ["a", "a_plus", "b"]},
    {"amount_high__gte": 50_000_000, "amount_low__lte": 200_000_000},
    {"province_code__in": ["310000", "330000"], "round__in": ["angel", "pre_a"]},
    {"published_at__date__gte": datetime.date(2024, 6, 1)},
]
ORDERINGS = [(), (), (), ("-amount_low", "-id")]


def run_queries(rounds: int) -> tuple[list[float], int]:
    from ibcloud.accounts.models import User
    from ibcloud.catalog.models import Project
    from ibcloud.catalog.search import page_of
    from ibcloud.core.scoping import explicit_order, restrict

    users = [User.objects.get(username="bench-admin")]
    users += list(User.objects.filter(username__in=["bench0", "bench1"]))
    rng = random.Random(7)
    cases = [
        (keyword, filters, rng.choice(ORDERINGS), rng.choice(users))
        for keyword in KEYWORDS
        for filters in rng.sample(FILTERS, 3)
    ]
    # warm up the caches (SQLite's page cache, jieba's dictionary) as a running server has them
    for keyword, filters, ordering, _user in cases[:10]:
        page_of(Project.objects.filter(**filters), keyword, order_by=ordering)
    timings = []
    for _ in range(rounds):
        rng.shuffle(cases)
        for keyword, filters, ordering, user in cases:
            started = time.perf_counter()
            # the list view: scope, filters, keywords, a page of rows and the pager's count
            queryset = explicit_order(restrict(Project.objects.all(), user)).filter(**filters)
            page = page_of(queryset, keyword, per_page=PER_PAGE, order_by=ordering)
            for project in page.rows:
                str(project)
            timings.append((time.perf_counter() - started) * 1000)
    return timings, len(cases) * rounds


def segment_speed() -> float:
    from ibcloud.catalog.segmentation import search_text

    rng = random.Random(3)
    rows = [fake_project(rng, n) for n in range(5_000)]
    search_text("预热")
    started = time.perf_counter()
    for row in rows:
        search_text(row[0], row[1], row[2])
    return len(rows) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=PROJECTS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    data_dir = args.data_dir or REPO / "var" / "bench" / f"search-{args.projects}"
    data_dir.mkdir(parents=True, exist_ok=True)
    marker = data_dir / "complete"
    setup_django(data_dir)
    if not marker.exists():
        for stale in data_dir.glob("ibcloud.sqlite3*"):
            stale.unlink()
        print(f"building {args.projects:,} projects in {data_dir}", file=sys.stderr)
        build(data_dir, args.projects)
        marker.write_text("ok\n")

    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # a reused database may predate newer migrations
    timings, queries = run_queries(args.rounds)
    timings.sort()
    print(f"projects: {args.projects}")
    print(f"queries: {queries}")
    print(f"p50_ms: {statistics.median(timings):.1f}")
    print(f"p95_ms: {timings[int(len(timings) * 0.95) - 1]:.1f}")
    print(f"max_ms: {timings[-1]:.1f}")
    print(f"segment_records_per_s: {segment_speed():.0f}")


if __name__ == "__main__":
    main()
