"""The trigger path: the lists of SMEs that changed (a need, a profile, feedback, a license)
recomputed against the worker's live supply, and the worker's warm-up at start."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from django.db import transaction

from matching import engine
from matching.embedders import get_embedder
from matching.models import ListFloor, Match, MatchChunk, MatchRun
from matching.services.caches import CACHES, live_context
from matching.services.demand import keyword_terms, load_demand
from matching.services.locks import LOCK_CHUNK, LOCK_SME, lock_each, lock_supply
from matching.services.runs import current_run, first_run
from matching.services.snapshot import demand_snapshot
from matching.services.writing import (
    FLOOR_COLUMNS,
    MATCH_COLUMNS,
    copy_rows,
    floor_rows,
    match_rows,
)


def worker_warm() -> dict[str, float]:
    """Fill a `match` worker's caches at its start (matching.tasks, worker_process_init), so
    its first trigger is not cold: the embedder and the segmenter, the live supply and its
    postings, the industry rows, every SME's demand snapshot. Returns seconds per step."""
    seconds: dict[str, float] = {}

    def step(name: str, action: Callable[[], object]) -> None:
        began = time.perf_counter()
        action()
        seconds[name] = round(time.perf_counter() - began, 3)

    step("embedder", lambda: get_embedder().embed(["预热 warm-up"]))
    step("segmenter", lambda: keyword_terms(["锂电池 缺陷检测"]))
    step("supply", live_context)
    supply = live_context().supply

    def postings() -> None:
        supply.rows_with_token("")
        supply.rows_with_ipc("")
        supply.rows_in_group("")
        supply.rows_of_patentee(0)
        supply.row_of(0)
        supply.province_rows("00")
        supply.subclass_rows(set())

    step("postings", postings)
    step("demand snapshot", demand_snapshot)
    return seconds


# SMEs refreshed per transaction: each holds one advisory lock (PostgreSQL's shared lock table
# holds max_locks_per_transaction × max_connections, 6,400 by default, for every session).
REFRESH_BATCH = 200


def lists_refresh(sme_ids: Sequence[int]) -> int:
    """Recompute every list of these SMEs (profile and open needs) with the full formula
    against the supply now, and replace them in the current run (and in a running full run
    whose chunk for them is already written, so its swap does not bring old lists back).
    A need closed loses its list; a need opened gets one. Returns the matches written.

    One transaction holding the SMEs' locks (see "who writes a list") from before the supply
    and the demand are read until the lists are written: concurrent triggers for one SME and
    the declaration tasks take turns, so the lists left are those of the state last read."""
    ids = sorted(set(sme_ids))
    if not ids:
        return 0
    if len(ids) > REFRESH_BATCH:  # a bounded number of advisory locks per transaction
        return sum(
            lists_refresh(ids[start : start + REFRESH_BATCH])
            for start in range(0, len(ids), REFRESH_BATCH)
        )
    written = 0
    with transaction.atomic():
        lock_supply(exclusive=False)
        lock_each(LOCK_SME, ids, exclusive=True)
        context = live_context()
        demands = load_demand(ids, context.names)
        ranked = engine.score_smes(context.supply, demands, context.industries)
        run = current_run() or first_run()
        targets = [(run.pk, ids)]
        wanted = set(ids)
        running = [
            (chunk_id, chunk_run_id, sorted(wanted.intersection(chunk_smes)))
            for chunk_id, chunk_run_id, chunk_smes in MatchChunk.objects.filter(
                run__status=MatchRun.Status.RUNNING
            ).values_list("pk", "run_id", "sme_ids")
            if wanted.intersection(chunk_smes)
        ]
        # A chunk being written is waited for; one written since is rewritten for these SMEs.
        lock_each(LOCK_CHUNK, [chunk_id for chunk_id, _run, _smes in running], exclusive=False)
        done = set(
            MatchChunk.objects.filter(
                pk__in=[chunk_id for chunk_id, _run, _smes in running], status="done"
            ).values_list("pk", flat=True)
        )
        targets += [(run_id, smes) for chunk_id, run_id, smes in running if chunk_id in done]
        for run_id, smes in targets:
            chosen = [
                (demand, scored)
                for demand, scored in zip(demands, ranked, strict=True)
                if demand.organisation_id in smes
            ]
            Match.objects.filter(run_id=run_id, sme_id__in=smes).delete()
            ListFloor.objects.filter(run_id=run_id, sme_id__in=smes).delete()
            written += copy_rows(
                "matching_match",
                MATCH_COLUMNS,
                match_rows(
                    run_id, context.supply, [d for d, _s in chosen], [r for _d, r in chosen]
                ),
            )
            copy_rows(
                "matching_listfloor",
                FLOOR_COLUMNS,
                floor_rows(run_id, [d for d, _s in chosen], [r for _d, r in chosen]),
            )
    # The current run's floors of these SMEs, as just written: the kept floors are patched
    # (dropping them made the next announcement read every ListFloor row of the run again).
    CACHES.floors_patch(
        run.pk,
        ids,
        {(sme, need): score for _run, sme, need, score in floor_rows(run.pk, demands, ranked)},
    )
    return written
