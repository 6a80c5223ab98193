"""Matching triggers: how long the `match` queue takes to bring an SME's lists up to date after
each kind of change, beside the nightly full re-match per SME (the baseline: what the same
lists cost when recomputed in bulk).

Data: bench/match_bench.py's generated market (its load_data and compute_vectors), at the size
given (default 20,000 SMEs × 59,000 declarations: the supply at full size, which is what one
SME's refresh scores against; fewer SMEs than production so the data and the baseline run fit
a few minutes). Then, in this process, as a `match` worker runs them:

- baseline: a full re-match (run_start + every chunk_run), seconds per SME;
- need created / edited / closed, profile saved, feedback given: the vector of the changed
  text (what `index_vectors` does first) and matching.tasks.refresh_lists for the SME;
  a license taken runs the same refresh_lists for the licensee (not repeated here);
- declaration announced: matching.tasks.match_declaration on a new declaration; withdrawn:
  matching.tasks.retire_declaration;
- the first refresh after an announcement, which reads the supply again (its cost is
  reported apart: a worker pays it once per change of the supply, not per trigger).

p50/p95/max per trigger, and how many lists each touched.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mk_h5_bench \\
    REDIS_URL=redis://127.0.0.1:6385/12 .venv/bin/python -u bench/trigger_bench.py
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common, match_bench  # noqa: E402

TARGET_P95_MS = 1000.0


def _timed(action: Callable[..., int], *args: Any) -> tuple[float, int]:
    began = time.perf_counter()
    touched = action(*args)
    return time.perf_counter() - began, touched


def baseline_full_run() -> dict[str, Any]:
    from matching.models import Match, MatchChunk
    from matching.services import chunk_run, run_start

    began = time.perf_counter()
    run = run_start(enqueue=False)
    for chunk in MatchChunk.objects.filter(run=run).order_by("number").values_list("pk", flat=True):
        chunk_run(chunk)
    seconds = time.perf_counter() - began
    smes = sum(
        len(ids) for ids in MatchChunk.objects.filter(run=run).values_list("sme_ids", flat=True)
    )
    return {
        "seconds": round(seconds, 1),
        "smes": smes,
        "matches": Match.objects.filter(run=run).count(),
        "per_sme_ms": round(seconds / max(smes, 1) * 1000, 2),
    }


class _Undone(Exception):
    """Raised to roll back what a baseline call wrote."""


def declaration_matched_before(declaration_id: int) -> list[int]:
    """The announcement's service as it was before the snapshot path (main at 6f9d99a): the
    lists the estimate admits are read again from the database (load_demand of each admitted
    SME) and scored, then admitted. Kept here only as this bench's baseline."""
    import numpy as np

    from matching.engine import IndustryCache, score_smes
    from matching.services import incremental
    from matching.services.demand import load_demand, reference_names
    from matching.services.locks import lock_supply
    from matching.services.runs import current_run, first_run
    from matching.services.snapshot import demand_snapshot
    from matching.services.supply import load_supply

    lock_supply(exclusive=True)
    run = current_run() or first_run()
    supply = load_supply([declaration_id])
    if len(supply) == 0:
        return []
    snapshot = demand_snapshot()
    estimate = incremental._estimate(snapshot, supply)
    floor = incremental._floors(run, snapshot)
    keys = {snapshot.demands[row].key for row in np.flatnonzero(estimate > floor - 1e-4)}
    if not keys:
        return []
    smes = sorted({sme for sme, _need in keys})
    demands = [d for d in load_demand(smes, reference_names()) if d.key in keys]
    ranked = score_smes(supply, demands, IndustryCache(supply), top_k=1)
    best = {
        demand.key: scored[0]
        for demand, scored in zip(demands, ranked, strict=True)
        if scored and scored[0].score > incremental.INCREMENTAL_MINIMUM
    }
    if not best:
        return []
    gained = incremental._admit(run, declaration_id, supply, best, incremental._run_floors(run))
    return sorted({sme for sme, _need in gained})


def _timed_and_undone(action: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """Time `action` in a transaction that is then rolled back (the data stays as it was)."""
    from django.db import transaction

    found: list[tuple[float, Any]] = []
    try:
        with transaction.atomic():
            began = time.perf_counter()
            result = action(*args)
            found.append((time.perf_counter() - began, result))
            raise _Undone
    except _Undone:
        pass
    return found[0]


def triggers(count: int, seed: int, *, baseline: bool = False) -> dict[str, Any]:
    from django.utils import timezone

    from marketplace.models import SmeProfile, TechnologyNeed
    from matching import services
    from matching.models import Match, MatchFeedback
    from matching.tasks import match_declaration, retire_declaration

    rng = random.Random(seed)
    profiles = list(SmeProfile.objects.select_related("organisation").order_by("id")[:50_000])
    admins = dict(
        SmeProfile.objects.values_list("organisation_id", "organisation__memberships__user_id")
    )

    def lists_of(sme: int) -> int:
        return 1 + TechnologyNeed.objects.filter(organisation_id=sme, status="open").count()

    def refresh_need(need: TechnologyNeed) -> int:
        services.vectors_for("need", {need.pk: services.need_text(need)})
        services.lists_refresh([need.organisation_id])
        return lists_of(need.organisation_id)

    def refresh_feedback(sme: int) -> int:
        services.lists_refresh([sme])
        return lists_of(sme)

    def refresh_profile(profile: SmeProfile) -> int:
        names = services.reference_names()[0]
        services.vectors_for("sme", {profile.organisation_id: services.sme_text(profile, names)})
        services.lists_refresh([profile.organisation_id])
        return lists_of(profile.organisation_id)

    # What a `match` worker does at start (worker_process_init): not a trigger's cost.
    warm = services.worker_warm()
    print(f"  worker warm-up: {warm}", flush=True)
    results: dict[str, list[tuple[float, int]]] = {}
    created: list[TechnologyNeed] = []
    for number in range(count):
        profile = rng.choice(profiles)
        sme = profile.organisation_id
        need = TechnologyNeed.objects.create(
            organisation_id=sme,
            title=f"基于深度学习的表面缺陷检测 {number}",
            description="寻求用机器视觉自动识别产品表面划痕、凹坑的技术，替代人工目检。",
            keywords=["缺陷检测", "深度学习", "机器视觉"],
            ipc_areas=["G06T7"],
            expires_on=timezone.localdate() + timedelta(days=60),
            created_by_id=admins[sme],
        )
        created.append(need)
        results.setdefault("need created", []).append(_timed(refresh_need, need))
        need.keywords = ["锂离子电池", "正极", "包覆"]
        need.title = f"高镍正极材料包覆 {number}"
        need.ipc_areas = ["H01M4"]
        need.save()
        results.setdefault("need edited", []).append(_timed(refresh_need, need))
        profile.description = f"{profile.description[:200]} 新增产线 {number}"
        profile.save()
        results.setdefault("profile saved", []).append(_timed(refresh_profile, profile))
        listed = Match.objects.filter(run__is_current=True, sme_id=sme).values_list(
            "declaration_id", flat=True
        )
        declaration = listed.first()
        if declaration is not None:
            MatchFeedback.objects.update_or_create(
                sme_id=sme,
                declaration_id=declaration,
                defaults={
                    "verdict": "not_relevant",
                    "reason": rng.choice(["wrong_field", "too_expensive", "already_have"]),
                    "given_by_id": admins[sme],
                },
            )
            results.setdefault("feedback given", []).append(_timed(refresh_feedback, sme))
        need.status = "closed"
        need.save()
        results.setdefault("need closed", []).append(_timed(refresh_need, need))
    new = match_bench.new_declarations(count, seed + 7)
    from licensing.models import DeclarationEvent

    def events(verb: str, to_status: str, ids: Sequence[int]) -> None:
        """The timeline rows the application writes (the kept supply is patched from them;
        bulk_create sends no signal, so no broker message)."""
        DeclarationEvent.objects.bulk_create(
            [DeclarationEvent(declaration_id=pk, verb=verb, to_status=to_status) for pk in ids]
        )

    from matching.services import declaration_matched

    same_lists: list[bool] = []
    for declaration_id in new:
        events("announced", "announced", [declaration_id])
        if baseline:
            # Before and after on the same declaration and the same lists: the service as it
            # was, and as it is, each rolled back; then the task for real. The snapshot is
            # brought up to date first, so neither pays for the other's patch.
            services.demand_snapshot()
            seconds, before = _timed_and_undone(declaration_matched_before, declaration_id)
            results.setdefault("announcement service, before (baseline)", []).append(
                (seconds, len(before))
            )
            seconds, after = _timed_and_undone(declaration_matched, declaration_id)
            results.setdefault("announcement service, now", []).append((seconds, len(after)))
            same_lists.append(before == after)
        results.setdefault("declaration announced", []).append(
            _timed(match_declaration, declaration_id)
        )
    # The next SME trigger after the supply changed reads it again (once per change).
    profile = rng.choice(profiles)
    reload_seconds, _lists = _timed(refresh_profile, profile)
    with common.connect() as conn:
        conn.execute(
            "UPDATE licensing_declaration SET status = 'withdrawn' WHERE id = ANY(%s)", [new]
        )
    for declaration_id in new:
        events("withdrawn", "withdrawn", [declaration_id])
        results.setdefault("declaration withdrawn", []).append(
            _timed(retire_declaration, declaration_id)
        )
    TechnologyNeed.objects.filter(pk__in=[n.pk for n in created]).delete()
    return {
        "per_trigger": {
            name: {
                "latency_ms": common.summary([seconds for seconds, _n in values]),
                "lists_touched_mean": round(sum(n for _s, n in values) / len(values), 1),
                "lists_touched_max": max(n for _s, n in values),
            }
            for name, values in results.items()
        },
        "first_refresh_after_the_supply_changed_s": round(reload_seconds, 2),
        "announcement_same_smes_before_and_now": same_lists,
        "worker_warm_up_s": warm,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smes", type=int, default=20_000)
    parser.add_argument("--declarations", type=int, default=match_bench.DECLARATIONS)
    parser.add_argument("--seed", type=int, default=match_bench.SEED)
    parser.add_argument("--triggers", type=int, default=40, help="of each kind (40)")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--announcement-baseline",
        action="store_true",
        help="time each announcement's service as it was before the snapshot path, too",
    )
    args = parser.parse_args(argv)
    common.setup_django()
    print(common.ensure_schema())
    result: dict[str, Any] = {"date": datetime.now(UTC).isoformat(), "machine": common.machine()}
    print(f"load average before: {result['machine']['loadavg_1_5_15']}", flush=True)
    match_bench.remove_new_declarations()
    if match_bench.loaded() != (args.smes, args.declarations):
        print(f"loading {args.smes} SMEs and {args.declarations} declarations ...", flush=True)
        timings = match_bench.load_data(args.smes, args.declarations, args.seed)
        timings.update(match_bench.compute_vectors())
        result["load"] = timings
        print(f"  {timings}", flush=True)
    from marketplace.search.vectors import patent_vectors_compute

    with common.stopwatch("search vectors of the patents (PatentVector)", {}):
        print(f"  patent vectors written: {patent_vectors_compute(patent_ids=None)}", flush=True)
    if not args.skip_baseline:
        print("baseline: full re-match in this process ...", flush=True)
        result["baseline_full_run"] = baseline_full_run()
        print(f"  {result['baseline_full_run']}", flush=True)
    print(f"triggers, {args.triggers} of each kind ...", flush=True)
    result["triggers"] = triggers(args.triggers, args.seed, baseline=args.announcement_baseline)
    baseline = result.get("baseline_full_run", {}).get("per_sme_ms")
    for name, figures in result["triggers"]["per_trigger"].items():
        latency = figures["latency_ms"]
        verdict = "met" if latency["p95"] <= TARGET_P95_MS else "MISSED"
        print(
            f"  {name:<24} p50 {latency['p50']:7.1f} ms  p95 {latency['p95']:7.1f} ms  "
            f"max {latency['max']:7.1f} ms  lists touched {figures['lists_touched_mean']} "
            f"(max {figures['lists_touched_max']})  target p95 ≤ 1 s: {verdict}"
        )
    if args.announcement_baseline:
        same = result["triggers"]["announcement_same_smes_before_and_now"]
        print(f"  announcements reaching the same SMEs before and now: {sum(same)} of {len(same)}")
    print(
        f"  first refresh after the supply changed: "
        f"{result['triggers']['first_refresh_after_the_supply_changed_s']} s; "
        f"baseline full run per SME: {baseline} ms"
    )
    result["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    path = common.save_results(f"triggers-{args.smes}x{args.declarations}", result)
    print(f"saved {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
