"""Cleaning free text: markup, entities, boilerplate, invisible characters and whitespace.

Crawled text is untrusted; cleaning here is for storage and matching, not for safety (templates
still autoescape). The rules, in order:

1. Tags are removed with nh3 (``<script>``/``<style>`` with their content); block-level tags
   (``<br>``, ``</p>``, ``</div>``, ``</li>``...) become a space so words do not run together.
2. HTML entities are unescaped (``&amp;`` → ``&``, ``&nbsp;`` → space).
3. Boilerplate that sites wrap around content ("点击查看更多", "展开全文", "阅读全文",
   "返回顶部", "更多>>"...) is removed.
4. Full-width letters, digits, a few ASCII symbols and the ideographic space become half-width;
   Chinese punctuation (，。：（）) is kept, since it is correct in Chinese text.
5. Zero-width characters are dropped; runs of whitespace become one space; ends are trimmed.
"""

from __future__ import annotations

import html
import re
from typing import Any

import nh3

_BLOCK_TAG = re.compile(
    r"<\s*(?:br|hr)\s*/?\s*>|<\s*/\s*(?:p|div|li|ul|ol|tr|td|th|h[1-6]|section|article|dd|dt|table)\s*>",
    re.IGNORECASE,
)
_BOILERPLATE = re.compile(
    r"[\[【(（]?\s*(?:点击)?(?:查看更多|展开全文|阅读全文|收起全文|显示全部|展开更多|查看全文|点击展开|"
    r"查看详情|返回顶部|返回列表|打印本页|关闭窗口)\s*(?:>>|》》|»)?\s*[\]】)）]?\s*(?:>>|》》|»)?"
    r"|(?:更多|详情)\s*(?:>>|》》|»)|(?:>>|》》|»)\s*更多",
)
# Full-width ASCII letters, digits and the symbols that appear in amounts, codes and URLs.
_HALF_WIDTH = {
    **{code: code - 0xFEE0 for code in range(ord("０"), ord("９") + 1)},
    **{code: code - 0xFEE0 for code in range(ord("Ａ"), ord("Ｚ") + 1)},
    **{code: code - 0xFEE0 for code in range(ord("ａ"), ord("ｚ") + 1)},
    **{ord(ch): ord(ch) - 0xFEE0 for ch in "＄％＆＋－．／＠＿～＃＝"},
    0x3000: 0x20,
    0xA0: 0x20,
}
_SPACES = re.compile(r"\s+")
_INVISIBLE_CHARS = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_WIDE_CHARS = re.compile("[０-９Ａ-Ｚａ-ｚ＄％＆＋－．／＠＿～＃＝\u3000\u00a0]")
_ODD_SPACES = re.compile(r"[^\S ]| {2}")


def _narrow(match: re.Match[str]) -> str:
    return match.group(0).translate(_HALF_WIDTH)


def to_half_width(value: str) -> str:
    """Full-width letters, digits and ASCII symbols (not Chinese punctuation) to half-width."""
    return value.translate(_HALF_WIDTH)


def clean_text(value: Any) -> str:
    """``value`` as clean one-line text ("" for None); lists are joined with "、"."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "、".join(part for part in (clean_text(item) for item in value) if part)
    text = value if isinstance(value, str) else str(value)
    if "<" in text:
        text = _BLOCK_TAG.sub(" ", text)
        text = nh3.clean(text, tags=set())
    if "&" in text:
        text = html.unescape(text)
    if not text.isascii():
        if _INVISIBLE_CHARS.search(text):
            text = _INVISIBLE_CHARS.sub("", text)
        if _WIDE_CHARS.search(text):
            text = _WIDE_CHARS.sub(_narrow, text)
    if "更多" in text or "全文" in text or "返回" in text or "查看" in text or "»" in text:
        text = _BOILERPLATE.sub(" ", text)
    if _ODD_SPACES.search(text):
        text = _SPACES.sub(" ", text)
    return text.strip()
