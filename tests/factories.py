"""factory_boy factories shared by every test module."""

import factory
from django.contrib.auth.models import Permission

from ibcloud.accounts.models import ApiToken, Department, Role, User
from ibcloud.core.scoping import DataScope

PASSWORD = "Str0ng!Passw0rd"


class DepartmentFactory(factory.Factory):
    """Departments live in a tree: build with ``parent=`` (root when omitted)."""

    class Meta:
        model = Department

    name = factory.Sequence(lambda n: f"部门{n}")
    code = factory.Sequence(lambda n: f"dept-{n}")

    @classmethod
    def _create(cls, model_class, parent=None, **kwargs):
        if parent is None:
            return model_class.objects.add_root(kwargs)
        return model_class.objects.add_child(parent, kwargs)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    name = factory.Sequence(lambda n: f"用户{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if extracted:
            self.roles.set(extracted)
        self.save()


def permissions(*codenames: str) -> list[Permission]:
    """Permission rows from ``app_label.codename`` strings."""
    found = []
    for name in codenames:
        app_label, codename = name.split(".")
        found.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return found


class RoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Role
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"角色{n}")
    code = factory.Sequence(lambda n: f"role-{n}")
    data_scope = DataScope.SELF

    @factory.post_generation
    def perms(self, create, extracted, **kwargs):
        if extracted:
            self.permissions.set(permissions(*extracted))

    @factory.post_generation
    def departments(self, create, extracted, **kwargs):
        if extracted:
            self.scope_departments.set(extracted)


def token_for(user: User) -> str:
    """A fresh API key for ``user``."""
    return ApiToken.issue(user, name="test")[1]
