"""API of review, assignment, the inbox and assignment rules: ``/api/v1/matching/``.

* ``match-reviews/``: ``POST`` a manual match (``project``, ``investor``, ``note``); per match
  ``approve/``, ``reject/`` (``reason``, ``note``), ``unmatch/``, ``rematch/``, ``assign/``
  (``user`` or ``department``), ``progress/`` (``work_status``, ``note``), ``notes/`` (GET the
  notes, POST one); ``bulk/`` (``action``, ``ids`` and the action's fields: per-row errors come
  back, refused rows do not stop the others); ``rejection-statistics/`` (reasons per rule set).
* ``inbox/``: the caller's assigned matches (filters of the match list; ``counts/`` per status).
* ``assignment-rules/``: CRUD of assignment rules.

Permissions: ``review_match`` (approve, reject, unmatch, rematch), ``assign_match`` (assign),
``change_match`` (progress, notes), ``add_match`` (manual match), ``view_match`` (reads); each
match must also lie within the caller's data scope for that permission (else 404). A match in
the wrong status answers 409; bad input 400, always ``{"code", "message", "details"}``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from ibcloud.accounts.models import Department, User
from ibcloud.accounts.services import departments_in_reach, users_in_reach
from ibcloud.catalog.filters import city_choices, industry_choices, province_choices
from ibcloud.catalog.models import Investor, Project
from ibcloud.core.api import ScopedModelViewSet, ScopedReadOnlyViewSet
from ibcloud.core.rest import Conflict
from ibcloud.core.scoping import explicit_order, restrict
from ibcloud.matching import services
from ibcloud.matching.filters import AssignmentRuleFilterSet, MatchFilterSet
from ibcloud.matching.models import AssignmentRule, Match, MatchNote, MatchRuleSet
from ibcloud.matching.review_tables import AssignmentRuleTable, InboxTable, explanation_summary

MAX_BULK = 500

# --- Serializers ----------------------------------------------------------------------------------


class MatchReviewSerializer(serializers.ModelSerializer):
    project_name = serializers.CharField(source="project.name", read_only=True)
    investor_name = serializers.CharField(source="investor.name", read_only=True)
    status = serializers.CharField(
        read_only=True, help_text="pending, approved, rejected, withdrawn or unmatched."
    )
    work_status = serializers.CharField(
        read_only=True, help_text="new, contacted, in_progress, won or lost."
    )
    summary = serializers.SerializerMethodField(help_text="The explanation in one line.")

    class Meta:
        model = Match
        fields = [
            "id",
            "project",
            "project_name",
            "investor",
            "investor_name",
            "rule_set",
            "source",
            "status",
            "score",
            "summary",
            "explanation",
            "note",
            "reviewed_by",
            "reviewed_at",
            "reject_reason",
            "reject_note",
            "assignee",
            "assigned_at",
            "assignment_rule",
            "work_status",
            "department",
            "proposed_at",
        ]
        read_only_fields = fields

    def get_summary(self, obj) -> str:
        return explanation_summary(obj.explanation)


def _note_field() -> serializers.CharField:
    return serializers.CharField(
        required=False, allow_blank=True, max_length=services.MAX_NOTE, default=""
    )


class NoteInSerializer(serializers.Serializer):
    note = _note_field()


class RejectInSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(
        choices=services.RejectReason.choices, help_text="``other`` needs a note."
    )
    note = _note_field()

    def validate(self, attrs):
        try:
            services.clean_reason(attrs["reason"], attrs.get("note", ""))
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        return attrs


class _ReachMixin:
    """Limits user and department choices to the caller's reach."""

    def limit(self, names: dict[str, str]) -> None:
        request = self.context.get("request")
        actor = getattr(request, "user", None)
        for name, kind in names.items():
            field = self.fields[name]
            target = (
                field.child_relation if isinstance(field, serializers.ManyRelatedField) else field
            )
            if actor is None or not actor.is_authenticated:
                target.queryset = (User if kind == "user" else Department).objects.none()
            elif kind == "user":
                target.queryset = users_in_reach(actor).filter(is_active=True)
            else:
                target.queryset = departments_in_reach(actor)


class AssignInSerializer(_ReachMixin, serializers.Serializer):
    user = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.none(), required=False, allow_null=True, help_text="A person."
    )
    department = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.none(),
        required=False,
        allow_null=True,
        help_text="Or a department: its least-loaded member (or one below) receives it.",
    )
    note = _note_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.limit({"user": "user", "department": "department"})

    def validate(self, attrs):
        if bool(attrs.get("user")) == bool(attrs.get("department")):
            raise serializers.ValidationError(_("Give either a user or a department."))
        return attrs


class ProgressInSerializer(serializers.Serializer):
    work_status = serializers.ChoiceField(choices=Match.WorkStatus.choices)
    note = _note_field()


class NoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = MatchNote
        fields = ["id", "author", "text", "work_status", "created_at"]
        read_only_fields = ["id", "author", "work_status", "created_at"]
        extra_kwargs = {"text": {"max_length": services.MAX_NOTE}}


class ManualMatchSerializer(serializers.Serializer):
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.none())
    investor = serializers.PrimaryKeyRelatedField(queryset=Investor.objects.none())
    note = _note_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        actor = getattr(request, "user", None)
        if actor is not None and actor.is_authenticated:
            self.fields["project"].queryset = restrict(Project.objects.all(), actor, "view")
            self.fields["investor"].queryset = restrict(Investor.objects.all(), actor, "view")


class BulkInSerializer(_ReachMixin, serializers.Serializer):
    action = serializers.ChoiceField(choices=[(a, a) for a in services.BULK_ACTIONS])
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**62),
        min_length=1,
        max_length=MAX_BULK,
    )
    reason = serializers.ChoiceField(
        choices=services.RejectReason.choices, required=False, help_text="For reject."
    )
    note = _note_field()
    users = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.none(),
        many=True,
        required=False,
        help_text="For assign: each match goes to the least loaded of these people.",
    )
    department = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.none(),
        required=False,
        allow_null=True,
        help_text="For assign, instead of users.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.limit({"users": "user", "department": "department"})

    def validate(self, attrs):
        if attrs["action"] == "reject":
            if "reason" not in attrs:
                raise serializers.ValidationError({"reason": [_("Choose a rejection reason.")]})
            try:
                services.clean_reason(attrs["reason"], attrs.get("note", ""))
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.message_dict) from exc
        if attrs["action"] == "assign" and not (attrs.get("users") or attrs.get("department")):
            raise serializers.ValidationError(
                {"users": [_("Give the users or a department who receive the matches.")]}
            )
        return attrs


class BulkResultSerializer(serializers.Serializer):
    action = serializers.CharField()
    done = serializers.IntegerField()
    failed = serializers.IntegerField()
    errors = serializers.ListField(
        child=inline_serializer(
            "BulkRowError", {"id": serializers.IntegerField(), "message": serializers.CharField()}
        )
    )


class RejectionStatisticsSerializer(serializers.Serializer):
    rule_set = serializers.IntegerField(allow_null=True)
    rule_set_name = serializers.CharField()
    total = serializers.IntegerField()
    reasons = serializers.DictField(child=serializers.IntegerField())


# --- Review actions -------------------------------------------------------------------------------


class ActionPermission(permissions.BasePermission):
    """The permission the view names for the current action (and method)."""

    def has_permission(self, request, view) -> bool:
        needed = view.permission_for(request)
        return bool(needed) and request.user.has_perm(needed)


#: action → (permission, data-scope action)
ACTIONS: dict[str, tuple[str, str]] = {
    "create": ("matching.add_match", "add"),
    "approve": ("matching.review_match", "review"),
    "reject": ("matching.review_match", "review"),
    "unmatch": ("matching.review_match", "review"),
    "rematch": ("matching.review_match", "review"),
    "assign": ("matching.assign_match", "assign"),
    "progress": ("matching.change_match", "change"),
    "notes": ("matching.view_match", "view"),
    "bulk": ("matching.view_match", "view"),
    "rejection_statistics": ("matching.view_match", "view"),
}


class MatchReviewViewSet(viewsets.GenericViewSet):
    """Review decisions, assignment and progress on matches (see the module docstring)."""

    queryset = Match.objects.select_related("project", "investor", "rule_set__department")
    serializer_class = MatchReviewSerializer
    permission_classes = [permissions.IsAuthenticated, ActionPermission]
    filter_backends: list = []
    pagination_class = None
    lookup_value_regex = r"\d+"

    def permission_for(self, request) -> str:
        name = getattr(self, "action", None) or ""
        if name == "notes" and request.method == "POST":
            return "matching.change_match"
        return ACTIONS.get(name, ("", ""))[0]

    def scope_action(self) -> str:
        name = getattr(self, "action", None) or ""
        if name == "notes" and self.request.method == "POST":
            return "change"
        return ACTIONS.get(name, ("", "view"))[1]

    def get_queryset(self):
        return explicit_order(restrict(self.queryset.all(), self.request.user, self.scope_action()))

    def _answer(self, match: Match) -> Response:
        match.refresh_from_db()
        return Response(MatchReviewSerializer(match, context=self.get_serializer_context()).data)

    def _run(self, func, *args: Any) -> Any:
        try:
            return func(*args)
        except services.StateError as exc:
            raise Conflict(" ".join(exc.messages)) from exc

    @extend_schema(request=ManualMatchSerializer, responses={201: MatchReviewSerializer})
    def create(self, request):
        """Match a project with an investor by hand. A reviewer's manual match is approved at
        once; anyone else's waits for review. 400 when the pair already has a match."""
        body = ManualMatchSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        match = services.manual_match(data["project"], data["investor"], request.user, data["note"])
        response = self._answer(match)
        response.status_code = 201
        return response

    @extend_schema(request=NoteInSerializer, responses=MatchReviewSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve a pending match (assigned at once when automatic assignment is on)."""
        body = NoteInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        match = self.get_object()
        self._run(services.approve, match, request.user, body.validated_data["note"])
        return self._answer(match)

    @extend_schema(request=RejectInSerializer, responses=MatchReviewSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject a pending match with a reason; the next-best investor takes its place."""
        body = RejectInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        match = self.get_object()
        data = body.validated_data
        self._run(services.reject, match, request.user, data["reason"], data["note"])
        return self._answer(match)

    @extend_schema(request=NoteInSerializer, responses=MatchReviewSerializer)
    @action(detail=True, methods=["post"])
    def unmatch(self, request, pk=None):
        """Take an approved match back."""
        body = NoteInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        match = self.get_object()
        self._run(services.unmatch, match, request.user, body.validated_data["note"])
        return self._answer(match)

    @extend_schema(request=NoteInSerializer, responses=MatchReviewSerializer)
    @action(detail=True, methods=["post"])
    def rematch(self, request, pk=None):
        """Put an unmatched, rejected or withdrawn match back into the review queue."""
        body = NoteInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        match = self.get_object()
        self._run(services.rematch, match, request.user, body.validated_data["note"])
        return self._answer(match)

    @extend_schema(request=AssignInSerializer, responses=MatchReviewSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        """Send an approved match to a person or a department (the assignee is notified)."""
        body = AssignInSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        match = self.get_object()
        data = body.validated_data
        target = data.get("user") or data.get("department")
        self._run(services.send_to, match, target, request.user, data["note"])
        return self._answer(match)

    @extend_schema(request=ProgressInSerializer, responses=MatchReviewSerializer)
    @action(detail=True, methods=["post"])
    def progress(self, request, pk=None):
        """Record progress (new, contacted, in_progress, won, lost) with a note."""
        body = ProgressInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        match = self.get_object()
        data = body.validated_data
        self._run(services.update_progress, match, data["work_status"], data["note"], request.user)
        return self._answer(match)

    @extend_schema(methods=["GET"], request=None, responses=NoteSerializer(many=True))
    @extend_schema(methods=["POST"], request=NoteSerializer, responses={201: NoteSerializer})
    @action(detail=True, methods=["get", "post"])
    def notes(self, request, pk=None):
        """The match's notes (newest first), or add one."""
        match = self.get_object()
        if request.method == "GET":
            notes = MatchNote.objects.filter(match=match)[:200]
            return Response(NoteSerializer(notes, many=True).data)
        body = NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        note = services.add_note(match, request.user, body.validated_data["text"])
        return Response(NoteSerializer(note).data, status=201)

    @extend_schema(request=BulkInSerializer, responses=BulkResultSerializer)
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        """Apply one action to many matches; ids out of reach are reported as not found."""
        body = BulkInSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        name = data["action"]
        permission, scope = ACTIONS["assign" if name == "assign" else "approve"]
        if not request.user.has_perm(permission):
            self.permission_denied(request)
        ids = list(dict.fromkeys(data["ids"]))
        rows = restrict(self.queryset.filter(pk__in=ids), request.user, scope)
        found = {m.pk: m for m in rows}
        kwargs: dict[str, Any] = {"note": data["note"], "request": request}
        if name == "reject":
            kwargs["reason"] = data["reason"]
        if name == "assign":
            kwargs["to"] = list(data["users"]) if data.get("users") else data["department"]
        result = services.bulk(name, [found[i] for i in ids if i in found], request.user, **kwargs)
        result.errors.extend({"id": i, "message": _("Not found.")} for i in ids if i not in found)
        return Response(result.as_dict())

    @extend_schema(responses=RejectionStatisticsSerializer(many=True))
    @action(detail=False, methods=["get"], url_path="rejection-statistics")
    def rejection_statistics(self, request):
        """Rejection reasons counted per rule set, among the matches in the caller's reach."""
        return Response(services.rejection_statistics(self.get_queryset()))


# --- Inbox ----------------------------------------------------------------------------------------


class InboxViewSet(ScopedReadOnlyViewSet):
    """The caller's assigned, approved matches (filters and export of the match list)."""

    queryset = Match.objects.select_related("project", "investor", "rule_set").filter(
        status=Match.Status.APPROVED
    )
    serializer_class = MatchReviewSerializer
    filterset_class = MatchFilterSet
    table_class = InboxTable
    ordering_fields = ["score", "assigned_at", "updated_at", "work_status"]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        user = self.request.user
        if not user.is_authenticated:
            return Match.objects.none()
        return super().get_queryset().filter(assignee=user)

    @extend_schema(
        responses=inline_serializer(
            "InboxCounts",
            {
                "total": serializers.IntegerField(),
                "by_work_status": serializers.DictField(child=serializers.IntegerField()),
            },
        )
    )
    @action(detail=False, methods=["get"], filter_backends=[])
    def counts(self, request):
        """How many of my matches are in each work status."""
        rows = self.get_queryset().order_by().values_list("work_status").annotate(n=Count("id"))
        counts = dict.fromkeys(Match.WorkStatus.values, 0)
        counts.update(dict(rows))
        return Response({"total": sum(counts.values()), "by_work_status": counts})


# --- Assignment rules -----------------------------------------------------------------------------


def _region_codes() -> set[str]:
    codes = {code for code, _name in province_choices()}
    codes |= {code for _group, cities in city_choices() for code, _name in cities}
    return codes


class AssignmentRuleSerializer(_ReachMixin, serializers.ModelSerializer):
    industries = serializers.ListField(
        child=serializers.CharField(max_length=4),
        required=False,
        max_length=200,
        help_text='GB/T 4754 sections or divisions, e.g. ["I", "27"]. Empty: any.',
    )
    regions = serializers.ListField(
        child=serializers.CharField(max_length=6),
        required=False,
        max_length=500,
        help_text='6-digit province or city codes, e.g. ["440000"]. Empty: any.',
    )
    min_score = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        required=False,
        allow_null=True,
    )
    cap_per_person = serializers.IntegerField(min_value=1, max_value=100_000, required=False)
    priority = serializers.IntegerField(min_value=0, max_value=32767, required=False)
    rule_sets = serializers.PrimaryKeyRelatedField(
        queryset=MatchRuleSet.objects.none(), many=True, required=False
    )

    class Meta:
        model = AssignmentRule
        fields = [
            "id",
            "name",
            "is_active",
            "auto_assign",
            "priority",
            "industries",
            "regions",
            "min_score",
            "rule_sets",
            "match_department",
            "target_user",
            "target_department",
            "strategy",
            "cap_per_person",
            "last_assignee",
            "owner",
            "department",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "last_assignee", "owner", "created_at", "updated_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.limit(
            {
                "match_department": "department",
                "target_department": "department",
                "department": "department",
                "target_user": "user",
            }
        )
        request = self.context.get("request")
        actor = getattr(request, "user", None)
        if actor is not None and actor.is_authenticated:
            self.fields["rule_sets"].child_relation.queryset = restrict(
                MatchRuleSet.objects.all(), actor, "view"
            )

    def validate_industries(self, value):
        known = {code for code, _label in industry_choices()}
        unknown = [code for code in value if code not in known]
        if unknown:
            raise serializers.ValidationError(
                _("Unknown industry codes: %(codes)s") % {"codes": ", ".join(unknown[:10])}
            )
        return list(dict.fromkeys(value))

    def validate_regions(self, value):
        known = _region_codes()
        unknown = [code for code in value if code not in known]
        if unknown:
            raise serializers.ValidationError(
                _("Unknown region codes: %(codes)s") % {"codes": ", ".join(unknown[:10])}
            )
        return list(dict.fromkeys(value))

    def validate(self, attrs):
        user = attrs.get("target_user", getattr(self.instance, "target_user", None))
        department = attrs.get(
            "target_department", getattr(self.instance, "target_department", None)
        )
        if user is not None and department is not None:
            raise serializers.ValidationError(
                {"target_user": [_("Choose a person or a department to assign within, not both.")]}
            )
        return attrs


class AssignmentRuleViewSet(ScopedModelViewSet):
    """Who receives approved matches: conditions, target, strategy, cap, automatic switch."""

    queryset = AssignmentRule.objects.select_related(
        "target_user", "target_department", "match_department"
    ).prefetch_related("rule_sets")
    serializer_class = AssignmentRuleSerializer
    filterset_class = AssignmentRuleFilterSet
    table_class = AssignmentRuleTable
    ordering_fields = ["priority", "name", "updated_at"]
    lookup_value_regex = r"\d+"


router = DefaultRouter()
router.register("match-reviews", MatchReviewViewSet, basename="match-review")
router.register("inbox", InboxViewSet, basename="inbox")
router.register("assignment-rules", AssignmentRuleViewSet, basename="assignment-rule")
