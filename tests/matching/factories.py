"""Matching factories shared by the matching tests (append new ones at the end)."""

import factory
from django.utils import timezone

from ibcloud.matching.criteria import RECOMMENDED_CRITERIA
from ibcloud.matching.models import AssignmentRule, Match, MatchNote, MatchRuleSet
from tests.catalog.factories import InvestorFactory, ProjectFactory

#: a realistic rule set: industry and round as hard filters, the rest weighted
REALISTIC_CRITERIA = RECOMMENDED_CRITERIA


class MatchRuleSetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MatchRuleSet

    name = factory.Sequence(lambda n: f"规则{n}")
    criteria = factory.LazyFunction(lambda: [dict(c) for c in REALISTIC_CRITERIA])
    threshold = 50
    max_per_project = 5


class MatchFactory(factory.django.DjangoModelFactory):
    """A pending automatic match of a fresh project and investor."""

    class Meta:
        model = Match

    project = factory.SubFactory(ProjectFactory)
    investor = factory.SubFactory(InvestorFactory)
    rule_set = factory.SubFactory(MatchRuleSetFactory)
    department = factory.LazyAttribute(lambda m: m.rule_set.department if m.rule_set else None)
    score = 75
    explanation = factory.LazyFunction(list)
    proposed_at = factory.LazyFunction(timezone.now)


class MatchNoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MatchNote

    match = factory.SubFactory(MatchFactory)
    text = "已电话联系投资经理，约下周见面。"


class AssignmentRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AssignmentRule

    name = factory.Sequence(lambda n: f"分配规则{n}")
    strategy = AssignmentRule.Strategy.COVERAGE_FIRST
