"""Site sessions (fetch level L3): cookies between the source, Scrapy's jar and the browser.

A source keeps its cookies as ``[{"name", "value", "domain", "path"}]`` (imported by the admin
or kept from the last run, stored encrypted). At the start of a run they go into Scrapy's cookie
jar; pages rendered in Chromium get the jar's cookies in their browser context, and cookies the
page's JavaScript sets come back into the jar, so the jar saved after the run holds them all.
"""

from __future__ import annotations

import time
from http.cookiejar import Cookie
from typing import Any


def make_cookie(
    name: str,
    value: str,
    domain: str,
    path: str = "/",
    *,
    expires: float | None = None,
    secure: bool = False,
    http_only: bool = False,
) -> Cookie:
    """An ``http.cookiejar.Cookie``; a domain with a leading dot also matches sub-domains."""
    domain = domain.strip().lower()
    return Cookie(
        version=0,
        name=name,
        value=value,
        port=None,
        port_specified=False,
        domain=domain,
        domain_specified=domain.startswith("."),
        domain_initial_dot=domain.startswith("."),
        path=path or "/",
        path_specified=True,
        secure=secure,
        expires=int(expires) if expires and expires > 0 else None,
        discard=not (expires and expires > 0),
        comment=None,
        comment_url=None,
        rest={"HttpOnly": ""} if http_only else {},
    )


def load_cookies(jar, cookies: list[dict[str, Any]], default_hosts: list[str]) -> int:
    """Put a source's stored cookies into Scrapy's jar; returns how many were loaded.

    A cookie without a domain is set for every host in ``default_hosts`` (the start URLs').
    """
    loaded = 0
    for entry in cookies or []:
        if not isinstance(entry, dict) or not entry.get("name"):
            continue
        domains = [entry["domain"]] if entry.get("domain") else default_hosts
        for domain in domains:
            jar.set_cookie(
                make_cookie(
                    str(entry["name"]),
                    str(entry.get("value", "")),
                    str(domain),
                    str(entry.get("path") or "/"),
                    expires=entry.get("expires"),
                    secure=bool(entry.get("secure")),
                    http_only=bool(entry.get("httpOnly") or entry.get("http_only")),
                )
            )
            loaded += 1
    return loaded


def jar_cookies(jar) -> list[dict[str, Any]]:
    """Every unexpired cookie of the jar as ``{"name", "value", "domain", "path"}``: the shape
    ``CrawlSource.cookies`` keeps (and the admin imports)."""
    now = time.time()
    return [
        {
            "name": cookie.name,
            "value": cookie.value or "",
            "domain": cookie.domain,
            "path": cookie.path or "/",
        }
        for cookie in jar
        if cookie.expires is None or cookie.expires >= now
    ]


def browser_cookies(jar) -> list[dict[str, Any]]:
    """The jar's unexpired cookies in the shape ``BrowserContext.add_cookies`` takes."""
    now = time.time()
    converted = []
    for cookie in jar:
        if cookie.expires is not None and cookie.expires < now:
            continue
        entry: dict[str, Any] = {
            "name": cookie.name,
            "value": cookie.value or "",
            "domain": cookie.domain,
            "path": cookie.path or "/",
            "secure": bool(cookie.secure),
            "httpOnly": cookie.has_nonstandard_attr("HttpOnly"),
        }
        if cookie.expires:
            entry["expires"] = float(cookie.expires)
        converted.append(entry)
    return converted


def from_playwright(jar, cookies: list[dict[str, Any]]) -> None:
    """Store cookies read from a browser context (``BrowserContext.cookies()``) in the jar."""
    for entry in cookies:
        expires = entry.get("expires")
        jar.set_cookie(
            make_cookie(
                entry["name"],
                entry.get("value", ""),
                entry.get("domain", ""),
                entry.get("path") or "/",
                expires=expires if expires and expires > 0 else None,
                secure=bool(entry.get("secure")),
                http_only=bool(entry.get("httpOnly")),
            )
        )
