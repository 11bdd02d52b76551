"""Pages of the rule sets and the match list: a dry run shows what would change before anything
does, applying it produces exactly that; the match list and its export hold the matches in scope."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from ibcloud.audit.models import AuditEntry
from ibcloud.core.models import Job
from ibcloud.matching.models import DryRun, Match, MatchRuleSet
from tests.catalog.factories import InvestorFactory, ProjectFactory
from tests.conftest import make_org
from tests.matching.factories import MatchFactory, MatchRuleSetFactory
from tests.matching.test_rule_sets import form_data

pytestmark = pytest.mark.django_db

PERMS = [
    "matching.view_matchruleset",
    "matching.add_matchruleset",
    "matching.change_matchruleset",
    "matching.delete_matchruleset",
    "matching.view_match",
    "catalog.view_project",
    "catalog.view_investor",
    "core.view_job",
]

#: industry must hold; then region decides the score (same province 1.0, elsewhere less)
CRITERIA = [
    {"kind": "industry", "mode": "filter", "weight": 0, "params": {}},
    {"kind": "region", "mode": "score", "weight": 100, "params": {}},
]


@pytest.fixture
def org():
    return make_org(PERMS)


@pytest.fixture
def engine():
    return pytest.importorskip("ibcloud.matching.engine")


def pairs(rule_set) -> set[tuple[int, int]]:
    """The rule set's proposed or approved pairs now."""
    return set(
        Match.objects.filter(rule_set=rule_set, status__in=["pending", "approved"]).values_list(
            "project_id", "investor_id"
        )
    )


@pytest.fixture
def market():
    """Two software projects (广东, 浙江) and investors preferring software in 广东 or anywhere,
    plus a healthcare project no software investor takes."""
    guangdong = ProjectFactory(name="云图智能", province_code="440000", city_code="440300")
    zhejiang = ProjectFactory(
        name="杭州数科",
        province_code="330000",
        province="浙江省",
        city_code="330100",
        city="杭州市",
    )
    ProjectFactory(name="康复医疗", industry_section="Q", industry="84")
    local = InvestorFactory(
        name="深创投", preferred_industries=["I"], preferred_regions=["440000"], nationwide=False
    )
    national = InvestorFactory(name="红杉", preferred_industries=["65"], nationwide=True)
    return {"guangdong": guangdong, "zhejiang": zhejiang, "local": local, "national": national}


def test_a_dry_run_shows_the_changes_and_apply_produces_exactly_them(
    org, client, engine, market, django_capture_on_commit_callbacks
):
    rule_set = MatchRuleSetFactory(
        name="软件", criteria=CRITERIA, threshold=10, max_per_project=5, department=None
    )
    with django_capture_on_commit_callbacks(execute=True):
        engine.run_rule_set(rule_set)
    before = pairs(rule_set)
    assert before, "the low threshold proposes pairs"
    statuses = dict(Match.objects.values_list("pk", "status"))
    client.force_login(org.all_user)

    # Raise the threshold in the form and dry-run it: only strong regional fits remain.
    data = form_data(
        [
            {"kind": "industry", "mode": "filter", "weight": 0},
            {"kind": "region", "mode": "score", "weight": 100},
        ],
        name="软件",
        threshold="95",
        max_per_project="5",
        dry_run_from="form",
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("matching:matchruleset_dryrun", args=[rule_set.pk]), data)
    assert response.status_code == 302
    dry_run = DryRun.objects.get()
    assert response["Location"] == reverse("matching:dryrun_detail", args=[dry_run.pk])
    # Nothing changed yet: the rule set and its matches are as they were.
    rule_set.refresh_from_db()
    assert float(rule_set.threshold) == 10
    assert dict(Match.objects.values_list("pk", "status")) == statuses
    assert AuditEntry.objects.filter(event="matching_dry_run").exists()

    page = client.get(response["Location"])
    assert page.status_code == 200
    dry_run.refresh_from_db()
    summary = page.context["summary"]
    removed = {(p["project_id"], p["investor_id"]) for p in page.context["removed"]}
    added = {(p["project_id"], p["investor_id"]) for p in page.context["added"]}
    assert summary["removed"] == len(removed) > 0
    assert page.context["can_apply"]
    content = page.content.decode()
    assert "removed-pairs" in content and "apply-button" in content

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("matching:dryrun_apply", args=[dry_run.pk]))
    assert response.status_code == 302
    rule_set.refresh_from_db()
    assert float(rule_set.threshold) == 95 and rule_set.version == 2
    assert pairs(rule_set) == (before - removed) | added
    assert AuditEntry.objects.filter(event="matching.dry_run_applied").exists()


def test_a_dry_run_from_an_invalid_form_shows_the_errors_and_starts_nothing(org, client):
    rule_set = MatchRuleSetFactory(department=org.dept_a)
    client.force_login(org.all_user)
    data = form_data(
        [{"kind": "amount", "mode": "score", "weight": 100}], dry_run_from="form", name="x"
    )
    response = client.post(reverse("matching:matchruleset_dryrun", args=[rule_set.pk]), data)
    assert response.status_code == 200
    assert "criteria-errors" in response.content.decode()
    assert DryRun.objects.count() == 0


def test_a_dry_run_of_a_new_rule_set_cannot_be_applied(
    org, client, engine, market, django_capture_on_commit_callbacks
):
    client.force_login(org.all_user)
    data = form_data(
        [
            {"kind": "industry", "mode": "filter", "weight": 0},
            {"kind": "region", "mode": "score", "weight": 100},
        ],
        dry_run_from="form",
        threshold="10",
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("matching:matchruleset_dryrun"), data)
    dry_run = DryRun.objects.get()
    assert dry_run.rule_set is None and MatchRuleSet.objects.count() == 0
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert page.context["summary"]["added"] == page.context["summary"]["total"] > 0
    assert not page.context["can_apply"]
    assert client.post(reverse("matching:dryrun_apply", args=[dry_run.pk])).status_code == 403
    assert Match.objects.count() == 0


def test_dry_runs_stay_within_the_rule_sets_reach(org, client):
    rule_set = MatchRuleSetFactory(department=org.dept_a)
    dry_run = DryRun.objects.create(rule_set=rule_set, configuration={}, created_by=org.dept_user)
    client.force_login(org.b_user)
    assert client.get(reverse("matching:dryrun_detail", args=[dry_run.pk])).status_code == 404
    assert client.post(reverse("matching:dryrun_apply", args=[dry_run.pk])).status_code == 404
    client.force_login(org.dept_user)
    assert client.get(reverse("matching:dryrun_detail", args=[dry_run.pk])).status_code == 200


def test_run_full_match_queues_the_engines_job_and_shows_its_progress(org, client, engine):
    rule_set = MatchRuleSetFactory(department=org.dept_a)
    client.force_login(org.dept_user)
    response = client.post(reverse("matching:matchruleset_run", args=[rule_set.pk]))
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.arguments["args"] == [rule_set.pk]
    assert response["Location"] == reverse("core:job_detail", args=[job.pk])
    assert AuditEntry.objects.filter(event="matching_run").exists()
    client.force_login(org.b_user)
    response = client.post(reverse("matching:matchruleset_run", args=[rule_set.pk]))
    assert response.status_code == 404


# --- The match list -------------------------------------------------------------------------------


@pytest.fixture
def matches(org):
    rule_a = MatchRuleSetFactory(name="A部规则", department=org.dept_a)
    rule_b = MatchRuleSetFactory(name="B部规则", department=org.dept_b)
    return {
        "a": MatchFactory(rule_set=rule_a, project=ProjectFactory(name="甲项目"), score=80),
        "a_approved": MatchFactory(
            rule_set=rule_a, project=ProjectFactory(name="乙项目"), status="approved", score=70
        ),
        "b": MatchFactory(rule_set=rule_b, project=ProjectFactory(name="丙项目"), score=90),
        "own": MatchFactory(
            rule_set=rule_b,
            project=ProjectFactory(name="丁项目"),
            status="approved",
            assignee=org.self_user,
            owner=org.self_user,
            department=org.dept_b,
        ),
    }


def listed(client, **params) -> list[str]:
    page = client.get(reverse("matching:match_list"), params)
    assert page.status_code == 200
    return sorted(row.record.project.name for row in page.context["table"].rows)


@pytest.mark.parametrize(
    "who, expected",
    [
        ("all_user", ["丁项目", "丙项目", "乙项目", "甲项目"]),
        ("dept_user", ["乙项目", "甲项目"]),
        ("b_user", ["丁项目", "丙项目"]),
        ("custom_user", ["丁项目", "丙项目"]),
        ("self_user", ["丁项目"]),
    ],
)
def test_the_match_list_holds_the_matches_in_scope(org, client, matches, who, expected):
    client.force_login(getattr(org, who))
    assert listed(client) == expected


def test_the_match_list_filters(org, client, matches):
    client.force_login(org.all_user)
    assert listed(client, status="approved") == ["丁项目", "乙项目"]
    assert listed(client, rule_set=matches["a"].rule_set_id) == ["乙项目", "甲项目"]
    assert listed(client, score_min="85") == ["丙项目"]
    assert listed(client, q="甲") == ["甲项目"]
    assert listed(client, assignee=org.self_user.pk) == ["丁项目"]
    assert listed(client, unassigned="true") == ["丙项目", "乙项目", "甲项目"]
    assert listed(client, province_code="440000") == ["丁项目", "丙项目", "乙项目", "甲项目"]
    assert listed(client, province_code="110000") == []
    assert listed(client, project=matches["b"].project_id) == ["丙项目"]


def test_the_match_filters_offer_names_not_codes(org, client, matches):
    """Provinces by name, assignees among the people in reach; a record's id (from its page's
    link) stays in the form as a hidden field, so other filters keep it."""
    import lxml.html

    client.force_login(org.dept_user)
    project = matches["a"].project_id
    page = client.get(reverse("matching:match_list"), {"project": project}).content.decode()
    form = lxml.html.fromstring(page).get_element_by_id("filter-form")
    provinces = dict(
        (option.get("value"), option.text)
        for option in form.xpath('.//select[@name="province_code"]/option')
    )
    assert provinces["440000"] == "广东省"
    assignees = {option.text for option in form.xpath('.//select[@name="assignee"]/option')}
    assert org.dept_user.name in assignees or org.dept_user.username in assignees
    assert org.b_user.username not in assignees  # another department, out of reach
    hidden = form.xpath('.//input[@name="project"]')
    assert [(field.get("type"), field.get("value")) for field in hidden] == [
        ("hidden", str(project))
    ]
    assert 'for="id_project"' not in page


def test_the_export_is_the_filtered_list_in_scope_and_audited(org, client, matches, english):
    client.force_login(org.dept_user)
    response = client.get(reverse("matching:match_list"), {"export": "csv", "status": "pending"})
    assert response.status_code == 200
    header, *rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    project = header.index("Project")
    assert [row[project] for row in rows] == ["甲项目"]
    entry = AuditEntry.objects.filter(event="export").latest("timestamp")
    assert entry.actor == org.dept_user
    assert entry.additional_data["model"] == "matching.match"
    assert entry.additional_data["rows"] == 1


def test_the_rule_set_list_and_the_dashboard_open(org, client, matches):
    client.force_login(org.dept_user)
    page = client.get(reverse("matching:matchruleset_list"))
    assert page.status_code == 200
    assert [row.record.name for row in page.context["table"].rows] == ["A部规则"]
    page = client.get(reverse("matching:dashboard"))
    assert page.status_code == 200
    assert page.context["stats"]["totals"]["matches"] == 2
    # the rule-set filter offers only the rule sets the viewer may see
    assert list(page.context["form"].fields["rule_set"].queryset) == [matches["a"].rule_set]
    assert client.get(reverse("matching:dashboard"), {"date_from": "x"}).status_code == 200


def test_a_dry_run_still_computing_shows_its_progress_and_polls(org, client, engine):
    rule_set = MatchRuleSetFactory(department=org.dept_a)
    client.force_login(org.dept_user)
    # the job is queued when the request's transaction commits; here it has not run yet
    response = client.post(reverse("matching:matchruleset_dryrun", args=[rule_set.pk]))
    dry_run = DryRun.objects.get()
    assert dry_run.job.status == Job.Status.PENDING
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert not page.context["finished"] and not page.context["can_apply"]
    assert 'hx-trigger="every 2s"' in page.content.decode()
    partial = client.get(
        response["Location"], HTTP_HX_REQUEST="true", HTTP_HX_TARGET="dryrun-status"
    )
    assert partial.status_code == 200
    assert "<html" not in partial.content.decode()
