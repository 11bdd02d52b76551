"""API of the accounts module: users, departments, roles, tokens, login log, online users."""

from rest_framework.routers import DefaultRouter

router = DefaultRouter()
