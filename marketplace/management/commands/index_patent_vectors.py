"""Compute the search vectors of every patent lacking a current one, with a progress bar, and
publish the shared index file, then the re-ranker's title vectors when it is configured (or hand
the work to the `index` queue with --enqueue)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm


class Command(BaseCommand):
    help = "Backfill patent search vectors and publish the shared vector index."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--enqueue", action="store_true", help="run on the `index` queue instead"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from marketplace.search.rerank import patent_rerank_vectors_compute, rerank_embedder
        from marketplace.search.vectors import patent_vectors_compute, vector_index_publish
        from marketplace.tasks import index_patent_vectors

        if options["enqueue"]:
            result = index_patent_vectors.delay(None)
            self.stdout.write(f"queued {result.id}")
            return
        bar = tqdm(total=0, unit="patents", file=self.stderr, disable=options["verbosity"] == 0)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        written = patent_vectors_compute(patent_ids=None, progress=progress)
        bar.close()
        current = vector_index_publish()
        self.stdout.write(
            f"{written} vectors computed; index generation {current['generation']}: "
            f"{current['count']} patents ({current['model']})"
        )
        embedder = rerank_embedder()
        if embedder is None:
            return
        bar = tqdm(total=0, unit="titles", file=self.stderr, disable=options["verbosity"] == 0)
        titles = patent_rerank_vectors_compute(patent_ids=None, progress=progress)
        bar.close()
        self.stdout.write(f"{titles} re-ranking vectors computed ({embedder.name})")
