"""Reading the application log (``LOG_DIR/ibcloud.log`` and its rotated files), newest first.

The files can be large (10 MB each, ten of them kept) and are appended to by every process while
they are read, so nothing here loads a file whole: files are read backwards in blocks, one page of
matching entries at a time, and a page stops after scanning ``scan_bytes`` even when it found
fewer entries than asked (the caller then offers "search further"). A page ends with a cursor,
``<inode>-<offset>``: the file is named by its inode rather than its name because rotation renames
``ibcloud.log`` to ``ibcloud.log.1`` between two pages, and a rename keeps the inode.

Two line formats are understood: one JSON object per line (``log_format.JsonLineFormatter``, what
the file handler writes), and the older plain text format
``"%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"``, where the lines after a record
that do not start like a record (a traceback) belong to it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.utils import timezone

LOG_FILE_NAME = "ibcloud.log"
#: Rotated files are ``ibcloud.log.1`` (newest) .. ``ibcloud.log.N``; look no further than this.
MAX_BACKUPS = 100
BLOCK_BYTES = 64 * 1024
#: A longer line is kept clipped to its start (where the time and level are).
MAX_LINE_BYTES = 1024 * 1024
#: Continuation lines kept for one text-format record (the end of a traceback comes first).
MAX_RECORD_BYTES = 256 * 1024
#: Bytes one page may scan before it answers with what it found and a cursor to go on (about
#: half a second on a 2-core machine).
DEFAULT_SCAN_BYTES = 16 * 1024 * 1024
#: Records of several processes interleave slightly out of time order; reading newest first stops
#: at the first record this much older than the start of the asked time range.
TIME_SLACK = timedelta(minutes=1)

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
_LEVEL_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL"}

_TEXT_HEADER = re.compile(
    r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}),(\d{3}) "
    r"(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL|NOTSET|Level \d+) (\S+) (\d+)(?: (.*))?$",
    re.DOTALL,
)
_JSON_FIELD = re.compile(r'"(time|level|logger)": "((?:[^"\\]|\\.)*)"')
_CURSOR = re.compile(r"^(\d{1,20})-(\d{1,15})$")
_TRACEBACK_START = "Traceback (most recent call last)"


class CursorError(ValueError):
    """A cursor that is not ``<inode>-<offset>``."""


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: before byte ``offset`` of the file with this inode."""

    inode: int
    offset: int

    def __str__(self) -> str:
        return f"{self.inode}-{self.offset}"


def parse_cursor(text: str) -> Cursor:
    match = _CURSOR.match(text or "")
    if not match:
        raise CursorError(text)
    return Cursor(int(match[1]), int(match[2]))


@dataclass(frozen=True)
class LogFile:
    path: Path
    name: str
    size: int
    modified: datetime
    inode: int


@dataclass
class LogEntry:
    """One log record. ``time`` is aware (None for lines that carry none)."""

    time: datetime | None
    level: str
    logger: str
    message: str
    exc: str = ""
    process: int | None = None
    host: str = ""
    file: str = ""
    offset: int = 0

    @property
    def level_no(self) -> int:
        return LEVELS.get(self.level, 0)

    @property
    def level_css(self) -> str:
        return {"DEBUG": "secondary", "INFO": "info", "WARNING": "warning"}.get(
            self.level, "danger" if self.level_no >= LEVELS["ERROR"] else "secondary"
        )


@dataclass(frozen=True)
class LogFilter:
    """What a reader asks for; every part optional. ``level`` is the lowest level shown."""

    since: datetime | None = None
    until: datetime | None = None
    level: str = ""
    module: str = ""
    text: str = ""

    def matches(self, entry: LogEntry) -> bool:
        if self.since and (entry.time is None or entry.time < self.since):
            return False
        if self.until and (entry.time is None or entry.time > self.until):
            return False
        if self.level and entry.level_no < LEVELS[self.level]:
            return False
        if self.module and not module_matches(entry.logger, self.module):
            return False
        if self.text:
            needle = self.text.casefold()
            if needle not in entry.message.casefold() and needle not in entry.exc.casefold():
                return False
        return True


def module_matches(logger: str, module: str) -> bool:
    """``module`` names whole dotted parts of the logger: ``ibcloud.crawler`` and ``crawler``
    both match ``ibcloud.crawler.runner``; ``crawl`` does not."""
    return f".{module.lower().strip('.')}." in f".{logger.lower()}."


@dataclass
class LogPage:
    entries: list[LogEntry] = field(default_factory=list)
    #: where the next (older) page starts; None when the oldest file has been read
    next_cursor: Cursor | None = None
    scanned_bytes: int = 0
    #: the page stopped at the scan limit, not because it was full: "search further" goes on
    scan_limited: bool = False
    #: the cursor named a file that rotation has since deleted
    expired: bool = False


# --- Files ----------------------------------------------------------------------------------------


def log_dir() -> Path:
    return Path(settings.LOG_DIR)


def log_files() -> list[LogFile]:
    """The current file and its rotated predecessors, newest first (missing ones skipped)."""
    base = log_dir() / LOG_FILE_NAME
    paths = [base] + [base.with_name(f"{LOG_FILE_NAME}.{n}") for n in range(1, MAX_BACKUPS + 1)]
    files = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue
        modified = datetime.fromtimestamp(stat.st_mtime, tz=timezone.get_current_timezone())
        files.append(LogFile(path, path.name, stat.st_size, modified, stat.st_ino))
    return files


def find_file(name: str) -> LogFile | None:
    """The log file called ``name``, if it is one of ours (never a path from the caller)."""
    return next((f for f in log_files() if f.name == name), None)


# --- Parsing --------------------------------------------------------------------------------------


def _aware(value: datetime) -> datetime:
    return value if timezone.is_aware(value) else timezone.make_aware(value)


def _parse_time(text: str) -> datetime | None:
    try:
        return _aware(datetime.fromisoformat(text))
    except (ValueError, TypeError, OverflowError):
        return None


def _level(value: object) -> str:
    level = str(value or "").upper()[:20]
    return _LEVEL_ALIASES.get(level, level)


def _parse_json(text: str) -> LogEntry | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or "time" not in data or "level" not in data:
        return None
    exc = "\n".join(str(data[key]) for key in ("exc", "stack") if data.get(key))
    process = data.get("process")
    return LogEntry(
        time=_parse_time(str(data["time"])),
        level=_level(data["level"]),
        logger=str(data.get("logger") or ""),
        message=str(data.get("message") or ""),
        exc=exc,
        process=process if isinstance(process, int) and not isinstance(process, bool) else None,
        host=str(data.get("host") or ""),
    )


def _parse_clipped_json(text: str) -> LogEntry | None:
    """A JSON line too long to keep whole: its fields come first, so take them from its start."""
    fields = {key: value for key, value in _JSON_FIELD.findall(text[:2000])}
    if "time" not in fields or "level" not in fields:
        return None
    return LogEntry(
        time=_parse_time(fields["time"]),
        level=_level(fields["level"]),
        logger=fields.get("logger", ""),
        message=text + " …[truncated]",
    )


def _parse_text_header(text: str) -> LogEntry | None:
    match = _TEXT_HEADER.match(text)
    if not match:
        return None
    try:
        naive = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    # asctime is the writing process's local time: Django sets TZ to TIME_ZONE on start.
    time = _aware(naive.replace(microsecond=int(match[2]) * 1000))
    return LogEntry(
        time=time,
        level=_level(match[3]),
        logger=match[4],
        process=int(match[5]),
        message=match[6] or "",
    )


def parse_line(text: str, clipped: bool = False) -> LogEntry | None:
    """The record a line starts, or None for a continuation line (or a foreign one)."""
    if text.startswith("{"):
        entry = _parse_clipped_json(text) if clipped else _parse_json(text)
        if entry is not None:
            return entry
    return _parse_text_header(text)


def _attach_continuation(entry: LogEntry, lines: list[str]) -> None:
    """Lines after a text record: its message goes on until a traceback starts."""
    for index, line in enumerate(lines):
        if line.startswith(_TRACEBACK_START):
            message_lines, exc_lines = lines[:index], lines[index:]
            break
    else:
        message_lines, exc_lines = lines, []
    if message_lines:
        entry.message = "\n".join([entry.message, *message_lines])
    if exc_lines:
        entry.exc = "\n".join(exc_lines)


# --- Reading backwards ----------------------------------------------------------------------------


def _lines_backward(handle: BinaryIO, end: int) -> Iterator[tuple[int, bytes, bool]]:
    """``(start offset, line, clipped)`` for each line before byte ``end``, last line first.

    Memory stays within a block plus one (clipped) line, whatever the file's size.
    """
    position = end
    tail = b""  # the start of the line that ends where the bytes already read begin
    tail_len = 0  # its real length (``tail`` holds at most MAX_LINE_BYTES of it)
    while position > 0:
        size = min(BLOCK_BYTES, position)
        position -= size
        handle.seek(position)
        block = handle.read(size)
        if len(block) != size:  # the file shrank under us: nothing sane left to read
            return
        pieces = block.split(b"\n")
        if len(pieces) == 1:
            tail = (block + tail)[:MAX_LINE_BYTES]
            tail_len += size
            continue
        last = pieces[-1]
        offset = position + size - len(last)
        length = len(last) + tail_len
        if length:
            yield offset, (last + tail)[:MAX_LINE_BYTES], length > MAX_LINE_BYTES
        for piece in reversed(pieces[1:-1]):
            offset -= len(piece) + 1
            if piece:
                yield offset, piece[:MAX_LINE_BYTES], len(piece) > MAX_LINE_BYTES
        tail = pieces[0][:MAX_LINE_BYTES]
        tail_len = len(pieces[0])
    if tail_len:
        yield 0, tail, tail_len > MAX_LINE_BYTES


def _records_backward(handle: BinaryIO, end: int, name: str) -> Iterator[tuple[LogEntry, int]]:
    """``(entry, bytes read for it)`` for each record before byte ``end``, newest first."""
    pending: list[str] = []  # continuation lines seen, newest first
    pending_bytes = 0
    pending_offset = end
    previous = end
    for offset, raw, clipped in _lines_backward(handle, end):
        text = raw.decode("utf-8", "replace").rstrip("\r")
        entry = parse_line(text, clipped)
        if entry is None:
            if pending_bytes < MAX_RECORD_BYTES:
                pending.append(text)
                pending_bytes += len(raw)
            pending_offset = offset
            continue
        entry.file, entry.offset = name, offset
        if pending and entry.exc == "" and not text.startswith("{"):
            _attach_continuation(entry, pending[::-1])
        elif pending:
            # Foreign lines after a JSON record (something wrote to the file directly): shown
            # on their own rather than lost.
            orphan = LogEntry(None, "", "", "\n".join(pending[::-1]), file=name)
            orphan.offset = pending_offset
            yield orphan, previous - pending_offset
            previous = pending_offset
        pending, pending_bytes = [], 0
        yield entry, previous - offset
        previous = offset
    if pending:
        yield LogEntry(None, "", "", "\n".join(pending[::-1]), file=name, offset=0), previous


def _complete_end(handle: BinaryIO, size: int) -> int:
    """The end of the last complete line: a record being written is left for the next read."""
    start = max(0, size - BLOCK_BYTES)
    handle.seek(start)
    data = handle.read(size - start)
    cut = data.rfind(b"\n")
    return size if cut < 0 else start + cut + 1


def _first_time(handle: BinaryIO) -> datetime | None:
    """The time of the file's first record (its oldest)."""
    handle.seek(0)
    line = handle.readline(MAX_LINE_BYTES)
    entry = parse_line(line.decode("utf-8", "replace").rstrip("\r\n"), not line.endswith(b"\n"))
    return entry.time if entry else None


# --- Pages ----------------------------------------------------------------------------------------


def read_page(
    filters: LogFilter,
    cursor: Cursor | None = None,
    limit: int = 100,
    scan_bytes: int = DEFAULT_SCAN_BYTES,
) -> LogPage:
    """Up to ``limit`` entries matching ``filters``, newest first, starting at ``cursor``."""
    files = log_files()
    start = 0
    if cursor is not None:
        start = next((i for i, f in enumerate(files) if f.inode == cursor.inode), -1)
        if start < 0:
            return LogPage(expired=True)
    page = LogPage()
    seen: set[int] = set()
    waiting = cursor is not None  # for the cursor's file, wherever rotation has moved it
    for index in range(start, len(files)):
        try:
            handle = open(files[index].path, "rb")  # noqa: SIM115 - closed below
        except OSError:
            continue  # rotated away between listing and opening
        with handle:
            # The inode of what was opened: rotation may have renamed files since the listing.
            stat = os.fstat(handle.fileno())
            if stat.st_ino in seen:
                continue
            seen.add(stat.st_ino)
            if waiting:
                if stat.st_ino != cursor.inode:
                    continue
                waiting = False
                end = min(cursor.offset, stat.st_size)
            else:
                end = _complete_end(handle, stat.st_size)
                oldest = _first_time(handle) if filters.until else None
                if oldest is not None and oldest > filters.until + TIME_SLACK:
                    continue  # the whole file is newer than the range
            for entry, consumed in _records_backward(handle, end, files[index].name):
                page.scanned_bytes += consumed
                if (
                    filters.since
                    and entry.time is not None
                    and entry.time < filters.since - TIME_SLACK
                ):
                    return page
                if filters.matches(entry):
                    page.entries.append(entry)
                    if len(page.entries) >= limit:
                        page.next_cursor = Cursor(stat.st_ino, entry.offset)
                        return page
                if page.scanned_bytes >= scan_bytes:
                    page.next_cursor = Cursor(stat.st_ino, entry.offset)
                    page.scan_limited = True
                    return page
    page.expired = waiting
    return page
