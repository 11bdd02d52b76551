"""The permission matrix: every scoped resource, every data scope, every way of reading it.

Two departments (A with sub-department A1, and B) and one user per data scope, all holding the
same permissions (tests/conftest.py ``make_org``). For each resource three records are made:

* ``a_mine``: in department A, owned by ``self_user``;
* ``a_other``: in department A, owned by ``dept_user``;
* ``b``: in department B, owned by ``b_user``.

Each viewer must see exactly the records its scope reaches, through the UI list, the UI detail
by id (404 otherwise), the UI export, the API list, the API detail by id (404 otherwise) and the
API export. Later modules add their resources to ``RESOURCES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.utils import timezone

from ibcloud.accounts.models import LoginLog
from ibcloud.audit.models import AuditEntry
from ibcloud.core.models import Job
from ibcloud.notify.models import Channel, Delivery
from tests.conftest import Org, make_org
from tests.factories import CrawlJobFactory, CrawlSourceFactory, RawItemFactory

pytestmark = pytest.mark.django_db

# What each viewer reaches; ``self`` sees owned records only where the resource has owners.
EXPECTED = {
    "admin": {"a_mine", "a_other", "b"},
    "all_user": {"a_mine", "a_other", "b"},
    "dept_and_below_user": {"a_mine", "a_other"},
    "dept_user": {"a_mine", "a_other"},
    "self_user": {"a_mine"},
    "custom_user": {"b"},
    "b_user": {"b"},
}


@dataclass(frozen=True)
class Resource:
    name: str
    perms: tuple[str, ...]
    make: Callable[[Org], dict[str, object]]  # label -> record (None to skip a label)
    marker: Callable[[object], str]  # text that shows the record in a page or an export
    ui_list: str
    ui_detail: Callable[[object], str] | None
    api_list: str
    has_owner: bool = True


def _users(org: Org) -> dict:
    return {"a_mine": org.self_user, "a_other": org.dept_user, "b": org.b_user}


def _departments(org: Org) -> dict:
    # Distinct codes: short ones ("a", "b") would match any page.
    for department, code in ((org.dept_a, "marker-dept-a"), (org.dept_b, "marker-dept-b")):
        department.code = code
        department.save()
    return {"a_mine": org.dept_a, "a_other": None, "b": org.dept_b}


def _login_logs(org: Org) -> dict:
    def log(label, user):
        return LoginLog.objects.create(
            user=user, username=f"marker-{label}", result=LoginLog.Result.SUCCESS, ip="10.0.0.1"
        )

    return {
        "a_mine": log("a-mine", org.self_user),
        "a_other": log("a-other", org.dept_user),
        "b": log("b", org.b_user),
    }


def _audit_entries(org: Org) -> dict:
    from django.contrib.contenttypes.models import ContentType

    user_type = ContentType.objects.get_for_model(type(org.admin))

    def entry(label, actor):
        return AuditEntry.objects.create(
            content_type=user_type,
            object_pk=str(actor.pk),
            object_id=actor.pk,
            object_repr=f"marker-{label}",
            action=AuditEntry.Action.ACCESS,
            event="export",
            actor=actor,
            actor_department=actor.department,
            timestamp=timezone.now(),
        )

    return {
        "a_mine": entry("a-mine", org.self_user),
        "a_other": entry("a-other", org.dept_user),
        "b": entry("b", org.b_user),
    }


def _jobs(org: Org) -> dict:
    def row(label, owner):
        return Job.objects.create(name=f"marker-{label}", owner=owner, department=owner.department)

    return {
        "a_mine": row("a-mine", org.self_user),
        "a_other": row("a-other", org.dept_user),
        "b": row("b", org.b_user),
    }


def _channels(org: Org) -> dict:
    def channel(label, owner):
        return Channel.objects.create(
            name=f"marker-{label}", kind="webhook", owner=owner, department=owner.department
        )

    return {
        "a_mine": channel("a-mine", org.self_user),
        "a_other": channel("a-other", org.dept_user),
        "b": channel("b", org.b_user),
    }


def _deliveries(org: Org) -> dict:
    def row(label, owner):
        return Delivery.objects.create(
            kind="webhook", title=f"marker-{label}", owner=owner, department=owner.department
        )

    return {
        "a_mine": row("a-mine", org.self_user),
        "a_other": row("a-other", org.dept_user),
        "b": row("b", org.b_user),
    }


def _crawl_sources(org: Org) -> dict:
    def source(label, owner):
        return CrawlSourceFactory(name=f"marker-{label}", owner=owner)

    return {
        "a_mine": source("a-mine", org.self_user),
        "a_other": source("a-other", org.dept_user),
        "b": source("b", org.b_user),
    }


def _crawl_jobs(org: Org) -> dict:
    def row(label, owner):
        return CrawlJobFactory(source=CrawlSourceFactory(owner=owner), message=f"marker-{label}")

    return {
        "a_mine": row("a-mine", org.self_user),
        "a_other": row("a-other", org.dept_user),
        "b": row("b", org.b_user),
    }


def _raw_items(org: Org) -> dict:
    def row(label, owner):
        return RawItemFactory(
            source=CrawlSourceFactory(owner=owner), url=f"https://example.com/marker-{label}"
        )

    return {
        "a_mine": row("a-mine", org.self_user),
        "a_other": row("a-other", org.dept_user),
        "b": row("b", org.b_user),
    }


def _projects(org: Org) -> dict:
    from tests.catalog.factories import ProjectFactory

    def project(label, owner):
        return ProjectFactory(name=f"marker-{label}", owner=owner, department=owner.department)

    return {
        "a_mine": project("a-mine", org.self_user),
        "a_other": project("a-other", org.dept_user),
        "b": project("b", org.b_user),
    }


def _investors(org: Org) -> dict:
    from tests.catalog.factories import InvestorFactory

    def investor(label, owner):
        return InvestorFactory(name=f"marker-{label}", owner=owner, department=owner.department)

    return {
        "a_mine": investor("a-mine", org.self_user),
        "a_other": investor("a-other", org.dept_user),
        "b": investor("b", org.b_user),
    }


def _matches(org: Org, **fields) -> dict:
    from tests.matching.factories import MatchFactory

    def match(label, owner):
        return MatchFactory(
            project__name=f"marker-match-{label}",
            owner=owner,
            department=owner.department,
            **fields,
        )

    return {
        "a_mine": match("a-mine", org.self_user),
        "a_other": match("a-other", org.dept_user),
        "b": match("b", org.b_user),
    }


def _deals(org: Org) -> dict:
    from tests.deals.factories import DealFactory

    return {
        label: DealFactory(name=f"marker-deal-{label}", lead=person)
        for label, person in _users(org).items()
    }


def _milestones(org: Org) -> dict:
    """Each milestone on a deal its person leads; the milestone's own owner is someone else's
    reach test (test_a_milestone_owner_reaches_it_on_another_departments_deal)."""
    from tests.deals.factories import DealFactory, MilestoneFactory

    return {
        label: MilestoneFactory(
            name=f"marker-milestone-{label}", deal=DealFactory(lead=person), owner=person
        )
        for label, person in _users(org).items()
    }


def _rule_sets(org: Org) -> dict:
    from tests.matching.factories import MatchRuleSetFactory

    def rule_set(label, owner):
        return MatchRuleSetFactory(
            name=f"marker-rules-{label}", owner=owner, department=owner.department
        )

    return {
        "a_mine": rule_set("a-mine", org.self_user),
        "a_other": rule_set("a-other", org.dept_user),
        "b": rule_set("b", org.b_user),
    }


def _assignment_rules(org: Org) -> dict:
    from tests.matching.factories import AssignmentRuleFactory

    def rule(label, owner):
        return AssignmentRuleFactory(
            name=f"marker-assign-{label}", owner=owner, department=owner.department
        )

    return {
        "a_mine": rule("a-mine", org.self_user),
        "a_other": rule("a-other", org.dept_user),
        "b": rule("b", org.b_user),
    }


RESOURCES = [
    Resource(
        "users",
        ("accounts.view_user",),
        _users,
        lambda u: f"{u.username}@example.com",
        "/accounts/users/",
        lambda u: f"/accounts/users/{u.pk}/",
        "/api/v1/accounts/users/",
    ),
    Resource(
        "departments",
        ("accounts.view_department",),
        _departments,
        lambda d: d.code,
        "/accounts/departments/",
        None,
        "/api/v1/accounts/departments/",
        has_owner=False,
    ),
    Resource(
        "login logs",
        ("accounts.view_loginlog",),
        _login_logs,
        lambda r: r.username,
        "/accounts/login-log/",
        None,
        "/api/v1/accounts/login-logs/",
    ),
    Resource(
        "audit entries",
        ("audit.view_auditentry",),
        _audit_entries,
        lambda e: e.object_repr,
        "/audit/",
        lambda e: f"/audit/{e.pk}/",
        "/api/v1/audit/entries/",
    ),
    Resource(
        "jobs",
        ("core.view_job",),
        _jobs,
        lambda j: j.name,
        "/system/jobs/",
        lambda j: f"/system/jobs/{j.pk}/",
        "/api/v1/system/jobs/",
    ),
    Resource(
        "notification channels",
        ("notify.view_channel", "notify.change_channel"),
        _channels,
        lambda c: c.name,
        "/notify/channels/",
        lambda c: f"/notify/channels/{c.pk}/",
        "/api/v1/notify/channels/",
    ),
    Resource(
        "notification deliveries",
        ("notify.view_delivery",),
        _deliveries,
        lambda d: d.title,
        "/notify/deliveries/",
        None,
        "/api/v1/notify/deliveries/",
    ),
    Resource(
        "crawl sources",
        ("crawler.view_crawlsource",),
        _crawl_sources,
        lambda s: s.name,
        "/crawler/sources/",
        lambda s: f"/crawler/sources/{s.pk}/",
        "/api/v1/crawler/sources/",
    ),
    Resource(
        "crawl jobs",
        ("crawler.view_crawljob",),
        _crawl_jobs,
        lambda j: j.message,
        "/crawler/jobs/",
        lambda j: f"/crawler/jobs/{j.pk}/",
        "/api/v1/crawler/jobs/",
    ),
    Resource(
        "raw items",
        ("crawler.view_rawitem",),
        _raw_items,
        lambda r: r.url,
        "/crawler/raw-items/",
        lambda r: f"/crawler/raw-items/{r.pk}/",
        "/api/v1/crawler/raw-items/",
    ),
    Resource(
        "catalog projects",
        ("catalog.view_project",),
        _projects,
        lambda p: p.name,
        "/catalog/projects/",
        lambda p: f"/catalog/projects/{p.pk}/",
        "/api/v1/catalog/projects/",
    ),
    Resource(
        "catalog investors",
        ("catalog.view_investor",),
        _investors,
        lambda i: i.name,
        "/catalog/investors/",
        lambda i: f"/catalog/investors/{i.pk}/",
        "/api/v1/catalog/investors/",
    ),
    Resource(
        "matches",
        ("matching.view_match",),
        _matches,
        lambda m: m.project.name,
        "/matching/matches/",
        lambda m: f"/matching/matches/{m.pk}/",
        "/api/v1/matching/matches/",
    ),
    Resource(
        "match review queue",
        ("matching.view_match", "matching.review_match"),
        _matches,
        lambda m: m.project.name,
        "/matching/review/",
        lambda m: f"/matching/matches/{m.pk}/",
        "/api/v1/matching/matches/",
    ),
    Resource(
        "match rule sets",
        ("matching.view_matchruleset",),
        _rule_sets,
        lambda r: r.name,
        "/matching/rule-sets/",
        lambda r: f"/matching/rule-sets/{r.pk}/",
        "/api/v1/matching/rule-sets/",
    ),
    Resource(
        "assignment rules",
        ("matching.view_assignmentrule",),
        _assignment_rules,
        lambda r: r.name,
        "/matching/assignment-rules/",
        None,
        "/api/v1/matching/assignment-rules/",
    ),
    Resource(
        "deals",
        ("deals.view_deal",),
        _deals,
        lambda d: d.name,
        "/deals/deals/",
        lambda d: f"/deals/deals/{d.pk}/",
        "/api/v1/deals/deals/",
    ),
    Resource(
        "milestones",
        ("deals.view_milestone",),
        _milestones,
        lambda m: m.name,
        "/deals/milestones/",
        None,
        "/api/v1/deals/milestones/",
    ),
]

VIEWERS = list(EXPECTED)


def expected_for(resource: Resource, viewer: str, records: dict) -> set[str]:
    labels = set(EXPECTED[viewer])
    if viewer == "self_user" and not resource.has_owner:
        labels = set()
    return {label for label in labels if records.get(label) is not None}


def api_ids(api, path: str) -> set[int]:
    response = api.get(path, {"page_size": 500})
    assert response.status_code == 200, response.content
    body = response.json()
    rows = body["results"] if isinstance(body, dict) and "results" in body else body
    return {row["id"] for row in rows}


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.name)
@pytest.mark.parametrize("viewer", VIEWERS)
def test_each_scope_reaches_exactly_its_records(resource, viewer, client, api):
    org = make_org(list(resource.perms))
    records = resource.make(org)
    user = getattr(org, viewer)
    expected = expected_for(resource, viewer, records)
    client.force_login(user)
    api.as_user(user)

    page = client.get(resource.ui_list, {"per_page": 500}).content.decode()
    export = client.get(resource.ui_list, {"export": "csv"}).content.decode("utf-8-sig")
    api_export = api.get(f"{resource.api_list}export/", {"file_format": "csv"})
    assert api_export.status_code == 200, api_export.content
    api_export_text = api_export.content.decode("utf-8-sig")
    listed_ids = api_ids(api, resource.api_list)

    for label, record in records.items():
        if record is None:
            continue
        visible = label in expected
        marker = resource.marker(record)
        where = f"{resource.name}: {viewer} and {label}"
        assert (marker in page) is visible, f"UI list, {where}"
        assert (marker in export) is visible, f"UI export, {where}"
        assert (marker in api_export_text) is visible, f"API export, {where}"
        assert (record.pk in listed_ids) is visible, f"API list, {where}"
        detail = api.get(f"{resource.api_list}{record.pk}/")
        assert detail.status_code == (200 if visible else 404), f"API detail, {where}"
        if not visible:
            assert detail.json()["code"] == "not_found"
        if resource.ui_detail is not None:
            status = client.get(resource.ui_detail(record)).status_code
            assert status == (200 if visible else 404), f"UI detail, {where}"


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.name)
def test_without_the_permission_nothing_is_reachable(resource, client, api):
    org = make_org([])
    records = resource.make(org)
    user = org.all_user
    client.force_login(user)
    assert client.get(resource.ui_list).status_code == 403
    assert api.as_user(user).get(resource.api_list).status_code == 403
    for record in records.values():
        if record is not None:
            assert api.get(f"{resource.api_list}{record.pk}/").status_code in (403, 404)


@pytest.mark.parametrize("viewer", VIEWERS)
def test_the_inbox_holds_exactly_the_matches_assigned_to_its_reader(viewer, client, api):
    """Whatever a role's scope, "my matches" (UI, export, API, API export) lists the approved
    matches assigned to the reader and no one else's."""
    from ibcloud.matching.models import Match

    org = make_org(["matching.view_match", "matching.change_match"])
    people = {
        "a_mine": org.self_user,
        "a_other": org.dept_user,
        "b": org.b_user,
        "all": org.all_user,
    }
    records = {}
    for label, person in people.items():
        (records[label],) = _matches_assigned_to(person, label)
    user = getattr(org, viewer)
    client.force_login(user)
    api.as_user(user)
    page = client.get("/matching/inbox/", {"per_page": 500}).content.decode()
    export = client.get("/matching/inbox/", {"export": "csv"}).content.decode("utf-8-sig")
    api_export = api.get("/api/v1/matching/inbox/export/", {"file_format": "csv"})
    assert api_export.status_code == 200, api_export.content
    api_export_text = api_export.content.decode("utf-8-sig")
    listed = api_ids(api, "/api/v1/matching/inbox/")
    for label, match in records.items():
        mine = match.assignee_id == user.pk
        assert (match.project.name in page) is mine, f"UI inbox: {viewer} and {label}"
        assert (match.project.name in export) is mine, f"UI inbox export: {viewer} and {label}"
        assert (match.project.name in api_export_text) is mine, f"API export: {viewer}, {label}"
        assert (match.pk in listed) is mine, f"API inbox: {viewer} and {label}"
        assert match.status == Match.Status.APPROVED


def _matches_assigned_to(person, label: str) -> list:
    from ibcloud.matching.models import Match
    from tests.matching.factories import MatchFactory

    return [
        MatchFactory(
            project__name=f"marker-inbox-{label}",
            status=Match.Status.APPROVED,
            assignee=person,
            owner=person,
            department=person.department,
        )
    ]


@pytest.mark.parametrize("viewer", VIEWERS)
def test_deal_boards_charts_and_reports_hold_exactly_the_deals_in_reach(viewer, client, api):
    """The kanban, the milestone calendar, the dashboard (page, API, PPTX) and the pivot-ready
    summary count and show only the deals and milestones the reader's scope reaches."""
    import io

    from pptx import Presentation

    from tests.deals.factories import MilestoneFactory

    org = make_org(["deals.view_deal", "deals.view_milestone", "deals.export_deal_report"])
    deals = _deals(org)
    milestones = {
        label: MilestoneFactory(name=f"marker-cal-{label}", deal=deal, owner=deal.lead)
        for label, deal in deals.items()
    }
    user = getattr(org, viewer)
    expected = expected_for(RESOURCES[0], viewer, deals)
    client.force_login(user)
    api.as_user(user)
    kanban = client.get("/deals/kanban/", {"deal_type": "ipo"}).content.decode()
    month = milestones["b"].due_date.strftime("%Y-%m")
    calendar = client.get("/deals/calendar/", {"month": month}).content.decode()
    figures = api.get("/api/v1/deals/dashboard/")
    assert figures.status_code == 200, figures.content
    deck = client.get("/deals/dashboard/pptx/")
    assert deck.status_code == 200
    Presentation(io.BytesIO(deck.content))  # opens
    summary = client.get("/deals/summary/export/")
    assert summary.status_code == 200
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(summary.content)).worksheets[0]
    summary_text = "\n".join(str(cell.value) for row in sheet.iter_rows() for cell in row)
    for label, deal in deals.items():
        visible = label in expected
        assert (deal.name in kanban) is visible, f"kanban: {viewer} and {label}"
        assert (milestones[label].name in calendar) is visible, f"calendar: {viewer}, {label}"
        assert (deal.code in summary_text) is visible, f"summary: {viewer} and {label}"
    assert figures.json()["kpis"]["active_deals"] == len(expected)


def test_a_milestone_owner_reaches_it_on_another_departments_deal(client, api):
    """ "Own records" reaches a milestone through its deal's lead or through its own owner."""
    from tests.deals.factories import DealFactory, MilestoneFactory

    org = make_org(["deals.view_milestone"])
    theirs = MilestoneFactory(name="marker-owned", deal=DealFactory(lead=org.b_user))
    theirs.owner = org.self_user
    theirs.save()
    api.as_user(org.self_user)
    assert theirs.pk in api_ids(api, "/api/v1/deals/milestones/")
    api.as_user(org.dept_user)
    assert theirs.pk not in api_ids(api, "/api/v1/deals/milestones/")
