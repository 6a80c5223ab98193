"""Segment every patent's stored words and bigrams again with today's segmentation (after a
change to marketplace/search/segment.py or its synonym dictionary, and once after migration
0023 to fill the bigrams of existing patents), in batches, with a progress bar."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from marketplace.models import Patent
from marketplace.patents.cleaning import patent_tokens


class Command(BaseCommand):
    help = "Re-segment the stored title and body words and bigrams of every patent (search index)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=2000)

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size = options["batch"]
        bar = tqdm(
            total=Patent.objects.count(),
            unit="patents",
            file=self.stderr,
            disable=options["verbosity"] == 0,
        )
        changed = 0
        last = 0
        while True:
            # Keyset pages by id: no OFFSET, each batch one short transaction.
            rows = list(
                Patent.objects.filter(pk__gt=last)
                .order_by("pk")
                .only(
                    "pk",
                    "title",
                    "abstract",
                    "claims",
                    "title_tokens",
                    "body_tokens",
                    "gram_tokens",
                )[:batch_size]
            )
            if not rows:
                break
            stale = []
            for patent in rows:
                tokens = patent_tokens(patent.title, patent.abstract, patent.claims)
                if tokens != (patent.title_tokens, patent.body_tokens, patent.gram_tokens):
                    patent.title_tokens, patent.body_tokens, patent.gram_tokens = tokens
                    stale.append(patent)
            # bulk_update: no save(), so no signal, no vector task (the text did not change).
            Patent.objects.bulk_update(stale, ["title_tokens", "body_tokens", "gram_tokens"])
            changed += len(stale)
            last = rows[-1].pk
            bar.update(len(rows))
        bar.close()
        self.stdout.write(f"{changed} patents re-segmented")
