"""API of authentication records: login log, online sessions, API tokens."""

from rest_framework.routers import SimpleRouter

router = SimpleRouter()
