"""Import royalty reference statistics from a CSV (one version; each row names its source)."""

import csv
from decimal import InvalidOperation
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from licensing.services.statistics import statistics_import


class Command(BaseCommand):
    help = (
        "Import royalty statistics: columns version, industry_code, basis (lump_sum, net_sales, "
        "profit), statistic, low, typical, high, unit, sample_size, source."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No file at {path}.")
        with path.open(encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
        try:
            count = statistics_import(rows=rows)
        except (ValueError, KeyError, InvalidOperation) as error:
            raise CommandError(f"{path}: {error}") from error
        self.stdout.write(self.style.SUCCESS(f"Imported {count} statistics."))
