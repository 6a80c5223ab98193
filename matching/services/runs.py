"""Full re-matches: a run's chunks of SMEs, each scored and written on its own, swapped in all
at once when the last one is written; resumed after a worker died; failed when a chunk keeps
failing."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from licensing.models import License
from marketplace.models import SmeProfile, TechnologyNeed
from matching import dispatch, engine
from matching.models import ListFloor, Match, MatchChunk, MatchFeedback, MatchRun
from matching.services.caches import declarations_moved, run_context
from matching.services.demand import load_demand, sme_ids
from matching.services.locks import LOCK_CHUNK, lock_each, lock_supply
from matching.services.snapshot import SNAPSHOT_OVERLAP
from matching.services.supply import supply_stamp
from matching.services.writing import (
    FLOOR_COLUMNS,
    MATCH_COLUMNS,
    copy_rows,
    floor_rows,
    match_rows,
)
from matching.workflow import MATCH_RUN

logger = logging.getLogger(__name__)

# A chunk begun this often without being written fails its run (run_fail).
CHUNK_ATTEMPTS = 3


def smes_changed_since(ids: Sequence[int], since: datetime) -> set[int]:
    """The SMEs among `ids` whose lists' inputs were saved since then: profile, needs,
    feedback, licenses taken."""
    ids = list(ids)
    return (
        set(
            SmeProfile.objects.filter(organisation_id__in=ids, updated_at__gte=since).values_list(
                "organisation_id", flat=True
            )
        )
        | set(
            TechnologyNeed.objects.filter(
                organisation_id__in=ids, updated_at__gte=since
            ).values_list("organisation_id", flat=True)
        )
        | set(
            MatchFeedback.objects.filter(sme_id__in=ids, updated_at__gte=since).values_list(
                "sme_id", flat=True
            )
        )
        | set(
            License.objects.filter(licensee_id__in=ids, updated_at__gte=since).values_list(
                "licensee_id", flat=True
            )
        )
    )


def run_start(*, chunk_size: int | None = None, enqueue: bool = True) -> MatchRun:
    """Start a full re-match: the SMEs split into chunks, each a task on the `match` queue."""
    size = chunk_size or settings.MATCHING_CHUNK_SMES
    ids = sme_ids()
    with transaction.atomic():
        run = MatchRun.objects.create(kind="full")
        chunks = [
            MatchChunk(run=run, number=number, sme_ids=ids[start : start + size])
            for number, start in enumerate(range(0, len(ids), size))
        ]
        MatchChunk.objects.bulk_create(chunks)
        MatchRun.objects.filter(pk=run.pk).update(total_chunks=len(chunks))
        run.total_chunks = len(chunks)
        if enqueue:
            # All chunks sent together (an unreachable broker: one retry, not one per chunk;
            # resume_stale_runs sends them again); bulk_create set their keys already.
            dispatch.chunks_send([chunk.pk for chunk in chunks], after_commit=True)
    if not chunks:
        _finish(run.pk)
    return run


def run_resume(run_id: int, *, started_before: datetime | None = None) -> int:
    """Send the pending chunks of a running run again (after a worker died holding one);
    with `started_before`, only those a worker began before then. A run whose chunks are all
    done (its worker died before the finish) is finished here.

    Safe to call any time: a chunk already done is skipped by its task, and a chunk sent twice
    is written once (claimed by compare-and-swap).
    """
    pending = MatchChunk.objects.filter(
        run_id=run_id, run__status=MatchRun.Status.RUNNING, status="pending"
    )
    if not pending.exists():
        if MatchRun.objects.filter(pk=run_id, status=MatchRun.Status.RUNNING).exists():
            _finish(run_id)
        return 0
    if started_before is not None:
        pending = pending.filter(started_at__lt=started_before)
    ids = list(pending.values_list("pk", flat=True))
    dispatch.chunks_send(ids, after_commit=False)
    return len(ids)


def runs_resume_stale(
    *, older_than_minutes: int = 30, chunk_stale_seconds: int | None = None
) -> int:
    """Beat (every minute): finish the running runs whose chunks are all done; send again the
    chunks a worker began more than MATCHING_CHUNK_STALE_SECONDS ago and never finished (it
    was killed: its message waits for the broker's visibility timeout otherwise); and every
    pending chunk of a run older than `older_than_minutes` in which no chunk began within that
    window (its messages were lost on the way; a run making progress is not flooded)."""
    now = timezone.now()
    seconds = (
        settings.MATCHING_CHUNK_STALE_SECONDS
        if chunk_stale_seconds is None
        else chunk_stale_seconds
    )
    limit = now - timedelta(minutes=older_than_minutes)
    resent = 0
    for run_id, started_at in MatchRun.objects.filter(status=MatchRun.Status.RUNNING).values_list(
        "pk", "started_at"
    ):
        stale_before: datetime | None = now - timedelta(seconds=seconds)
        if (
            started_at < limit
            and not MatchChunk.objects.filter(run_id=run_id, started_at__gte=stale_before).exists()
        ):
            stale_before = None
        resent += run_resume(run_id, started_before=stale_before)
    return resent


def chunk_run(chunk_id: int) -> str:
    """Score one chunk and write its matches; idempotent: a chunk done is skipped, a chunk
    half-written by a killed worker is rewritten whole (delete + insert in one transaction)."""
    chunk = MatchChunk.objects.select_related("run").filter(pk=chunk_id).first()
    if chunk is None or chunk.run.status != MatchRun.Status.RUNNING:
        return "skipped"
    if chunk.status == "done":
        # Redelivered after its worker died between this chunk's commit and the finish.
        if not MatchChunk.objects.filter(run_id=chunk.run_id, status="pending").exists():
            _finish(chunk.run_id)
        return "skipped"
    if chunk.attempts >= CHUNK_ATTEMPTS:
        # Begun that often and never written: not a worker killed once but an error that
        # comes back. The run fails; the run visible before stays, and tomorrow's run tries.
        run_fail(chunk.run_id, reason=f"chunk {chunk.number} begun {chunk.attempts} times")
        return "failed"
    MatchChunk.objects.filter(pk=chunk.pk).update(
        attempts=chunk.attempts + 1, started_at=timezone.now()
    )
    context = run_context(chunk.run_id)
    scored_at = context.stamp
    read_from = timezone.now() - SNAPSHOT_OVERLAP
    demands = load_demand(list(chunk.sme_ids), context.names)
    ranked = engine.score_smes(context.supply, demands, context.industries)
    with transaction.atomic():
        lock_supply(exclusive=False)
        lock_each(LOCK_CHUNK, [chunk.pk], exclusive=True)
        claimed = MatchChunk.objects.filter(pk=chunk.pk, status="pending").update(status="done")
        if not claimed:
            return "skipped"
        if declarations_moved(scored_at, supply_stamp()):
            # A declaration was announced or ended while the chunk was scored (its task found
            # this chunk not written): the whole chunk again, on the supply patched with it.
            context = run_context(chunk.run_id)
            demands = load_demand(list(chunk.sme_ids), context.names)
            ranked = engine.score_smes(context.supply, demands, context.industries)
        else:
            # An SME changed while the chunk was scored had its trigger find the chunk not
            # written (so it rewrote the current run only): that SME again.
            changed = smes_changed_since(chunk.sme_ids, read_from)
            if changed:
                again = load_demand(sorted(changed), context.names)
                kept = [
                    (demand, scored)
                    for demand, scored in zip(demands, ranked, strict=True)
                    if demand.organisation_id not in changed
                ]
                kept += zip(
                    again, engine.score_smes(context.supply, again, context.industries), strict=True
                )
                demands, ranked = [d for d, _r in kept], [r for _d, r in kept]
        if chunk.attempts:
            # Rows of this chunk exist only if it was done and set back to pending (an ack
            # lost after commit): rewrite them whole. A first attempt skips the delete, which
            # would otherwise read the run's rows written so far, chunk after chunk.
            Match.objects.filter(run_id=chunk.run_id, sme_id__in=chunk.sme_ids).delete()
            ListFloor.objects.filter(run_id=chunk.run_id, sme_id__in=chunk.sme_ids).delete()
        copy_rows(
            "matching_match",
            MATCH_COLUMNS,
            match_rows(chunk.run_id, context.supply, demands, ranked),
        )
        copy_rows("matching_listfloor", FLOOR_COLUMNS, floor_rows(chunk.run_id, demands, ranked))
        MatchRun.objects.filter(pk=chunk.run_id).update(done_chunks=_done_chunks(chunk.run_id))
    if not MatchChunk.objects.filter(run_id=chunk.run_id, status="pending").exists():
        _finish(chunk.run_id)
    return "done"


def _done_chunks(run_id: int) -> int:
    return MatchChunk.objects.filter(run_id=run_id, status="done").count()


def _finish(run_id: int) -> None:
    """Make a complete run the visible one in one transaction; drop the older runs' rows."""
    with transaction.atomic():
        run = MatchRun.objects.select_for_update().get(pk=run_id)
        if run.status != MatchRun.Status.RUNNING:
            return
        MatchRun.objects.filter(is_current=True).exclude(pk=run_id).update(is_current=False)
        MATCH_RUN.transition(
            run, to=MatchRun.Status.COMPLETE, is_current=True, finished_at=timezone.now()
        )
    Match.objects.filter(run__is_current=False, run__status=MatchRun.Status.COMPLETE).delete()
    ListFloor.objects.filter(run__is_current=False, run__status=MatchRun.Status.COMPLETE).delete()


def run_fail(run_id: int, *, reason: str) -> bool:
    """A running run fails (matching.workflow, running → failed): it never becomes visible,
    and its rows written so far go. False when it was not running (done or failed already)."""
    with transaction.atomic():
        run = MatchRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != MatchRun.Status.RUNNING:
            return False
        MATCH_RUN.transition(
            run, to=MatchRun.Status.FAILED, reason=reason, finished_at=timezone.now()
        )
        Match.objects.filter(run_id=run_id).delete()
        ListFloor.objects.filter(run_id=run_id).delete()
    logger.error("match run %s failed: %s", run_id, reason)
    return True


def current_run() -> MatchRun | None:
    return MatchRun.objects.filter(is_current=True).first()


def first_run() -> MatchRun:
    """The empty current run that incremental matches go into before any full re-match.
    Two tasks may race to create it (one current run at most): the loser uses the winner's."""
    try:
        with transaction.atomic():
            return MatchRun.objects.create(
                kind="full",
                status=MatchRun.Status.COMPLETE,
                is_current=True,
                finished_at=timezone.now(),
            )
    except IntegrityError:
        return MatchRun.objects.get(is_current=True)
