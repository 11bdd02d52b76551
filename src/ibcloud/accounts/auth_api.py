"""API of authentication.

``/api/v1/auth/``: token login and logout, own profile, own password (views below, mounted by
``api_auth_urls``). ``/api/v1/accounts/``: login log, lockouts, online sessions, API tokens
(``router``).
"""

from __future__ import annotations

from django.contrib.auth import authenticate, logout
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from ibcloud.accounts import auth_services, lockout
from ibcloud.accounts.auth_filters import LoginLogFilterSet, TokenFilterSet
from ibcloud.accounts.auth_tables import LoginLogTable, TokenTable
from ibcloud.accounts.models import ApiToken, LoginLog, User
from ibcloud.core.api import EmptySerializer, ScopedReadOnlyViewSet, ScopedViewSetMixin

# --- Errors ---------------------------------------------------------------------------------------


class AccountLocked(exceptions.PermissionDenied):
    default_code = "account_locked"

    def __init__(self):
        super().__init__(lockout.lockout_message(), code="account_locked")


class AccountDisabled(exceptions.PermissionDenied):
    default_code = "account_disabled"
    default_detail = "This account is disabled."


class HasPermission(permissions.BasePermission):
    """Holds the Django permission named in the view's ``required_permissions[action]``."""

    def has_permission(self, request, view):
        needed = view.required_permissions.get(getattr(view, "action", None) or "", "")
        return bool(needed) and request.user.has_perm(needed)


# --- Serializers ----------------------------------------------------------------------------------


class NamedRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class MeSerializer(serializers.ModelSerializer):
    """One's own profile: contact details are editable, organisation and rights are not."""

    department = NamedRefSerializer(read_only=True, allow_null=True)
    roles = serializers.SerializerMethodField()
    permissions = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "name",
            "phone",
            "email",
            "position",
            "department",
            "roles",
            "permissions",
            "must_change_password",
            "password_changed_at",
            "last_login",
        ]
        read_only_fields = [
            "id",
            "username",
            "must_change_password",
            "password_changed_at",
            "last_login",
        ]

    @extend_schema(
        responses=inline_serializer("RoleRef", {"id": serializers.IntegerField(), "name": "str"})
    )
    def get_roles(self, user) -> list[dict]:
        return [
            {"id": role.pk, "name": role.name}
            for role in user.roles.filter(is_active=True).order_by("sort_order", "name")
        ]

    def get_permissions(self, user) -> list[str]:
        return sorted(user.get_all_permissions())


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, write_only=True)


class LoginResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()
    user = MeSerializer()


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(max_length=4096, trim_whitespace=False, write_only=True)
    new_password = serializers.CharField(max_length=4096, trim_whitespace=False, write_only=True)

    def validate_old_password(self, value):
        if not self.context["request"].user.check_password(value):
            raise serializers.ValidationError(_("Your old password was entered incorrectly."))
        return value

    def validate_new_password(self, value):
        try:
            validate_password(value, self.context["request"].user)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(list(exc.messages)) from exc
        return value


class LoginLogSerializer(serializers.ModelSerializer):
    user_name = serializers.CharField(source="user.name", read_only=True, default="")
    department = serializers.CharField(source="user.department.name", read_only=True, default="")

    class Meta:
        model = LoginLog
        fields = [
            "id",
            "time",
            "user",
            "username",
            "user_name",
            "department",
            "result",
            "channel",
            "ip",
            "user_agent",
        ]


class LockoutSerializer(serializers.Serializer):
    user = serializers.IntegerField(source="user.pk")
    username = serializers.CharField(source="user.username")
    name = serializers.CharField(source="user.name")
    department = serializers.CharField(source="user.department.name", default="")
    failures = serializers.IntegerField()
    last_failure = serializers.DateTimeField()
    unlocks_at = serializers.DateTimeField()


class UnlockResultSerializer(serializers.Serializer):
    user = serializers.IntegerField()
    username = serializers.CharField()
    was_locked = serializers.BooleanField()


class SessionSerializer(serializers.Serializer):
    """A browser session; ``id`` is an opaque hash, the session key itself is never shown."""

    id = serializers.SerializerMethodField()
    user = serializers.IntegerField(source="user.pk")
    username = serializers.CharField(source="user.username")
    user_name = serializers.CharField(source="user.name")
    department = serializers.CharField(source="user.department.name", default="")
    ip = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField(allow_null=True)
    last_activity = serializers.DateTimeField()
    expire_date = serializers.DateTimeField()

    def get_id(self, session) -> str:
        return auth_services.session_id(session.session_key)


class TokenSerializer(serializers.ModelSerializer):
    """An API token; only the key's prefix is known (the key is shown once, at creation)."""

    username = serializers.CharField(source="user.username", read_only=True)
    user_name = serializers.CharField(source="user.name", read_only=True)
    department = serializers.CharField(source="user.department.name", read_only=True, default="")

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "user",
            "username",
            "user_name",
            "department",
            "created_at",
            "expires_at",
            "last_used_at",
            "last_ip",
            "last_user_agent",
        ]
        read_only_fields = fields


# --- /api/v1/auth/ --------------------------------------------------------------------------------


class LoginView(GenericAPIView):
    """Exchange a username and password for an API token.

    Failed attempts count towards the lockout; a locked account answers 403 ``account_locked``
    even with the right password.
    """

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    serializer_class = LoginSerializer

    @extend_schema(request=LoginSerializer, responses={200: LoginResponseSerializer})
    def post(self, request):
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        django_request = auth_services.http_request(request)
        username = serializer.validated_data["username"]
        password = serializer.validated_data["password"]
        user = authenticate(request=django_request, username=username, password=password)
        if user is None:
            if getattr(django_request, "axes_locked_out", False):
                raise AccountLocked()
            disabled = User.objects.filter(username=username, is_active=False).first()
            if disabled is not None and disabled.check_password(password):
                raise AccountDisabled(_("This account is disabled."))
            raise exceptions.ValidationError(
                {"non_field_errors": [_("Please enter a correct username and password.")]}
            )
        token, key = auth_services.issue_login_token(user, django_request)
        # The same signal as a browser login: login log, audit, last_login, lockout counter reset.
        user_logged_in.send(sender=user.__class__, request=django_request, user=user)
        body = {"token": key, "expires_at": token.expires_at, "user": user}
        return Response(LoginResponseSerializer(body, context={"request": request}).data)


class LogoutView(GenericAPIView):
    """Revoke the token this request was made with (or end the browser session)."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = EmptySerializer

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        user = request.user
        django_request = auth_services.http_request(request)
        if isinstance(request.auth, ApiToken):
            auth_services.revoke_token(request, request.auth, forced=False)
            user_logged_out.send(sender=user.__class__, request=django_request, user=user)
        else:
            logout(django_request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(GenericAPIView):
    """Own profile: read it, change name, phone, email and position."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = MeSerializer

    def get_object(self):
        return self.request.user

    @extend_schema(responses={200: MeSerializer})
    def get(self, request):
        return Response(MeSerializer(request.user, context={"request": request}).data)

    @extend_schema(request=MeSerializer, responses={200: MeSerializer})
    def patch(self, request):
        serializer = MeSerializer(
            request.user, data=request.data, partial=True, context={"request": request}
        )
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data)


class PasswordView(GenericAPIView):
    """Change one's own password under the password policy; the current session stays valid."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = PasswordChangeSerializer

    @extend_schema(request=PasswordChangeSerializer, responses={204: None})
    def post(self, request):
        serializer = PasswordChangeSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        auth_services.change_password(
            request, request.user, serializer.validated_data["new_password"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- /api/v1/accounts/ ----------------------------------------------------------------------------


class LoginLogViewSet(ScopedReadOnlyViewSet):
    """Login attempts, logouts and forced logouts (scoped by the user's department)."""

    queryset = LoginLog.objects.select_related("user", "user__department")
    serializer_class = LoginLogSerializer
    filterset_class = LoginLogFilterSet
    table_class = LoginLogTable
    ordering_fields = ["time", "username", "result", "channel", "ip"]
    ordering = ["-time", "-id"]


class LockoutViewSet(viewsets.GenericViewSet):
    """Accounts locked after too many failed logins; unlock lifts the lock at once."""

    permission_classes = [permissions.IsAuthenticated, HasPermission]
    required_permissions = {"list": "accounts.unlock_user", "unlock": "accounts.unlock_user"}
    serializer_class = LockoutSerializer
    pagination_class = None
    filter_backends: list = []
    lookup_url_kwarg = "user_id"
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        return auth_services.reachable_users(self.request.user, "change")

    @extend_schema(responses={200: LockoutSerializer(many=True)})
    def list(self, request):
        accounts = auth_services.locked_accounts(request.user)
        return Response(LockoutSerializer(accounts, many=True).data)

    @extend_schema(request=None, responses={200: UnlockResultSerializer})
    @action(detail=True, methods=["post"])
    def unlock(self, request, user_id=None):
        """Unlock a user within reach (404 otherwise). Audited."""
        try:
            user = self.get_queryset().get(pk=int(user_id))
        except (User.DoesNotExist, ValueError, OverflowError) as exc:
            raise Http404 from exc
        was_locked = auth_services.unlock_user(request, user)
        body = {"user": user.pk, "username": user.username, "was_locked": was_locked}
        return Response(UnlockResultSerializer(body).data)


SESSION_ID = OpenApiParameter(
    "id", OpenApiTypes.STR, OpenApiParameter.PATH, description="Opaque session id from the list."
)


class SessionViewSet(viewsets.GenericViewSet):
    """Browser sessions of users within reach; DELETE forces the user to log out."""

    permission_classes = [permissions.IsAuthenticated, HasPermission]
    required_permissions = {
        "list": "accounts.view_online_users",
        "retrieve": "accounts.view_online_users",
        "destroy": "accounts.force_logout",
    }
    serializer_class = SessionSerializer
    filter_backends: list = []
    lookup_value_regex = r"[^/.]+"

    def get_queryset(self):
        return auth_services.active_sessions(self.request.user)

    def get_object(self):
        session = auth_services.find_session(self.request.user, self.kwargs["pk"])
        if session is None:
            raise Http404
        return session

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(parameters=[SESSION_ID])
    def retrieve(self, request, pk=None):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(parameters=[SESSION_ID], responses={204: None})
    def destroy(self, request, pk=None):
        auth_services.force_logout_session(request, self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """API tokens of users within reach (model permissions); DELETE revokes the token."""

    queryset = ApiToken.objects.select_related("user", "user__department")
    serializer_class = TokenSerializer
    filterset_class = TokenFilterSet
    table_class = TokenTable
    ordering_fields = ["created_at", "last_used_at", "expires_at"]
    ordering = ["-created_at"]

    def perform_destroy(self, instance):
        auth_services.revoke_token(
            self.request, instance, forced=instance.user_id != self.request.user.pk
        )


router = SimpleRouter()
router.register("login-logs", LoginLogViewSet, basename="loginlog")
router.register("lockouts", LockoutViewSet, basename="lockout")
router.register("sessions", SessionViewSet, basename="session")
router.register("tokens", TokenViewSet, basename="apitoken")
