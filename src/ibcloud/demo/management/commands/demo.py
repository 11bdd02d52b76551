"""``ibcloud demo``: set up the database, load demo data and start the platform."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from ibcloud.demo.services import seed_demo


class Command(BaseCommand):
    help = "Migrate, load the demo data and serve the platform with its workers."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="load the data and exit")

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=0)
        logins = seed_demo()
        url = f"http://{options['host']}:{options['port']}/"
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
            self.stdout.write("\n".join(lines))
            return
        from ibcloud.core.management.commands.serve import run_platform

        run_platform(options["host"], options["port"], workers=True, banner_lines=lines)
