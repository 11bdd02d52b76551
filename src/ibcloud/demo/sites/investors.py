"""The investor directory (投资机构库): a paginated JSON API.

``GET /investors/api/investors`` answers ``{"data": [...], "total": n, "next_cursor": ...}``.
Pages are chosen either by an opaque cursor (``?cursor=`` taken from the previous answer's
``next_cursor``, which is ``null`` on the last page) or by ``?offset=&limit=`` (limit at most 50,
default 20). ``POST`` with a JSON body ``{"cursor": ..., "offset": ..., "limit": ...}`` works the
same way, for crawlers that must send a request body. ``/investors/api/investors/<id>`` answers
``{"data": {...}}`` for one investor. Bad parameters answer 400 with ``{"error": ...}``.
"""

from __future__ import annotations

import base64
import binascii
from html import escape

from ibcloud.demo.sites.data import Investor
from ibcloud.demo.sites.web import Request, Response, json_response, page

DEFAULT_LIMIT = 20
MAX_LIMIT = 50
API_PATH = "/investors/api/investors"


class BadRequest(ValueError):
    pass


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"inv:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest("invalid cursor") from None
    prefix, _, number = raw.partition(":")
    if prefix != "inv" or not number.isdigit():
        raise BadRequest("invalid cursor")
    return int(number)


def _integer(value, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise BadRequest(f"{name} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise BadRequest(f"{name} must be a non-negative integer")


def _parameters(request: Request) -> dict:
    params = {name: request.arg(name) for name in ("cursor", "offset", "limit")}
    if request.method == "POST":
        body = request.json()
        if body is not None and not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        for name, value in (body or {}).items():
            if name in params and value is not None:
                params[name] = value
    return params


def item(investor: Investor) -> dict:
    return {**investor.as_dict(), "url": f"{API_PATH}/{investor.id}"}


def investors_list(request: Request, investors: list[Investor]) -> Response:
    try:
        params = _parameters(request)
        limit = _integer(params["limit"], "limit", DEFAULT_LIMIT)
        if limit < 1:
            raise BadRequest("limit must be at least 1")
        limit = min(limit, MAX_LIMIT)
        cursor = params["cursor"]
        if cursor not in (None, ""):
            if not isinstance(cursor, str):
                raise BadRequest("cursor must be a string")
            offset = decode_cursor(cursor)
        else:
            offset = _integer(params["offset"], "offset", 0)
    except BadRequest as exc:
        return json_response({"error": str(exc)}, 400)
    end = offset + limit
    return json_response(
        {
            "data": [item(investor) for investor in investors[offset:end]],
            "total": len(investors),
            "offset": offset,
            "limit": limit,
            "next_cursor": encode_cursor(end) if end < len(investors) else None,
        }
    )


def investors_detail(request: Request, investors: list[Investor], raw_id: str) -> Response:
    number = int(raw_id) if raw_id.isdigit() else 0
    if not 1 <= number <= len(investors):
        return json_response({"error": "not found"}, 404)
    return json_response({"data": item(investors[number - 1])})


def investors_home(request: Request) -> Response:
    example = escape(f"{API_PATH}?limit=20")
    return page(
        "投资机构库 API",
        '<h1>投资机构库开放接口</h1><p>分页接口：<code class="endpoint">'
        f'<a href="{example}">{example}</a></code>，返回 <code>data</code>、<code>total</code>、'
        "<code>next_cursor</code>；下一页传 <code>?cursor=</code> 或 "
        "<code>?offset=&amp;limit=</code>"
        "（limit 最大 50），也可 POST JSON。</p>",
        site="投资机构库",
    )
