"""UI of authentication: login, logout, profile, password, online users, login log, unlock."""

from django.urls import path

from ibcloud.accounts import auth_views

app_name = "accounts"

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", auth_views.ProfileView.as_view(), name="profile"),
    path(
        "profile/tokens/<int:pk>/revoke/",
        auth_views.OwnTokenRevokeView.as_view(),
        name="profile_token_revoke",
    ),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("login-log/", auth_views.LoginLogListView.as_view(), name="loginlog_list"),
    path("online/", auth_views.SessionListView.as_view(), name="session_list"),
    path(
        "online/sessions/<str:sid>/logout/",
        auth_views.SessionLogoutView.as_view(),
        name="session_logout",
    ),
    path(
        "online/tokens/<int:pk>/logout/",
        auth_views.TokenLogoutView.as_view(),
        name="token_logout",
    ),
    path("users/<int:pk>/unlock/", auth_views.UserUnlockView.as_view(), name="user_unlock"),
]
