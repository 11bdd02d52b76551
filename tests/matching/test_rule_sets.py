"""The rule-set form a non-programmer fills in: criteria as a table, checked by the engine's rules,
with each problem shown on the row it concerns; the rule set's page in plain words."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ibcloud.matching.forms import MatchRuleSetForm, criterion_kinds, describe_criteria
from ibcloud.matching.models import MatchRuleSet
from tests.conftest import make_org
from tests.matching.factories import REALISTIC_CRITERIA, MatchFactory, MatchRuleSetFactory

pytestmark = pytest.mark.django_db

PERMS = [
    "matching.view_matchruleset",
    "matching.add_matchruleset",
    "matching.change_matchruleset",
    "matching.delete_matchruleset",
    "matching.view_match",
]


@pytest.fixture
def org():
    return make_org(PERMS)


def form_data(rows: list[dict], **basics) -> dict:
    """POST data of the rule-set form with one table row per criterion in ``rows``."""
    data = {
        "name": "医疗成长期",
        "description": "",
        "is_active": "on",
        "department": "",
        "threshold": "60",
        "max_per_project": "5",
        "criteria-TOTAL_FORMS": str(len(rows)),
        "criteria-INITIAL_FORMS": "0",
        "criteria-MIN_NUM_FORMS": "0",
        "criteria-MAX_NUM_FORMS": "30",
        **basics,
    }
    for index, row in enumerate(rows):
        data[f"criteria-{index}-kind"] = row.get("kind", "")
        data[f"criteria-{index}-mode"] = row.get("mode", "score")
        data[f"criteria-{index}-weight"] = str(row.get("weight", ""))
        for name, value in (row.get("params") or {}).items():
            key = f"criteria-{index}-p__{row['kind']}__{name}"
            if value is True:
                data[key] = "on"
            elif value is not False:
                data[key] = str(value)
    return data


GOOD_ROWS = [
    {"kind": "industry", "mode": "filter", "weight": 0},
    {"kind": "amount", "mode": "score", "weight": 40, "params": {"tolerance_pct": 20}},
    {"kind": "region", "mode": "score", "weight": 60},
]


def test_the_table_offers_every_criterion_kind_with_its_parameters():
    kinds = criterion_kinds()
    assert {"industry", "round", "region", "amount", "text", "recency", "revealed"} <= set(kinds)
    assert "capital_type" in kinds and "field" in kinds
    amount = kinds["amount"]
    tolerance = next(p for p in amount.params if p.name == "tolerance_pct")
    assert tolerance.label != "tolerance_pct"  # a label a person reads
    assert tolerance.default is not None
    field_kind = kinds["field"]
    field_param = next(p for p in field_kind.params if p.name == "field")
    assert field_param.type == "choice"  # the allowlist, not free text


def test_a_valid_table_becomes_the_rule_sets_criteria(org):
    form = MatchRuleSetForm(form_data(GOOD_ROWS), instance=MatchRuleSet(), actor=org.all_user)
    assert form.is_valid(), (form.errors, form.criteria_errors, form.criteria.errors)
    rule_set = form.save()
    assert [c["kind"] for c in rule_set.criteria] == ["industry", "amount", "region"]
    assert rule_set.criteria[1]["params"]["tolerance_pct"] == 20
    assert rule_set.criteria[1]["weight"] == 40
    assert rule_set.department is None  # the whole bank


def test_blank_and_removed_rows_are_skipped(org):
    rows = [GOOD_ROWS[0], {"kind": ""}, GOOD_ROWS[1], GOOD_ROWS[2]]
    data = form_data(rows)
    # the browser removed row 1 entirely: a gap in the numbering
    for key in [k for k in data if k.startswith("criteria-1-")]:
        del data[key]
    form = MatchRuleSetForm(data, instance=MatchRuleSet(), actor=org.all_user)
    assert form.is_valid(), (form.criteria_errors, form.criteria.errors)
    assert len(form.cleaned_criteria) == 3


def test_a_bad_parameter_is_refused_on_its_row(org):
    rows = [
        *GOOD_ROWS[:1],
        {"kind": "amount", "mode": "score", "weight": 40, "params": {"tolerance_pct": 500}},
    ]
    form = MatchRuleSetForm(form_data(rows), instance=MatchRuleSet(), actor=org.all_user)
    assert not form.is_valid()
    amount_row = form.criteria.forms[1]
    assert any("tolerance_pct" in message for message in amount_row.non_field_errors())
    assert not form.criteria.forms[0].errors
    assert MatchRuleSet.objects.count() == 0


def test_a_rule_set_without_a_blocking_filter_is_refused_with_a_plain_message(org, english):
    rows = [{"kind": "amount", "mode": "score", "weight": 100}]
    form = MatchRuleSetForm(form_data(rows), instance=MatchRuleSet(), actor=org.all_user)
    assert not form.is_valid()
    assert any("filter" in message for message in form.criteria_errors)


def test_an_empty_table_is_refused(org):
    form = MatchRuleSetForm(form_data([]), instance=MatchRuleSet(), actor=org.all_user)
    assert not form.is_valid()
    assert form.criteria_errors


def test_changing_the_criteria_bumps_the_version_and_renaming_does_not(org):
    rule_set = MatchRuleSetFactory(criteria=[dict(c) for c in REALISTIC_CRITERIA])
    form = MatchRuleSetForm(form_data(GOOD_ROWS), instance=rule_set, actor=org.all_user)
    assert form.is_valid(), (form.criteria_errors, form.criteria.errors)
    form.save()
    rule_set.refresh_from_db()
    assert rule_set.version == 2
    data = form_data(GOOD_ROWS, name="改个名字", threshold=str(rule_set.threshold))
    form = MatchRuleSetForm(data, instance=rule_set, actor=org.all_user)
    assert form.is_valid()
    form.save()
    rule_set.refresh_from_db()
    assert (rule_set.name, rule_set.version) == ("改个名字", 2)


def test_the_form_shows_the_saved_criteria_with_their_parameters(org):
    rule_set = MatchRuleSetFactory()
    form = MatchRuleSetForm(instance=rule_set, actor=org.all_user)
    rows = form.criteria.forms
    assert len(rows) >= len(REALISTIC_CRITERIA)  # plus blank rows to add more
    amount_row = rows[3]
    assert amount_row.initial["kind"] == "amount"
    assert amount_row.initial["p__amount__tolerance_pct"] == 20


def test_department_choices_stay_within_reach(org):
    form = MatchRuleSetForm(instance=MatchRuleSet(), actor=org.b_user)
    offered = set(form.fields["department"].queryset)
    assert org.dept_b in offered and org.dept_a not in offered


def test_the_criteria_read_in_plain_words():
    described = describe_criteria(REALISTIC_CRITERIA)
    assert len(described) == len(REALISTIC_CRITERIA)
    amount = described[3]
    assert amount["mode"] == "score" and amount["weight"] == 20
    assert any(value == 20 for _label, value in amount["params"])
    assert all(item["label"] for item in described)


def test_the_edit_page_saves_and_a_bad_row_is_shown_on_the_page(org, client):
    client.force_login(org.all_user)
    url = reverse("matching:matchruleset_add")
    page = client.get(url)
    assert page.status_code == 200
    assert b"criteria-table" in page.content
    bad = [
        GOOD_ROWS[0],
        {"kind": "amount", "mode": "score", "weight": 40, "params": {"tolerance_pct": 500}},
    ]
    response = client.post(url, form_data(bad))
    assert response.status_code == 200
    assert "tolerance_pct" in response.content.decode()
    assert MatchRuleSet.objects.count() == 0
    response = client.post(url, form_data(GOOD_ROWS, department=str(org.dept_a.pk)))
    assert response.status_code == 302
    rule_set = MatchRuleSet.objects.get()
    assert response["Location"] == rule_set.get_absolute_url()
    assert rule_set.owner == org.all_user and rule_set.department == org.dept_a


def test_a_department_user_cannot_create_a_whole_bank_rule_set(org, client):
    client.force_login(org.dept_user)
    response = client.post(reverse("matching:matchruleset_add"), form_data(GOOD_ROWS))
    assert response.status_code == 200
    assert MatchRuleSet.objects.count() == 0


def test_the_detail_page_counts_its_matches_by_status_within_scope(org, client):
    rule_set = MatchRuleSetFactory(department=org.dept_a)
    MatchFactory.create_batch(2, rule_set=rule_set)
    MatchFactory(rule_set=rule_set, status="approved")
    MatchFactory(rule_set=rule_set, status="rejected", reject_reason="amount_mismatch")
    # assigned to someone in B: out of the A-department user's reach
    MatchFactory(rule_set=rule_set, status="approved", department=org.dept_b)
    client.force_login(org.dept_user)
    page = client.get(rule_set.get_absolute_url())
    assert page.status_code == 200
    counts = {row["status"]: row["count"] for row in page.context["figures"]["status_counts"]}
    assert counts == {"pending": 2, "approved": 1, "rejected": 1, "withdrawn": 0, "unmatched": 0}
    reasons = page.context["figures"]["rejection_reasons"]
    assert [(r["reason"], r["count"]) for r in reasons] == [("amount_mismatch", 1)]
    client.force_login(org.b_user)
    assert client.get(rule_set.get_absolute_url()).status_code == 404


def test_new_rows_start_with_the_engines_defaults(org):
    form = MatchRuleSetForm(instance=MatchRuleSet(), actor=org.all_user)
    blank = form.criteria.empty_form
    # the region filter lets investors without stated regions through unless unticked
    assert blank["p__region__any_when_empty"].value() is True
    assert blank["p__industry__any_when_empty"].value() is False
    assert blank["p__field__op"].value() == "eq"
