"""System logs (系统日志): the application log read newest first across its rotated files,
filtered by time range, level, module and text, paged by cursor; a traceback stays one entry;
only holders of ``monitor.view_log`` read it (page and API); crawled text in a line stays inert;
links lead to the crawl-job, audit and login logs."""

from __future__ import annotations

import logging
import logging.config
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.urls import include, path, reverse

from ibcloud import urls as root_urls
from ibcloud.audit.models import AuditEntry
from ibcloud.monitor import log_urls, logs
from ibcloud.monitor import urls as monitor_urls
from ibcloud.monitor.log_api import router as log_router
from ibcloud.monitor.log_format import JsonLineFormatter
from ibcloud.monitor.models import Backup
from tests.factories import RoleFactory, UserFactory

# Until the lead mounts the log pages in monitor/urls.py and the API router in api_urls.py, these
# tests serve them from this module: the root URLs with the log pages added to the monitor app.
_monitor = [p for p in monitor_urls.urlpatterns if p.name not in ("log_list", "log_download")]
urlpatterns = [
    path("monitor/", include((_monitor + log_urls.urlpatterns, "monitor")))
    if getattr(p.pattern, "_route", "") == "monitor/"
    else p
    for p in root_urls.urlpatterns
] + [path("api/v1/monitor/", include(log_router.urls))]
handler403 = root_urls.handler403
handler404 = root_urls.handler404

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


# --- Writing logs as the application does ---------------------------------------------------------


def record(message, level=logging.INFO, name="ibcloud.crawler.runner", at=T0, exc=False):
    rec = logging.LogRecord(name, level, __file__, 1, message, None, None)
    rec.created = at.timestamp()
    if exc:
        try:
            raise ValueError("boom\nsecond line of the error")
        except ValueError:
            rec.exc_info = sys.exc_info()
    return rec


def write(path: Path, *records: logging.LogRecord, formatter=None) -> None:
    formatter = formatter or JsonLineFormatter()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        for rec in records:
            handle.write(formatter.format(rec) + "\n")


def messages(page: logs.LogPage) -> list[str]:
    return [entry.message for entry in page.entries]


@pytest.fixture
def log_dir(settings, tmp_path):
    settings.LOG_DIR = tmp_path / "logs"
    settings.LOG_DIR.mkdir()
    return settings.LOG_DIR


@pytest.fixture
def log_file(log_dir):
    return log_dir / logs.LOG_FILE_NAME


@pytest.fixture
def view_log(db):
    """The permission the lead declares on a monitor model (``Meta.permissions``)."""
    permission, _ = Permission.objects.get_or_create(
        codename="view_log",
        content_type=ContentType.objects.get_for_model(Backup),
        defaults={"name": "Can view system logs"},
    )
    return permission


@pytest.fixture
def reader(view_log):
    role = RoleFactory(perms=["monitor.view_log"], data_scope="all")
    return UserFactory(username="log_reader", roles=[role])


@pytest.fixture
def outsider(view_log):
    role = RoleFactory(perms=["monitor.view_backup"], data_scope="all")
    return UserFactory(username="outsider", roles=[role])


# --- Reading and filtering ------------------------------------------------------------------------


def test_entries_come_newest_first(log_file):
    write(log_file, *(record(f"m{i}", at=T0 + timedelta(seconds=i)) for i in range(5)))

    page = logs.read_page(logs.LogFilter())

    assert messages(page) == ["m4", "m3", "m2", "m1", "m0"]
    assert page.next_cursor is None
    assert page.entries[0].time == T0 + timedelta(seconds=4)
    assert page.entries[0].logger == "ibcloud.crawler.runner"
    assert page.entries[0].level == "INFO"


def test_filters_by_time_range_level_module_and_text(log_file):
    write(
        log_file,
        record("early", at=T0 - timedelta(hours=2)),
        record("source fetched", at=T0),
        record("matching done", name="ibcloud.matching.services", at=T0 + timedelta(minutes=1)),
        record("Proxy refused", level=logging.WARNING, at=T0 + timedelta(minutes=2)),
        record("crash", level=logging.ERROR, name="django.request", at=T0 + timedelta(minutes=3)),
        record("late", at=T0 + timedelta(hours=2)),
    )

    def read(**filters):
        return messages(logs.read_page(logs.LogFilter(**filters)))

    in_range = read(since=T0, until=T0 + timedelta(minutes=3))
    assert in_range == ["crash", "Proxy refused", "matching done", "source fetched"]
    assert read(level="WARNING") == ["crash", "Proxy refused"]
    assert read(level="ERROR") == ["crash"]
    # a module is a logger name or any whole dotted part of it
    assert read(module="ibcloud.matching") == ["matching done"]
    assert read(module="matching") == ["matching done"]
    assert read(module="match") == []
    assert read(module="ibcloud") == [
        "late",
        "Proxy refused",
        "matching done",
        "source fetched",
        "early",
    ]
    # text: case-insensitive, in the message or the traceback
    assert read(text="PROXY") == ["Proxy refused"]
    assert read(text="fetch", since=T0 + timedelta(minutes=1)) == []


def test_text_search_finds_words_of_a_traceback(log_file):
    write(log_file, record("crawl failed", level=logging.ERROR, exc=True), record("fine"))

    page = logs.read_page(logs.LogFilter(text="second line of the error"))

    assert messages(page) == ["crawl failed"]


def test_a_traceback_stays_one_entry(log_file):
    write(
        log_file,
        record("before"),
        record("crawl failed", level=logging.ERROR, exc=True),
        record("after"),
    )

    page = logs.read_page(logs.LogFilter())

    assert messages(page) == ["after", "crawl failed", "before"]
    failed = page.entries[1]
    assert failed.exc.startswith("Traceback (most recent call last)")
    assert "ValueError: boom\nsecond line of the error" in failed.exc


def test_a_traceback_in_the_older_text_format_stays_one_entry(log_file):
    """Files written before the JSON format: continuation lines belong to the record above."""
    text = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(process)d %(message)s")
    write(
        log_file,
        record("before"),
        record("two\nline message"),
        record("crawl failed", level=logging.ERROR, exc=True),
        record("after"),
        formatter=text,
    )

    page = logs.read_page(logs.LogFilter())

    assert messages(page) == ["after", "crawl failed", "two\nline message", "before"]
    failed = page.entries[1]
    assert failed.level == "ERROR"
    assert failed.exc.startswith("Traceback (most recent call last)")
    assert failed.exc.endswith("ValueError: boom\nsecond line of the error")
    assert logs.read_page(logs.LogFilter(level="ERROR")).entries[0].exc == failed.exc


def test_reading_backwards_in_small_blocks_keeps_every_line_whole(log_file, monkeypatch):
    """Blocks split lines anywhere; each line still comes back whole, at its own offset."""
    monkeypatch.setattr(logs, "BLOCK_BYTES", 7)
    write(log_file, *(record("消息 " * i, at=T0 + timedelta(seconds=i)) for i in range(30)))
    data = log_file.read_bytes()

    page = logs.read_page(logs.LogFilter())

    assert messages(page) == ["消息 " * i for i in reversed(range(30))]
    for entry in page.entries:
        assert data[entry.offset :].startswith(b'{"time"')


def test_an_overlong_line_is_clipped_not_held_whole(log_file, monkeypatch):
    monkeypatch.setattr(logs, "MAX_LINE_BYTES", 300)
    monkeypatch.setattr(logs, "BLOCK_BYTES", 64)
    write(log_file, record("first"), record("x" * 5000, level=logging.WARNING), record("last"))

    page = logs.read_page(logs.LogFilter())

    assert [e.level for e in page.entries] == ["INFO", "WARNING", "INFO"]
    long_one = page.entries[1]
    assert long_one.time == T0
    assert len(long_one.message) < 400
    assert long_one.message.endswith("[truncated]")
    assert messages(page)[::2] == ["last", "first"]


def test_a_record_being_written_is_left_for_the_next_read(log_file):
    write(log_file, record("complete"))
    with log_file.open("a", encoding="utf-8") as handle:
        handle.write('{"time": "2026-11-20T08:00:01.000+00:00", "level": "INF')

    assert messages(logs.read_page(logs.LogFilter())) == ["complete"]


# --- Rotation and paging --------------------------------------------------------------------------


def rotating_logger(log_file: Path, max_bytes: int, backups: int = 20) -> logging.Logger:
    from concurrent_log_handler import ConcurrentRotatingFileHandler

    logger = logging.getLogger(f"ibcloud.test_logs.{log_file.parent.name}")
    logger.handlers.clear()
    logger.propagate = False
    handler = ConcurrentRotatingFileHandler(
        str(log_file), maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
    )
    handler.setFormatter(JsonLineFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return logger


def close(logger: logging.Logger) -> None:
    for handler in logger.handlers:
        handler.close()
    logger.handlers.clear()


def test_rotated_files_are_read_in_order_and_paged_by_cursor(log_file):
    logger = rotating_logger(log_file, max_bytes=1500)
    for i in range(60):
        logger.info("line %03d", i)
    close(logger)
    assert len(logs.log_files()) >= 3  # the current file and at least two rotated ones

    seen, cursor = [], None
    while True:
        page = logs.read_page(logs.LogFilter(), cursor, limit=7)
        seen += messages(page)
        cursor = page.next_cursor
        if cursor is None:
            break

    assert seen == [f"line {i:03d}" for i in reversed(range(60))]


def test_a_cursor_survives_a_rotation_between_two_pages(log_file):
    logger = rotating_logger(log_file, max_bytes=2000)
    for i in range(10):
        logger.info("line %03d", i)
    first = logs.read_page(logs.LogFilter(), limit=4)
    assert messages(first) == ["line 009", "line 008", "line 007", "line 006"]

    for i in range(10, 40):  # enough to rotate the file the cursor points into
        logger.info("line %03d", i)
    close(logger)
    assert logs.log_files()[0].inode != first.next_cursor.inode

    second = logs.read_page(logs.LogFilter(), first.next_cursor, limit=4)
    assert messages(second) == ["line 005", "line 004", "line 003", "line 002"]


def test_a_page_stops_at_the_scan_limit_and_goes_on_from_there(log_file):
    write(log_file, record("needle", at=T0))
    write(log_file, *(record(f"hay {i}", at=T0 + timedelta(seconds=i)) for i in range(1, 50)))

    page = logs.read_page(logs.LogFilter(text="needle"), scan_bytes=2000)
    assert page.entries == [] and page.scan_limited and page.next_cursor is not None

    while not page.entries and page.next_cursor is not None:
        page = logs.read_page(logs.LogFilter(text="needle"), page.next_cursor, scan_bytes=2000)
    assert messages(page) == ["needle"]


def test_a_cursor_into_a_deleted_file_says_so(log_file):
    write(log_file, record("only"))

    page = logs.read_page(logs.LogFilter(), logs.Cursor(inode=1, offset=10))

    assert page.expired and page.entries == []


WRITER = """
import logging, sys
from concurrent_log_handler import ConcurrentRotatingFileHandler
from ibcloud.monitor.log_format import JsonLineFormatter
handler = ConcurrentRotatingFileHandler(sys.argv[1], maxBytes=4000, backupCount=200,
                                        encoding="utf-8")
handler.setFormatter(JsonLineFormatter())
logger = logging.getLogger("writer")
logger.addHandler(handler)
logger.setLevel(logging.INFO)
for i in range(int(sys.argv[3])):
    logger.info("%s %d", sys.argv[2], i)
"""


def test_processes_sharing_the_rotating_file_lose_and_repeat_no_line(log_file):
    """What the stdlib handler gets wrong: several processes rotating one file."""
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(log_file), f"p{n}", "150"])
        for n in range(3)
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0]
    assert len(logs.log_files()) > 3

    seen, cursor = [], None
    while True:
        page = logs.read_page(logs.LogFilter(), cursor, limit=500)
        seen += messages(page)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert sorted(seen) == sorted(f"p{n} {i}" for n in range(3) for i in range(150))
    for n in range(3):  # each process's lines, newest first
        own = [int(m.split()[1]) for m in seen if m.startswith(f"p{n} ")]
        assert own == sorted(own, reverse=True)


def test_the_proposed_logging_settings_write_what_the_viewer_reads(log_file):
    """The file handler the settings configure (see the LOGGING change in the report)."""
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"json": {"()": "ibcloud.monitor.log_format.JsonLineFormatter"}},
            "handlers": {
                "test_file": {
                    "class": "concurrent_log_handler.ConcurrentRotatingFileHandler",
                    "filename": str(log_file),
                    "maxBytes": 10 * 1024 * 1024,
                    "backupCount": 10,
                    "formatter": "json",
                    "encoding": "utf-8",
                }
            },
            "loggers": {
                "ibcloud.test_settings": {
                    "handlers": ["test_file"],
                    "level": "INFO",
                    "propagate": False,
                }
            },
        }
    )
    logger = logging.getLogger("ibcloud.test_settings")
    try:
        raise RuntimeError("抓取失败")
    except RuntimeError:
        logger.exception("Crawl of %s failed", "示例网站")
    close(logger)

    (entry,) = logs.read_page(logs.LogFilter()).entries
    assert entry.message == "Crawl of 示例网站 failed"
    assert entry.level == "ERROR"
    assert entry.logger == "ibcloud.test_settings"
    assert "RuntimeError: 抓取失败" in entry.exc


# --- The page -------------------------------------------------------------------------------------


def test_the_page_needs_the_view_log_permission(client, log_file, reader, outsider):
    write(log_file, record("hello"))
    url = reverse("monitor:log_list")

    client.force_login(outsider)
    assert client.get(url).status_code == 403
    assert client.get(reverse("monitor:log_download", args=["ibcloud.log"])).status_code == 403

    client.force_login(reader)
    response = client.get(url)
    assert response.status_code == 200
    assert [e.message for e in response.context["page"].entries] == ["hello"]


def test_the_page_filters_and_pages(client, log_file, reader):
    write(log_file, *(record(f"m{i}", at=T0 + timedelta(seconds=i)) for i in range(120)))
    write(log_file, record("bad", level=logging.ERROR, at=T0 + timedelta(seconds=200)))
    client.force_login(reader)
    url = reverse("monitor:log_list")

    errors = client.get(url, {"level": "ERROR"})
    assert [e.message for e in errors.context["page"].entries] == ["bad"]

    first = client.get(url, {"limit": "50"})
    assert len(first.context["page"].entries) == 50
    older = client.get(first.context["older_url"])
    assert older.context["page"].entries[0].message == "m70"


def test_bad_filters_show_field_errors(client, log_file, reader, english):
    client.force_login(reader)

    response = client.get(
        reverse("monitor:log_list"),
        {"since": "2026-11-21T00:00", "until": "2026-11-20T00:00", "module": "a b"},
    )

    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"until", "module"}
    assert "The end of the range is before its start." in response.content.decode()


def test_html_in_a_log_line_is_escaped(client, log_file, reader):
    write(
        log_file,
        record('<script>alert("x")</script> <img src=x onerror=alert(1)>', level=logging.ERROR),
    )
    client.force_login(reader)

    html = client.get(reverse("monitor:log_list")).content.decode()

    assert "<script>alert(" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(" in html


def test_htmx_asks_only_for_the_entries(client, log_file, reader):
    write(log_file, record("hello"))
    client.force_login(reader)

    response = client.get(
        reverse("monitor:log_list"), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="log-entries"
    )

    html = response.content.decode()
    assert 'id="log-entries"' in html and 'id="log-files"' not in html


def test_links_to_the_other_logs_follow_permissions_and_time_range(client, log_file, view_log):
    role = RoleFactory(
        perms=["monitor.view_log", "crawler.view_crawljob", "accounts.view_loginlog"],
        data_scope="all",
    )
    user = UserFactory(roles=[role])
    client.force_login(user)

    response = client.get(
        reverse("monitor:log_list"), {"since": "2026-11-20T09:00", "until": "2026-11-21T18:00"}
    )

    links = {link["id"]: link["url"] for link in response.context["related"]}
    assert "audit-log" not in links  # no audit permission, no link
    assert links["crawl-jobs-failed"] == (
        reverse("crawler:crawljob_list")
        + "?status=failed&created_after=2026-11-20&created_before=2026-11-21"
    )
    assert links["login-log"] == (
        reverse("accounts:loginlog_list") + "?time_from=2026-11-20&time_to=2026-11-21"
    )
    # the crawl-job list accepts the filter it is given
    assert client.get(links["crawl-jobs-failed"]).status_code == 200


def test_a_superuser_sees_every_link(client, log_file, admin_user):
    client.force_login(admin_user)

    response = client.get(reverse("monitor:log_list"))

    ids = {link["id"] for link in response.context["related"]}
    assert {"crawl-jobs-all", "crawl-jobs-failed", "audit-log", "login-log"} <= ids
    for link in response.context["related"]:
        assert client.get(link["url"]).status_code == 200


def test_downloading_a_log_file_is_audited(client, log_file, reader):
    write(log_file, record("hello"))
    client.force_login(reader)

    response = client.get(reverse("monitor:log_download", args=["ibcloud.log"]))

    assert response.status_code == 200
    assert b"hello" in b"".join(response.streaming_content)
    entry = AuditEntry.objects.get(event="log_download")
    assert entry.actor == reader


@pytest.mark.parametrize("name", ["other.log", "..", ".__ibcloud.lock", "ibcloud.log.999"])
def test_only_the_log_files_can_be_downloaded(client, log_file, reader, name):
    write(log_file, record("hello"))
    (log_file.parent / "other.log").write_text("secret")
    client.force_login(reader)

    assert client.get(reverse("monitor:log_download", args=[name])).status_code == 404


# --- The API --------------------------------------------------------------------------------------


def test_the_api_needs_the_view_log_permission(api, log_file, reader, outsider):
    url = reverse("log-list")

    assert api.as_user(outsider).get(url).status_code == 403
    assert api.as_user(outsider).get(reverse("log-files")).status_code == 403
    assert api.as_user(reader).get(url).status_code == 200


def test_the_api_answers_filtered_entries_and_a_cursor(api, log_file, reader):
    write(log_file, *(record(f"m{i}", at=T0 + timedelta(seconds=i)) for i in range(60)))
    write(log_file, record("bad", level=logging.ERROR, exc=True, at=T0 + timedelta(minutes=5)))
    client = api.as_user(reader)
    url = reverse("log-list")

    body = client.get(url, {"level": "ERROR"}).json()
    assert [e["message"] for e in body["results"]] == ["bad"]
    assert body["results"][0]["exc"].startswith("Traceback")
    assert body["next_cursor"] is None

    first = client.get(url, {"limit": 50}).json()
    assert len(first["results"]) == 50
    rest = client.get(url, {"limit": 50, "cursor": first["next_cursor"]}).json()
    assert [e["message"] for e in rest["results"]] == [f"m{i}" for i in reversed(range(11))]

    files = client.get(reverse("log-files")).json()
    assert [f["name"] for f in files] == ["ibcloud.log"]


@pytest.mark.parametrize(
    "query, field",
    [
        ({"level": "LOUD"}, "level"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-11-21T00:00:00Z", "until": "2026-11-20T00:00:00Z"}, "until"),
        ({"since": "0001-01-01T00:00:00"}, "since"),
        ({"cursor": "abc"}, "cursor"),
        ({"cursor": "1-" + "9" * 30}, "cursor"),
        ({"limit": "7"}, "limit"),
        ({"module": "a/b"}, "module"),
        ({"q": "x\x00y"}, "q"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_the_api_refuses_bad_input_with_a_clear_error(api, log_file, reader, query, field):
    response = api.as_user(reader).get(reverse("log-list"), query)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["details"]
