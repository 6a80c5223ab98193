"""The names of matching's Celery tasks, and the one way its services send them: through
marketplace.dispatch (by name, after commit), like every other app's services. Services never
import tasks (tasks import services), so the import graph has no cycle, not even inside a
function (tests/test_import_graph.py)."""

from __future__ import annotations

from collections.abc import Sequence

from marketplace import dispatch

MATCH_CHUNK = "matching.tasks.match_chunk"
MATCH_DECLARATION = "matching.tasks.match_declaration"
RETIRE_DECLARATION = "matching.tasks.retire_declaration"
INDEX_VECTORS = "matching.tasks.index_vectors"
REFRESH_LISTS = "matching.tasks.refresh_lists"


def after_commit(name: str, *args: object) -> None:
    """Send the task `name` with `args` once the current transaction commits."""
    dispatch.after_commit(name, *args)


def chunks_send(chunk_ids: Sequence[int], *, after_commit: bool) -> None:
    """Send a run's chunks (one message each, over one broker connection): after the
    transaction that created them commits, or now (a resume)."""
    calls = [(pk,) for pk in chunk_ids]
    if after_commit:
        dispatch.each_after_commit(MATCH_CHUNK, calls)
    else:
        dispatch.each_now(MATCH_CHUNK, calls)
