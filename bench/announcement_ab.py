"""An announcement's service, another version beside this one on the same declarations: each
call in a transaction rolled back, alternating which version runs first, the SMEs gained
compared. The other version is `matching/services/incremental.py` as it was at some commit,
imported from a file (it must fit this branch's package around it).

    git show 9b891d7:matching/services/incremental.py > /tmp/incremental_before.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_h2_match \\
    .venv/bin/python -u bench/announcement_ab.py --other /tmp/incremental_before.py \\
        --new 12            # or --ids 59024 59016 (declarations to announce again)

Run on a database bench/match_bench.py loaded, after a full re-match (lists full).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common, match_bench  # noqa: E402


class _Undone(Exception):
    """Raised to roll back what a call wrote."""


def _timed_and_undone(action: Callable[[int], list[int]], pk: int) -> tuple[float, list[int]]:
    from django.db import transaction

    found: list[tuple[float, list[int]]] = []
    try:
        with transaction.atomic():
            began = time.perf_counter()
            result = action(pk)
            found.append((time.perf_counter() - began, result))
            raise _Undone
    except _Undone:
        pass
    return found[0]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--other", required=True, help="path of the other incremental.py")
    parser.add_argument("--new", type=int, default=12, help="new declarations (12)")
    parser.add_argument("--ids", type=int, nargs="*", help="declarations to announce again")
    args = parser.parse_args(argv)
    common.setup_django()
    from licensing.models import DeclarationEvent
    from matching import services
    from matching.services import incremental

    spec = importlib.util.spec_from_file_location("incremental_other", args.other)
    assert spec is not None and spec.loader is not None
    other: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(other)
    print(f"load average: {common.machine()['loadavg_1_5_15']}")
    services.demand_snapshot()
    services.live_context()
    ids = list(args.ids or match_bench.new_declarations(args.new, match_bench.SEED + 31))
    with common.connect() as conn:
        conn.execute(
            "UPDATE licensing_declaration SET status = 'announced' WHERE id = ANY(%s)", [ids]
        )
    DeclarationEvent.objects.bulk_create(
        [DeclarationEvent(declaration_id=pk, verb="announced", to_status="announced") for pk in ids]
    )
    services.demand_snapshot()
    timings: dict[str, list[float]] = {"other": [], "this": []}
    for number, pk in enumerate(ids):
        versions = [("other", other), ("this", incremental)]
        results = {
            name: _timed_and_undone(module.declaration_matched, pk)
            for name, module in (versions if number % 2 == 0 else versions[::-1])
        }
        for name, (seconds, _smes) in results.items():
            timings[name].append(seconds)
        same = results["other"][1] == results["this"][1]
        print(
            f"  declaration {pk}: {len(results['this'][1])} SMEs gained, other "
            f"{results['other'][0]:.3f} s, this {results['this'][0]:.3f} s, same SMEs: {same}"
        )
    for name, values in timings.items():
        print(f"  {name}: mean {statistics.mean(values):.3f} s, max {max(values):.3f} s")
    print(f"load average: {common.machine()['loadavg_1_5_15']}")
    with common.connect() as conn:
        conn.execute(
            "UPDATE licensing_declaration SET status = 'withdrawn' WHERE id = ANY(%s)", [ids]
        )


if __name__ == "__main__":
    main()
