"""Dictionaries (字典): built-in lists, reading through the cache, UI and API management."""

import pytest
from django.urls import reverse

from ibcloud.core import dictionaries
from ibcloud.core.models import DictItem, DictType
from tests.factories import RoleFactory, UserFactory

pytestmark = pytest.mark.django_db

DICT_PERMS = [
    f"core.{action}_{model}"
    for model in ("dicttype", "dictitem")
    for action in ("view", "add", "change", "delete")
]


@pytest.fixture
def dict_admin():
    role = RoleFactory(code="dict-admin", data_scope="all", perms=DICT_PERMS)
    return UserFactory(username="dict_admin", roles=[role])


@pytest.fixture
def viewer():
    role = RoleFactory(
        code="dict-viewer", data_scope="all", perms=["core.view_dicttype", "core.view_dictitem"]
    )
    return UserFactory(username="dict_viewer", roles=[role])


@pytest.fixture
def colours():
    dict_type = DictType.objects.create(code="colour", name="颜色")
    warm = DictItem.objects.create(dict_type=dict_type, value="warm", label="暖色", sort_order=10)
    DictItem.objects.create(dict_type=dict_type, value="red", label="红", parent=warm, sort_order=1)
    DictItem.objects.create(dict_type=dict_type, value="cold", label="冷色", sort_order=20)
    return dict_type


# --- Built-in lists -------------------------------------------------------------------------------


def test_built_in_lists_are_seeded_and_protected():
    codes = set(DictType.objects.filter(is_system=True).values_list("code", flat=True))
    assert {
        "financing_round",
        "deal_type",
        "deal_stage",
        "ipo_stage",
        "investor_type",
        "capital_type",
        "industry",
    } <= codes
    assert dictionaries.label("financing_round", "pre_a") == "Pre-A"
    assert dictionaries.label("capital_type", "usd") == "美元"
    assert ("ma", "并购") in dictionaries.choices("deal_type")
    ipo = next(i for i in dictionaries.items("deal_type") if i.value == "ipo")
    assert [label for _, label in dictionaries.choices(ipo.extra["stage_dict"])][:3] == [
        "立项",
        "尽职调查",
        "内核",
    ]


def test_industry_is_two_levels_of_gbt_4754():
    sections = dictionaries.choices("industry", include_children=False)
    assert len(sections) == 20
    assert ("C", "制造业") in sections
    rows = dictionaries.items("industry")
    manufacturing = next(r for r in rows if r.value == "C")
    children = [r for r in rows if r.parent_id == manufacturing.pk]
    assert ("13", "农副食品加工业") in [(c.value, c.label) for c in children]
    # Children follow their parent directly in display order.
    index = rows.index(manufacturing)
    assert rows[index + 1 : index + 1 + len(children)] == children
    assert len(rows) == 20 + 97


# --- Reading ------------------------------------------------------------------------------------


def test_items_are_active_and_ordered_with_children_after_parents(colours):
    DictItem.objects.create(dict_type=colours, value="grey", label="灰", is_active=False)
    assert [i.value for i in dictionaries.items("colour")] == ["warm", "red", "cold"]
    assert dictionaries.label("colour", "red") == "红"
    assert dictionaries.label("colour", "unknown") == "unknown"
    assert dictionaries.label("colour", "") == ""
    assert dictionaries.items("no-such-list") == []


def test_cache_is_cleared_when_items_change(colours, django_assert_num_queries):
    assert dictionaries.label("colour", "cold") == "冷色"
    with django_assert_num_queries(0):
        dictionaries.items("colour")  # served from the cache

    cold = DictItem.objects.get(dict_type=colours, value="cold")
    cold.label = "冷"
    cold.save()
    assert dictionaries.label("colour", "cold") == "冷"

    cold.delete()
    assert "cold" not in [v for v, _ in dictionaries.choices("colour")]

    DictItem.objects.create(dict_type=colours, value="blue", label="蓝", sort_order=5)
    assert dictionaries.choices("colour")[0] == ("blue", "蓝")


def test_renaming_a_list_clears_both_codes(colours):
    assert dictionaries.items("colour")
    colours.code = "hue"
    colours.save()
    assert dictionaries.items("colour") == []
    assert [i.value for i in dictionaries.items("hue")] == ["warm", "red", "cold"]


def test_move_item_swaps_with_sibling(colours):
    cold = DictItem.objects.get(value="cold", dict_type=colours)
    assert dictionaries.move_item(cold, "up")
    assert [v for v, _ in dictionaries.choices("colour", include_children=False)] == [
        "cold",
        "warm",
    ]
    assert not dictionaries.move_item(DictItem.objects.get(value="cold"), "up")  # already first


# --- UI -------------------------------------------------------------------------------------------


def test_list_and_detail_pages(client, viewer, colours):
    client.force_login(viewer)
    page = client.get(reverse("core:dicttype_list"), {"q": "colour"})
    assert page.status_code == 200
    assert "颜色" in page.content.decode()
    assert 'id="add-button"' not in page.content.decode()  # viewer may not add

    detail = client.get(reverse("core:dicttype_detail", args=[colours.pk]))
    html = detail.content.decode()
    assert detail.status_code == 200
    assert 'data-item="red" data-level="1"' in html
    assert 'data-item="warm" data-level="0"' in html
    assert reverse("core:dictitem_edit", args=[1]) not in html  # no edit links for a viewer


def test_pages_need_the_permission(client, colours):
    client.force_login(UserFactory(username="nobody"))
    assert client.get(reverse("core:dicttype_list")).status_code == 403
    assert client.get(reverse("core:dicttype_detail", args=[colours.pk])).status_code == 403


def test_admin_creates_a_list_with_items(client, dict_admin):
    client.force_login(dict_admin)
    response = client.post(
        reverse("core:dicttype_add"), {"code": "region", "name": "区域", "description": ""}
    )
    region = DictType.objects.get(code="region")
    assert response.status_code == 302
    assert response["Location"] == reverse("core:dicttype_detail", args=[region.pk])
    assert not region.is_system

    add_url = reverse("core:dictitem_add", args=[region.pk])
    client.post(add_url, {"value": "east", "label": "华东", "sort_order": 10, "is_active": "on"})
    east = DictItem.objects.get(dict_type=region, value="east")
    client.post(
        add_url,
        {"value": "sh", "label": "上海", "parent": east.pk, "sort_order": 10, "is_active": "on"},
    )
    assert DictItem.objects.get(value="sh").parent == east
    assert dictionaries.choices("region") == [("east", "华东"), ("sh", "上海")]

    client.post(
        reverse("core:dictitem_edit", args=[east.pk]),
        {"value": "east", "label": "华东地区", "sort_order": 10, "is_active": "on"},
    )
    assert dictionaries.label("region", "east") == "华东地区"

    client.post(reverse("core:dictitem_delete", args=[DictItem.objects.get(value="sh").pk]))
    assert not DictItem.objects.filter(value="sh").exists()


def test_item_form_rejects_duplicates_and_bad_parents(client, dict_admin, colours):
    client.force_login(dict_admin)
    add_url = reverse("core:dictitem_add", args=[colours.pk])

    duplicate = client.post(add_url, {"value": "cold", "label": "x", "sort_order": 1})
    assert duplicate.status_code == 200
    assert 'data-field-error="value"' in duplicate.content.decode()

    red = DictItem.objects.get(value="red")
    grandchild = client.post(
        add_url, {"value": "crimson", "label": "深红", "parent": red.pk, "sort_order": 1}
    )
    assert 'data-field-error="parent"' in grandchild.content.decode()
    assert not DictItem.objects.filter(value="crimson").exists()

    # A parent from another list is not even offered.
    other = DictType.objects.create(code="other", name="其他")
    foreign = DictItem.objects.create(dict_type=other, value="x", label="x")
    response = client.post(
        add_url, {"value": "y", "label": "y", "parent": foreign.pk, "sort_order": 1}
    )
    assert 'data-field-error="parent"' in response.content.decode()
    assert not DictItem.objects.filter(value="y").exists()


def test_item_cannot_be_its_own_parent():
    dict_type = DictType.objects.create(code="t", name="t")
    item = DictItem.objects.create(dict_type=dict_type, value="a", label="a")
    errors = dictionaries.validate_item(dict_type, "a", item, instance=item)
    assert "parent" in errors


@pytest.mark.usefixtures("english")
def test_built_in_list_cannot_be_deleted_or_recoded(client, dict_admin):
    client.force_login(dict_admin)
    rounds = DictType.objects.get(code="financing_round")

    page = client.get(reverse("core:dicttype_delete", args=[rounds.pk]))
    assert "built-in" in page.content.decode()
    client.post(reverse("core:dicttype_delete", args=[rounds.pk]))
    assert DictType.objects.filter(pk=rounds.pk).exists()

    client.post(
        reverse("core:dicttype_list"), {"bulk_action": "delete", "pk": [rounds.pk]}, follow=True
    )
    assert DictType.objects.filter(pk=rounds.pk).exists()

    client.post(
        reverse("core:dicttype_edit", args=[rounds.pk]),
        {"code": "rounds", "name": "轮次", "description": ""},
    )
    rounds.refresh_from_db()
    assert (rounds.code, rounds.name) == ("financing_round", "轮次")


def test_user_list_can_be_deleted(client, dict_admin, colours):
    client.force_login(dict_admin)
    client.post(reverse("core:dicttype_delete", args=[colours.pk]))
    assert not DictType.objects.filter(pk=colours.pk).exists()
    assert dictionaries.items("colour") == []


def test_reorder_through_the_page(client, dict_admin, colours):
    client.force_login(dict_admin)
    cold = DictItem.objects.get(value="cold")
    client.post(reverse("core:dictitem_move", args=[cold.pk]), {"direction": "up"})
    assert dictionaries.choices("colour", include_children=False)[0][0] == "cold"


# --- API ------------------------------------------------------------------------------------------


def test_api_crud_of_lists_and_items(api, dict_admin):
    client = api.as_user(dict_admin)
    created = client.post("/api/v1/system/dict-types/", {"code": "tier", "name": "等级"})
    assert created.status_code == 201, created.json()
    type_id = created.json()["id"]
    assert created.json()["is_system"] is False

    top = client.post(
        "/api/v1/system/dict-items/",
        {"dict_type": type_id, "value": "gold", "label": "金", "sort_order": 1},
        format="json",
    )
    assert top.status_code == 201, top.json()
    child = client.post(
        "/api/v1/system/dict-items/",
        {"dict_type": type_id, "value": "gold_plus", "label": "金+", "parent": top.json()["id"]},
        format="json",
    )
    assert child.status_code == 201

    listed = client.get("/api/v1/system/dict-items/", {"dict_type": "tier"}).json()
    assert [row["value"] for row in listed["results"]] == ["gold", "gold_plus"]
    assert listed["results"][0]["dict_type_code"] == "tier"

    patched = client.patch(
        f"/api/v1/system/dict-items/{top.json()['id']}/", {"label": "黄金"}, format="json"
    )
    assert patched.status_code == 200
    assert dictionaries.label("tier", "gold") == "黄金"

    assert client.get(f"/api/v1/system/dict-types/{type_id}/").json()["item_count"] == 2
    assert client.delete(f"/api/v1/system/dict-types/{type_id}/").status_code == 204
    assert not DictItem.objects.filter(value="gold").exists()


def test_api_validation_errors_use_the_standard_body(api, dict_admin, colours):
    client = api.as_user(dict_admin)
    duplicate = client.post(
        "/api/v1/system/dict-items/",
        {"dict_type": colours.pk, "value": "cold", "label": "x"},
        format="json",
    )
    assert duplicate.status_code == 400
    body = duplicate.json()
    assert set(body) == {"code", "message", "details"}
    assert "value" in body["details"]

    red = DictItem.objects.get(value="red")
    nested = client.post(
        "/api/v1/system/dict-items/",
        {"dict_type": colours.pk, "value": "x", "label": "x", "parent": red.pk},
        format="json",
    )
    assert nested.status_code == 400
    assert "parent" in nested.json()["details"]

    other = DictType.objects.create(code="other", name="其他")
    foreign = client.post(
        "/api/v1/system/dict-items/",
        {"dict_type": other.pk, "value": "x", "label": "x", "parent": red.pk},
        format="json",
    )
    assert foreign.status_code == 400
    assert "parent" in foreign.json()["details"]

    self_parent = client.patch(
        f"/api/v1/system/dict-items/{red.pk}/", {"parent": red.pk}, format="json"
    )
    assert self_parent.status_code == 400

    huge = client.post(
        "/api/v1/system/dict-items/",
        {"dict_type": 10**30, "value": "x", "label": "x", "sort_order": 10**30},
        format="json",
    )
    assert huge.status_code == 400


def test_api_refuses_deleting_a_built_in_list(api, dict_admin):
    rounds = DictType.objects.get(code="financing_round")
    response = api.as_user(dict_admin).delete(f"/api/v1/system/dict-types/{rounds.pk}/")
    assert response.status_code == 409
    assert set(response.json()) == {"code", "message", "details"}
    assert DictType.objects.filter(pk=rounds.pk).exists()

    recode = api.as_user(dict_admin).patch(
        f"/api/v1/system/dict-types/{rounds.pk}/", {"code": "rounds"}, format="json"
    )
    assert recode.status_code == 400
    assert "code" in recode.json()["details"]


def test_api_needs_permissions(api, viewer, colours):
    client = api.as_user(viewer)
    assert client.get("/api/v1/system/dict-types/").status_code == 200
    assert client.post("/api/v1/system/dict-types/", {"code": "x", "name": "x"}).status_code == 403
    assert client.delete(f"/api/v1/system/dict-types/{colours.pk}/").status_code == 403
    assert client.get("/api/v1/system/dict-types/abc/").status_code == 404
    assert client.get(f"/api/v1/system/dict-types/{10**30}/").status_code == 404
