"""Load (or refresh) the GB/T 4754 and GB/T 2260 tables shipped with the project."""

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandParser

from marketplace.reference import load_reference_tables


class Command(BaseCommand):
    help = "Load the shipped reference tables; unchanged files are skipped unless --force."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="reload even if unchanged")

    def handle(self, *args: Any, **options: Any) -> None:
        def progress(key: str, done: int, total: int) -> None:
            self.stdout.write(f"\r{key}: {done}/{total}", ending="")
            if done == total:
                self.stdout.write("")

        loaded = load_reference_tables(
            lambda name: apps.get_model("marketplace", name),
            force=options["force"],
            progress=progress if options["verbosity"] > 0 else None,
        )
        self.stdout.write(
            self.style.SUCCESS(f"Loaded: {', '.join(loaded)}") if loaded else "Up to date."
        )
