"""``ibcloud crawl``: run a crawl job, preview a page, or start a source's run.

* ``ibcloud crawl run <crawl job id>`` runs the job in this process (the crawl worker starts it
  as a child process); exit code 0 whenever the run ended, in whatever status, 1 if it crashed.
* ``ibcloud crawl preview`` reads ``{"config", "url", "kind"}`` as JSON on stdin and prints the
  preview result as one line of JSON.
* ``ibcloud crawl start <source id or name>`` queues a run of the source and prints its id.
"""

from __future__ import annotations

import json
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run a crawl job, preview a page with a source configuration, or start a source's run."

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        run = actions.add_parser("run", help="Run one crawl job in this process.")
        run.add_argument("crawl_job_id", type=int)
        run.add_argument(
            "--parent-pid", type=int, help="stop when this process (the worker) is gone"
        )
        actions.add_parser("preview", help="Preview: JSON {config, url, kind} on stdin.")
        start = actions.add_parser("start", help="Queue a run of a source; prints the job id.")
        start.add_argument("source", help="source id or name")

    def handle(self, *args, action: str, **options) -> None:
        if action == "run":
            self.run(options["crawl_job_id"], options.get("parent_pid"))
        elif action == "preview":
            self.preview()
        else:
            self.start(options["source"])

    def run(self, crawl_job_id: int, parent_pid: int | None) -> None:
        from ibcloud.crawler.models import CrawlJob
        from ibcloud.crawler.runner import run_crawl_job

        try:
            status = run_crawl_job(crawl_job_id, parent_pid=parent_pid)
        except CrawlJob.DoesNotExist:
            raise CommandError(f"crawl job {crawl_job_id} does not exist") from None
        except Exception as exc:
            # Logged with its traceback by the runner, which also marked the run failed.
            self.stderr.write(f"crawl job {crawl_job_id} crashed: {exc}")
            sys.exit(1)
        self.stderr.write(f"crawl job {crawl_job_id}: {status}")

    def preview(self) -> None:
        from ibcloud.crawler.runner import run_preview

        try:
            request = json.loads(sys.stdin.read())
            config, url, kind = request["config"], str(request["url"]), str(request["kind"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CommandError(f"expected JSON {{config, url, kind}} on stdin: {exc}") from None
        result = run_preview(config, url, kind)
        # One line, last on stdout: the caller reads it from there.
        sys.stdout.write("\n" + json.dumps(result, ensure_ascii=False, default=str) + "\n")
        sys.stdout.flush()

    def start(self, reference: str) -> None:
        from ibcloud.crawler.models import CrawlSource
        from ibcloud.crawler.services import start_crawl

        sources = CrawlSource.objects.all()
        source = (
            sources.filter(pk=int(reference)).first() if reference.isdigit() else None
        ) or sources.filter(name=reference).first()
        if source is None:
            raise CommandError(f"no crawl source with id or name {reference!r}")
        try:
            crawl_job = start_crawl(source)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(str(crawl_job.pk))
