"""Where one chunk of a full re-match spends its time: chunk_run's steps for one chunk of SMEs
(as bench/match_bench.py's chunk_phases, no write) under cProfile, the top functions by own
time and by cumulative time. Run on a database bench/match_bench.py loaded.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_h2_match \\
    .venv/bin/python -u bench/chunk_profile.py --smes 2000
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smes", type=int, default=2000, help="SMEs in the chunk (2,000)")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-profile", action="store_true", help="the timed phases only")
    args = parser.parse_args(argv)
    common.setup_django()
    from matching import services
    from matching.engine import IndustryCache, score_smes

    print(f"load average: {common.machine()['loadavg_1_5_15']}")
    supply = services.load_supply()
    industries = IndustryCache(supply)
    names = services.reference_names()
    ids = services.sme_ids()[: args.smes]
    score_smes(supply, services.load_demand(ids[:256], names), industries)  # warm-up
    phases: dict[str, float] = {}
    with common.stopwatch("load demand", phases):
        demands = services.load_demand(ids, names)
    with common.stopwatch("score, choose and explain", phases):
        ranked = score_smes(supply, demands, industries)
    # As every later chunk of a run scores: the industry rows of these codes are kept.
    with common.stopwatch("the same again (rows kept)", phases):
        ranked = score_smes(supply, demands, industries)
    # match_rows; before the package (main at 6f9d99a, for a baseline from its worktree) it
    # was services._match_rows.
    writing = getattr(services, "writing", None)
    match_rows = writing.match_rows if writing is not None else services._match_rows  # type: ignore[attr-defined]
    with common.stopwatch("rows (JSON text)", phases):
        rows = list(match_rows(0, supply, demands, ranked))
    print(f"without the profiler, {len(demands)} lists, {len(rows)} rows:")
    for label, value in phases.items():
        print(f"  {label:<30} {value:6.2f} s")
    if args.no_profile:
        return
    profile = cProfile.Profile()
    began = time.perf_counter()
    profile.enable()
    demands = services.load_demand(ids, names)
    ranked = score_smes(supply, demands, industries)
    rows = list(match_rows(0, supply, demands, ranked))
    profile.disable()
    seconds = time.perf_counter() - began
    print(f"{len(demands)} lists, {len(rows)} rows: {seconds:.2f} s (under the profiler)")
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(order).print_stats(args.top)
        print(out.getvalue())


if __name__ == "__main__":
    main()
