"""Run a full re-match now, in this process, with a progress bar (or enqueue it)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from matching.models import MatchChunk
from matching.services import chunk_run, run_start


class Command(BaseCommand):
    help = "Re-match every SME against every declaration in force (atomic swap at the end)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--enqueue", action="store_true", help="send the chunks to Celery")
        parser.add_argument("--chunk-size", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        run = run_start(chunk_size=options["chunk_size"], enqueue=options["enqueue"])
        if options["enqueue"]:
            self.stdout.write(f"Run {run.pk}: {run.total_chunks} chunks queued on 'match'.")
            return
        chunks = list(
            MatchChunk.objects.filter(run=run).order_by("number").values_list("pk", flat=True)
        )
        for chunk_id in tqdm(
            chunks, unit="chunk", file=self.stderr, disable=options["verbosity"] == 0
        ):
            chunk_run(chunk_id)
        self.stdout.write(self.style.SUCCESS(f"Run {run.pk} complete: {len(chunks)} chunks."))
