"""Demo matches for `make run`: one full run, synchronously, when none has finished yet."""

from __future__ import annotations

from matching import services
from matching.models import MatchChunk, MatchRun


def load_demo_matches() -> int:
    """Run the matcher over the demo SMEs in this process (no worker needed); returns the
    number of chunks run, 0 when a finished run exists already."""
    if MatchRun.objects.filter(status=MatchRun.Status.COMPLETE).exists():
        return 0
    run = services.run_start(enqueue=False)
    chunks = list(MatchChunk.objects.filter(run=run).values_list("pk", flat=True))
    for chunk_id in chunks:
        services.chunk_run(chunk_id)
    return len(chunks)
