"""Catalog factories shared by the catalog tests (append new ones at the end)."""

import factory

from ibcloud.catalog.models import FundingRound, Investor, Project, SavedQuery, Tag


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"标签{n}")


class ProjectFactory(factory.django.DjangoModelFactory):
    """A crawled-looking project in 深圳, industry I65, round A, 5000万 sought."""

    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"云图{n}智能")
    full_name = factory.LazyAttribute(lambda p: f"深圳市{p.name}科技有限公司")
    name_key = factory.LazyAttribute(lambda p: f"{p.name}科技")
    province_code = "440000"
    province = "广东省"
    city_code = "440300"
    city = "深圳市"
    industry_section = "I"
    industry = "65"
    round = "a"
    amount_low = 50_000_000
    amount_high = 50_000_000
    amount_currency = "CNY"
    amount_text = "5000万元"
    summary = "专注于计算机视觉领域，核心产品为视觉质检一体机。"


class InvestorFactory(factory.django.DjangoModelFactory):
    """A VC in 北京 preferring I65 and A/B rounds, tickets 1000万–1亿."""

    class Meta:
        model = Investor

    name = factory.Sequence(lambda n: f"鼎盛{n}资本")
    full_name = factory.LazyAttribute(lambda i: f"北京{i.name}创业投资管理有限公司")
    name_key = factory.LazyAttribute(lambda i: i.name)
    province_code = "110000"
    province = "北京市"
    city_code = "110100"
    city = "北京市"
    investor_type = "vc"
    capital_type = "rmb"
    preferred_industries = factory.LazyFunction(lambda: ["65"])
    preferred_rounds = factory.LazyFunction(lambda: ["a", "b"])
    ticket_min = 10_000_000
    ticket_max = 100_000_000
    description = "专注早中期科技投资。"


class FundingRoundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FundingRound

    project = factory.SubFactory(ProjectFactory)
    round = "a"


class SavedQueryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SavedQuery

    name = factory.Sequence(lambda n: f"查询{n}")
    kind = "project"
    query_string = "round=a"


# --- Ingest (helper INGEST) ---------------------------------------------------------------------


def raw_item(source, data, url=None, fetched_at=None):
    """A raw item of ``source`` holding ``data`` (its content hash computed as the crawler does)."""
    from tests.factories import RawItemFactory

    options = {"source": source, "data": data}
    if url is not None:
        options["url"] = url
    if fetched_at is not None:
        options["fetched_at"] = fetched_at
    return RawItemFactory(**options)


def catalog_dump(ids=True):
    """Every project and investor with all columns, tags, provenance and rounds, for comparisons.

    ``ids`` False leaves out the records' own ids and timestamps (compare catalogs built apart).
    """
    from ibcloud.catalog.models import FundingRound, Investor, Project

    skip = {"created_at", "updated_at"} | (set() if ids else {"id"})
    dump = {}
    for model in (Project, Investor):
        rows = []
        for entity in model.objects.order_by("name_key", "city_code", "id"):
            row = {
                field.attname: getattr(entity, field.attname)
                for field in model._meta.concrete_fields
                if field.attname not in skip
            }
            row["tags"] = sorted(entity.tags.values_list("name", flat=True))
            rows.append(row)
        dump[model.__name__] = rows
    dump["rounds"] = sorted(
        (r.project.name_key, r.round, r.announced_on, tuple(r.investor_names))
        for r in FundingRound.objects.select_related("project")
    )
    return dump
