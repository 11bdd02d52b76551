"""UI of authentication: login, logout, profile, password, login log, online users, unlock."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as django_auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import check_for_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views import View
from django.views.i18n import set_language as django_set_language

from ibcloud.accounts import auth_services
from ibcloud.accounts.auth_filters import LoginLogFilterSet
from ibcloud.accounts.auth_forms import (
    BootstrapPasswordChangeForm,
    LoginForm,
    ProfileForm,
    TokenCreateForm,
)
from ibcloud.accounts.auth_tables import LoginLogTable, SessionTable, TokenTable
from ibcloud.accounts.models import ApiToken, LoginLog
from ibcloud.core.views import (
    ObjectListView,
    PermissionRequiredView,
    configure_table,
    is_local_url,
    redirect,
)

# --- Login, logout --------------------------------------------------------------------------------


class LoginView(django_auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_success_url(self):
        if self.request.user.must_change_password:
            return reverse("accounts:password_change")
        return super().get_success_url()

    def form_valid(self, form):
        response = super().form_valid(form)
        if self.request.user.language:  # the pages speak the person's language on any browser
            set_language_cookie(response, self.request.user.language)
        return response


def set_language_cookie(response, language: str) -> None:
    """Set the cookie Django's locale middleware reads, as its language switch does."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


def set_language(request):
    """The header's language switch (Django's), remembered on a signed-in person's account."""
    response = django_set_language(request)
    language = request.POST.get("language", "")
    user = request.user
    if (
        request.method == "POST"
        and user.is_authenticated
        and language in dict(settings.LANGUAGES)
        and check_for_language(language)
        and user.language != language
    ):
        user.language = language
        user.save(update_fields=["language"])
    return response


class LogoutView(django_auth_views.LogoutView):
    """POST only (Django's default); the login log records the logout."""


# --- Own profile and password ---------------------------------------------------------------------


class ProfileView(LoginRequiredMixin, View):
    """Edit one's own contact details and manage one's own API tokens."""

    template_name = "accounts/profile.html"

    def render_page(self, request, form=None, token_form=None, new_key="", status=200):
        user = request.user
        context = {
            "title": _("Profile"),
            "form": form or ProfileForm(instance=user),
            "token_form": token_form or TokenCreateForm(),
            "tokens": auth_services.own_tokens(user),
            "roles": user.roles.filter(is_active=True).order_by("sort_order", "name"),
            "new_key": new_key,
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request):
        return self.render_page(request)

    def post(self, request):
        if request.POST.get("action") == "create_token":
            token_form = TokenCreateForm(request.POST)
            if not token_form.is_valid():
                return self.render_page(request, token_form=token_form)
            _token, key = ApiToken.issue(request.user, name=token_form.cleaned_data["name"])
            messages.success(request, _("API token created. Copy the key now: it is shown once."))
            # Rendered, not redirected: the key must never be stored, not even in the session.
            return self.render_page(request, new_key=key)
        form = ProfileForm(request.POST, instance=request.user)
        if not form.is_valid():
            return self.render_page(request, form=form)
        form.save()
        messages.success(request, _("Your profile was saved."))
        return redirect(request, reverse("accounts:profile"))


class OwnTokenRevokeView(LoginRequiredMixin, View):
    """Revoke one of one's own API tokens (someone else's token id answers 404)."""

    def post(self, request, pk):
        token = get_object_or_404(auth_services.own_tokens(request.user), pk=pk)
        auth_services.revoke_token(request, token, forced=False)
        messages.success(request, _("The API token was revoked."))
        return redirect(request, reverse("accounts:profile"))


class PasswordChangeView(LoginRequiredMixin, View):
    template_name = "accounts/password_change.html"

    def render_form(self, request, form):
        return render(request, self.template_name, {"title": _("Change password"), "form": form})

    def get(self, request):
        return self.render_form(request, BootstrapPasswordChangeForm(request.user))

    def post(self, request):
        form = BootstrapPasswordChangeForm(request.user, request.POST)
        if not form.is_valid():
            return self.render_form(request, form)
        auth_services.change_password(request, request.user, form.cleaned_data["new_password1"])
        messages.success(request, _("Your password was changed."))
        return redirect(request, reverse("core:home"))


# --- Login log ------------------------------------------------------------------------------------


class LoginLogListView(ObjectListView):
    model = LoginLog
    table_class = LoginLogTable
    filterset_class = LoginLogFilterSet
    title = gettext_lazy("Login log")

    def base_queryset(self):
        return LoginLog.objects.select_related("user", "user__department")


# --- Online users ---------------------------------------------------------------------------------


class SessionListView(PermissionRequiredView):
    """Who is online: browser sessions and recently used API tokens, within the viewer's reach."""

    permission = "accounts.view_online_users"
    template_name = "accounts/session_list.html"

    def get(self, request):
        can_act = request.user.has_perm("accounts.force_logout")
        sessions = SessionTable(
            auth_services.active_sessions(request.user),
            prefix="s-",
            can_act=can_act,
        )
        tokens = TokenTable(
            auth_services.active_tokens(request.user),
            prefix="t-",
            can_act=can_act,
        )
        configure_table(request, sessions)
        configure_table(request, tokens)
        context = {
            "title": _("Online users"),
            "sessions": sessions,
            "tokens": tokens,
            "online_minutes": auth_services.ONLINE_MINUTES.get(),
        }
        return render(request, self.template_name, context)


class SessionLogoutView(PermissionRequiredView):
    """Force logout: delete a session of a user within reach (by its opaque id)."""

    permission = "accounts.force_logout"

    def post(self, request, sid):
        session = auth_services.find_session(request.user, sid)
        if session is None:
            raise Http404
        auth_services.force_logout_session(request, session)
        messages.success(request, _("The session was ended."))
        return redirect(request, reverse("accounts:session_list"))


class TokenLogoutView(PermissionRequiredView):
    """Force logout of an API client: revoke a token of a user within reach."""

    permission = "accounts.force_logout"

    def post(self, request, pk):
        tokens = ApiToken.objects.filter(user__in=auth_services.reachable_users(request.user))
        token = get_object_or_404(tokens, pk=pk)
        auth_services.revoke_token(request, token, forced=token.user_id != request.user.pk)
        messages.success(request, _("The API token was revoked."))
        return redirect(request, reverse("accounts:session_list"))


# --- Unlock ---------------------------------------------------------------------------------------


class UserUnlockView(PermissionRequiredView):
    """Lift the lockout of a user the admin may change; back to the user page (or referer)."""

    permission = "accounts.unlock_user"

    def post(self, request, pk):
        user = get_object_or_404(auth_services.reachable_users(request.user, "change"), pk=pk)
        if auth_services.unlock_user(request, user):
            messages.success(request, _("%(user)s was unlocked.") % {"user": user})
        else:
            messages.info(request, _("%(user)s was not locked.") % {"user": user})
        return redirect(request, self.back_url(request, user))

    @staticmethod
    def back_url(request, user) -> str:
        try:
            return reverse("accounts:user_detail", args=[user.pk])
        except NoReverseMatch:
            pass
        referer = request.META.get("HTTP_REFERER", "")
        if is_local_url(request, referer):
            return referer
        return reverse("core:home")
