"""Import search synonyms (a tab-separated file) or the bilingual term list (a CSV)."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketplace.search.vocabulary import (
    search_vocabulary_load_shipped,
    synonym_groups_import,
    term_translations_import,
)


class Command(BaseCommand):
    help = (
        "Import synonym groups (--synonyms FILE: one group a line, terms separated by tabs) or "
        "term pairs (--terms FILE: CSV with term_en, term_zh, sources); without a file, reload "
        "the shipped synonyms.tsv and search_terms.csv. Searches use them within a second."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--synonyms", type=Path, help="a synonyms file (UTF-8, tabs)")
        parser.add_argument("--terms", type=Path, help="a term-list CSV (UTF-8)")
        parser.add_argument("--source", default="", help="where the synonyms come from")
        parser.add_argument(
            "--replace", action="store_true", help="remove the rows the file does not have"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        synonyms, terms = options["synonyms"], options["terms"]
        if synonyms is None and terms is None:
            count = search_vocabulary_load_shipped()
            self.stdout.write(self.style.SUCCESS(f"Loaded {count} shipped rows."))
            return
        for path in (synonyms, terms):
            if path is not None and not path.is_file():
                raise CommandError(f"No file at {path}.")
        try:
            if synonyms is not None:
                count = synonym_groups_import(
                    text=synonyms.read_text(encoding="utf-8-sig"),
                    source=options["source"] or synonyms.name,
                    replace=options["replace"],
                )
                self.stdout.write(self.style.SUCCESS(f"Imported {count} synonym groups."))
            if terms is not None:
                count = term_translations_import(
                    text=terms.read_text(encoding="utf-8-sig"), replace=options["replace"]
                )
                self.stdout.write(self.style.SUCCESS(f"Imported {count} term pairs."))
        except (ValueError, KeyError, UnicodeDecodeError) as error:
            raise CommandError(f"{error}") from error
