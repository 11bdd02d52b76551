"""Seed the milestone templates: one per deal type, following its stage list, and the financing
template (融资). Offsets count days from the day a template is applied (usually the deal's
opening); durations give the planned start of each step for the timeline. Admins edit them
afterwards; unapplying removes only templates still carrying their seeded name."""

from django.db import migrations

#: (name, deal type, description, [(milestone, due after days, planned duration days)])
TEMPLATES = [
    (
        "IPO",
        "ipo",
        "首次公开发行：立项至发行",
        [
            ("立项", 14, 14),
            ("尽职调查", 90, 75),
            ("内核", 120, 21),
            ("申报", 135, 14),
            ("反馈回复", 210, 60),
            ("上会", 255, 30),
            ("注册", 285, 30),
            ("发行", 315, 21),
        ],
    ),
    (
        "并购",
        "ma",
        "并购重组：立项至交割",
        [
            ("立项", 14, 14),
            ("尽职调查", 60, 45),
            ("估值与方案", 90, 30),
            ("谈判签约", 120, 30),
            ("审批", 165, 45),
            ("交割", 195, 30),
        ],
    ),
    (
        "定向增发/私募配售",
        "private_placement",
        "定向增发/私募配售：立项至发行",
        [
            ("立项", 14, 14),
            ("尽职调查", 60, 45),
            ("内核", 75, 14),
            ("申报", 90, 14),
            ("审核", 135, 45),
            ("注册", 160, 21),
            ("发行", 180, 21),
        ],
    ),
    (
        "债券",
        "bond",
        "债券发行：立项至存续期管理",
        [
            ("立项", 7, 7),
            ("尽职调查", 37, 30),
            ("内核", 51, 14),
            ("申报", 65, 14),
            ("注册/核准", 95, 30),
            ("发行", 115, 14),
            ("存续期管理", 480, 365),
        ],
    ),
    (
        "财务顾问",
        "advisory",
        "财务顾问：签约至结项",
        [
            ("签约", 14, 14),
            ("执行", 74, 60),
            ("交付", 104, 30),
            ("结项", 118, 14),
        ],
    ),
    (
        "融资",
        "",
        "股权融资：BP 至交割（适用于任何类型）",
        [
            ("BP", 7, 7),
            ("NDA", 14, 7),
            ("约见", 30, 14),
            ("尽调", 75, 45),
            ("投决", 90, 14),
            ("TS", 100, 10),
            ("交割", 130, 30),
        ],
    ),
]


def seed(apps, schema_editor):
    MilestoneTemplate = apps.get_model("deals", "MilestoneTemplate")
    MilestoneTemplateItem = apps.get_model("deals", "MilestoneTemplateItem")
    for name, deal_type, description, items in TEMPLATES:
        template, created = MilestoneTemplate.objects.get_or_create(
            name=name, defaults={"deal_type": deal_type, "description": description}
        )
        if not created:
            continue
        MilestoneTemplateItem.objects.bulk_create(
            MilestoneTemplateItem(
                template=template,
                name=item,
                sort_order=10 * (number + 1),
                offset_days=offset,
                duration_days=duration,
            )
            for number, (item, offset, duration) in enumerate(items)
        )


def unseed(apps, schema_editor):
    MilestoneTemplate = apps.get_model("deals", "MilestoneTemplate")
    MilestoneTemplate.objects.filter(name__in=[t[0] for t in TEMPLATES]).delete()


class Migration(migrations.Migration):
    dependencies = [("deals", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
