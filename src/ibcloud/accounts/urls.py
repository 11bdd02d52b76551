"""UI of account management (users, departments, roles) plus the authentication pages."""

from ibcloud.accounts.auth_urls import urlpatterns as auth_urlpatterns

app_name = "accounts"

urlpatterns = [*auth_urlpatterns]
