"""The data-quality pages: the quarantine and ingestion log with re-processing, the normalization
preview, the editable rules, and manual merge and split, each within the viewer's permissions and
data scope."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from ibcloud.audit.models import AuditEntry
from ibcloud.catalog import services
from ibcloud.catalog.models import ExchangeRate, IndustryKeyword, Ingestion, Project, RoundAlias
from ibcloud.core.parameters import set_parameter
from tests.catalog.factories import ProjectFactory
from tests.conftest import make_org
from tests.factories import CrawlSourceFactory, RawItemFactory, RoleFactory, UserFactory

pytestmark = pytest.mark.django_db

QUALITY_PERMS = [
    "catalog.view_ingestion",
    "catalog.reprocess_ingestion",
    "catalog.view_project",
    "catalog.change_project",
    "catalog.merge_project",
    "catalog.view_investor",
    "catalog.change_investor",
    "catalog.merge_investor",
    "crawler.view_rawitem",
    "crawler.view_crawlsource",
]
RULE_PERMS = [
    f"catalog.{action}_{model}"
    for model in ("exchangerate", "industrykeyword", "roundalias")
    for action in ("view", "add", "change", "delete")
]
SPAM = "加盟代理"


@pytest.fixture
def org():
    return make_org(QUALITY_PERMS + RULE_PERMS)


@pytest.fixture
def source_a(org):
    return CrawlSourceFactory(owner=org.dept_user, department=org.dept_a, trust=60)


@pytest.fixture
def source_b(org):
    return CrawlSourceFactory(owner=org.b_user, department=org.dept_b, trust=60)


def quarantined(source, data=None, code="spam", reason="contains the spam word “加盟”"):
    """A raw item of ``source`` held in quarantine (the row the pipeline would write)."""
    raw = RawItemFactory(source=source, data=data or {"name": "云图智能 加盟"})
    return Ingestion.objects.create(
        raw_item=raw,
        outcome=Ingestion.Outcome.QUARANTINED,
        reason_code=code,
        reason=reason,
        processed_at=timezone.now(),
    )


def ingest(source, **data):
    """Crawl-and-ingest one project listing of ``source``; its ingestion."""
    raw = RawItemFactory(source=source, data=data)
    services.ingest_raw_items([raw])
    return Ingestion.objects.get(raw_item=raw)


def rows_of(html: str, attribute: str) -> list[str]:
    return re.findall(rf'{attribute}="([^"]*)"', html)


# --- Quarantine and log ---------------------------------------------------------------------------


def test_the_quarantine_lists_quarantined_records_with_their_reason_by_default(
    client, org, source_a
):
    held = quarantined(source_a, reason="contains the spam word “加盟”")
    fine = Ingestion.objects.create(
        raw_item=RawItemFactory(source=source_a, data={"name": "星河智能"}),
        outcome=Ingestion.Outcome.CREATED,
        processed_at=timezone.now(),
    )
    client.force_login(org.dept_user)

    page = client.get(reverse("catalog:ingestion_list")).content.decode()
    assert "contains the spam word “加盟”" in page
    assert f'href="{held.get_absolute_url()}"' in page
    assert f'href="{fine.get_absolute_url()}"' not in page

    log = client.get(reverse("catalog:ingestion_list"), {"outcome": ""}).content.decode()
    assert f'href="{held.get_absolute_url()}"' in log
    assert f'href="{fine.get_absolute_url()}"' in log


def test_the_quarantine_filters_by_reason_and_source(client, org, source_a):
    other_source = CrawlSourceFactory(owner=org.dept_user, department=org.dept_a)
    spam = quarantined(source_a, code="spam")
    empty = quarantined(other_source, data={"name": ""}, code="empty", reason="no field")
    client.force_login(org.dept_user)
    url = reverse("catalog:ingestion_list")

    page = client.get(url, {"outcome": "quarantined", "reason_code": "empty"}).content.decode()
    assert empty.get_absolute_url() in page and spam.get_absolute_url() not in page
    page = client.get(url, {"outcome": "quarantined", "source": source_a.pk}).content.decode()
    assert spam.get_absolute_url() in page and empty.get_absolute_url() not in page


def test_the_quarantine_is_scoped_by_the_source_department(client, org, source_a, source_b):
    mine = quarantined(source_a)
    theirs = quarantined(source_b)
    client.force_login(org.dept_user)

    page = client.get(reverse("catalog:ingestion_list")).content.decode()
    assert mine.get_absolute_url() in page
    assert theirs.get_absolute_url() not in page
    assert client.get(theirs.get_absolute_url()).status_code == 404
    assert client.get(mine.get_absolute_url()).status_code == 200


def test_the_detail_shows_raw_data_escaped_with_the_reason(client, org, source_a):
    held = quarantined(
        source_a,
        data={"name": "<script>alert(1)</script>云图", "amount": "5000万"},
        code="broken",
        reason="the name still holds markup",
    )
    client.force_login(org.dept_user)
    page = client.get(held.get_absolute_url()).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;云图" in page
    assert "the name still holds markup" in page and "broken" in page


def test_without_the_permission_the_quarantine_is_refused(client, org, source_a):
    quarantined(source_a)
    role = RoleFactory(data_scope="all", perms=["catalog.view_project"])
    user = UserFactory(username="viewer", department=org.dept_a, roles=[role])
    client.force_login(user)
    assert client.get(reverse("catalog:ingestion_list")).status_code == 403


# --- Re-processing --------------------------------------------------------------------------------


def test_reprocessing_after_a_rule_fix_moves_the_record_out_of_quarantine(
    client, org, source_a, english
):
    set_parameter("catalog.spam_words", SPAM)
    held = ingest(source_a, name=f"云图智能{SPAM}", industry="人工智能", round="A轮")
    assert held.outcome == "quarantined" and held.reason_code == "spam"
    client.force_login(org.dept_user)
    assert SPAM in client.get(held.get_absolute_url()).content.decode()

    set_parameter("catalog.spam_words", "博彩")  # the rule is fixed
    response = client.post(reverse("catalog:ingestion_reprocess", args=[held.pk]), follow=True)

    held.refresh_from_db()
    assert held.outcome == "created" and held.project is not None
    assert held.project.name.startswith("云图智能")
    assert "Re-processed 1 record(s). created: 1" in response.content.decode()
    entry = AuditEntry.objects.get(event="ingestion_reprocess")
    assert entry.actor == org.dept_user


def test_bulk_reprocessing_touches_only_the_chosen_records_in_reach(
    client, org, source_a, source_b
):
    set_parameter("catalog.spam_words", SPAM)
    first = ingest(source_a, name=f"云图智能{SPAM}")
    second = ingest(source_a, name=f"星河智能{SPAM}")
    theirs = ingest(source_b, name=f"远山科技{SPAM}")
    set_parameter("catalog.spam_words", "博彩")
    client.force_login(org.dept_user)

    client.post(
        reverse("catalog:ingestion_list"),
        {"bulk_action": "reprocess", "pk": [first.pk, theirs.pk]},
    )
    outcomes = {
        i.pk: i.outcome for i in Ingestion.objects.filter(pk__in=[first.pk, second.pk, theirs.pk])
    }
    assert outcomes == {first.pk: "created", second.pk: "quarantined", theirs.pk: "quarantined"}


def test_reprocess_all_after_a_rule_change_from_the_rule_list(client, org, source_a):
    set_parameter("catalog.spam_words", SPAM)
    held = ingest(source_a, name=f"云图智能{SPAM}")
    set_parameter("catalog.spam_words", "博彩")
    client.force_login(org.dept_user)

    page = client.get(reverse("catalog:roundalias_list")).content.decode()
    assert 'id="reprocess-offer"' in page
    assert reverse("catalog:ingestion_reprocess_all") in page
    client.post(reverse("catalog:ingestion_reprocess_all"), {"outcome": "quarantined"})
    held.refresh_from_db()
    assert held.outcome == "created"


def test_reprocess_all_with_a_bad_filter_reprocesses_nothing(client, org, source_a):
    set_parameter("catalog.spam_words", SPAM)
    held = ingest(source_a, name=f"云图智能{SPAM}")
    set_parameter("catalog.spam_words", "博彩")
    client.force_login(org.dept_user)
    client.post(reverse("catalog:ingestion_reprocess_all"), {"outcome": "bogus"})
    held.refresh_from_db()
    assert held.outcome == "quarantined"


def test_reprocessing_needs_its_permission(client, org, source_a):
    held = quarantined(source_a)
    role = RoleFactory(data_scope="all", perms=["catalog.view_ingestion"])
    user = UserFactory(username="looker", department=org.dept_a, roles=[role])
    client.force_login(user)
    assert client.get(held.get_absolute_url()).status_code == 200
    url = reverse("catalog:ingestion_reprocess", args=[held.pk])
    assert client.post(url).status_code == 403
    held.refresh_from_db()
    assert held.outcome == "quarantined"
    assert not AuditEntry.objects.filter(event="ingestion_reprocess").exists()


def test_reprocessing_a_record_out_of_reach_is_not_found(client, org, source_b):
    held = quarantined(source_b)
    client.force_login(org.dept_user)
    assert client.post(reverse("catalog:ingestion_reprocess", args=[held.pk])).status_code == 404


# --- Normalization preview ------------------------------------------------------------------------


def test_the_preview_shows_each_fields_value_and_rule(client, org):
    client.force_login(org.dept_user)
    response = client.post(
        reverse("catalog:normalize_preview"),
        {
            "item_type": "project",
            "raw": "name: 云图智能\namount：数千万元\nround: A轮\nlocation: 广东·深圳\nfoo: bar",
        },
    )
    page = response.content.decode()
    assert response.status_code == 200
    fields = rows_of(page, "data-field")
    assert {"name", "amount", "round", "place"} <= set(fields)
    assert "10000000" in page and "100000000" in page  # 数千万 → 1,000万–1亿
    assert "440300" in page
    rules = re.findall(r"data-rule>([^<]+)<", page)
    assert len(rules) == len(fields) and all(rule.strip() for rule in rules)
    assert "foo" in page and 'id="preview-ignored"' in page
    assert 'data-quarantined="0"' in page


def test_the_preview_takes_json_and_tells_the_quarantine_verdict(client, org):
    set_parameter("catalog.spam_words", SPAM)
    client.force_login(org.dept_user)
    page = client.post(
        reverse("catalog:normalize_preview"),
        {"item_type": "project", "raw": f'{{"name": "云图智能{SPAM}", "round": "B+"}}'},
    ).content.decode()
    assert 'data-quarantined="1"' in page and "spam" in page


@pytest.mark.parametrize(
    "raw",
    ["", "{not json", "just a line without separator", '["a", "b"]', "x: " + "长" * 20_001],
)
def test_the_preview_rejects_bad_input_with_an_error(client, org, raw):
    client.force_login(org.dept_user)
    response = client.post(
        reverse("catalog:normalize_preview"), {"item_type": "project", "raw": raw}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="preview-errors"' in page or "data-field-error" in page
    assert 'id="preview-table"' not in page


def test_the_preview_answers_htmx_with_the_result_panel_only(client, org):
    client.force_login(org.dept_user)
    url = reverse("catalog:normalize_preview")
    page = client.post(
        url, {"item_type": "investor", "raw": "name: 鼎盛资本"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert page.lstrip().startswith('<div id="preview-result">') and "<html" not in page
    assert 'data-field="name"' in page
    bad = client.post(url, {"item_type": "investor", "raw": "{"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 200 and 'id="preview-errors"' in bad.content.decode()


def test_the_preview_needs_the_view_project_permission(client, org):
    role = RoleFactory(data_scope="all", perms=["catalog.view_ingestion"])
    client.force_login(UserFactory(username="nobody", department=org.dept_a, roles=[role]))
    assert client.get(reverse("catalog:normalize_preview")).status_code == 403


# --- Rules ----------------------------------------------------------------------------------------


def test_exchange_rates_are_validated_and_saved_upper_case(client, org):
    client.force_login(org.dept_user)
    url = reverse("catalog:exchangerate_add")
    for currency, rate in (("USB", "7.1"), ("usd", "0"), ("usd", "-1"), ("CNY", "1")):
        page = client.post(url, {"currency": currency, "rate_to_cny": rate}).content.decode()
        assert "data-field-error" in page, (currency, rate)
    assert not ExchangeRate.objects.filter(currency__in=["USB", "CNY"]).exists()

    ExchangeRate.objects.filter(currency="SGD").delete()
    response = client.post(url, {"currency": "sgd", "rate_to_cny": "5.3"})
    assert response.status_code == 302
    rate = ExchangeRate.objects.get(currency="SGD")
    assert str(rate.rate_to_cny).startswith("5.3")
    page = client.post(url, {"currency": "SGD", "rate_to_cny": "5"}).content.decode()
    assert 'data-field-error="currency"' in page  # one rate per currency


def test_industry_keywords_choose_a_division_shown_with_its_section(client, org):
    client.force_login(org.dept_user)
    page = client.get(reverse("catalog:industrykeyword_add")).content.decode()
    assert "I65 " in page
    response = client.post(
        reverse("catalog:industrykeyword_add"),
        {"keyword": "视觉质检", "industry": "65", "priority": "5", "is_active": "on"},
    )
    assert response.status_code == 302
    keyword = IndustryKeyword.objects.get(keyword="视觉质检")
    assert (keyword.industry, keyword.priority) == ("65", 5)
    page = client.post(
        reverse("catalog:industrykeyword_add"),
        {"keyword": "无效行业", "industry": "I", "priority": "0"},
    ).content.decode()
    assert 'data-field-error="industry"' in page  # a section is not a division
    assert not IndustryKeyword.objects.filter(keyword="无效行业").exists()


def test_round_aliases_choose_a_round_and_are_audited(client, org):
    client.force_login(org.dept_user)
    response = client.post(reverse("catalog:roundalias_add"), {"alias": "A1轮", "round": "a"})
    assert response.status_code == 302
    alias = RoundAlias.objects.get(alias="A1轮")
    assert AuditEntry.objects.filter(object_pk=str(alias.pk), actor=org.dept_user).exists()
    page = client.post(
        reverse("catalog:roundalias_add"), {"alias": "Z轮", "round": "zzz"}
    ).content.decode()
    assert 'data-field-error="round"' in page

    client.post(
        reverse("catalog:roundalias_edit", args=[alias.pk]), {"alias": "A1轮", "round": "a_plus"}
    )
    alias.refresh_from_db()
    assert alias.round == "a_plus"
    client.post(reverse("catalog:roundalias_delete", args=[alias.pk]))
    assert not RoundAlias.objects.filter(pk=alias.pk).exists()


def test_a_round_alias_changes_what_the_preview_shows(client, org):
    client.force_login(org.dept_user)
    client.post(reverse("catalog:roundalias_add"), {"alias": "X7轮", "round": "pre_a"})
    page = client.post(
        reverse("catalog:normalize_preview"),
        {"item_type": "project", "raw": "name: 云图\nround: X7轮"},
    ).content.decode()
    assert re.search(r'data-field="round".*?pre_a', page, re.S)


@pytest.mark.parametrize(
    "name", ["exchangerate_list", "industrykeyword_list", "roundalias_list", "ingestion_list"]
)
def test_list_pages_render_and_export(client, org, source_a, name):
    quarantined(source_a)
    IndustryKeyword.objects.get_or_create(keyword="视觉质检", defaults={"industry": "65"})
    client.force_login(org.dept_user)
    url = reverse(f"catalog:{name}")
    assert client.get(url).status_code == 200
    export = client.get(url, {"export": "csv"})
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    if name == "industrykeyword_list":
        assert "I65 " in export.content.decode("utf-8-sig")


def test_rule_pages_need_their_model_permissions(client, org):
    role = RoleFactory(data_scope="all", perms=["catalog.view_roundalias"])
    client.force_login(UserFactory(username="reader", department=org.dept_a, roles=[role]))
    assert client.get(reverse("catalog:roundalias_list")).status_code == 200
    assert client.get(reverse("catalog:roundalias_add")).status_code == 403
    assert (
        client.post(reverse("catalog:roundalias_add"), {"alias": "x", "round": "a"}).status_code
        == 403
    )


# --- Merge and split ------------------------------------------------------------------------------


def test_merging_projects_through_the_page(client, org, source_a):
    other_source = CrawlSourceFactory(owner=org.dept_user, department=org.dept_a, trust=90)
    first = ingest(
        source_a, name="云图智能", full_name="深圳市云图智能科技有限公司", location="深圳"
    )
    second = ingest(other_source, name="云图视觉", industry="人工智能", amount="5000万元")
    target, other = first.project, second.project
    assert target.pk != other.pk
    client.force_login(org.dept_user)
    url = reverse("catalog:project_merge", args=[target.pk])

    page = client.get(url, {"q": "云图视觉"}).content.decode()
    assert f'data-candidate="{other.pk}"' in page
    preview = client.get(url, {"q": "云图视觉", "others": [other.pk]}).content.decode()
    assert 'id="merge-preview"' in preview and "云图视觉" in preview

    response = client.post(url, {"others": [other.pk], "confirm": "1"})
    assert response.status_code == 302
    assert not Project.objects.filter(pk=other.pk).exists()
    target.refresh_from_db()
    assert set(target.ingestions.values_list("pk", flat=True)) == {first.pk, second.pk}
    assert target.amount_low == 50_000_000  # the other's value, by the policy
    assert AuditEntry.objects.filter(actor=org.dept_user, event__icontains="merge").exists()


def test_merge_suggests_near_duplicates(client, org, source_a):
    target = ProjectFactory(name="云图智能", name_key="云图智能", department=org.dept_a)
    twin = ProjectFactory(name="云图智能科技", name_key="云图智能科技", department=org.dept_a)
    stranger = ProjectFactory(
        name="云途智能",
        name_key="云途智能",
        department=org.dept_a,
        province_code="330000",
        city_code="330100",
    )
    client.force_login(org.dept_user)
    page = client.get(reverse("catalog:project_merge", args=[target.pk])).content.decode()
    suggestions = page.split('id="suggestions"', 1)[1].split('id="search-results"', 1)[0]
    assert f'data-candidate="{twin.pk}"' in suggestions
    assert f'data-candidate="{stranger.pk}"' not in suggestions


def test_merge_refuses_records_out_of_reach(client, org):
    target = ProjectFactory(department=org.dept_a)
    theirs = ProjectFactory(department=org.dept_b)
    client.force_login(org.dept_user)
    url = reverse("catalog:project_merge", args=[target.pk])
    response = client.post(url, {"others": [theirs.pk], "confirm": "1"})
    assert response.status_code == 200  # the form refuses the choice
    assert Project.objects.filter(pk=theirs.pk).exists()
    assert client.get(reverse("catalog:project_merge", args=[theirs.pk])).status_code == 404


def test_merge_and_split_need_the_merge_permission(client, org):
    target = ProjectFactory(department=org.dept_a)
    role = RoleFactory(data_scope="all", perms=["catalog.view_project", "catalog.change_project"])
    client.force_login(UserFactory(username="editor", department=org.dept_a, roles=[role]))
    assert client.get(reverse("catalog:project_merge", args=[target.pk])).status_code == 403
    assert client.get(reverse("catalog:project_split", args=[target.pk])).status_code == 403


def test_splitting_a_project_through_the_page(client, org, source_a):
    other_source = CrawlSourceFactory(owner=org.dept_user, department=org.dept_a)
    first = ingest(source_a, name="云图智能", full_name="深圳市云图智能科技有限公司")
    second = ingest(other_source, name="云图智能", amount="5000万元")
    project = first.project
    assert second.project_id == project.pk
    client.force_login(org.dept_user)
    url = reverse("catalog:project_split", args=[project.pk])

    page = client.get(url).content.decode()
    assert f'data-ingestion="{first.pk}"' in page and f'data-ingestion="{second.pk}"' in page
    refused = client.post(url, {"ingestions": [first.pk, second.pk]}).content.decode()
    assert 'data-field-error="ingestions"' in refused  # one must stay

    response = client.post(url, {"ingestions": [second.pk]})
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.project_id not in (None, project.pk)
    assert Project.objects.filter(pk=second.project_id).exists()
    assert AuditEntry.objects.filter(actor=org.dept_user, event__icontains="split").exists()


def test_investor_merge_page_works_too(client, org):
    investor_source = CrawlSourceFactory(
        owner=org.dept_user, department=org.dept_a, item_type="investor"
    )
    first = ingest(investor_source, name="鼎盛资本", investor_type="VC")
    second = ingest(investor_source, name="远山投资", investor_type="PE")
    client.force_login(org.dept_user)
    url = reverse("catalog:investor_merge", args=[first.investor_id])
    response = client.post(url, {"others": [second.investor_id], "confirm": "1"})
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.investor_id == first.investor_id
