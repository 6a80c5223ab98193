"""Import an IPC ↔ GB/T 4754 concordance CSV (e.g. CNIPA's official 2018 table)."""

import csv
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from matching.services import concordance_import, concordance_load_shipped


class Command(BaseCommand):
    help = (
        "Load concordance rows (ipc_prefix, industry_code, weight, source, note); without a "
        "file, (re)load the approximate table shipped in matching/reference_data/."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, nargs="?")
        parser.add_argument("--replace-source", help="remove rows of this source first")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["file"]
        if path is None:
            count = concordance_load_shipped()
        else:
            if not path.is_file():
                raise CommandError(f"No file at {path}.")
            with path.open(encoding="utf-8-sig") as handle:
                count = concordance_import(
                    rows=list(csv.DictReader(handle)), replace_source=options["replace_source"]
                )
        self.stdout.write(self.style.SUCCESS(f"Loaded {count} concordance rows."))
