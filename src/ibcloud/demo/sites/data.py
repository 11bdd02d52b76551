"""Deterministic synthetic data for the demo sites: companies seeking capital and investors.

Everything comes from ``random.Random`` seeded per record (``"<namespace>:<n>"``), so record *n*
is the same whatever the total count and on every machine: crawling the demo twice yields the same
content (and content hashes). The values are deliberately as messy as real listings are: amounts
like "数千万元", "US$10M" or "未披露", founding dates in several formats, so the catalog's cleaning
has work to do.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

#: first publication time; record n is published n * PUBLISH_STEP later (newest = highest id)
PUBLISH_START = datetime(2025, 1, 6, 9, 0)
PUBLISH_STEP = timedelta(hours=5, minutes=17)

# (characters, pinyin) pairs that start company short names; the pinyin makes a web domain.
NAME_PREFIXES = [
    ("云图", "yuntu"),
    ("星河", "xinghe"),
    ("深蓝", "shenlan"),
    ("极光", "jiguang"),
    ("远航", "yuanhang"),
    ("青禾", "qinghe"),
    ("微澜", "weilan"),
    ("博雅", "boya"),
    ("瀚海", "hanhai"),
    ("九章", "jiuzhang"),
    ("锐思", "ruisi"),
    ("启明", "qiming"),
    ("知行", "zhixing"),
    ("万象", "wanxiang"),
    ("磐石", "panshi"),
    ("天枢", "tianshu"),
    ("北辰", "beichen"),
    ("南山", "nanshan"),
    ("东岳", "dongyue"),
    ("西岭", "xiling"),
    ("睿博", "ruibo"),
    ("恒信", "hengxin"),
    ("嘉禾", "jiahe"),
    ("智源", "zhiyuan"),
    ("燧人", "suiren"),
    ("曜石", "yaoshi"),
    ("澄迈", "chengmai"),
    ("凌云", "lingyun"),
    ("拓维", "tuowei"),
    ("数衍", "shuyan"),
    ("蓝鲸", "lanjing"),
    ("赤兔", "chitu"),
    ("雪豹", "xuebao"),
    ("鹿鸣", "luming"),
    ("清源", "qingyuan"),
    ("弘毅", "hongyi"),
    ("元初", "yuanchu"),
    ("芯原", "xinyuan"),
    ("量子", "liangzi"),
    ("光年", "guangnian"),
]

# industry → (short-name suffixes, full-name suffixes, focus areas, products, customers)
INDUSTRIES: dict[str, tuple[list[str], list[str], list[str], list[str], list[str]]] = {
    "人工智能": (
        ["智能", "智算", "视觉", "智联"],
        ["智能科技有限公司", "人工智能科技有限公司"],
        ["计算机视觉", "大语言模型应用", "智能语音交互", "工业视觉检测"],
        ["行业大模型平台", "视觉质检一体机", "智能客服系统", "AI 训练数据平台"],
        ["制造业龙头企业", "商业银行", "地方政府", "头部互联网公司"],
    ),
    "企业服务": (
        ["云", "数科", "软件", "科技"],
        ["信息技术有限公司", "软件有限公司", "网络科技有限公司"],
        ["SaaS 协同办公", "财税数字化", "供应链管理软件", "低代码开发"],
        ["协同办公平台", "电子发票系统", "采购管理 SaaS", "数据中台"],
        ["中小企业", "大型国企", "连锁零售商", "外贸企业"],
    ),
    "医疗健康": (
        ["医疗", "生物", "健康", "医药"],
        ["生物科技有限公司", "医疗器械有限公司", "医药科技股份有限公司"],
        ["创新药研发", "高端医疗器械", "体外诊断", "数字医疗"],
        ["小分子靶向药", "手术机器人", "化学发光检测试剂", "互联网医院平台"],
        ["三甲医院", "基层医疗机构", "药企", "体检中心"],
    ),
    "新能源": (
        ["新能源", "储能", "光伏", "氢能"],
        ["新能源科技有限公司", "能源技术有限公司", "储能科技股份有限公司"],
        ["储能系统", "钙钛矿光伏", "氢燃料电池", "充换电服务"],
        ["工商业储能柜", "钙钛矿组件", "燃料电池电堆", "超充桩"],
        ["电网公司", "光伏电站", "整车厂", "工业园区"],
    ),
    "先进制造": (
        ["智造", "机器人", "装备", "精工"],
        ["智能装备有限公司", "机器人有限公司", "精密制造股份有限公司"],
        ["工业机器人", "精密减速器", "激光加工设备", "工业软件"],
        ["协作机器人", "谐波减速器", "激光切割机", "MES 系统"],
        ["汽车零部件厂", "3C 电子厂", "航空航天企业", "家电制造商"],
    ),
    "半导体": (
        ["芯", "微电子", "半导体", "集成"],
        ["半导体有限公司", "微电子科技有限公司", "集成电路设计有限公司"],
        ["模拟芯片设计", "功率半导体", "半导体设备", "EDA 工具"],
        ["电源管理芯片", "碳化硅 MOSFET", "刻蚀设备零部件", "版图验证软件"],
        ["手机厂商", "新能源车企", "晶圆厂", "工控企业"],
    ),
    "消费": (
        ["优品", "生活", "食品", "良品"],
        ["食品有限公司", "电子商务有限公司", "品牌管理有限公司"],
        ["新式茶饮", "宠物食品", "国货美妆", "预制菜"],
        ["连锁茶饮门店", "宠物主粮", "功效护肤品", "即热餐品"],
        ["年轻消费者", "社区家庭", "商超渠道", "电商平台用户"],
    ),
    "金融科技": (
        ["金科", "数金", "支付", "信科"],
        ["金融信息服务有限公司", "数字科技有限公司"],
        ["智能风控", "供应链金融", "跨境支付", "保险科技"],
        ["反欺诈引擎", "应收账款融资平台", "跨境收款服务", "智能核保系统"],
        ["城商行", "保险公司", "外贸企业", "消费金融公司"],
    ),
    "新材料": (
        ["材料", "新材", "化学", "纳米"],
        ["新材料科技有限公司", "新材料股份有限公司"],
        ["高性能纤维", "电子化学品", "生物基材料", "特种陶瓷"],
        ["碳纤维复合材料", "光刻胶", "可降解塑料", "氮化硅基板"],
        ["风电叶片厂", "面板厂", "包装企业", "汽车零部件厂"],
    ),
    "汽车交通": (
        ["出行", "智驾", "汽车", "动力"],
        ["汽车科技有限公司", "智能驾驶科技有限公司"],
        ["自动驾驶", "车载激光雷达", "智能座舱", "商用车电动化"],
        ["L4 级无人配送车", "激光雷达", "座舱域控制器", "电动重卡"],
        ["整车厂", "物流公司", "港口码头", "出租车公司"],
    ),
    "文娱传媒": (
        ["文化", "传媒", "互娱", "影业"],
        ["文化传媒有限公司", "网络科技有限公司"],
        ["数字内容", "游戏研发", "短剧制作", "虚拟偶像"],
        ["二次元手游", "微短剧", "虚拟主播 IP", "有声书平台"],
        ["Z 世代用户", "品牌广告主", "海外玩家", "视频平台"],
    ),
    "农业科技": (
        ["农业", "种业", "农科", "生态"],
        ["农业科技有限公司", "生物育种有限公司"],
        ["生物育种", "智慧农业", "设施农业", "农业无人机"],
        ["抗病玉米品种", "农业物联网平台", "垂直农场", "植保无人机"],
        ["种植大户", "农业合作社", "农垦集团", "地方政府"],
    ),
}

PLACES: list[tuple[str, list[str]]] = [
    ("北京", ["北京"]),
    ("上海", ["上海"]),
    ("广东", ["深圳", "广州", "东莞", "珠海"]),
    ("浙江", ["杭州", "宁波", "嘉兴"]),
    ("江苏", ["苏州", "南京", "无锡", "常州"]),
    ("四川", ["成都"]),
    ("湖北", ["武汉"]),
    ("陕西", ["西安"]),
    ("安徽", ["合肥"]),
    ("山东", ["济南", "青岛"]),
    ("福建", ["厦门", "福州"]),
    ("湖南", ["长沙"]),
    ("天津", ["天津"]),
    ("重庆", ["重庆"]),
]

ROUNDS = ["种子轮", "天使轮", "Pre-A轮", "A轮", "A+轮", "B轮", "B+轮", "C轮", "D轮", "Pre-IPO"]
ROUND_WEIGHTS = [4, 10, 8, 14, 7, 10, 5, 6, 3, 3]

TAGS = ["专精特新", "高新技术企业", "国家级小巨人", "独角兽", "瞪羚企业", "海归团队", "产学研合作"]

USES = ["产品研发与迭代", "扩充产能", "市场拓展与渠道建设", "海外业务布局", "人才引进"]


def _amount(rng: random.Random, round_name: str) -> str:
    """A financing amount as listings write it (units, currencies and vagueness vary)."""
    early = round_name in ("种子轮", "天使轮", "Pre-A轮")
    late = round_name in ("C轮", "D轮", "Pre-IPO")
    choice = rng.random()
    if choice < 0.12:
        return "未披露"
    if choice < 0.24:
        return rng.choice(["数百万元", "近千万元"] if early else ["数千万元", "数亿元", "超亿元"])
    if choice < 0.32:
        return "近亿" if not early else "千万级"
    if choice < 0.45:
        millions = rng.choice([2, 3, 5, 8, 10, 15, 20, 30, 50] if not early else [1, 2, 3])
        return f"US${millions}M"
    if choice < 0.55:
        return f"{rng.choice([300, 500, 800, 1000, 2000, 5000])}万美元"
    if choice < 0.75 and not early:
        hundred_millions = rng.choice([1, 1.5, 2, 3, 5, 8] if late else [1, 1.2, 1.5])
        return f"{hundred_millions:g}亿元"
    if early:
        return f"{rng.choice([100, 300, 500, 800, 1000, 1500])}万元"
    return f"{rng.choice([2000, 3000, 5000, 8000])}万元"


def _founded(rng: random.Random) -> str:
    """A founding date in one of the formats listings use."""
    year = rng.randint(2008, 2024)
    month = rng.randint(1, 12)
    day = rng.randint(1, 28)
    formats = [
        f"{year}-{month:02d}-{day:02d}",
        f"{year}年{month}月",
        f"{year}/{month:02d}",
        f"{year}年",
        f"{year}.{month}.{day}",
        f"{year}年{month}月{day}日",
    ]
    return rng.choice(formats)


@dataclass(frozen=True)
class Project:
    """A company seeking capital, as a project listing shows it."""

    id: int
    name: str
    full_name: str
    industry: str
    province: str
    city: str
    round: str
    amount: str
    founded: str
    summary: str
    website: str
    tags: tuple[str, ...]
    published: datetime
    #: investors of the current round as the listing names them (short names)
    investors: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        return self.city if self.city == self.province else f"{self.province}·{self.city}"

    def as_dict(self) -> dict:
        """JSON-ready form (the L3 site renders it in the browser)."""
        return {
            "id": self.id,
            "name": self.name,
            "full_name": self.full_name,
            "industry": self.industry,
            "province": self.province,
            "city": self.city,
            "round": self.round,
            "amount": self.amount,
            "founded": self.founded,
            "summary": self.summary,
            "website": self.website,
            "tags": list(self.tags),
            "published": self.published.strftime("%Y-%m-%d %H:%M"),
            "investors": list(self.investors),
        }


@dataclass(frozen=True)
class Investor:
    """An investor with its preferences, as an investor directory lists it."""

    id: int
    name: str
    full_name: str
    type: str
    industries: tuple[str, ...]
    stages: tuple[str, ...]
    regions: tuple[str, ...]
    ticket: str
    aum: str
    founded: str
    description: str
    website: str
    updated: datetime

    def as_dict(self) -> dict:
        """The JSON object the investor API returns."""
        return {
            "id": self.id,
            "name": self.name,
            "full_name": self.full_name,
            "type": self.type,
            "industries": list(self.industries),
            "stages": list(self.stages),
            "regions": list(self.regions),
            "ticket": self.ticket,
            "aum": self.aum,
            "founded": self.founded,
            "description": self.description,
            "website": self.website,
            "updated_at": self.updated.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
        }


def generate_projects(count: int, namespace: str = "projects") -> list[Project]:
    """``count`` projects with ids 1..count; record n depends only on ``namespace`` and n."""
    projects: list[Project] = []
    taken: set[str] = set()
    industries = list(INDUSTRIES)
    for number in range(1, count + 1):
        rng = random.Random(f"{namespace}:{number}")
        industry = rng.choice(industries)
        suffixes, full_suffixes, focuses, products, customers = INDUSTRIES[industry]
        prefix, pinyin = rng.choice(NAME_PREFIXES)
        stem = prefix
        name = stem + rng.choice(suffixes)
        while name in taken:  # short names are unique within a site, as on real listings
            extra, extra_pinyin = rng.choice(NAME_PREFIXES)
            stem = prefix + extra[0]
            name = stem + rng.choice(suffixes)
            pinyin += extra_pinyin[:2]
        taken.add(name)
        province, cities = rng.choice(PLACES)
        city = rng.choice(cities)
        round_name = rng.choices(ROUNDS, weights=ROUND_WEIGHTS)[0]
        focus, product = rng.choice(focuses), rng.choice(products)
        summary = (
            f"{name}成立于{city}，专注于{focus}领域，核心产品为{product}，"
            f"客户覆盖{rng.choice(customers)}与{rng.choice(customers)}。"
            f"公司本轮融资主要用于{rng.choice(USES)}。"
        )
        projects.append(
            Project(
                id=number,
                name=name,
                full_name=f"{city}{stem}{rng.choice(full_suffixes)}",
                industry=industry,
                province=province,
                city=city,
                round=round_name,
                amount=_amount(rng, round_name),
                founded=_founded(rng),
                summary=summary,
                website=f"https://www.{pinyin}{number}.cn",
                tags=tuple(sorted(rng.sample(TAGS, rng.randint(0, 3)))),
                published=PUBLISH_START + number * PUBLISH_STEP,
            )
        )
    return projects


INVESTOR_SYLLABLES = [
    "华", "创", "鼎", "盛", "远", "景", "启", "航", "和", "达", "瑞", "丰", "高", "新", "君", "联",
    "金", "石", "松", "禾", "同", "晟", "宏", "源", "信", "德", "元", "璟", "澜", "峰",
]  # fmt: skip
INVESTOR_KINDS: list[tuple[str, list[str], str]] = [
    # (type, short-name suffixes, full-name suffix)
    ("VC", ["资本", "创投", "创业投资"], "创业投资管理有限公司"),
    ("PE", ["投资", "资本", "股权投资"], "股权投资基金管理有限公司"),
    ("战略投资者", ["产业投资", "战投"], "产业投资有限公司"),
    ("政府引导基金", ["引导基金", "产业基金"], "政府投资引导基金(有限合伙)"),
    ("天使投资机构", ["天使", "种子基金"], "天使投资管理有限公司"),
    ("母基金(FOF)", ["母基金", "FOF"], "母基金管理有限公司"),
]
STAGE_GROUPS = {
    "早期": ["种子轮", "天使轮", "Pre-A轮"],
    "成长期": ["A轮", "A+轮", "B轮", "B+轮"],
    "后期": ["C轮", "D轮", "Pre-IPO"],
}
TICKETS = [
    "100万-500万元",
    "500万-3000万元",
    "1000万-1亿元",
    "3000万-3亿元",
    "单笔不超过2亿元",
    "US$5M-20M",
    "1亿元以上",
    "500万美元-3000万美元",
]
AUM_QUALIFIERS = ["约", "逾", "超过", ""]


def generate_investors(count: int, namespace: str = "investors") -> list[Investor]:
    """``count`` investors with ids 1..count; record n depends only on ``namespace`` and n."""
    investors: list[Investor] = []
    taken: set[str] = set()
    industries = list(INDUSTRIES)
    provinces = [province for province, _cities in PLACES]
    for number in range(1, count + 1):
        rng = random.Random(f"{namespace}:{number}")
        kind, suffixes, full_suffix = rng.choice(INVESTOR_KINDS)
        stem = "".join(rng.sample(INVESTOR_SYLLABLES, 2))
        while stem in taken:
            stem = "".join(rng.sample(INVESTOR_SYLLABLES, 2 + len(taken) // 400))
        taken.add(stem)
        name = stem + rng.choice(suffixes)
        province, cities = rng.choice(PLACES)
        preferred = rng.sample(industries, rng.randint(1, 4))
        if kind == "天使投资机构":
            stages = STAGE_GROUPS["早期"]
        elif kind == "PE":
            stages = STAGE_GROUPS["后期"] + rng.choice([[], ["B轮", "B+轮"]])
        else:
            groups = rng.sample(list(STAGE_GROUPS), rng.randint(1, 2))
            stages = [stage for group in groups for stage in STAGE_GROUPS[group]]
        if kind == "政府引导基金":
            regions = [province]
        else:
            regions = ["全国"] if rng.random() < 0.4 else rng.sample(provinces, rng.randint(1, 3))
        founded_year = rng.randint(1998, 2022)
        description = (
            f"{name}成立于{founded_year}年，总部位于{cities[0]}，"
            f"重点关注{'、'.join(preferred)}等领域的{'、'.join(stages[:2])}项目，"
            f"已累计投资企业{rng.randint(12, 400)}家。"
        )
        investors.append(
            Investor(
                id=number,
                name=name,
                full_name=f"{cities[0]}{stem}{full_suffix}",
                type=kind,
                industries=tuple(preferred),
                stages=tuple(stages),
                regions=tuple(regions),
                ticket=rng.choice(TICKETS),
                aum=f"{rng.choice(AUM_QUALIFIERS)}{rng.choice([5, 20, 50, 120, 300])}亿元",
                founded=str(founded_year),
                description=description,
                website=f"https://www.investor{number:03d}.cn",
                updated=PUBLISH_START + number * PUBLISH_STEP,
            )
        )
    return investors


@dataclass
class DemoData:
    """Everything the demo sites show; the protected sites each have their own projects."""

    projects: list[Project]
    investors: list[Investor]
    l1_projects: list[Project] = field(default_factory=list)
    l2_projects: list[Project] = field(default_factory=list)
    l3_projects: list[Project] = field(default_factory=list)

    @classmethod
    def build(cls, projects: int = 60, investors: int = 80, protected: int = 30) -> DemoData:
        """Generate the data set; ``protected`` is the item count of each of L1, L2 and L3."""
        investor_list = generate_investors(investors)
        return cls(
            projects=with_round_investors(generate_projects(projects), investor_list),
            investors=investor_list,
            l1_projects=generate_projects(protected, "l1"),
            l2_projects=generate_projects(protected, "l2"),
            l3_projects=generate_projects(protected, "l3"),
        )


def with_round_investors(projects: list[Project], investors: list[Investor]) -> list[Project]:
    """Name the current round's investors on about half of the listings: one or two investors
    whose stated industries include the project's, as real listings name who led the round.
    Those deals are what the catalog's revealed preferences are computed from."""
    by_industry: dict[str, list[Investor]] = {}
    for investor in investors:
        for industry in investor.industries:
            by_industry.setdefault(industry, []).append(investor)
    named = []
    for project in projects:
        rng = random.Random(f"round-investors:{project.id}")
        candidates = by_industry.get(project.industry, [])
        if candidates and rng.random() < 0.5:
            chosen = rng.sample(candidates, min(len(candidates), rng.randint(1, 2)))
            project = replace(project, investors=tuple(i.name for i in chosen))
        named.append(project)
    return named
