"""Deals factories shared by the deals tests (append new ones at the end)."""

import datetime

import factory
from django.utils import timezone

from ibcloud.deals.models import (
    Deal,
    DealActivity,
    DealAttachment,
    Milestone,
    MilestoneTemplate,
    MilestoneTemplateItem,
)


class DealFactory(factory.django.DjangoModelFactory):
    """An active IPO deal at its first stage; owner follows the lead, as services keep it."""

    class Meta:
        model = Deal

    code = factory.Sequence(lambda n: f"DT-{n:06d}")
    name = factory.Sequence(lambda n: f"项目{n}")
    deal_type = "ipo"
    stage = "initiation"
    client = factory.Sequence(lambda n: f"客户{n}有限公司")
    lead = None
    owner = factory.LazyAttribute(lambda d: d.lead)
    department = factory.LazyAttribute(lambda d: d.lead.department if d.lead else None)
    industry = "C"
    deal_size = 100_000_000
    expected_fee = 3_000_000
    opened_on = factory.LazyFunction(timezone.localdate)


class MilestoneFactory(factory.django.DjangoModelFactory):
    """An open milestone due in 30 days."""

    class Meta:
        model = Milestone

    deal = factory.SubFactory(DealFactory)
    name = factory.Sequence(lambda n: f"里程碑{n}")
    due_date = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=30))


class DealActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DealActivity

    deal = factory.SubFactory(DealFactory)
    text = factory.Sequence(lambda n: f"跟进记录{n}")


class DealAttachmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DealAttachment

    deal = factory.SubFactory(DealFactory)
    file = factory.django.FileField(filename="bp.pdf", data=b"%PDF-1.4 test")
    name = "bp.pdf"
    size = 13
    content_type = "application/pdf"


class MilestoneTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MilestoneTemplate

    name = factory.Sequence(lambda n: f"模板{n}")
    deal_type = "ipo"


class MilestoneTemplateItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MilestoneTemplateItem

    template = factory.SubFactory(MilestoneTemplateFactory)
    name = factory.Sequence(lambda n: f"步骤{n}")
    offset_days = factory.Sequence(lambda n: 10 * (n + 1))


#: what a banker working on deals holds (helper A's tests)
DEAL_PERMS = [
    "deals.view_deal",
    "deals.add_deal",
    "deals.change_deal",
    "deals.delete_deal",
    "deals.view_dealattachment",
    "deals.add_dealattachment",
    "deals.delete_dealattachment",
    "deals.view_milestone",
    "matching.view_match",
]


def deal_user(department, username: str, perms=None, scope: str = "dept"):
    """A user of ``department`` whose one role holds ``perms`` (default :data:`DEAL_PERMS`)
    with data scope ``scope`` (own department by default)."""
    from tests.factories import RoleFactory, UserFactory

    role = RoleFactory(
        code=f"role-{username}", data_scope=scope, perms=DEAL_PERMS if perms is None else perms
    )
    return UserFactory(username=username, department=department, roles=[role])
