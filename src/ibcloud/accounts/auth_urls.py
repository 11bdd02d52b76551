"""UI of authentication: login, logout, profile, password, online users, login log."""

from django.contrib.auth import views as auth_views
from django.urls import path

from ibcloud.accounts.auth_forms import LoginForm

app_name = "accounts"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="accounts/login.html", authentication_form=LoginForm
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", auth_views.PasswordChangeView.as_view(), name="profile"),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
]
