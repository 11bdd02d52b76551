"""The platform's URLs plus a minimal user edit page and API built from the generic views.

The audit trail must work for any page or endpoint built on ``core.views`` / ``core.api``; these
stand in for them so the audit tests do not depend on another module's forms.
"""

from django import forms
from django.urls import include, path
from rest_framework import serializers
from rest_framework.routers import DefaultRouter

from ibcloud.accounts.models import Role, User
from ibcloud.core.api import ScopedModelViewSet
from ibcloud.core.forms import BootstrapModelForm
from ibcloud.core.views import ObjectDeleteView, ObjectEditView
from ibcloud.urls import urlpatterns as platform_urlpatterns


class UserForm(BootstrapModelForm):
    roles = forms.ModelMultipleChoiceField(queryset=Role.objects.all(), required=False)

    class Meta:
        model = User
        fields = ["username", "name", "email", "department", "roles"]


class UserEditView(ObjectEditView):
    model = User
    form_class = UserForm

    def success_url(self, obj) -> str:
        return "/"


class UserDeleteView(ObjectDeleteView):
    model = User

    def list_url(self) -> str:
        return "/"


class UserSerializer(serializers.ModelSerializer):
    password = serializers.CharField(write_only=True, required=False)

    class Meta:
        model = User
        fields = ["id", "username", "name", "email", "department", "password"]

    def create(self, validated_data):
        password = validated_data.pop("password", None)
        user = User(**validated_data)
        user.set_password(password)
        user.save()
        return user

    def update(self, instance, validated_data):
        password = validated_data.pop("password", None)
        for key, value in validated_data.items():
            setattr(instance, key, value)
        if password:
            instance.set_password(password)
        instance.save()
        return instance


class UserViewSet(ScopedModelViewSet):
    queryset = User.objects.all()
    serializer_class = UserSerializer


router = DefaultRouter()
router.register("users", UserViewSet, basename="testuser")

urlpatterns = [
    path("test-users/add/", UserEditView.as_view(), name="test_user_add"),
    path("test-users/<int:pk>/edit/", UserEditView.as_view(), name="test_user_edit"),
    path("test-users/<int:pk>/delete/", UserDeleteView.as_view(), name="test_user_delete"),
    path("test-api/", include(router.urls)),
    *platform_urlpatterns,
]
