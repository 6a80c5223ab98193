"""Load the demo data set (idempotent) and print its log-ins."""

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

from marketplace.demo import DEMO_PASSWORD, load_demo


class Command(BaseCommand):
    help = "Create the demo organisations, people and roles if missing; print the log-ins."

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("load_reference_data", verbosity=0)
        logins = load_demo()
        # Declarations live in licensing, which marketplace code must not import directly.
        demo_extras = [import_string(path) for path in getattr(settings, "DEMO_EXTRA_LOADERS", [])]
        for loader in demo_extras:
            loader()
        self.stdout.write(self.style.SUCCESS("Demo data ready. Log in with (password for all):"))
        self.stdout.write(f"  password: {DEMO_PASSWORD}")
        width = max(len(login.email) for login in logins)
        for login in logins:
            self.stdout.write(f"  {login.email.ljust(width)}  {login.role}")
        self.stdout.write(
            '  API token: POST /api/v1/auth/token/ with {"email": ..., "password": ...}'
        )
