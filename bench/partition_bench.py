"""Partitioning the match table: a full re-match's rows written, the old run's rows removed,
and one SME's list read, in a plain table (as matching_match is) and in one partitioned by run.

Issue 19 point 5 ("Scaling out": partitioning of the match table). SQL only, on synthetic rows
shaped like matching_match (run, SME, need, declaration, patent, score, rank, ~320 bytes of
JSON components and reasons: 1.78 GB of text for the 5.5M rows of 110,000 SMEs x top 50), with
its two indexes (unique run + SME + need + declaration; run + declaration + score):

1. plain: INSERT run 1, INSERT run 2 (each --rows-per-run rows, indexes maintained), then what
   matching.services.runs._finish does after a run is swapped in: DELETE the old run's rows, and
   the VACUUM that makes their space reusable;
2. partitioned by LIST (run): each run INSERTed into its own partition, the old run removed
   with DROP TABLE of its partition;
3. both: --reads SME lists of the current run (WHERE run = 2 AND sme = x ORDER BY rank),
   random SMEs, p50/p95.

It creates and drops its own tables (bench_match_plain, bench_match_part*) in a database whose
name contains "bench"; nothing of the application is touched.

    DATABASE_URL=postgres://postgres@127.0.0.1:5444/bench_h4_part \\
    REDIS_URL=redis://127.0.0.1:6384/12 .venv/bin/python bench/partition_bench.py
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402

COLUMNS = (
    "run_id integer NOT NULL, sme_id integer NOT NULL, need_id integer, "
    "declaration_id integer NOT NULL, patent_id integer NOT NULL, score double precision NOT "
    "NULL, rank smallint NOT NULL, components jsonb NOT NULL, reasons jsonb NOT NULL, "
    "created_at timestamptz NOT NULL DEFAULT now()"
)
LIST_SIZE = 50


def rows_sql(table: str, run: int, rows: int) -> str:
    """INSERT `rows` synthetic matches of `run`: 50 per SME, ranked, with JSON like a match's."""
    return (
        f"INSERT INTO {table} (run_id, sme_id, need_id, declaration_id, patent_id, score, rank,"
        " components, reasons) "
        f"SELECT {run}, i / {LIST_SIZE}, CASE WHEN i % 3 = 0 THEN i / {LIST_SIZE} END, d, d, "
        f"1.0 - (i % {LIST_SIZE}) / 100.0, i % {LIST_SIZE} + 1, "
        "jsonb_build_object('semantic', 0.41, 'industry', 0.8, 'keywords', 0.25, 'region', 1, "
        "'affordability', 0.5, 'owner', 0.1), "
        "jsonb_build_array(jsonb_build_object('code', 'industry', 'params', "
        "jsonb_build_object('ipc', 'H01M', 'industry', 'C3841')), jsonb_build_object("
        "'code', 'keywords', 'params', jsonb_build_object('words', "
        "jsonb_build_array('锂离子电池', '正极材料', '电解液'))), jsonb_build_object('code', "
        "'region', 'params', jsonb_build_object('province', '320000')))"
        # 50 distinct declarations per SME, spread over the 59,000
        f" FROM (SELECT i, ((i / {LIST_SIZE}) * 7919 + (i % {LIST_SIZE}) * 1181) % 59000 + 1 AS d "
        f"FROM generate_series(0, {rows - 1}) AS i) AS s"
    )


def indexes_sql(table: str) -> list[str]:
    return [
        f"CREATE UNIQUE INDEX ON {table} (run_id, sme_id, need_id, declaration_id)",
        f"CREATE INDEX ON {table} (run_id, declaration_id, score DESC)",
    ]


def timed(conn: Any, statement: str) -> float:
    began = time.perf_counter()
    conn.execute(statement)
    return time.perf_counter() - began


def reads(conn: Any, table: str, smes: Sequence[int]) -> list[float]:
    spent = []
    for sme in smes:
        began = time.perf_counter()
        conn.execute(
            f"SELECT * FROM {table} WHERE run_id = 2 AND sme_id = %s ORDER BY rank", [sme]
        ).fetchall()
        spent.append(time.perf_counter() - began)
    return spent


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows-per-run", type=int, default=5_500_000)
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args(argv)
    common.setup_django()
    rows = args.rows_per_run
    smes = random.Random(args.seed).sample(range(rows // LIST_SIZE), args.reads)
    results: dict[str, Any] = {"rows_per_run": rows, "load_before": os.getloadavg()}
    with common.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS bench_match_plain, bench_match_part CASCADE")
        conn.execute(f"CREATE TABLE bench_match_plain (id bigserial PRIMARY KEY, {COLUMNS})")
        for statement in indexes_sql("bench_match_plain"):
            conn.execute(statement)
        plain = {
            "insert run 1": timed(conn, rows_sql("bench_match_plain", 1, rows)),
            "insert run 2": timed(conn, rows_sql("bench_match_plain", 2, rows)),
        }
        conn.execute("ANALYZE bench_match_plain")
        plain["table size, 2 runs (MB)"] = conn.execute(
            "SELECT pg_total_relation_size('bench_match_plain') / 1048576"
        ).fetchone()[0]
        plain["delete run 1"] = timed(conn, "DELETE FROM bench_match_plain WHERE run_id = 1")
        plain["vacuum after the delete"] = timed(conn, "VACUUM bench_match_plain")
        plain_reads = reads(conn, "bench_match_plain", smes)
        conn.execute("DROP TABLE bench_match_plain")

        conn.execute(
            f"CREATE TABLE bench_match_part (id bigserial, {COLUMNS}) PARTITION BY LIST (run_id)"
        )
        for statement in indexes_sql("bench_match_part"):
            conn.execute(statement)
        part: dict[str, float] = {}
        for run in (1, 2):
            conn.execute(
                f"CREATE TABLE bench_match_part_{run} PARTITION OF bench_match_part "
                f"FOR VALUES IN ({run})"
            )
            part[f"insert run {run}"] = timed(conn, rows_sql("bench_match_part", run, rows))
        conn.execute("ANALYZE bench_match_part")
        part["drop run 1 (its partition)"] = timed(conn, "DROP TABLE bench_match_part_1")
        part_reads = reads(conn, "bench_match_part", smes)
        conn.execute("DROP TABLE bench_match_part")
    results.update(
        {
            "plain_seconds": {k: round(v, 2) for k, v in plain.items()},
            "partitioned_seconds": {k: round(v, 4) for k, v in part.items()},
            "plain_list_read_ms": common.summary(plain_reads),
            "partitioned_list_read_ms": common.summary(part_reads),
            "load_after": os.getloadavg(),
            "machine": common.machine(),
        }
    )
    print(f"{rows:,} matches per run; load before {results['load_before']}")
    for label, figures in (("plain", plain), ("partitioned by run", part)):
        print(f"{label}: " + ", ".join(f"{k} {v:.2f}" for k, v in figures.items()))
    print(common.format_summary("SME list read, plain", plain_reads))
    print(common.format_summary("SME list read, partitioned", part_reads))
    print(f"load after {results['load_after']}")
    saved = common.save_results(f"partition-{rows}", results)
    print(f"results: {saved.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
