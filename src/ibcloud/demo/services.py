"""Demo data: an organisation with departments, roles of every data scope and users to log in as.

``seed_demo()`` is idempotent: running it again changes nothing that exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Permission
from django.db import transaction

from ibcloud.accounts.models import Department, Role, User
from ibcloud.core.scoping import DataScope
from ibcloud.notify.models import Notification
from ibcloud.notify.services import notify


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    description: str


# Demo passwords are public by design; `ibcloud demo` prints them.
DEMO_LOGINS = [
    DemoLogin("admin", "Admin@2026", "系统管理员 (superuser)"),
    DemoLogin("manager", "Manager@2026", "投资银行部 经理: 本部门及下级数据"),
    DemoLogin("banker", "Banker@2026", "并购组 业务人员: 本部门数据"),
    DemoLogin("analyst", "Analyst@2026", "IPO组 分析师: 仅本人数据"),
    DemoLogin("auditor", "Auditor@2026", "风控合规部 审计: 全部数据, 只读"),
]

DEPARTMENTS = [
    # (code, name, parent code)
    ("hq", "投行云总部", None),
    ("ibd", "投资银行部", "hq"),
    ("ibd-ma", "并购组", "ibd"),
    ("ibd-ipo", "IPO组", "ibd"),
    ("research", "研究部", "hq"),
    ("compliance", "风控合规部", "hq"),
]

BUSINESS_APPS = ("core", "accounts", "audit", "notify", "crawler", "catalog", "matching", "deals")
BUSINESS_ONLY_APPS = ("crawler", "catalog", "matching", "deals")


def _permissions(actions: tuple[str, ...], apps: tuple[str, ...] = BUSINESS_APPS) -> list:
    queryset = Permission.objects.filter(content_type__app_label__in=apps)
    return [p for p in queryset if p.codename.split("_", 1)[0] in actions]


def _department(code: str, name: str, parent: Department | None) -> Department:
    existing = Department.objects.filter(code=code).first()
    if existing is not None:
        return existing
    if parent is None:
        return Department.objects.add_root({"code": code, "name": name})
    parent.refresh_from_db()
    return Department.objects.add_child(parent, {"code": code, "name": name})


def _role(code: str, name: str, scope: str, permissions: list, description: str) -> Role:
    role, created = Role.objects.get_or_create(
        code=code, defaults={"name": name, "data_scope": scope, "description": description}
    )
    if created:
        role.permissions.set(permissions)
    return role


@transaction.atomic
def seed_demo() -> list[DemoLogin]:
    """Create the demo organisation and users; returns the logins to print."""
    departments: dict[str, Department] = {}
    for code, name, parent in DEPARTMENTS:
        departments[code] = _department(code, name, departments.get(parent) if parent else None)

    # "run" and "acknowledge": start crawls and preview sources, acknowledge source alerts;
    # "merge" and "reprocess": merge or split catalog records, re-process quarantined ones;
    # "review" and "assign": approve or reject matches, send them to staff;
    # "export": deal reports (PPTX, the weekly report).
    everything = _permissions(
        (
            "view",
            "add",
            "change",
            "delete",
            "unlock",
            "reset",
            "force",
            "run",
            "acknowledge",
            "merge",
            "reprocess",
            "review",
            "assign",
            "export",
        )
    )
    # Business staff work the business modules and look up colleagues; they administer nothing.
    colleagues = list(
        Permission.objects.filter(
            content_type__app_label="accounts", codename__in=["view_user", "view_department"]
        )
    )
    business = _permissions(("view", "add", "change", "run"), BUSINESS_ONLY_APPS) + colleagues
    read_only = _permissions(("view",))
    roles = {
        "manager": _role(
            "dept-manager",
            "部门经理",
            DataScope.DEPT_AND_BELOW,
            everything,
            "管理本部门及下级部门的数据与人员",
        ),
        "banker": _role("banker", "业务人员", DataScope.DEPT, business, "处理本部门的业务数据"),
        "analyst": _role("analyst", "分析师", DataScope.SELF, business, "只处理本人负责的数据"),
        "auditor": _role("auditor", "审计", DataScope.ALL, read_only, "只读查看全部数据与日志"),
    }
    placement = {
        "admin": "hq",
        "manager": "ibd",
        "banker": "ibd-ma",
        "analyst": "ibd-ipo",
        "auditor": "compliance",
    }
    names = {
        "admin": "王管理",
        "manager": "李经理",
        "banker": "张投行",
        "analyst": "赵分析",
        "auditor": "陈审计",
    }
    for login in DEMO_LOGINS:
        if User.objects.filter(username=login.username).exists():
            continue
        user = User(
            username=login.username,
            name=names[login.username],
            email=f"{login.username}@ibcloud.example",
            department=departments[placement[login.username]],
            position=login.description.split(":")[0],
            is_superuser=login.username == "admin",
            is_staff=login.username == "admin",
        )
        user.set_password(login.password)
        user.save()
        if login.username in roles:
            user.roles.set([roles[login.username]])
    manager = User.objects.get(username="manager")
    departments["ibd"].managers.add(manager)
    demo_users = User.objects.filter(username__in=[login.username for login in DEMO_LOGINS])
    if not Notification.objects.filter(recipient__in=demo_users).exists():
        notify(
            demo_users,
            "欢迎使用投行云",
            "这是演示环境：左侧菜单按模块组织，右上角可切换语言。演示账号的密码见启动时的输出。",
            url="/",
        )
    seed_demo_matching(departments["ibd"])
    seed_demo_deals(departments)
    return DEMO_LOGINS


def seed_demo_matching(department: Department) -> None:
    """A rule set serving the investment banking department and a rule that hands approved
    matches to its staff; the catalog's changes then produce matches as crawls come in."""
    from ibcloud.matching.criteria import RECOMMENDED_CRITERIA
    from ibcloud.matching.models import AssignmentRule, MatchRuleSet

    if not MatchRuleSet.objects.exists():
        MatchRuleSet.objects.create(
            name="投行部·项目与投资方匹配",
            description="行业与轮次须符合投资方偏好；金额、地域、文本相似度、活跃度、"
            "历史投资与币种加权打分。",
            criteria=RECOMMENDED_CRITERIA,
            threshold=50,
            max_per_project=5,
            department=department,
        )
    if not AssignmentRule.objects.exists():
        AssignmentRule.objects.create(
            name="投行部：覆盖人员优先，否则在办最少者",
            target_department=department,
            strategy=AssignmentRule.Strategy.COVERAGE_FIRST,
            cap_per_person=30,
            department=department,
        )


# (name, client, type, industry division, size in 亿元, lead, department code, months ago opened,
#  stage index, status)
DEMO_DEALS = [
    (
        "芯瑞微电子科创板IPO",
        "上海芯瑞微电子股份有限公司",
        "ipo",
        "39",
        12,
        "analyst",
        "ibd-ipo",
        11,
        5,
        "active",
    ),
    (
        "华澜生物创业板IPO",
        "苏州华澜生物医药股份有限公司",
        "ipo",
        "27",
        8,
        "analyst",
        "ibd-ipo",
        9,
        3,
        "active",
    ),
    (
        "云栖数据北交所IPO",
        "杭州云栖数据科技股份有限公司",
        "ipo",
        "65",
        3,
        "manager",
        "ibd-ipo",
        7,
        2,
        "active",
    ),
    (
        "恒泰新能源主板IPO",
        "江苏恒泰新能源股份有限公司",
        "ipo",
        "38",
        20,
        "manager",
        "ibd-ipo",
        14,
        7,
        "completed",
    ),
    (
        "博远医疗IPO",
        "深圳博远医疗器械股份有限公司",
        "ipo",
        "35",
        6,
        "analyst",
        "ibd-ipo",
        5,
        1,
        "on_hold",
    ),
    (
        "鼎盛重工并购锐达液压",
        "鼎盛重工集团有限公司",
        "ma",
        "34",
        15,
        "banker",
        "ibd-ma",
        8,
        3,
        "active",
    ),
    (
        "星河文旅收购海岚酒店",
        "星河文旅发展股份有限公司",
        "ma",
        "61",
        4,
        "banker",
        "ibd-ma",
        4,
        2,
        "active",
    ),
    (
        "中科智控吸收合并",
        "中科智控技术股份有限公司",
        "ma",
        "40",
        9,
        "manager",
        "ibd-ma",
        12,
        5,
        "completed",
    ),
    (
        "绿源农业资产重组",
        "绿源现代农业股份有限公司",
        "ma",
        "01",
        2,
        "banker",
        "ibd-ma",
        10,
        1,
        "terminated",
    ),
    (
        "安捷物流定向增发",
        "安捷智慧物流股份有限公司",
        "private_placement",
        "54",
        5,
        "banker",
        "ibd",
        6,
        4,
        "active",
    ),
    (
        "天衡化工定增",
        "天衡精细化工股份有限公司",
        "private_placement",
        "26",
        7,
        "manager",
        "ibd",
        3,
        2,
        "active",
    ),
    (
        "海川城投公司债",
        "海川城市建设投资集团有限公司",
        "bond",
        "48",
        30,
        "manager",
        "ibd",
        5,
        4,
        "active",
    ),
    ("嘉禾能源绿色债券", "嘉禾清洁能源有限公司", "bond", "44", 10, "banker", "ibd", 2, 1, "active"),
    (
        "润丰水务中期票据",
        "润丰水务集团有限公司",
        "bond",
        "46",
        8,
        "manager",
        "ibd",
        13,
        6,
        "completed",
    ),
    (
        "启明教育财务顾问",
        "启明教育科技有限公司",
        "advisory",
        "83",
        1,
        "banker",
        "ibd-ma",
        3,
        1,
        "active",
    ),
    (
        "瀚海航运市值管理顾问",
        "瀚海航运股份有限公司",
        "advisory",
        "55",
        2,
        "manager",
        "ibd",
        6,
        2,
        "active",
    ),
    (
        "智行汽车B轮融资顾问",
        "智行汽车科技有限公司",
        "other",
        "36",
        3,
        "analyst",
        "ibd-ipo",
        1,
        1,
        "active",
    ),
]


def seed_demo_deals(departments: dict[str, Department]) -> None:
    """Deals of every type across the banking teams, opened over the past year, each with the
    milestones of its type's template counted from its opening, so some are done, some due this
    week and some overdue (shown in red); skipped when any deal exists."""
    import datetime

    from django.utils import timezone

    from ibcloud.deals import services as deal_services
    from ibcloud.deals.milestones import apply_template
    from ibcloud.deals.models import Deal, Milestone, MilestoneTemplate

    if Deal.objects.exists():
        return
    today = timezone.localdate()
    users = {
        user.username: user
        for user in User.objects.filter(username__in=["manager", "banker", "analyst"])
    }
    for number, (
        name,
        client,
        deal_type,
        industry,
        size,
        lead,
        department,
        months,
        stage_index,
        status,
    ) in enumerate(DEMO_DEALS):
        opened = today - datetime.timedelta(days=30 * months + 3)
        stages = deal_services.stage_choices(deal_type)
        deal = deal_services.create_deal(
            users[lead],
            name=name,
            client=client,
            deal_type=deal_type,
            stage=stages[min(stage_index, len(stages) - 1)][0],
            industry=industry,
            deal_size=size * 100_000_000,
            expected_fee=size * 100_000_000 * 0.015,
            lead=users[lead],
            department=departments[department],
            opened_on=opened,
            expected_close_on=opened + datetime.timedelta(days=420),
            description=f"{client}的{deal_services.type_label(deal_type)}项目（演示数据）。",
        )
        deal.members.set([u for u in users.values() if u != users[lead]][:1])
        if status != Deal.Status.ACTIVE:
            deal_services.update_deal(deal, users[lead], status=status)
            # closed some months after opening, so the dashboard's closings spread over the year
            closed = min(today, opened + datetime.timedelta(days=30 * (months // 2 + 1)))
            Deal.objects.filter(pk=deal.pk).update(closed_on=closed)
        template = MilestoneTemplate.objects.filter(deal_type=deal_type, is_active=True).first()
        if template is not None:
            apply_template(deal, template, opened, users[lead])
        # Milestones due before today are done (closed deals: all of them), except on every
        # fourth deal, whose latest one slipped: those few show in red as overdue.
        if status != Deal.Status.ACTIVE:
            finished = list(deal.milestones.all())
        else:
            finished = list(deal.milestones.filter(due_date__lt=today).order_by("due_date"))
            if number % 4 == 1:
                finished = finished[:-1]
        for milestone in finished:
            milestone.status = Milestone.Status.DONE
            milestone.completed_on = min(milestone.due_date, today)
            milestone.save()
    # one milestone due in three days, so the reminder job has something to send
    upcoming = (
        Milestone.objects.filter(status__in=Milestone.OPEN, due_date__gt=today)
        .order_by("due_date")
        .first()
    )
    if upcoming is not None:
        upcoming.due_date = today + datetime.timedelta(days=3)
        upcoming.save()
