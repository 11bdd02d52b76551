"""Token login and logout for API clients: ``/api/v1/auth/...``."""

urlpatterns: list = []
