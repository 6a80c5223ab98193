"""Search engine variants: the candidate statement as the product runs it, with lower rank caps,
and ranked inside a RUM index; raw SQL, the same queries, interleaved in the same run.

Issue 19 point 4 (engine p95 <= 15 ms at 1,000,000 patents). The product's words search finds at
most RANK_CAP (2,000) matches with one scan of the multicolumn GIN index on words and filter
tags, stops there (no ORDER BY) and ranks them with ts_rank. This script measures what the
benchmark notes suggested, on a table loaded by bench/search_bench.py (`--load-only`):

- "as is": each request's engine statements, recorded from marketplace.search.query (the
  candidate statement and the page's 20 rows), replayed with psycopg as search_bench's
  "engine" figure does;
- "cap N": the same with the candidate statement's LIMIT lowered to N (which N matches are
  ranked is then even more the index's order: a quality cost, not only a speed gain);
- "rum N" (with --rum): the N best matches by rank, read in rank order from a RUM index on
  (search_vector, search_tags) (`ORDER BY search_vector <=> query LIMIT N`; the Debian package
  postgresql-15-rum), plus the same page statement. This is the ranking a lower cap should
  keep: the top N of every match, not N arbitrary ones. RUM's `<=>` is its own ts_rank-like
  score, so the order is not identical to the product's ts_rank (see the overlap figure).

Every variant runs once per query per pass, interleaved (query 1 in every variant, then query 2,
...), so a change in the machine's load hits all variants alike; the first pass warms up and the
rest are measured. Per query: first the product's statements are timed on their first touch ("as
is, first touch": the previous queries have pushed their pages out of a small shared_buffers,
into the OS page cache only), then every variant runs once untimed and once timed, so the
variants are compared warm, on the same footing (measured first, whichever variant came first
paid the reads from the OS cache for all the others). The server settings (shared_buffers,
effective_cache_size, work_mem) are printed and stored: to compare buffer sizes, run this once
per setting on a cluster of your own (BENCHMARKS.md says how). --prewarm-buffers reads the
table's words index, its heap and the RUM index into shared_buffers first (pg_prewarm 'buffer'),
as a server that has been answering searches for a while holds them.

    DATABASE_URL=postgres://postgres@127.0.0.1:5444/bench_h4_1m \\
    REDIS_URL=redis://127.0.0.1:6384/12 \\
    .venv/bin/python bench/search_engine_bench.py --rows 1000000 --rum
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common, search_bench  # noqa: E402
from bench.generate import DEFAULT_SEED, PatentGenerator, make_queries  # noqa: E402

RUM_INDEX = "bench_patent_search_rum"
ENGINE_TARGET_MS = 15.0  # engine p95 at 1,000,000 patents
FIRST_TOUCH = "as is, first touch"
_LIMIT = re.compile(r"LIMIT (\d+)\s*$")

Statement = tuple[str, str, tuple[Any, ...]]


def ensure_rum(create: bool) -> float | None:
    """The RUM extension and index (words + tags, like the product's GIN index); returns the
    seconds its build took, 0 when it existed, None when it is absent and not created."""
    with common.connect() as conn:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [RUM_INDEX]).fetchone()[0]
        if exists:
            return 0.0
        if not create:
            return None
        conn.execute("CREATE EXTENSION IF NOT EXISTS rum")
        conn.execute("SET maintenance_work_mem = '1GB'")
        began = time.perf_counter()
        conn.execute(
            f"CREATE INDEX {RUM_INDEX} ON marketplace_patent USING rum "
            "(search_vector rum_tsvector_ops, search_tags rum_anyarray_ops) WHERE is_listed"
        )
        conn.execute("ANALYZE marketplace_patent")
        return time.perf_counter() - began


def drop_rum() -> None:
    with common.connect() as conn:
        conn.execute(f"DROP INDEX IF EXISTS {RUM_INDEX}")


def server_settings() -> dict[str, str]:
    names = ("shared_buffers", "effective_cache_size", "work_mem", "random_page_cost", "jit")
    with common.connect() as conn:
        return {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in names}


def index_sizes() -> dict[str, str]:
    with common.connect() as conn:
        rows = conn.execute(
            "SELECT c.relname, pg_size_pretty(pg_relation_size(c.oid)) FROM pg_class c "
            "WHERE c.relname IN ('marketplace_patent', 'patent_search', %s)",
            [RUM_INDEX],
        ).fetchall()
    return dict(rows)


def prewarm_buffers(with_rum: bool) -> float:
    """The heap, the words index and the RUM index into shared_buffers (as much as fits)."""
    began = time.perf_counter()
    with common.connect() as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        # The heap first: where the table does not fit, the indexes read last stay.
        for relation in ["marketplace_patent", "patent_search", *([RUM_INDEX] if with_rum else [])]:
            conn.execute("SELECT pg_prewarm(%s::regclass, 'buffer')", [relation])
    return time.perf_counter() - began


def capped(statements: Sequence[Statement], cap: int) -> list[Statement]:
    """The engine statements with the candidate statement's LIMIT set to `cap`."""
    changed = []
    for kind, sql, params in statements:
        if kind == "candidates":
            assert _LIMIT.search(sql), sql[-80:]
            sql = _LIMIT.sub(f"LIMIT {cap}", sql)
        changed.append((kind, sql, params))
    return changed


def rum_statements(item: search_bench.Prepared, cap: int) -> list[Statement]:
    """The candidate statement of the strict (AND) query read in RUM rank order, top `cap`; the
    product's page statement after it."""
    from django.contrib.postgres.search import SearchQuery, SearchRank
    from django.db.models import F, FloatField, Func, Value
    from django.db.models.functions import Substr
    from django.utils import timezone

    from marketplace.models import Patent
    from marketplace.search.query import (
        RANK_NORMALIZATION,
        SearchParams,
        _filtered,
        _term_query,
    )
    from marketplace.search.segment import query_terms

    class Distance(Func):
        """RUM's ordering operator: smaller is a better match."""

        arg_joiner = " <=> "
        template = "(%(expressions)s)"
        output_field = FloatField()

    params = SearchParams(**item.params)
    filtered = _filtered(Patent.objects.filter(is_listed=True), params, timezone.localdate())
    groups = [_term_query(term) for term in query_terms(params.q)]
    query = SearchQuery(" & ".join(groups), config="simple", search_type="raw")
    rows = (
        filtered.filter(search_vector=query)
        .annotate(
            rank=SearchRank(
                F("search_vector"),
                query,
                cover_density=False,
                normalization=Value(RANK_NORMALIZATION),
            ),
            section=Substr("main_ipc", 1, 1),
            province=Substr("owner_region", 1, 2),
            matched=Value(len(groups)),
        )
        .order_by(Distance(F("search_vector"), query))
        .values_list(
            "id", "rank", "patent_type", "section", "province", "listed_payment_method", "matched"
        )[:cap]
    )
    sql, sql_params = rows.query.sql_with_params()
    pages = [statement for statement in item.statements if statement[0] != "candidates"]
    return [("candidates", sql, tuple(sql_params)), *pages]


def exact_top(conn: Any, statements: Sequence[Statement], size: int = 20) -> list[int]:
    """The first `size` of every match by ts_rank (no cap): the reference page."""
    _, sql, params = next(s for s in statements if s[0] == "candidates")
    inner = _LIMIT.sub("", sql)
    rows = conn.execute(
        f"SELECT * FROM ({inner}) AS every_match ORDER BY 2 DESC, 1 DESC LIMIT {size}", params
    ).fetchall()
    return [row[0] for row in rows]


def run_statements(
    conn: Any, statements: Sequence[Statement], hide_rum: bool, settings: Sequence[str] = ()
) -> tuple[float, list[Any]]:
    """The statements' time, and the rows of the first (strict) candidate statement. With
    hide_rum, they run in a transaction that has dropped the RUM index (rolled back after), so
    the product's statements are planned as on a server without it. `settings` ("name=value")
    are SET LOCAL for them (in the same transaction, so they end with it)."""
    if hide_rum or settings:
        conn.execute("BEGIN")
    if hide_rum:
        conn.execute(f"DROP INDEX {RUM_INDEX}")
    for setting in settings:
        name, _, value = setting.partition("=")
        conn.execute(f"SET LOCAL {name} = {value}")
    try:
        began = time.perf_counter()
        candidates: list[Any] | None = None
        for kind, sql, params in statements:
            rows = conn.execute(sql, params).fetchall()
            if kind == "candidates" and candidates is None:
                candidates = rows
        return time.perf_counter() - began, candidates or []
    finally:
        if hide_rum or settings:
            conn.execute("ROLLBACK")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, required=True, help="the loaded table's size")
    parser.add_argument("--queries", type=int, default=240)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--caps", type=int, nargs="*", default=[1000, 500, 200])
    parser.add_argument("--passes", type=int, default=3, help="the first warms up (3)")
    parser.add_argument("--rum", action="store_true", help="create (if absent) and measure RUM")
    parser.add_argument("--rum-caps", type=int, nargs="*", default=[2000, 200])
    parser.add_argument("--drop-rum", action="store_true", help="drop the RUM index at the end")
    parser.add_argument("--prewarm-buffers", action="store_true")
    parser.add_argument(
        "--with-setting",
        nargs="*",
        default=[],
        metavar="NAME=VALUE",
        help="also run the product's statements with this server setting (e.g. jit=off)",
    )
    parser.add_argument("--label", default="", help="added to the results file's name")
    args = parser.parse_args(argv)

    common.setup_django()
    organisations = search_bench.ensure_organisations(args.seed)
    first = next(PatentGenerator(args.seed, 0).patents(1)).application_number
    have = search_bench.loaded_rows([pk for pk, _ in organisations], first)
    if have != args.rows:
        raise SystemExit(f"the table holds {have} of our patents, not {args.rows}: load it first")
    rum_seconds = ensure_rum(args.rum)
    print(f"{have} patents; RUM index: {rum_seconds if rum_seconds is not None else 'none'}")
    print(f"prewarmed the OS page cache in {search_bench.prewarm():.0f} s")
    if args.prewarm_buffers:
        print(f"prewarmed shared_buffers in {prewarm_buffers(rum_seconds is not None):.0f} s")
    settings = server_settings()
    print("server: " + ", ".join(f"{k} {v}" for k, v in settings.items()))

    provinces = sorted({province for _, province in organisations})
    queries = make_queries(args.queries, seed=args.seed + 7, provinces=provinces)
    prepared = search_bench.prepare(queries, count_matches=True)
    variants: dict[str, list[list[Statement]]] = {"as is": [p.statements for p in prepared]}
    variants[FIRST_TOUCH] = variants["as is"]
    for setting in args.with_setting:
        variants[f"as is, {setting}"] = variants["as is"]
    for cap in args.caps:
        variants[f"cap {cap}"] = [capped(p.statements, cap) for p in prepared]
    if rum_seconds is not None:
        for cap in args.rum_caps:
            variants[f"rum {cap}"] = [rum_statements(p, cap) for p in prepared]
    timings: dict[str, list[float]] = {name: [] for name in variants}
    top: dict[str, list[list[int]]] = {name: [] for name in variants if name != FIRST_TOUCH}
    with common.connect() as conn:
        exact = [exact_top(conn, p.statements) for p in prepared]
    load_before = [round(value, 2) for value in os.getloadavg()]
    with common.connect() as conn:
        for number in range(args.passes):
            for index in range(len(prepared)):
                # First touch: the product's statements on pages that the previous queries
                # have pushed out of shared_buffers (still in the OS page cache), as a server
                # whose shared_buffers are far smaller than the table answers a new query.
                seconds, _ = run_statements(conn, variants["as is"][index], rum_seconds is not None)
                if number:
                    timings[FIRST_TOUCH].append(seconds)
                # Then every variant once untimed (its pages into shared_buffers) and once
                # timed: the variants compared on the same footing, warm.
                for timed_run in (False, True):
                    for name, statements in variants.items():
                        if name == FIRST_TOUCH:
                            continue
                        hide = rum_seconds is not None and not name.startswith("rum")
                        local = [name.split(", ", 1)[1]] if name.startswith("as is, ") else []
                        seconds, candidates = run_statements(conn, statements[index], hide, local)
                        if not timed_run:
                            continue
                        if number:
                            timings[name].append(seconds)
                        elif candidates:  # the order each variant ranks, for the overlap
                            ranked = sorted(candidates, key=lambda row: (-row[1], -row[0]))
                            top[name].append([row[0] for row in ranked[:20]])
                        else:
                            top[name].append([])
    load_after = [round(value, 2) for value in os.getloadavg()]

    # How much of the full ranking's first page each variant keeps: the first 20 by ts_rank
    # of every match (the product ranks only the first RANK_CAP the index yields). A
    # variant's page is its own first 20 by ts_rank (the product's fusion is not applied).
    print(f"\nload average before {load_before}, after {load_after}")
    print(f"{have:,} patents, {len(prepared)} queries, {args.passes - 1} measured passes")
    matches = sorted(p.matches for p in prepared)
    print(f"matches per query: median {matches[len(matches) // 2]}, max {matches[-1]}")
    summaries: dict[str, Any] = {}
    base = common.summary(timings["as is"])
    from marketplace.search.query import RANK_CAP

    for name, values in timings.items():
        s = common.summary(values)
        # Only where this variant's cap bites (more matches than it ranks) can it lose any of
        # the exact first page.
        cap = RANK_CAP if name.startswith("as is") else int(name.split()[-1])
        bitten = [
            len(set(a) & set(b)) / len(a)
            for a, b, p in zip(exact, top.get(name, top["as is"]), prepared, strict=True)
            if p.matches > cap and a
        ]
        kept = sum(bitten) / len(bitten) if bitten else 1.0
        summaries[name] = {
            **s,
            "queries_over_cap": len(bitten),
            "exact_top20_kept_where_capped": round(kept, 3),
        }
        print(
            common.format_summary(f"engine, {name}", values)
            + f"  p95 x{s['p95'] / base['p95']:.2f} of as-is; {len(bitten)} queries over the"
            f" cap keep {kept:.0%} of the exact top 20"
        )
    by_size = sorted(
        ((p.matches, timings["as is"][i :: len(prepared)]) for i, p in enumerate(prepared)),
        key=lambda pair: pair[0],
    )
    for low, high in ((0, 500), (500, 2000), (2000, 10**9)):
        values = [t for matched, ts in by_size if low <= matched < high for t in ts]
        if values:
            print(common.format_summary(f"  as is, {low}-{high} matches", values))
    target = summaries["as is"]["p95"]
    if args.rows >= 1_000_000:
        state = "met" if target <= ENGINE_TARGET_MS else f"NOT met ({target / 15:.1f}x)"
        print(f"target engine p95 <= {ENGINE_TARGET_MS:.0f} ms as is: {state}")
    slowest = max(range(len(prepared)), key=lambda i: timings["as is"][i])
    plans = {}
    with common.connect() as conn:
        for name in variants:
            if name == FIRST_TOUCH:
                continue
            _, sql, params = next(s for s in variants[name][slowest] if s[0] == "candidates")
            hide = rum_seconds is not None and not name.startswith("rum")
            chosen = name.split(", ", 1)[1] if name.startswith("as is, ") else ""
            conn.execute("BEGIN")
            if hide:
                conn.execute(f"DROP INDEX {RUM_INDEX}")
            if chosen:
                setting, _, value = chosen.partition("=")
                conn.execute(f"SET LOCAL {setting} = {value}")
            plan = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params).fetchall()
            conn.execute("ROLLBACK")
            plans[name] = "\n".join(row[0] for row in plan)
    print(f"\nslowest query as is: {prepared[slowest].query.label()}, its plans:")
    for name, plan in plans.items():
        print(f"--- {name}\n{plan}")
    saved = common.save_results(
        f"search-engine-{args.rows}{'-' + args.label if args.label else ''}",
        {
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "machine": common.machine(),
            "server": settings,
            "rows": have,
            "sizes": index_sizes(),
            "rum_build_seconds": rum_seconds,
            "loadavg_before_after": [load_before, load_after],
            "queries": len(prepared),
            "passes_measured": args.passes - 1,
            "summary": summaries,
            "plans_of_slowest": {"label": prepared[slowest].query.label(), "plans": plans},
        },
    )
    print(f"results: {saved.relative_to(common.ROOT)}")
    if args.drop_rum:
        drop_rum()


if __name__ == "__main__":
    main()
