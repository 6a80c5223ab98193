"""The one point where matching hands work to its Celery queues. Tasks are looked up by name
in the app's registry, never imported, so services do not import tasks (tasks import
services): the import graph has no cycle, not even inside a function.

matching.apps imports matching.tasks when the app is ready, so every process that has set up
Django has the tasks registered."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from marketplace.celery import app, publish_after_commit, publish_each

MATCH_CHUNK = "matching.tasks.match_chunk"
MATCH_DECLARATION = "matching.tasks.match_declaration"
RETIRE_DECLARATION = "matching.tasks.retire_declaration"
INDEX_VECTORS = "matching.tasks.index_vectors"
REFRESH_LISTS = "matching.tasks.refresh_lists"


def _task(name: str) -> Any:
    return app.tasks[name]


def after_commit(name: str, *args: object) -> None:
    """Send the task `name` with `args` once the current transaction commits."""
    publish_after_commit(_task(name).delay, *args)


def chunks_send(chunk_ids: Sequence[int], *, after_commit: bool) -> None:
    """Send a run's chunks (one message each, over one broker connection): after the
    transaction that created them commits, or now (a resume)."""
    calls = [(pk,) for pk in chunk_ids]
    if after_commit:
        publish_after_commit(publish_each, _task(MATCH_CHUNK), calls)
    else:
        publish_each(_task(MATCH_CHUNK), calls)
