"""Token login and logout, own profile and password for API clients: ``/api/v1/auth/...``."""

from django.urls import path

from ibcloud.accounts import auth_api

urlpatterns = [
    path("login/", auth_api.LoginView.as_view(), name="api-auth-login"),
    path("logout/", auth_api.LogoutView.as_view(), name="api-auth-logout"),
    path("me/", auth_api.MeView.as_view(), name="api-auth-me"),
    path("password/", auth_api.PasswordView.as_view(), name="api-auth-password"),
]
