"""The line format of the application log file: one JSON object per line.

Every process (web, workers, crawl subprocesses) appends to the same rotating file. A text format
spreads a traceback over several lines, which a reader must then guess back together; one JSON
object per line keeps each record whole, with its fields named, whatever the message holds
(newlines, crawled text, Chinese). ``settings.LOGGING`` names this class for the file handler; the
console keeps the plain text format for people watching a terminal.

Imported by ``logging.config`` while Django starts, so it must import nothing from Django.
"""

from __future__ import annotations

import json
import logging
import socket
from datetime import UTC, datetime

#: Longest message or traceback kept in one record: a logged page body must not make a line of
#: many megabytes that the viewer would have to hold whole.
MAX_FIELD_CHARS = 64 * 1024

HOST = socket.gethostname()


def _clip(text: str) -> str:
    if len(text) <= MAX_FIELD_CHARS:
        return text
    return text[:MAX_FIELD_CHARS] + " …[truncated]"


class JsonLineFormatter(logging.Formatter):
    """``{"time", "level", "logger", "process", "host", "message"[, "exc"][, "stack"]}``.

    ``time`` is UTC ISO 8601 with milliseconds, so records of processes on machines with
    different local time zones still sort and filter alike. The key order is fixed (time first)
    so that a reader can pick the time from a line's start cheaply.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "process": record.process,
            "host": HOST,
            "message": _clip(record.getMessage()),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = _clip(record.exc_text)
        if record.stack_info:
            entry["stack"] = _clip(self.formatStack(record.stack_info))
        # ensure_ascii=False keeps Chinese readable with `tail`; json escapes every newline, so a
        # record is always exactly one line.
        return json.dumps(entry, ensure_ascii=False, default=str)
