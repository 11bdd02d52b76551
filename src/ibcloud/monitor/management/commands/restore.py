"""``ibcloud restore``: restore a backup archive over the database and the uploaded files."""

import sys

from django.core.management.base import BaseCommand, CommandError

from ibcloud.monitor import archives, backups, dumps


class Command(BaseCommand):
    help = (
        "Restore a backup archive (a path, or a file name in the backup directory). Stop the web "
        "server and the workers first: the whole database and the uploaded files are replaced. "
        "Every checksum is verified before anything changes; afterwards the row counts are "
        "compared with the backup's manifest."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive", help="Archive path or file name in the backup directory.")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")
        parser.add_argument(
            "--no-media", action="store_true", help="Restore the database only, not the files."
        )
        parser.add_argument("--database", default="default", help="Database alias.")

    def handle(self, *args, **options):
        try:
            path = archives.resolve_archive(options["archive"])
            manifest = archives.read_manifest(path)
            backups.check_vendor(path, manifest, options["database"])
            media = manifest.get("media", {})
            rows = sum(manifest.get("tables", {}).values())
            self.stdout.write(
                f"Archive {path}\n  made {manifest.get('created')} ({manifest['vendor']}), "
                f"{len(manifest.get('tables', {}))} tables, {rows} rows, "
                + (f"{media.get('count', 0)} files" if media.get("included") else "no files")
            )
            self.stdout.write("Verifying checksums ...")
            archives.verify_archive(path, manifest)
            self.stdout.write("  every checksum matches.")
            if not options["yes"]:
                self.confirm(path)
            report = backups.restore_backup(
                path,
                alias=options["database"],
                include_media=not options["no_media"],
                verify=False,
            )
        except dumps.BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Files: {report.files_restored} restored, {report.files_unchanged} already equal, "
            f"{report.files_displaced} moved aside"
            + (f" to {report.displaced_dir}" if report.displaced_dir else "")
        )
        if report.catalog_added:
            self.stdout.write(f"Backup list: {report.catalog_added} archive(s) listed again.")
        if report.extra_tables:
            self.stdout.write(
                self.style.WARNING(
                    "Tables the backup does not have were left as they are (made by a later "
                    "version?): " + ", ".join(report.extra_tables)
                )
            )
        if report.key_missing:
            self.stdout.write(
                self.style.WARNING(
                    "The stored secrets of this backup (mail and robot settings, proxy passwords, "
                    "site cookies) were encrypted with a key this installation does not have: add "
                    "that key to IBCLOUD_ENCRYPTION_KEYS (by default it is the secret_key file of "
                    "the data directory the backup was made in)."
                )
            )
        if report.pending_migrations:
            self.stdout.write(
                self.style.WARNING(
                    f"The restored database lacks {report.pending_migrations} migration(s) of "
                    "this version: run `ibcloud migrate` before starting the platform."
                )
            )
        if not report.ok:
            lines = [
                f"  {t}: {exp} in the backup, {now} now"
                for t, (exp, now) in sorted(report.mismatches.items())
            ]
            raise CommandError("Row counts differ from the backup:\n" + "\n".join(lines))
        self.stdout.write(
            self.style.SUCCESS(f"Restored {path.name}: every table has the rows of the backup.")
        )

    def confirm(self, path) -> None:
        if not sys.stdin.isatty():
            raise CommandError("Add --yes to restore without a terminal to confirm on.")
        answer = input(
            f"This replaces the whole database and the uploaded files with {path.name}.\n"
            "Are the web server and the workers stopped? Type 'yes' to restore: "
        )
        if answer.strip().lower() != "yes":
            raise CommandError("Restore cancelled.")
