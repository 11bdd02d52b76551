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


# --- crawler -------------------------------------------------------------------------------------


def _now():
    from django.utils import timezone

    return timezone.now()


def _content_hash(data: dict) -> str:
    """The crawler's own hash when available, so factory rows collide with crawled ones."""
    try:
        from ibcloud.crawler.extraction import content_hash

        return content_hash(data)
    except (ImportError, NotImplementedError):
        import hashlib
        import json

        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class ProxyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "crawler.Proxy"

    name = factory.Sequence(lambda n: f"proxy-{n}")
    url = factory.Sequence(lambda n: f"http://10.0.0.{n % 250 + 1}:3128")
    username = ""
    password = ""
    enabled = True


class CrawlSourceFactory(factory.django.DjangoModelFactory):
    """A valid minimal HTML source: one list page linking (``a.project-link``, as the demo project
    listing does) to detail pages with a required ``title`` field (``h1``).

    Point it at a real site with ``start_urls=[f"{sites.base_url}/projects/"]``.
    """

    class Meta:
        model = "crawler.CrawlSource"

    name = factory.Sequence(lambda n: f"source-{n}")
    item_type = "project"
    enabled = True
    start_urls = factory.LazyFunction(lambda: ["http://127.0.0.1:9/projects/"])
    page_format = "html"
    list_mode = "links"
    list_selector_type = "css"
    link_selector = "a.project-link"
    pagination = "none"
    fields = factory.LazyFunction(
        lambda: [{"name": "title", "by": "css", "expr": "h1", "required": True}]
    )
    obey_robots = True
    concurrency = 4
    delay = 0
    max_pages = 50
    time_limit = 120
    fetch_level = 1
    schedule = ""
    owner = None
    department = factory.LazyAttribute(lambda s: getattr(s.owner, "department", None))


class CrawlJobFactory(factory.django.DjangoModelFactory):
    """A run row (no background job behind it); owner and department follow the source."""

    class Meta:
        model = "crawler.CrawlJob"

    source = factory.SubFactory(CrawlSourceFactory)
    owner = factory.LazyAttribute(lambda j: j.source.owner)
    department = factory.LazyAttribute(lambda j: j.source.department)
    trigger = "manual"
    status = "pending"


class RawItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "crawler.RawItem"

    source = factory.SubFactory(CrawlSourceFactory)
    job = None
    item_type = factory.LazyAttribute(lambda r: r.source.item_type)
    url = factory.Sequence(lambda n: f"http://127.0.0.1:9/projects/{n}.html")
    fetched_at = factory.LazyFunction(_now)
    data = factory.Sequence(lambda n: {"title": f"项目{n}"})
    content_hash = factory.LazyAttribute(lambda r: _content_hash(r.data))
    problems = factory.LazyFunction(dict)


class SourceAlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "crawler.SourceAlert"

    source = factory.SubFactory(CrawlSourceFactory)
    rule = "job_failed"
    field = ""
    status = "open"
    title = factory.LazyAttribute(lambda a: f"{a.source.name}: {a.rule}")
    evidence = factory.LazyFunction(dict)
