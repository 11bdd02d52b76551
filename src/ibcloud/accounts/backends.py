"""Permission lookup through roles: a user holds the permissions of all their active roles."""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission


class RoleBackend(ModelBackend):
    """Django's ModelBackend with roles in place of groups (disabled users get no permission)."""

    def _get_group_permissions(self, user_obj):
        return Permission.objects.filter(roles__users=user_obj, roles__is_active=True)
