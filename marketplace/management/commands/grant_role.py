"""Grant or revoke a platform role (reviewer, mediator, mediation supervisor)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketplace import roles
from marketplace.models import User
from marketplace.services.platform import platform_role_grant, platform_role_revoke


class Command(BaseCommand):
    help = "Give a user a platform role, or take it away with --revoke."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("role", choices=sorted(roles.GROUP_PERMISSIONS))
        parser.add_argument("--revoke", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email=options["email"].strip().lower()).first()
        if user is None:
            raise CommandError(f"No user with e-mail {options['email']!r}.")
        if options["revoke"]:
            platform_role_revoke(user=user, role=options["role"], actor=None)
            self.stdout.write(self.style.SUCCESS(f"{user.email} is no longer {options['role']}."))
        else:
            platform_role_grant(user=user, role=options["role"], actor=None)
            self.stdout.write(self.style.SUCCESS(f"{user.email} is now {options['role']}."))
