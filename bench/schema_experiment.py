"""Schema experiment: every search filter in one GIN-indexed array, tried on a copy table.

The search benchmark's hot statement is the candidate query: the GIN bitmaps narrow the rows
by text and IPC, but the owner's province (a join) and the patent type are only known from
the heap, so PostgreSQL visits the heap page of every text+IPC match. This experiment copies
marketplace_patent (all columns, same width) into bench_patent_copy with one more column,

    search_filters varchar(24)[] = ipc_prefixes || 'type:<patent_type>' || 'prov:<2 digits>'
                                   || 'region:<6 digits>'          (GIN-indexed)

and times the candidate query of each benchmark query in three forms on the copy:

  join        as the application writes it (JOIN organisation, region_id LIKE '32%');
  owner_ids   the region as owner_id = ANY(ids of the region's organisations);
  tags        search_filters @> ARRAY['H01M','type:invention'] (no join, no heap filter);

checking that all three return the same ids. The copy is dropped at the end (--keep keeps it).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_marketplace \\
    REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python bench/schema_experiment.py
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.generate import DEFAULT_SEED, BenchQuery, make_queries  # noqa: E402
from bench.search_bench import ensure_organisations  # noqa: E402

COPY = "bench_patent_copy"
RANK_CAP = 2000


def build_copy(conn: Any) -> float:
    """CREATE the copy with search_filters; its indexes as the app's plus GIN(search_filters)."""
    began = time.perf_counter()
    conn.execute(f"DROP TABLE IF EXISTS {COPY}")
    conn.execute("SET maintenance_work_mem = '1GB'")
    conn.execute(
        f"CREATE TABLE {COPY} AS SELECT p.*, (p.ipc_prefixes || ARRAY["
        "  'type:' || p.patent_type, 'prov:' || left(o.region_id, 2), 'region:' || o.region_id"
        "]::varchar(24)[]) AS search_filters "
        "FROM marketplace_patent p JOIN marketplace_organisation o ON o.id = p.owner_id"
    )
    for statement in (
        f"ALTER TABLE {COPY} ADD PRIMARY KEY (id)",
        f"CREATE INDEX {COPY}_sv ON {COPY} USING gin (search_vector)",
        f"CREATE INDEX {COPY}_ipc ON {COPY} USING gin (ipc_prefixes)",
        f"CREATE INDEX {COPY}_filters ON {COPY} USING gin (search_filters)",
        f"CREATE INDEX {COPY}_owner ON {COPY} (owner_id)",
    ):
        conn.execute(statement)
    conn.execute(f"VACUUM ANALYZE {COPY}")
    return time.perf_counter() - began


def forms(query: BenchQuery, owner_ids: dict[str, list[int]]) -> dict[str, tuple[str, list[Any]]]:
    """The candidate query in its three forms, for one benchmark query (AND mode)."""
    from marketplace.search.segment import query_tokens

    text = " ".join(query_tokens(query.q))
    filters = dict(query.filters)
    ipc = filters["ipc"]
    tail = "ORDER BY p.created_at DESC, p.id DESC LIMIT %s"
    match = "p.is_listed AND p.search_vector @@ plainto_tsquery('simple'::regconfig, %s)"
    tagged = f"SELECT p.id FROM {COPY} p WHERE {match} AND p.search_filters @> %s::varchar(24)[]"
    if "patent_type" in filters:
        kind = filters["patent_type"]
        where = f"{match} AND p.ipc_prefixes @> ARRAY[%s]::varchar(20)[] AND p.patent_type = %s"
        join = (f"SELECT p.id FROM {COPY} p WHERE {where} {tail}", [text, ipc, kind, RANK_CAP])
        tags = [ipc, f"type:{kind}"]
        return {
            "join": join,
            "owner_ids": join,
            "tags": (f"{tagged} {tail}", [text, tags, RANK_CAP]),
        }
    province = filters["region"][:2]
    return {
        "join": (
            f"SELECT p.id FROM {COPY} p JOIN marketplace_organisation o ON o.id = p.owner_id "
            f"WHERE {match} AND p.ipc_prefixes @> ARRAY[%s]::varchar(20)[] "
            f"AND o.region_id::text LIKE %s {tail}",
            [text, ipc, f"{province}%", RANK_CAP],
        ),
        "owner_ids": (
            f"SELECT p.id FROM {COPY} p WHERE {match} "
            f"AND p.ipc_prefixes @> ARRAY[%s]::varchar(20)[] AND p.owner_id = ANY(%s) {tail}",
            [text, ipc, owner_ids[province], RANK_CAP],
        ),
        "tags": (f"{tagged} {tail}", [text, [ipc, f"prov:{province}"], RANK_CAP]),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=240)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--passes", type=int, default=2, help="the last pass is reported")
    parser.add_argument("--keep", action="store_true", help="keep the copy table")
    parser.add_argument("--work-mem", default="", help="work_mem for the timed queries (4MB)")
    args = parser.parse_args(argv)

    common.setup_django()
    organisations = ensure_organisations(args.seed)
    owner_ids: dict[str, list[int]] = {}
    for pk, province in organisations:
        owner_ids.setdefault(province[:2], []).append(pk)
    provinces = sorted({province for _, province in organisations})
    queries = make_queries(args.queries, seed=args.seed + 7, provinces=provinces)
    with common.connect() as conn:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [COPY]).fetchone()[0]
        same = exists and (
            conn.execute(f"SELECT count(*) FROM {COPY}").fetchone()[0]
            == conn.execute("SELECT count(*) FROM marketplace_patent").fetchone()[0]
        )
        if not same:
            print(f"copy built in {build_copy(conn):.0f} s", flush=True)
        size = conn.execute(f"SELECT pg_size_pretty(pg_total_relation_size('{COPY}'))").fetchone()
        print(f"{COPY}: {size[0]}")
        conn.execute(
            f"SELECT pg_prewarm(c.oid, 'read') FROM pg_class c WHERE c.relname LIKE '{COPY}%' "
            f"OR c.oid = (SELECT reltoastrelid FROM pg_class WHERE relname = '{COPY}')"
        )
        if args.work_mem:
            conn.execute(f"SET work_mem = '{args.work_mem}'")
        work_mem = conn.execute("SHOW work_mem").fetchone()[0]
        print(f"work_mem {work_mem}")
        timings: dict[str, list[float]] = {}
        mismatches = 0
        slowest: dict[str, tuple[float, str, list[Any]]] = {}
        for _ in range(args.passes):
            timings = {}
            mismatches = 0
            for query in queries:
                answers = {}
                for name, (sql, params) in forms(query, owner_ids).items():
                    began = time.perf_counter()
                    answers[name] = [row[0] for row in conn.execute(sql, params).fetchall()]
                    elapsed = time.perf_counter() - began
                    timings.setdefault(name, []).append(elapsed)
                    if elapsed > slowest.get(name, (0.0, "", []))[0]:
                        slowest[name] = (elapsed, sql, params)
                if not answers["join"] == answers["owner_ids"] == answers["tags"]:
                    mismatches += 1
        print(f"{len(queries)} candidate queries, {mismatches} with differing ids")
        for name, values in timings.items():
            print(common.format_summary(f"candidates, {name}", values))
        plans = {}
        for name in ("join", "tags"):
            _, sql, params = slowest[name]
            rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params).fetchall()
            plans[name] = "\n".join(row[0] for row in rows)
            print(f"\nslowest {name} form:\n{plans[name]}")
        if not args.keep:
            conn.execute(f"DROP TABLE {COPY}")
    saved = common.save_results(
        f"schema-experiment-{work_mem}",
        {
            "work_mem": work_mem,
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "machine": common.machine(),
            "copy_size": size[0],
            "mismatches": mismatches,
            "summary": {name: common.summary(values) for name, values in timings.items()},
            "plans": plans,
        },
    )
    print(f"results: {saved.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
