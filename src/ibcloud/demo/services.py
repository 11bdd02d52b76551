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
    # "review" and "assign": approve or reject matches, send them to staff.
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
