"""Local demo sites: somebody else's web sites, for the crawler to crawl.

:func:`start_demo_sites` serves them (waitress, in a thread of the calling process) together with
the demo proxies, and returns at once. What each site does is described in :mod:`.app` and the
site modules; the data is deterministic (:mod:`.data`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from ibcloud.demo.sites.app import DemoApp
from ibcloud.demo.sites.data import DemoData
from ibcloud.demo.sites.web import DemoState

logger = logging.getLogger(__name__)

#: credentials of the demo proxies (they only forward to this machine; see demo.proxies)
PROXY_USERNAME = "demo"
PROXY_PASSWORD = "demo-proxy-pass"  # noqa: S105 (public demo credential)
SERVER_THREADS = 8

__all__ = ["DemoData", "DemoSites", "DemoState", "start_demo_sites"]


@dataclass
class DemoSites:
    """Running demo sites: where they are, their switches, their proxies."""

    base_url: str
    state: DemoState
    data: DemoData
    proxies: list = field(default_factory=list)
    _server: object = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def proxy_urls(self) -> list[str]:
        """``http://user:pass@127.0.0.1:port`` of each demo proxy."""
        return [proxy.url for proxy in self.proxies]

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` (which starts with a slash) on the demo sites."""
        return self.base_url + path

    def stop(self) -> None:
        """Stop the proxies and the web server, and wait for the server thread."""
        for proxy in self.proxies:
            proxy.stop()
        self.proxies = []
        server = self._server
        if server is None:
            return
        self._server = None

        def close_everything() -> None:  # runs in the server's loop thread
            for dispatcher in list(server._map.values()):
                dispatcher.close()

        # The asyncore loop ends once its map is empty; the trigger runs the closing in the
        # loop's own thread, so no socket is closed under the loop's feet.
        server.trigger.pull_trigger(close_everything)
        if self._thread is not None:
            self._thread.join(timeout=5)
        server.task_dispatcher.shutdown(timeout=5)

    def __enter__(self) -> DemoSites:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def start_demo_sites(
    host: str = "127.0.0.1",
    port: int = 0,
    projects: int = 60,
    investors: int = 80,
    proxies: int = 3,
    protected: int = 30,
) -> DemoSites:
    """Serve the demo sites on ``host:port`` (0: a free port) and start ``proxies`` demo proxies.

    ``projects`` and ``investors`` size the project listing and the investor API; ``protected``
    is the number of projects on each of the L1, L2 and L3 sites. Returns at once; call
    ``.stop()`` (or use it as a context manager) to shut everything down.
    """
    from waitress import create_server

    from ibcloud.demo.proxies import start_demo_proxies

    data = DemoData.build(projects=projects, investors=investors, protected=protected)
    state = DemoState()
    server = create_server(
        DemoApp(data, state),
        host=host,
        port=port,
        threads=SERVER_THREADS,
        ident="demo-sites",
        clear_untrusted_proxy_headers=True,
    )
    bound_port = server.effective_port
    thread = threading.Thread(target=server.run, name="demo-sites", daemon=True)
    thread.start()
    # A server listening on every interface is reached on loopback from here.
    shown_host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(  # noqa: S104
        host, host
    )
    if ":" in shown_host and not shown_host.startswith("["):
        shown_host = f"[{shown_host}]"
    sites = DemoSites(
        base_url=f"http://{shown_host}:{bound_port}",
        state=state,
        data=data,
        _server=server,
        _thread=thread,
    )
    if proxies:
        sites.proxies = start_demo_proxies(proxies, PROXY_USERNAME, PROXY_PASSWORD)
    logger.info("demo sites at %s, %d demo proxies", sites.base_url, len(sites.proxies))
    return sites
