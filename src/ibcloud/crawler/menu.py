"""The crawler's entries in the side menu."""

from django.utils.translation import gettext_lazy as _

from ibcloud.core.menu import MenuItem, register

register(
    "crawler",
    MenuItem(
        _("Sources"), "crawler:crawlsource_list", "crawler.view_crawlsource", "ti-world-www", 10
    ),
)
register(
    "crawler",
    MenuItem(
        _("Crawl jobs"), "crawler:crawljob_list", "crawler.view_crawljob", "ti-player-play", 20
    ),
)
register(
    "crawler",
    MenuItem(_("Raw items"), "crawler:rawitem_list", "crawler.view_rawitem", "ti-database", 30),
)
register(
    "crawler",
    MenuItem(
        _("Crawler health"), "crawler:dashboard", "crawler.view_crawlsource", "ti-heartbeat", 40
    ),
)
register(
    "crawler",
    MenuItem(
        _("Alerts"), "crawler:sourcealert_list", "crawler.view_sourcealert", "ti-alert-triangle", 50
    ),
)
register(
    "crawler", MenuItem(_("Proxies"), "crawler:proxy_list", "crawler.view_proxy", "ti-route", 60)
)
