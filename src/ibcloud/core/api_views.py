"""API of the system module kept by ``core``: dictionaries, parameters, jobs."""

from rest_framework.routers import DefaultRouter

router = DefaultRouter()
