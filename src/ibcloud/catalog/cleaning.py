"""Record-level checks: which raw records go to quarantine, and why (pure, no database).

Field values are cleaned by :mod:`ibcloud.catalog.normalization` (markup, entities, boilerplate,
whitespace, full-width characters). Here the whole record is judged: :func:`check_record` returns
a :class:`Verdict`; a record with a reason code is kept in quarantine (an ``Ingestion`` with
outcome "quarantined"), shown in the UI with the reason, and re-processed after a rule is fixed.
Nothing is dropped silently.

Reason codes, in the order they are checked:

``broken``
    The data is not an object of field values, a field holds nested data (an object or a list
    of lists: the extraction rule picked a structure), normalization raised an error, or a name is
    garbled (mojibake such as "锟斤拷", replacement characters), still holds markup, or is so long
    that the extraction rule must have picked a whole block of the page.
``empty``
    No field has a value once cleaned.
``spam``
    A name or text contains a spam word (parameter ``catalog.spam_words``), or a name carries
    contact details (a phone number, "加微信", a QQ number, a web address).
``missing_name``
    Neither a short name nor a registered name.
``invalid_name``
    The name has no letter or Chinese character ("123", "--"), or is a placeholder ("暂无",
    "未知", "N/A", "test").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: names longer than this were not extracted as names
MAX_NAME_LENGTH = 120
#: fields whose text is searched for spam words
TEXT_FIELDS = ("name", "full_name", "summary", "description", "use_of_funds", "aliases", "tags")
NAME_FIELDS = ("name", "full_name")

QUARANTINE_REASONS = {
    "broken": "broken record",
    "empty": "empty record",
    "spam": "spam",
    "missing_name": "no name",
    "invalid_name": "not a name",
}

_MOJIBAKE = re.compile(r"锟斤拷|烫烫烫|屯屯屯|\ufffd|Ã[\x80-\xbf]|â€|[\x00-\x08\x0b\x0c\x0e-\x1f]")
_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>|&[a-zA-Z]{2,8};|\{\{|\}\}|\$\{")
_CONTACT = re.compile(
    r"(?<!\d)1[3-9]\d{9}(?!\d)|加\s*(?:微信|V信|vx|wx|qq)|微信号|(?:qq|QQ)\s*[:：]?\s*\d{5,}|"
    r"https?://|www\.",
    re.IGNORECASE,
)
_BLANK = re.compile(r"(?:\s|<[^>]*>|&(?:nbsp|#160|#xa0|emsp|ensp);|\u3000|\u200b)*", re.I)
_HAS_WORD = re.compile(r"[A-Za-z\u3400-\u4dbf\u4e00-\u9fff]")
_PLACEHOLDERS = {
    "暂无", "无", "未知", "不详", "待定", "空", "测试", "null", "none", "n/a", "na", "test",
    "untitled", "undefined", "名称", "项目名称", "公司名称", "-", "--",
}  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """The quarantine verdict: ``code`` empty when the record is accepted."""

    code: str = ""
    reason: str = ""

    @property
    def accepted(self) -> bool:
        return not self.code


ACCEPTED = Verdict()


def _texts(value: Any) -> Iterable[str]:
    if value is None:
        return
    if isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    else:
        yield str(value)


def _has_value(value: Any) -> bool:
    # Cheap on purpose (every record passes here): blank once tags and entities are dropped.
    return any(not _BLANK.fullmatch(text) for text in _texts(value))


def check_data(data: Any) -> Verdict:
    """Checks on the raw data alone: its structure, and whether anything is in it."""
    if not isinstance(data, dict):
        return Verdict("broken", f"the record is a {type(data).__name__}, not a set of fields")
    for key, value in data.items():
        items = value if isinstance(value, list | tuple) else [value]
        if isinstance(value, dict) or any(isinstance(item, dict | list | tuple) for item in items):
            return Verdict(
                "broken",
                f"the field “{str(key)[:40]}” holds nested data, not a value: the extraction "
                f"rule picked a structure",
            )
    if not any(_has_value(value) for value in data.values()):
        return Verdict("empty", "no field has a value")
    return ACCEPTED


def spam_word_in(texts: Iterable[str], spam_words: Iterable[str]) -> str:
    """The first spam word found in ``texts`` (case-insensitive), "" when none."""
    words = [word.strip().lower() for word in spam_words if word and word.strip()]
    if not words:
        return ""
    for text in texts:
        lowered = text.lower()
        for word in words:
            if word in lowered:
                return word
    return ""


def check_fields(fields: dict[str, Any], spam_words: Iterable[str]) -> Verdict:
    """Checks on the normalized values (schema field → value) of a record.

    ``fields`` maps schema field names to the normalized value (None when not recognized).
    """
    names = {key: str(fields.get(key) or "").strip() for key in NAME_FIELDS}
    for key, name in names.items():
        if not name:
            continue
        if _MOJIBAKE.search(name):
            return Verdict("broken", f"the {key} is garbled text: {name[:60]}")
        if _MARKUP.search(name):
            return Verdict("broken", f"the {key} still holds markup or a template: {name[:60]}")
        if len(name) > MAX_NAME_LENGTH:
            return Verdict(
                "broken",
                f"the {key} is {len(name)} characters long: the extraction rule probably "
                f"picked a whole block of the page",
            )
    texts = [text for key in TEXT_FIELDS for text in _texts(fields.get(key))]
    word = spam_word_in(texts, spam_words)
    if word:
        return Verdict("spam", f"contains the spam word “{word}”")
    for key, name in names.items():
        contact = _CONTACT.search(name)
        if contact:
            return Verdict("spam", f"the {key} carries contact details: {contact.group(0)}")
    if not any(names.values()):
        return Verdict("missing_name", "neither a short name nor a registered name")
    for key, name in names.items():
        if not name:
            continue
        if name.lower() in _PLACEHOLDERS or not _HAS_WORD.search(name):
            return Verdict("invalid_name", f"the {key} “{name[:60]}” is not a name")
    return ACCEPTED


def check_record(data: Any, record: Any, spam_words: Iterable[str]) -> Verdict:
    """The verdict on a raw record and its normalization (a ``NormalizedRecord`` or None)."""
    verdict = check_data(data)
    if not verdict.accepted:
        return verdict
    return check_normalized(data, record, spam_words)


def check_normalized(data: Any, record: Any, spam_words: Iterable[str]) -> Verdict:
    """:func:`check_record` for raw data that passed :func:`check_data` already."""
    if record is None:
        return Verdict("broken", "the record could not be normalized")
    fields = {
        # a company name's value is shown by its display form
        name: getattr(normalized.value, "display", normalized.value)
        for name, normalized in record.fields.items()
    }
    if all(value in (None, "", [], {}, False) for value in fields.values()) and not any(
        _has_value(data.get(key)) for key in getattr(record, "ignored", ())
    ):
        return Verdict("empty", "no field has a value once markup and boilerplate are removed")
    return check_fields(fields, spam_words)
