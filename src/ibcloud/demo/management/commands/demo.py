"""``ibcloud demo``: set up the database, load demo data and start the platform.

With the platform it serves the demo sites (:mod:`ibcloud.demo.sites`) and their proxies, points
the demo crawl sources at them and starts a first run of each source that never ran, so a
newcomer sees data arrive within minutes.
"""

import os
from contextlib import contextmanager

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from ibcloud.demo.services import seed_demo

#: the demo sites run on this machine, which the SSRF guard refuses unless allowlisted
LOOPBACK = ("127.0.0.1", "localhost")


def allow_loopback() -> None:
    """Let this process and the workers it starts crawl the demo sites (SSRF allowlist)."""
    allowlist = list(getattr(settings, "IBCLOUD_SSRF_ALLOWLIST", None) or [])
    allowlist += [host for host in LOOPBACK if host not in allowlist]
    settings.IBCLOUD_SSRF_ALLOWLIST = allowlist
    os.environ["IBCLOUD_SSRF_ALLOWLIST"] = ",".join(allowlist)


@contextmanager
def loopback_allowed_here():
    """Allow loopback in this process only while the block runs (seeding without serving)."""
    previous = getattr(settings, "IBCLOUD_SSRF_ALLOWLIST", None)
    allowlist = list(previous or [])
    settings.IBCLOUD_SSRF_ALLOWLIST = allowlist + [h for h in LOOPBACK if h not in allowlist]
    try:
        yield
    finally:
        settings.IBCLOUD_SSRF_ALLOWLIST = previous


def start_first_runs(sources) -> list:
    """Queue a run of each source that never ran; returns the runs started."""
    try:
        from ibcloud.crawler.services import start_crawl
    except ImportError:  # the crawl lifecycle is not installed: sources wait for a manual run
        return []
    from django.core.exceptions import ValidationError

    started = []
    for source in sources:
        if source.enabled and not source.jobs.exists():
            try:
                started.append(start_crawl(source, trigger="manual"))
            except ValidationError:
                continue  # already running
    return started


class Command(BaseCommand):
    help = "Migrate, load the demo data and serve the platform with its workers and demo sites."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--sites-port", type=int, default=8001, help="port of the demo sites to crawl"
        )
        parser.add_argument("--no-serve", action="store_true", help="load the data and exit")

    def handle(self, *args, **options):
        from ibcloud.demo.sources import seed_demo_sources

        call_command("migrate", interactive=False, verbosity=0)
        logins = seed_demo()
        url = f"http://{options['host']}:{options['port']}/"
        sites_url = f"http://127.0.0.1:{options['sites_port']}"
        lines = [
            "投行云 demo is ready.",
            f"Open {url}",
            "Demo logins (username / password):",
            *[
                f"  {login.username:<10} {login.password:<14} {login.description}"
                for login in logins
            ],
        ]
        if options["no_serve"]:
            # The sources point at this machine, which their validation refuses unless allowed.
            with loopback_allowed_here():
                seed_demo_sources(sites_url, [])
            lines.append(f"Demo sites (started by `ibcloud demo`): {sites_url}/")
            self.stdout.write("\n".join(lines))
            return

        from ibcloud.core.management.commands.serve import run_platform
        from ibcloud.demo.sites import start_demo_sites

        try:
            sites = start_demo_sites(port=options["sites_port"], proxies=3)
        except OSError as exc:
            raise CommandError(
                f"Cannot serve the demo sites on port {options['sites_port']}: {exc}"
            ) from exc
        try:
            allow_loopback()
            sources = seed_demo_sources(sites.base_url, sites.proxy_urls)
            started = start_first_runs(sources)
            from ibcloud.demo.tasks import convert_demo_matches

            convert_demo_matches.enqueue()
            lines += [
                f"Demo sites to crawl: {sites.base_url}/ "
                "(L3 login: demo / demo-l3-pass; demo proxies: "
                f"{len(sites.proxy_urls)})",
                f"Demo crawl sources: {len(sources)}; first runs queued: {len(started)}",
            ]
            run_platform(options["host"], options["port"], workers=True, banner_lines=lines)
        finally:
            sites.stop()
