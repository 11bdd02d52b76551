"""Reading the home page's cards in tests: each card's number and link, and the rows behind it."""

from __future__ import annotations

import html as html_lib

import lxml.html
from django.urls import reverse


def home_cards(client) -> dict[str, tuple[int | None, str]]:
    """``{card key: (its number or None, its link)}`` of the home page ``client`` sees."""
    page = lxml.html.fromstring(client.get(reverse("core:home")).content.decode())
    cards = {}
    for card in page.xpath("//*[@data-widget]"):
        number = card.xpath(".//*[@data-value]/text()")
        links = card.xpath(".//a/@href")
        cards[card.get("data-widget")] = (
            int(number[0]) if number else None,
            html_lib.unescape(links[0]) if links else "",
        )
    return cards


def rows_listed(client, url: str) -> int:
    """How many rows the list page at ``url`` finds (all pages)."""
    response = client.get(url)
    assert response.status_code == 200, url
    return response.context["table"].paginator.count
