"""``ibcloud backup``: back up the database and the uploaded files into one archive."""

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import filesizeformat

from ibcloud.monitor import archives, backups, dumps
from ibcloud.monitor.models import Backup


class Command(BaseCommand):
    help = (
        "Back up the database (SQLite: online backup API; PostgreSQL: pg_dump) and the uploaded "
        "files into a zip archive in the backup directory, then apply the retention."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-media", action="store_true", help="Back up the database only, not the files."
        )
        parser.add_argument(
            "--no-prune",
            action="store_true",
            help="Keep every older backup (do not apply backup.keep_count / backup.keep_days).",
        )
        parser.add_argument("--database", default="default", help="Database alias.")

    def handle(self, *args, **options):
        def progress(percent: float, message: str) -> None:
            if options["verbosity"] >= 2:
                self.stdout.write(f"{percent:5.1f}% {message}")

        try:
            backup = backups.create_backup(
                kind=Backup.Kind.MANUAL,
                include_media=not options["no_media"],
                alias=options["database"],
                progress=progress,
            )
        except dumps.BackupError as exc:
            raise CommandError(str(exc)) from exc
        path = archives.archive_path(backup.file_name)
        self.stdout.write(
            self.style.SUCCESS(f"Backup written: {path}")
            + f"\n  size {filesizeformat(backup.size)}, sha256 {backup.sha256}"
            + f"\n  {len(backup.table_counts)} tables, {backup.row_total} rows, "
            + (f"{backup.file_count} files" if backup.includes_media else "files not included")
        )
        if not options["no_prune"]:
            for name in backups.apply_retention():
                self.stdout.write(f"Retention: removed {name}")
