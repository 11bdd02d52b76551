"""What a crawl must not fetch: internal and metadata addresses (SSRF), pages robots.txt forbids."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ibcloud.crawler import runner
from ibcloud.crawler.middlewares import AddressRefused, GuardedResolver
from ibcloud.demo.sites import start_demo_sites
from tests.factories import CrawlJobFactory, CrawlSourceFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def running_sites():
    running = start_demo_sites(projects=12, investors=5, proxies=0, protected=5)
    yield running
    running.stop()


@pytest.fixture
def sites(running_sites):
    running_sites.state.reset()  # request counters start at zero
    return running_sites


class Redirector(BaseHTTPRequestHandler):
    """A site whose pages redirect to wherever the path says: /to/<url>."""

    def do_GET(self):  # noqa: N802 - http.server's interface
        self.send_response(302)
        self.send_header("Location", self.path.removeprefix("/to/"))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def redirector():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def allow_loopback(settings):
    settings.IBCLOUD_SSRF_ALLOWLIST = ["127.0.0.1", "localhost"]


def crawl(source, child_env, timeout=60):
    job = CrawlJobFactory(source=source)
    assert runner.spawn_crawl(job.pk, env=child_env).wait(timeout=timeout) == 0
    job.refresh_from_db()
    return job


def test_a_start_url_at_the_metadata_address_is_refused(allow_loopback, child_env):
    source = CrawlSourceFactory(start_urls=["http://169.254.169.254/latest/meta-data/"])
    job = crawl(source, child_env)
    assert job.status == "failed"
    assert job.stats["ssrf_refused"] == 1 and job.stats["requests"] == 0
    assert "169.254.169.254" in job.message and "IBCLOUD_SSRF_ALLOWLIST" in job.message


@pytest.mark.parametrize(
    "target", ["http://169.254.169.254/latest/meta-data/", "http://127.0.0.2:9/"]
)
def test_a_redirect_to_a_refused_address_is_not_followed(
    redirector, allow_loopback, child_env, target
):
    source = CrawlSourceFactory(start_urls=[f"{redirector}/to/{target}"], obey_robots=False)
    job = crawl(source, child_env)
    assert job.status == "failed"
    assert job.stats["ssrf_refused"] == 1
    assert job.stats["responses"] == {"302": 1}  # the redirect itself, and nothing after it
    assert target.split("/")[2].split(":")[0] in job.message
    assert "IBCLOUD_SSRF_ALLOWLIST" in job.message


@pytest.fixture
def empty_allowlist(settings):
    settings.IBCLOUD_SSRF_ALLOWLIST = []


def test_loopback_is_refused_unless_allowlisted(sites, empty_allowlist, child_env):
    source = CrawlSourceFactory(start_urls=[f"{sites.base_url}/projects/"])
    job = crawl(source, child_env)
    assert job.status == "failed" and job.stats["ssrf_refused"] >= 1
    assert sites.state.requests["projects"] == 0


def test_the_resolver_refuses_forbidden_addresses_at_connection_time(settings):
    # DNS rebinding: whatever a name resolved to when the middleware checked it, the address
    # the connection is made to is checked again here.
    settings.IBCLOUD_SSRF_ALLOWLIST = ["127.0.0.1"]
    with pytest.raises(AddressRefused, match="link-local"):
        GuardedResolver.check_resolved("rebound.example", "169.254.169.254")
    with pytest.raises(AddressRefused, match="internal"):
        GuardedResolver.check_resolved("rebound.example", "10.1.2.3")
    assert GuardedResolver.check_resolved("site.example", "127.0.0.1") == "127.0.0.1"
    assert GuardedResolver.check_resolved("site.example", "93.184.216.34") == "93.184.216.34"


def test_pages_robots_txt_forbids_are_not_fetched(sites, allow_loopback, child_env):
    source = CrawlSourceFactory(
        start_urls=[f"{sites.base_url}/private/deals/", f"{sites.base_url}/projects/"],
        fields=[{"name": "name", "by": "css", "expr": "h1.project-name", "required": True}],
    )
    job = crawl(source, child_env)
    assert job.status == "succeeded", job.message
    assert job.items == 10  # the first list page of the projects
    assert job.stats["robots_forbidden"] == 1 and sites.state.requests["private"] == 0
    assert "robots.txt" in job.message and "/private/deals/" in job.message


def test_with_robots_txt_ignored_the_forbidden_page_is_fetched(sites, allow_loopback, child_env):
    source = CrawlSourceFactory(
        start_urls=[f"{sites.base_url}/private/deals/"],
        obey_robots=False,
        list_mode="inline",
        item_selector="main",
        fields=[{"name": "note", "by": "css", "expr": "p.confidential"}],
    )
    job = crawl(source, child_env)
    assert job.status == "succeeded" and job.items == 1
    assert sites.state.requests["private"] == 1 and sites.state.requests["robots"] == 0


class Counter(BaseHTTPRequestHandler):
    """An internal service: it must never be reached. Counts what reaches it."""

    hits = 0

    def do_GET(self):  # noqa: N802 - http.server's interface
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Length", "6")
        self.end_headers()
        self.wfile.write(b"secret")

    def log_message(self, *args):
        pass


class Tricky(BaseHTTPRequestHandler):
    """A page whose scripts reach for internal addresses, and a page redirecting to one."""

    internal = ""

    def do_GET(self):  # noqa: N802 - http.server's interface
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", f"{self.internal}/via-redirect")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = (
            "<html><body><div id='app'><h1>Tricky page</h1></div>"
            "<script src='http://169.254.169.254/latest/meta-data/x.js'></script>"
            f"<script>fetch('{self.internal}/via-fetch').catch(function () {{}});</script>"
            "</body></html>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(address, handler):
    server = ThreadingHTTPServer((address, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def allow_127_0_0_1_only(settings):
    settings.IBCLOUD_SSRF_ALLOWLIST = ["127.0.0.1"]  # 127.0.0.2 stands for the intranet


def test_the_browser_cannot_reach_refused_addresses_by_script_or_redirect(
    allow_127_0_0_1_only, child_env
):
    internal = serve("127.0.0.2", Counter)
    Tricky.internal = f"http://127.0.0.2:{internal.server_port}"
    site = serve("127.0.0.1", Tricky)
    base = f"http://127.0.0.1:{site.server_port}"
    try:
        source = CrawlSourceFactory(
            start_urls=[f"{base}/page", f"{base}/redirect"],
            obey_robots=False,
            fetch_level=3,
            render_js=True,
            list_mode="inline",
            item_selector="#app",
            fields=[{"name": "title", "by": "css", "expr": "h1"}],
        )
        job = crawl(source, child_env)
    finally:
        site.shutdown()
        internal.shutdown()
    assert Counter.hits == 0
    assert job.items == 1 and job.status == "partial"
    examples = " ".join(job.stats["ssrf_examples"])
    assert "169.254.169.254" in examples and "/via-fetch" in examples
    assert "/via-redirect" in examples
