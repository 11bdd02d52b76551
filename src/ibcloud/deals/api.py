"""API of deals: ``/api/v1/deals/``."""

from rest_framework.routers import DefaultRouter

router = DefaultRouter()
