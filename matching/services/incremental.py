"""Incremental matching of one declaration: announced, it is estimated against every list of
the worker's demand snapshot at once and enters the lists where it ranks in the top K;
withdrawn or ended, it leaves every list."""

from __future__ import annotations

import numpy as np
from django.conf import settings
from django.contrib.postgres.aggregates import ArrayAgg
from django.db import transaction
from django.db.models import Count, Min, QuerySet

from matching import engine
from matching.engine import (
    IndustryCache,
    Scored,
    Supply,
    adjustment_hits,
    formula,
    industry_relation,
    ipc_relation,
    keyword_found,
)
from matching.models import ListFloor, Match, MatchChunk, MatchRun
from matching.services.caches import CACHES, ListKey
from matching.services.demand import load_demand, reference_names
from matching.services.locks import lock_supply
from matching.services.runs import current_run, first_run
from matching.services.snapshot import DemandSnapshot, demand_snapshot
from matching.services.supply import load_supply


def _estimate(snapshot: DemandSnapshot, supply: Supply) -> np.ndarray:
    """The formula (engine.formula, then the feedback adjustments) for one declaration
    (supply row 0) against every list of the snapshot."""
    semantic = np.clip(snapshot.vectors @ supply.vectors[0], 0.0, 1.0)
    industries = supply.industries[0]
    by_code = np.array(
        [
            max((w * industry_relation(code, c) for c, w in industries.items()), default=0.0)
            for code in snapshot.codes
        ],
        dtype=np.float32,
    )
    industry = by_code[snapshot.code_rows] if by_code.size else np.zeros(len(snapshot.ids))
    levels = supply.ipc_levels[0]
    by_area = np.array(
        [ipc_relation(areas, levels)[0] for areas in snapshot.areas], dtype=np.float32
    )
    if by_area.size:
        industry = np.maximum(industry, by_area[snapshot.area_rows])
    found = np.zeros(len(snapshot.ids), dtype=np.float64)
    tokens = supply.tokens[0]
    for terms, rows in snapshot.keyword_rows.items():
        if keyword_found(terms, tokens):
            found[rows] += 1.0
    share = (found / np.maximum(snapshot.keyword_counts, 1.0)).astype(np.float32)
    region = (snapshot.provinces == supply.province_codes()[0]).astype(np.float32)
    # The engine's own affordability (cached per budget) of this one declaration.
    by_budget = np.array(
        [supply.affordability(budget)[0] for budget in snapshot.budgets], dtype=np.float32
    )
    affordability = (
        by_budget[snapshot.budget_rows] if by_budget.size else np.zeros(len(snapshot.ids))
    )
    total = formula(semantic, industry, share, region, affordability)
    for (target, key, delta), moved in snapshot.adjusted.items():
        if adjustment_hits(supply, 0, target, key):
            total[moved] += np.float32(delta)
    rejected = snapshot.rejected_declarations.get(int(supply.ids[0]))
    if rejected is not None:
        total[rejected] = -np.inf
    total[snapshot.ids == int(supply.patentee_ids[0])] = -np.inf
    return total


def _list_sizes(matches: QuerySet[Match]) -> dict[ListKey, tuple[int, float, int]]:
    """Each list's number of matches, lowest score and lowest match (by score, then id)
    among `matches`: one pass over the lists' rows (reading them a second time for the
    lowest matches was a good part of an announcement that reaches hundreds of lists)."""
    return {
        (sme, need): (count, low, ids[0])
        for sme, need, count, low, ids in matches.values("sme_id", "need_id")
        .annotate(count=Count("id"), low=Min("score"), ids=ArrayAgg("id", order_by=("score", "id")))
        .values_list("sme_id", "need_id", "count", "low", "ids")
        .order_by()
    }


def _run_floors(run: MatchRun) -> dict[ListKey, float]:
    """The run's ListFloor rows by list (cached per run; lists_refresh updates the cache)."""
    if run.pk not in CACHES.run_floors:
        CACHES.run_floors.clear()
        CACHES.run_floors[run.pk] = {
            (sme, need): score
            for sme, need, score in ListFloor.objects.filter(run=run).values_list(
                "sme_id", "need_id", "score"
            )
        }
    return CACHES.run_floors[run.pk]


# A declaration enters a list only above this score (else every SME gets every patent); below
# an exact industry fit alone (weight 0.15 × a context factor ≥ 1), which a full run lists.
INCREMENTAL_MINIMUM = 0.12


def _floors(run: MatchRun, snapshot: DemandSnapshot) -> np.ndarray:
    """The least score each snapshot list asks of a newcomer, aligned with the snapshot's
    rows: the run's floor where the list was full, else the minimum.

    A lower bound at any time: a full list's lowest score only rises with newcomers, and a
    list that withdrawals left short asks for the floor. So it never needs recounting after a
    retirement; the exact check against each admitted SME's list follows."""
    key = (run.pk, snapshot.taken_at)
    if key not in CACHES.floors:
        floors = _run_floors(run)
        CACHES.floors.clear()
        CACHES.floors[key] = np.maximum(
            np.array(
                [floors.get(demand.key, INCREMENTAL_MINIMUM) for demand in snapshot.demands],
                dtype=np.float32,
            ),
            np.float32(INCREMENTAL_MINIMUM),
        )
    return CACHES.floors[key]


@transaction.atomic
def declaration_matched(declaration_id: int) -> list[int]:
    """Incremental: score one newly announced declaration against every list and add it to
    the lists where it ranks within the top K; returns the SMEs that gained it.

    Every list is estimated at once from the worker's snapshot; the few whose estimate beats
    their floor are scored again from the database with the full formula and checked
    against the list as it is. Holds the supply lock exclusive (see "who writes a list"):
    a list refresh that began before waits, one that begins after reads this declaration."""
    lock_supply(exclusive=True)
    run = current_run() or first_run()
    supply = load_supply([declaration_id])
    if len(supply) == 0:
        return []
    snapshot = demand_snapshot()
    estimate = _estimate(snapshot, supply)
    floor = _floors(run, snapshot)
    # A small margin: the estimate's float32 sums may differ from the exact score's last bit.
    keys = {snapshot.demands[row].key for row in np.flatnonzero(estimate > floor - 1e-4)}
    if not keys:
        return []
    smes = sorted({sme for sme, _need in keys})
    names = reference_names()
    demands = [demand for demand in load_demand(smes, names) if demand.key in keys]
    ranked = engine.score_smes(supply, demands, IndustryCache(supply), top_k=1)
    best = {
        demand.key: scored[0]
        for demand, scored in zip(demands, ranked, strict=True)
        if scored and scored[0].score > INCREMENTAL_MINIMUM
    }
    if not best:
        return []
    gained = _admit(run, declaration_id, supply, best, _run_floors(run))
    # A full re-match running: its chunks written already get the declaration too (the
    # chunks still to come score a supply patched with it, see chunk_run).
    for running_id, chunk_smes in MatchChunk.objects.filter(
        run__status=MatchRun.Status.RUNNING, status="done"
    ).values_list("run_id", "sme_ids"):
        inside = set(chunk_smes)
        written = {key: scored for key, scored in best.items() if key[0] in inside}
        if written:
            floors: dict[ListKey, float] = {
                (sme, need): score
                for sme, need, score in ListFloor.objects.filter(
                    run_id=running_id, sme_id__in=sorted({k[0] for k in written})
                ).values_list("sme_id", "need_id", "score")
            }
            _admit(MatchRun(pk=running_id), declaration_id, supply, written, floors)
    return sorted({sme for sme, _need in gained})


def _admit(
    run: MatchRun,
    declaration_id: int,
    supply: Supply,
    best: dict[ListKey, Scored],
    floors: dict[ListKey, float],
) -> list[ListKey]:
    """Add the declaration (supply row 0) to the run's lists where its score ranks within
    the top K: a full list loses its lowest match; a list short of retired matches takes it
    only above its floor. Returns the lists that gained it."""
    top_k = settings.MATCHING_TOP_K
    others = Match.objects.filter(run=run, sme_id__in=sorted({k[0] for k in best})).exclude(
        declaration_id=declaration_id
    )
    lists = _list_sizes(others)
    gained: list[ListKey] = []
    displace: set[ListKey] = set()
    for key, scored in best.items():
        count, low, _lowest = lists.get(key, (0, 0.0, 0))
        if count >= top_k:
            if low >= scored.score:
                continue
            displace.add(key)
        elif floors.get(key, INCREMENTAL_MINIMUM) >= scored.score:
            continue  # a list short of retired matches waits for the next full re-match
        gained.append(key)
    if displace:
        # The lowest match of each full list makes room (one per list).
        Match.objects.filter(pk__in=sorted(lists[key][2] for key in displace)).delete()
    Match.objects.bulk_create(
        [
            Match(
                run_id=run.pk,
                sme_id=sme,
                declaration_id=declaration_id,
                patent_id=int(supply.patent_ids[0]),
                need_id=need,
                score=best[(sme, need)].score,
                rank=0,
                components=best[(sme, need)].components,
                reasons=best[(sme, need)].reasons,
            )
            for sme, need in gained
        ],
        update_conflicts=True,
        unique_fields=["run", "sme", "need", "declaration"],
        update_fields=["patent", "score", "rank", "components", "reasons"],
    )
    return gained


@transaction.atomic
def declaration_retired(declaration_id: int) -> int:
    """A withdrawn or ended declaration leaves every list. Holds the supply lock exclusive:
    a list refresh that read the supply with it commits first, and its rows go too."""
    lock_supply(exclusive=True)
    deleted, _detail = Match.objects.filter(declaration_id=declaration_id).delete()
    return deleted
