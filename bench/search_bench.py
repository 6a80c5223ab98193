"""Search benchmark: N listed patents, 240 two-filter queries, API and raw SQL latencies.

1. ~3,200 organisations seated in counties across China (weighted to patent-heavy provinces).
2. N generated patents (default 1,000,000), all listed, COPY'd straight into marketplace_patent
   with the tokens, IPC prefixes and expiry dates the application would store. The load runs in
   one transaction: TRUNCATE, drop the secondary indexes, COPY, rebuild the same indexes
   (definitions read from pg_indexes), commit; then VACUUM ANALYZE. A rerun with the same
   --rows finds the table loaded and skips all of this.
3. A seeded set of queries of 2-3 words from the generator's vocabulary, half filtered by IPC
   subclass + patent type, half by the owner's province + IPC section, timed
   (a) through GET /api/v1/search/patents/ on a gunicorn started on a free localhost port,
       sequentially with http.client (one pass to warm up, one measured),
   (b) as raw SQL: the ranked-page statement the ORM builds for the same request (candidates
       capped at RANK_CAP, ts_rank, LIMIT 20), executed with psycopg,
   (c) in-process through Django's test client with every SQL statement timed, which splits
       an API request into its statements (exists, count, page, facets, labels) and Python.
The slowest raw query and the slowest statement kind get EXPLAIN (ANALYZE, BUFFERS).

--hybrid adds a server with a vector index of every patent (the product's file format; with its
HNSW graph from SEARCH_ANN_MIN_VECTORS on), and times the vector step alone in process: the query
embedding, brute force over the mapped file, the graph, and the graph's recall of brute force's
nearest. --vectors clustered (default) makes the vectors like real ones: the USE embeddings of
1,000 of the generated patents, each patent a noisy copy of one of them (an HNSW graph finds
neighbours in such data as in real text; uniformly random vectors, --vectors random, are its
worst case). --baseline-tree DIR also serves the same requests from the code in DIR (a git
worktree of an earlier commit, same database), interleaved request by request with this tree's,
so both code versions are measured in one run under the same load.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_marketplace \\
    REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python bench/search_bench.py [--rows 59000]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

# One BLAS thread, in this process (the vector step) as in the servers it starts (as the web
# process sets in marketplace/wsgi.py): two threads on the shared cores measured 38 ms for a
# 0.16 ms product.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common, vocab  # noqa: E402
from bench.generate import (  # noqa: E402
    COPY_COLUMNS,
    DEFAULT_SEED,
    BenchQuery,
    PatentGenerator,
    Weighted,
    make_queries,
    model_row,
)

ORGANISATIONS = 3200
ORGANISATION_PREFIX = "基准机构"
SEARCH_PATH = "/api/v1/search/patents/"
PAGE = 20
TARGETS_MS = {  # rows → (API p95, engine p95)
    1_000_000: (150.0, 15.0),
    59_000: (50.0, None),
}
KINDS = ("university", "research_institute", "enterprise", "sme", "individual")


# ---- fixtures --------------------------------------------------------------------------------


def ensure_organisations(seed: int) -> list[tuple[int, str]]:
    """~3,200 organisations in counties of weighted provinces; returns (id, province) pairs."""
    from marketplace.models import Organisation, Region
    from marketplace.validators import credit_code_check_character

    existing = Organisation.objects.filter(name__startswith=ORGANISATION_PREFIX)
    if existing.count() != ORGANISATIONS:
        rng = random.Random(seed)
        counties: dict[str, list[str]] = {}
        for code in Region.objects.filter(level="county").values_list("code", flat=True):
            counties.setdefault(code[:2] + "0000", []).append(code)
        provinces = [p for p in vocab.PROVINCE_WEIGHTS if p in counties]
        pick = Weighted(provinces, [vocab.PROVINCE_WEIGHTS[p] for p in provinces])
        have = set(existing.values_list("name", flat=True))
        new = []
        for n in range(ORGANISATIONS):
            province = pick.pick(rng)
            county = rng.choice(counties[province])
            kind = rng.choices(KINDS, (30, 12, 40, 13, 5))[0]
            name = f"{ORGANISATION_PREFIX}{n:04d}"
            first17 = f"91{county}MC{n:07d}"
            if name not in have:
                new.append(
                    Organisation(
                        name=name,
                        name_en=f"Benchmark organisation {n:04d}",
                        kind=kind,
                        credit_code=""
                        if kind == "individual"
                        else first17 + credit_code_check_character(first17),
                        region_id=county,
                    )
                )
        Organisation.objects.bulk_create(new, batch_size=1000)
    return [
        (pk, region[:2] + "0000")
        for pk, region in Organisation.objects.filter(name__startswith=ORGANISATION_PREFIX)
        .order_by("name")
        .values_list("pk", "region_id")
    ]


def loaded_rows(organisation_ids: Sequence[int], first_number: str) -> int:
    """Listed patents of the bench organisations, or -1 when the table is not ours."""
    with common.connect() as conn:
        row = conn.execute(
            "SELECT count(*), bool_or(application_number = %s) FROM marketplace_patent "
            "WHERE is_listed AND owner_id = ANY(%s)",
            [first_number, list(organisation_ids)],
        ).fetchone()
    return int(row[0]) if row[1] else -1


def extra_columns() -> dict[str, Any]:
    """Concrete Patent columns outside COPY_COLUMNS, with the model field's default."""
    from marketplace.models import Patent

    return {
        field.column: field.get_default()
        for field in Patent._meta.concrete_fields
        if field.column not in COPY_COLUMNS
        and not field.primary_key
        and not getattr(field, "generated", False)
    }


def load_patents(
    rows: int, organisations: Sequence[tuple[int, str]], seed: int
) -> dict[str, float]:
    """TRUNCATE, drop secondary indexes, COPY `rows` patents, rebuild indexes, VACUUM ANALYZE."""
    timings: dict[str, float] = {}
    rng = random.Random(seed + 3)
    ids = [pk for pk, _ in organisations]
    rng.shuffle(ids)
    # A few organisations (big universities) hold many patents, most hold a few hundred.
    owners = Weighted(ids, [1 / (rank + 1) ** 0.7 for rank in range(len(ids))])
    generator = PatentGenerator(seed, 0)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    step = timedelta(seconds=(datetime(2026, 11, 1, tzinfo=UTC) - start).total_seconds() / rows)
    # Columns the generator does not know (added to the model later) get the model's default.
    extra = extra_columns()
    columns = ", ".join([*COPY_COLUMNS, *extra])
    defaults = tuple(extra.values())
    with common.connect(autocommit=False) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
        indexes = conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.tablename = 'marketplace_patent' AND NOT EXISTS ("
            "  SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        ).fetchall()
        with common.stopwatch("truncate", timings):
            conn.execute("TRUNCATE marketplace_patent RESTART IDENTITY CASCADE")
            for name, _ in indexes:
                conn.execute(f'DROP INDEX "{name}"')
        began = time.perf_counter()
        patents = enumerate(generator.patents(rows))
        with common.stopwatch("generate + segment + COPY", timings):
            # A first small COPY fails fast if the table has a column the rows lack.
            for size in (min(1000, rows), rows - min(1000, rows)):
                with conn.cursor().copy(f"COPY marketplace_patent ({columns}) FROM STDIN") as copy:
                    for number, patent in itertools.islice(patents, size):
                        values = model_row(
                            patent, owner_id=owners.pick(rng), created_at=start + step * number
                        )
                        copy.write_row(values + defaults)
                        if number % 100_000 == 99_999:
                            elapsed = time.perf_counter() - began
                            print(f"    {number + 1:>9} rows  {elapsed:6.0f} s", flush=True)
        with common.stopwatch("rebuild indexes", timings):
            for name, definition in indexes:
                began = time.perf_counter()
                conn.execute(definition)
                print(f"    index {name}: {time.perf_counter() - began:.1f} s", flush=True)
        with common.stopwatch("commit (FK checks)", timings):
            conn.commit()
    with common.connect() as conn, common.stopwatch("VACUUM ANALYZE", timings):
        conn.execute("VACUUM ANALYZE marketplace_patent")
        conn.execute("VACUUM ANALYZE marketplace_organisation")
    return timings


def prewarm() -> float:
    """Read the patent table, its TOAST table and all their indexes into the OS page cache.

    The VM's page cache is sometimes emptied after a large write (the 3 GB load); without this,
    a rerun measures disk reads rather than a server whose working set fits in its 24 GiB.
    """
    began = time.perf_counter()
    with common.connect() as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        relations = conn.execute(
            "SELECT c.oid::regclass::text FROM pg_class c WHERE c.oid IN ("
            "  SELECT 'marketplace_patent'::regclass UNION ALL"
            "  SELECT 'marketplace_organisation'::regclass UNION ALL"
            "  SELECT reltoastrelid FROM pg_class WHERE oid = 'marketplace_patent'::regclass"
            "  UNION ALL SELECT indexrelid FROM pg_index WHERE indrelid IN ("
            "    'marketplace_patent'::regclass, 'marketplace_organisation'::regclass,"
            "    (SELECT reltoastrelid FROM pg_class WHERE oid = 'marketplace_patent'::regclass)))"
        ).fetchall()
        for (relation,) in relations:
            conn.execute("SELECT pg_prewarm(%s::regclass, 'read')", [relation])
    return time.perf_counter() - began


def table_size() -> dict[str, str]:
    with common.connect() as conn:
        rows = conn.execute(
            "SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) FROM pg_class "
            "WHERE relname IN ('marketplace_patent', 'patent_search', 'patent_gram_search', "
            "'patent_ipc_prefixes') ORDER BY relname"
        ).fetchall()
        database = conn.execute(
            "SELECT pg_size_pretty(pg_database_size(current_database()))"
        ).fetchone()[0]
    return {**dict(rows), "database": database}


# ---- queries ---------------------------------------------------------------------------------


STATEMENT_KINDS = (
    "exists",
    "candidates",
    "count",
    "page",
    "owner",
    "facet",
    "labels",
    "other",
)
# The statements that find and rank the page (what a search engine would answer).
ENGINE_KINDS = ("exists", "candidates", "page", "other")


def statement_kind(sql: str) -> str:
    """Which of the search request's statements this is."""
    if sql.startswith('SELECT "marketplace_ipcclass"') or sql.startswith(
        'SELECT "marketplace_region"'
    ):
        return "labels"
    if sql.startswith('SELECT "marketplace_organisation"') and "LIMIT 21" in sql:
        return "owner"  # one organisation by primary key: the page's owners, one by one
    if '"licensing_declaration" in_force' in sql:
        return "page"  # the page's rows with their declarations in force (hits.hit_rows)
    if "GROUP BY" in sql:
        return "facet"
    if 'COUNT(*) AS "__count"' in sql:
        return "count"
    if 'AS "a" FROM' in sql and sql.rstrip().endswith("LIMIT 1"):
        return "exists"
    if sql.startswith('SELECT "marketplace_patent"."id"') and "@@" in sql:
        return "candidates"  # the matches to rank (with their rank and facet values)
    if "ts_rank" in sql or 'INNER JOIN "marketplace_organisation"' in sql:
        return "page"  # the page's rows (with their owners)
    return "other"


class StatementTimer:
    """A connection.execute_wrapper that adds up statement times by kind, keeping the slowest."""

    def __init__(self) -> None:
        self.label = ""
        self.spent: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.slowest: dict[str, dict[str, Any]] = {}

    def __call__(
        self,
        execute: Callable[..., Any],
        sql: str,
        params: Any,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - began
            kind = statement_kind(sql)
            self.spent[kind] = self.spent.get(kind, 0.0) + elapsed
            self.counts[kind] = self.counts.get(kind, 0) + 1
            if elapsed > self.slowest.get(kind, {}).get("seconds", -1.0):
                self.slowest[kind] = {
                    "seconds": elapsed,
                    "sql": sql,
                    "params": params,
                    "label": self.label,
                }


@dataclass
class Prepared:
    query: BenchQuery
    tokens: list[str]
    mode: str
    statements: list[tuple[str, str, tuple[Any, ...]]]  # (kind, sql, params) of the engine
    matches: int = -1
    timings: dict[str, list[float]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # statements per kind, one request
    slowest: tuple[float, str, str, tuple[Any, ...]] = (0.0, "", "", ())
    hits: int = -1


class StatementRecorder:
    """A connection.execute_wrapper that keeps (kind, sql, params) of every statement."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, str, tuple[Any, ...]]] = []

    def __call__(
        self,
        execute: Callable[..., Any],
        sql: str,
        params: Any,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        self.statements.append((statement_kind(sql), sql, tuple(params or ())))
        return execute(sql, params, many, context)


def prepare(queries: Sequence[BenchQuery], count_matches: bool) -> list[Prepared]:
    """Record, per request, the SQL the ORM runs to find and rank the page (as the view does).

    That is every statement of search_patents and the page fetch but the facets, the count
    and the owners' look-ups: today the ranked candidates and the page's rows.
    """
    from django.contrib.postgres.search import SearchQuery
    from django.db import connection
    from django.http import QueryDict
    from django.utils import timezone

    from marketplace.api.patents import SearchInputSerializer
    from marketplace.models import Patent
    from marketplace.search.hits import as_hits
    from marketplace.search.query import SearchParams, _filtered, _quote, search_patents

    prepared = []
    for query in queries:
        data = QueryDict(urlencode(query.params()))
        serializer = SearchInputSerializer(
            data={
                key: data.getlist(key) if key in ("ipc", "patent_type") else data.get(key)
                for key in data
            }
        )
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        values.pop("scope")
        base = Patent.objects.filter(is_listed=True).select_related("owner")
        recorder = StatementRecorder()
        with connection.execute_wrapper(recorder):
            result = search_patents(base, SearchParams(**values))
            list(as_hits(result.queryset)[:PAGE])  # as the view reads a page
        engine = [(k, sql, p) for k, sql, p in recorder.statements if k in ENGINE_KINDS]
        item = Prepared(query, result.tokens, result.mode, engine)
        if count_matches:
            # Every match, not only the RANK_CAP newest that get ranked (as search_patents).
            if result.mode == "and":
                text = SearchQuery(" ".join(result.tokens), config="simple", search_type="plain")
            else:
                text = SearchQuery(
                    " | ".join(_quote(t) for t in result.tokens), config="simple", search_type="raw"
                )
            filtered = _filtered(base, SearchParams(**values), timezone.localdate())
            item.matches = filtered.filter(search_vector=text).count()
        prepared.append(item)
    return prepared


CLUSTER_TEXTS = 1000
# Noise added to a cluster's embedding (norm of the noise vector): a patent's cosine to its
# cluster's text ~0.78, to a sibling ~0.6, as between real abstracts on one topic.
CLUSTER_NOISE = 0.8


def bench_vectors(ids: Any, dim: int, seed: int, kind: str) -> Any:
    """Unit vectors for the patents `ids`: random, or noisy copies of the USE embeddings of
    CLUSTER_TEXTS generated patents (embedding every patent would take hours at 1M)."""
    import numpy as np

    from marketplace.search.vectors import patent_search_text, search_embedder

    rng = np.random.default_rng(seed)
    if kind == "random":
        vectors = rng.standard_normal((len(ids), dim), dtype=np.float32)
    else:
        texts = [
            patent_search_text(patent.title, patent.abstract)
            for patent in PatentGenerator(seed, 0).patents(CLUSTER_TEXTS)
        ]
        centres = np.vstack(
            [
                search_embedder().embed(texts[start : start + 200])
                for start in range(0, len(texts), 200)
            ]
        ).astype(np.float32)
        vectors = np.empty((len(ids), dim), dtype=np.float32)
        for start in range(0, len(ids), 100_000):
            size = min(100_000, len(ids) - start)
            noise = rng.standard_normal((size, dim), dtype=np.float32)
            noise *= CLUSTER_NOISE / np.sqrt(dim)
            vectors[start : start + size] = centres[rng.integers(0, len(centres), size)] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def publish_bench_index(directory: Path, seed: int, kind: str) -> dict[str, Any]:
    """A vector index of every listed patent, in the file format the product publishes
    (marketplace/search/vectors.py), for the configured search embedder, with the product's
    HNSW graph from SEARCH_ANN_MIN_VECTORS on (kept in bench/.data between runs). Queries are
    still embedded for real. Returns the count and the seconds the graph took to build."""
    import shutil

    import numpy as np
    from django.conf import settings

    from marketplace.models import Patent
    from marketplace.search import vectors as product
    from marketplace.search.vectors import search_embedder

    embedder = search_embedder()
    ids = np.asarray(
        Patent.objects.filter(is_listed=True).order_by("pk").values_list("pk", flat=True),
        dtype=np.int64,
    )
    began = time.perf_counter()
    rows = bench_vectors(ids, embedder.dim, seed, kind)
    made = time.perf_counter() - began
    directory.mkdir(parents=True, exist_ok=True)
    np.save(directory / "ids-1.npy", ids)
    np.save(directory / "vectors-1.npy", rows)
    np.save(directory / "codes-1.npy", product._codes(rows))
    info: dict[str, Any] = {"count": len(ids), "vectors_s": round(made, 1), "kind": kind}
    if len(ids) >= settings.SEARCH_ANN_MIN_VECTORS:
        kept = common.DATA / f"search-graph-{len(ids)}-{seed}-{kind}.usearch"
        if not kept.exists():
            began = time.perf_counter()
            product._save_graph(directory, 1, 0, ids, rows)
            info["graph_build_s"] = round(time.perf_counter() - began, 1)
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(directory / "ann-1.usearch", kept)
        else:
            shutil.copyfile(kept, directory / "ann-1.usearch")
            info["graph_build_s"] = "reused"
        info["graph_mb"] = round((directory / "ann-1.usearch").stat().st_size / 2**20)
    current = {"generation": 1, "model": embedder.name, "dim": embedder.dim, "count": len(ids)}
    (directory / "CURRENT").write_text(json.dumps(current))
    return info


def run_vector_step(directory: Path, prepared: Sequence[Prepared]) -> dict[str, Any]:
    """The vector step alone, in process, for each query: its embedding (fresh, not cached),
    brute force over the mapped file, the HNSW graph when there is one, and the graph's recall
    of brute force's SEMANTIC_POOL nearest and of those above MIN_SIMILARITY."""
    import numpy as np

    from marketplace.search.semantic import MIN_SIMILARITY, SEMANTIC_POOL
    from marketplace.search.vectors import VectorIndex, search_embedder

    ids = np.load(directory / "ids-1.npy", mmap_mode="r")
    rows = np.load(directory / "vectors-1.npy", mmap_mode="r")
    brute = VectorIndex(1, "bench", ids, rows)
    coded = VectorIndex(
        1, "bench", ids, rows, codes=np.load(directory / "codes-1.npy", mmap_mode="r")
    )
    graph_path = directory / "ann-1.usearch"
    graph = None
    if graph_path.exists():
        from usearch.index import Index

        graph = VectorIndex(1, "bench", ids, rows, Index.restore(str(graph_path), view=True))
    embedder = search_embedder()
    embedder.embed(["warm up"])
    recall, recall_floor, codes_same, codes_recall = [], [], [], []
    for item in prepared:
        began = time.perf_counter()
        vector = embedder.embed([item.query.q])[0]
        item.timings.setdefault("vector:embed", []).append(time.perf_counter() - began)
        began = time.perf_counter()
        exact = brute.nearest(vector, SEMANTIC_POOL)
        item.timings.setdefault("vector:brute", []).append(time.perf_counter() - began)
        began = time.perf_counter()
        rough = coded.nearest(vector, SEMANTIC_POOL)
        item.timings.setdefault("vector:codes", []).append(time.perf_counter() - began)
        # The same neighbours (the order of near-ties may differ: a product over the chosen rows
        # sums in another order than one over the whole matrix).
        codes_same.append({pk for pk, _ in rough} == {pk for pk, _ in exact})
        codes_recall.append(len({pk for pk, _ in rough} & {pk for pk, _ in exact}) / len(exact))
        if graph is not None:
            began = time.perf_counter()
            found = graph.nearest(vector, SEMANTIC_POOL)
            item.timings.setdefault("vector:graph", []).append(time.perf_counter() - began)
            got = {pk for pk, _ in found}
            recall.append(len(got & {pk for pk, _ in exact}) / max(len(exact), 1))
            above = {pk for pk, score in exact if score >= MIN_SIMILARITY}
            if above:
                recall_floor.append(len(got & above) / len(above))
    return {
        "codes_same_neighbours_as_brute_force": f"{sum(codes_same)} of {len(codes_same)}",
        "codes_recall": round(float(np.mean(codes_recall)), 6) if codes_recall else None,
        "graph": graph is not None,
        "recall_pool": round(float(np.mean(recall)), 4) if recall else None,
        "recall_above_floor": round(float(np.mean(recall_floor)), 4) if recall_floor else None,
    }


# ---- (a) the API over HTTP -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """gunicorn serving the project on a free localhost port, stopped by its own pid."""

    def __init__(
        self,
        workers: int,
        env: dict[str, str] | None = None,
        tree: Path = ROOT,
        app: str = "marketplace.wsgi:application",
    ) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "gunicorn"),
                app,
                "--chdir",
                str(tree),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--log-level",
                "warning",
            ],
            cwd=tree,
            env={**common.bench_environment(), **(env or {})},
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                status, body = self.get("/bench-ready")  # any answer but a 5xx: ready
            except OSError:
                time.sleep(0.2)
                continue
            if status < 500:
                return
            self.stop()
            raise SystemExit(f"the application answers {status}: {body[:300]!r}")
        self.stop()
        raise SystemExit("gunicorn did not answer within 120 s")

    def get(self, path: str) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            connection.request("GET", path, headers={"Accept": "application/json"})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def run_api(
    server: Server,
    prepared: Sequence[Prepared],
    key: str,
    check_mode: bool = True,
    baseline: Server | None = None,
) -> None:
    """Each request once through `server` (timed under `key`) and, with a baseline server,
    once through it (under `base:<key>`), in alternating order, request by request."""
    for number, item in enumerate(prepared):
        path = f"{SEARCH_PATH}?{urlencode(item.query.params())}"
        targets = (
            [(server, key)] if baseline is None else [(server, key), (baseline, f"base:{key}")]
        )
        if number % 2:
            targets.reverse()
        for target, label in targets:
            began = time.perf_counter()
            status, body = target.get(path)
            elapsed = time.perf_counter() - began
            if status != 200:
                raise SystemExit(f"{status} for {path}: {body[:300]!r}")
            item.timings.setdefault(label, []).append(elapsed)
            if not check_mode or target is not server:  # hybrid: more hits than the words
                continue
            answer = json.loads(body)
            item.hits = int(answer["count"])
            if answer["query"]["mode"] != item.mode:
                print(f"    note: mode {answer['query']['mode']} != prepared {item.mode}")


# ---- (b) the ranked-page SQL ------------------------------------------------------------------


def run_raw(prepared: Sequence[Prepared]) -> None:
    """Replay each request's engine statements with psycopg; keep the slowest statement."""
    with common.connect() as conn:
        for item in prepared:
            total = 0.0
            for kind, sql, params in item.statements:
                began = time.perf_counter()
                conn.execute(sql, params).fetchall()
                elapsed = time.perf_counter() - began
                total += elapsed
                item.timings.setdefault(f"raw:{kind}", []).append(elapsed)
                if elapsed >= item.slowest[0]:
                    item.slowest = (elapsed, kind, sql, params)
            item.timings.setdefault("raw", []).append(total)


# ---- (c) in-process, statement by statement --------------------------------------------------


def run_breakdown(prepared: Sequence[Prepared]) -> dict[str, dict[str, Any]]:
    """Each request in-process, with the time of every SQL statement by kind."""
    from django.db import connection
    from django.test import Client

    client = Client()
    timer = StatementTimer()
    for item in prepared:
        timer.label, timer.spent, timer.counts = item.query.label(), {}, {}
        began = time.perf_counter()
        with connection.execute_wrapper(timer):
            response = client.get(
                SEARCH_PATH,
                item.query.params(),
                HTTP_ACCEPT="application/json",
                HTTP_HOST="127.0.0.1",
            )
        total = time.perf_counter() - began
        assert response.status_code == 200, response.content[:300]
        item.timings.setdefault("in-process", []).append(total)
        for kind in STATEMENT_KINDS:
            item.timings.setdefault(f"sql:{kind}", []).append(timer.spent.get(kind, 0.0))
            item.counts[kind] = timer.counts.get(kind, 0)
        item.timings.setdefault("python", []).append(total - sum(timer.spent.values()))
    return timer.slowest


def explain(sql: str, params: Sequence[Any]) -> str:
    with common.connect() as conn:
        rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params).fetchall()
    return "\n".join(row[0] for row in rows)


# ---- report ----------------------------------------------------------------------------------


def timings_of(prepared: Sequence[Prepared], key: str) -> list[float]:
    return [t for item in prepared for t in item.timings.get(key, [])[-1:]]


def distribution(values: Sequence[int]) -> str:
    ordered = sorted(values)
    if not ordered:
        return "-"
    quartiles = [ordered[int(q * (len(ordered) - 1))] for q in (0, 0.25, 0.5, 0.75, 1)]
    return "min/q1/median/q3/max " + "/".join(str(v) for v in quartiles)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=240)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers (1)")
    parser.add_argument("--reload", action="store_true", help="load even if the count matches")
    parser.add_argument(
        "--cold", action="store_true", help="do not read the table into the OS cache first"
    )
    parser.add_argument(
        "--no-count", action="store_true", help="skip counting all matches of each query"
    )
    parser.add_argument(
        "--variant",
        help="also through servers whose marketplace.search.query constants are set from this "
        'JSON (e.g. \'{"GRAM_FUSION": "none", "EXACT_BOOST": 0}\': search before the bigram '
        "channel), in the same run",
    )
    parser.add_argument(
        "--hybrid",
        action="store_true",
        help="also through a server with a vector index of every patent (search by meaning)",
    )
    parser.add_argument(
        "--vectors", choices=["clustered", "random"], default="clustered", help="(--hybrid)"
    )
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        help="also serve every request from the code in this directory (an earlier commit)",
    )
    parser.add_argument("--skip-breakdown", action="store_true", help="no in-process pass")
    parser.add_argument("--skip-words", action="store_true", help="no words-only API pass")
    args = parser.parse_args(argv)

    common.setup_django()
    note = common.ensure_schema()
    print(f"database: bench; {note}")
    started = time.perf_counter()
    organisations = ensure_organisations(args.seed)
    first = next(PatentGenerator(args.seed, 0).patents(1)).application_number
    have = loaded_rows([pk for pk, _ in organisations], first)
    load: dict[str, float] = {}
    if have == args.rows and not args.reload:
        print(f"reusing {have} loaded patents ({len(organisations)} organisations)")
    else:
        print(f"loading {args.rows} patents (table has {max(have, 0)} of ours)", flush=True)
        load = load_patents(args.rows, organisations, args.seed)
        total = sum(load.values())
        print(f"data load: {total:.0f} s = {args.rows / total:.0f} rows/s")
        for phase, seconds in load.items():
            print(f"    {phase:<28} {seconds:8.1f} s")
    if not args.cold:
        print(f"prewarmed the OS page cache in {prewarm():.0f} s")
    sizes = table_size()
    print("sizes: " + ", ".join(f"{k} {v}" for k, v in sizes.items()))
    print(f"set-up {time.perf_counter() - started:.0f} s")

    provinces = sorted({province for _, province in organisations})
    queries = make_queries(args.queries, seed=args.seed + 7, provinces=provinces)
    began = time.perf_counter()
    prepared = prepare(queries, count_matches=not args.no_count)
    print(f"prepared {len(prepared)} queries in {time.perf_counter() - began:.0f} s")

    load_before = [round(load, 2) for load in os.getloadavg()]
    # Every request searches (no answer from the public response cache: the measured pass
    # repeats the first pass's requests), on one BLAS thread (the machine's 2 cores are shared).
    server_env = {"PUBLIC_CACHE_SECONDS": "0", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    words_dir = Path(tempfile.mkdtemp(prefix="search-bench-no-vectors-"))

    variant = {"SEARCH_VARIANT": args.variant} if args.variant else None

    def variant_server(directory: Path) -> Server:
        assert variant is not None
        return Server(
            args.workers,
            {**server_env, "SEARCH_VECTOR_DIR": str(directory), **variant},
            app="bench.variant_wsgi:application",
        )

    def servers(directory: Path) -> tuple[Server, Server | None]:
        env = {**server_env, "SEARCH_VECTOR_DIR": str(directory)}
        server = Server(args.workers, env)
        baseline = Server(args.workers, env, args.baseline_tree) if args.baseline_tree else None
        return server, baseline

    def stop(*running: Server | None) -> None:
        for each in running:
            if each is not None:
                each.stop()

    if not args.skip_words:
        server, baseline = servers(words_dir)
        try:
            print(f"gunicorn on 127.0.0.1:{server.port}, {args.workers} worker(s), words only")
            if baseline:
                print(f"baseline ({args.baseline_tree}) on 127.0.0.1:{baseline.port}")
            run_api(server, prepared, "api-first", baseline=baseline)
            run_api(server, prepared, "api", baseline=baseline)
        finally:
            stop(server, baseline)
    if variant:
        server = variant_server(words_dir)
        try:
            print(f"gunicorn on 127.0.0.1:{server.port}: words only, variant {args.variant}")
            run_api(server, prepared, "variant-first", check_mode=False)
            run_api(server, prepared, "variant", check_mode=False)
        finally:
            server.stop()
    index_info: dict[str, Any] = {}
    vector_step: dict[str, Any] = {}
    if args.hybrid:
        vector_dir = Path(tempfile.mkdtemp(prefix="search-bench-vectors-"))
        index_info = publish_bench_index(vector_dir, args.seed, args.vectors)
        print(f"vector index: {index_info}")
        vector_step = run_vector_step(vector_dir, prepared)
        print(f"vector step: {vector_step}")
        server, baseline = servers(vector_dir)
        try:
            print(f"gunicorn on 127.0.0.1:{server.port}: hybrid, {index_info['count']} vectors")
            # One unrelated request loads the embedding model (where no warm-up did); then each
            # query is embedded for real once (first pass), and read from the query-vector cache
            # (second pass, as when a user pages on).
            for each in (server, baseline):
                if each is not None:
                    each.get(f"{SEARCH_PATH}?{urlencode({'q': 'warm up the model'})}")
            run_api(server, prepared, "hybrid", check_mode=False, baseline=baseline)
            run_api(server, prepared, "hybrid-cached", check_mode=False, baseline=baseline)
        finally:
            stop(server, baseline)
        if variant:
            server = variant_server(vector_dir)
            try:
                print(f"gunicorn on 127.0.0.1:{server.port}: hybrid, variant {args.variant}")
                server.get(f"{SEARCH_PATH}?{urlencode({'q': 'warm up the model'})}")
                run_api(server, prepared, "variant-hybrid", check_mode=False)
                run_api(server, prepared, "variant-hybrid-cached", check_mode=False)
            finally:
                server.stop()
        shutil.rmtree(vector_dir, ignore_errors=True)
    run_raw(prepared)
    slowest_statements = {} if args.skip_breakdown else run_breakdown(prepared)

    load_after = [round(load, 2) for load in os.getloadavg()]
    api, raw = timings_of(prepared, "api"), timings_of(prepared, "raw")
    print()
    print(f"load average (1/5/15 min) before {load_before}, after {load_after}")
    print(f"{args.rows} listed patents, {len(prepared)} queries (2 filters each), sequential")
    api_rows = [
        ("API over HTTP, first pass", "api-first"),
        ("API over HTTP, measured pass", "api"),
    ]
    if args.skip_words:
        api_rows = []
    if args.hybrid:
        api_rows += [
            ("API hybrid, query embedded", "hybrid"),
            ("API hybrid, query vector cached", "hybrid-cached"),
        ]
    for label, key in api_rows:
        print(common.format_summary(label, timings_of(prepared, key)))
        if args.baseline_tree:
            print(common.format_summary("  baseline tree", timings_of(prepared, f"base:{key}")))
    if args.hybrid:
        for label, key in (
            ("vector step: query embedding", "vector:embed"),
            ("vector step: brute force (mapped)", "vector:brute"),
            ("vector step: 8-bit codes + re-score", "vector:codes"),
            ("vector step: HNSW graph", "vector:graph"),
        ):
            if timings_of(prepared, key):
                print(common.format_summary(label, timings_of(prepared, key)))
        print(
            f"graph recall of brute force's pool: {vector_step.get('recall_pool')}, of its "
            f"neighbours above the similarity floor: {vector_step.get('recall_above_floor')}"
        )
    if variant:
        print(common.format_summary("variant API, measured pass", timings_of(prepared, "variant")))
        if args.hybrid:
            for label in ("variant-hybrid", "variant-hybrid-cached"):
                print(common.format_summary(f"{label} API", timings_of(prepared, label)))
    print(common.format_summary("raw SQL: find + rank the page", raw))
    for kind in ENGINE_KINDS:
        values = timings_of(prepared, f"raw:{kind}")
        if values:
            print(common.format_summary(f"  raw {kind}", values))
    if not args.skip_breakdown:
        print(
            common.format_summary(
                "in-process request (test client)", timings_of(prepared, "in-process")
            )
        )
        for kind in STATEMENT_KINDS:
            statements = max(p.counts.get(kind, 0) for p in prepared)
            if statements:
                label = f"  SQL {kind} (x{statements})"
                print(common.format_summary(label, timings_of(prepared, f"sql:{kind}")))
        print(common.format_summary("  Python (request - SQL)", timings_of(prepared, "python")))
    modes = {mode: sum(1 for p in prepared if p.mode == mode) for mode in ("and", "or")}
    print(
        f"modes: {modes}; hits shown by the API (capped at RANK_CAP): "
        f"{distribution([p.hits for p in prepared])}"
    )
    if not args.no_count:
        print(
            f"all matches: {distribution([p.matches for p in prepared])}; "
            f"zero-hit queries {sum(1 for p in prepared if p.matches == 0)}"
        )

    api_target, engine_target = TARGETS_MS.get(args.rows, (None, None))
    verdicts = {}
    checked = [("API", api, api_target), ("engine", raw, engine_target)]
    checked = [check for check in checked if check[1]]
    if args.hybrid:
        checked.insert(1, ("API hybrid", timings_of(prepared, "hybrid"), api_target))
    if args.baseline_tree:
        if not args.skip_words:
            checked.append(("baseline API", timings_of(prepared, "base:api"), api_target))
        if args.hybrid:
            hybrid_base = timings_of(prepared, "base:hybrid")
            checked.append(("baseline API hybrid", hybrid_base, api_target))
    for label, values, target in checked:
        if target is not None:
            p95 = common.summary(values)["p95"]
            verdicts[label] = {"target_p95_ms": target, "p95_ms": p95, "met": p95 <= target}
            state = "met" if p95 <= target else f"NOT met ({p95 / target:.1f}x the target)"
            print(f"target {label} p95 <= {target:.0f} ms: {state}")

    slowest = max(prepared, key=lambda p: p.timings["raw"][-1])
    _, kind, sql, params = slowest.slowest
    plan = explain(sql, params)
    print(
        f"\nslowest raw query ({slowest.timings['raw'][-1] * 1000:.1f} ms): "
        f"{slowest.query.label()}  [{slowest.mode}, {slowest.matches} matches]; "
        f"its slowest statement ({kind}):"
    )
    print(plan)
    plans = {"engine": {"label": slowest.query.label(), "kind": kind, "sql": sql, "plan": plan}}
    others = [k for k in STATEMENT_KINDS if k not in ENGINE_KINDS and k in slowest_statements]
    if others:
        heaviest = max(
            others, key=lambda kind: common.summary(timings_of(prepared, f"sql:{kind}"))["p95"]
        )
        statement = slowest_statements[heaviest]
        plan = explain(statement["sql"], statement["params"])
        print(
            f"\nslowest {heaviest} statement ({statement['seconds'] * 1000:.1f} ms): "
            f"{statement['label']}"
        )
        print(plan)
        plans[heaviest] = {"label": statement["label"], "sql": statement["sql"], "plan": plan}

    saved = common.save_results(
        f"search-{args.rows}",
        {
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "machine": common.machine(),
            "rows": args.rows,
            "prewarmed": not args.cold,
            "loadavg_before_after": [load_before, load_after],
            "ipc": note,
            "sizes": sizes,
            "load_seconds": {k: round(v, 1) for k, v in load.items()},
            "queries": len(prepared),
            "baseline_tree": str(args.baseline_tree) if args.baseline_tree else None,
            "vector_index": index_info,
            "vector_step": vector_step,
            "summary": {
                key: common.summary(timings_of(prepared, key))
                for key in (
                    "api-first",
                    "api",
                    "hybrid",
                    "hybrid-cached",
                    "base:api-first",
                    "base:api",
                    "base:hybrid",
                    "base:hybrid-cached",
                    "vector:embed",
                    "vector:brute",
                    "vector:codes",
                    "vector:graph",
                    "raw",
                    "in-process",
                    "python",
                    *(f"sql:{kind}" for kind in STATEMENT_KINDS),
                    *(f"raw:{kind}" for kind in ENGINE_KINDS),
                )
            },
            "verdicts": verdicts,
            "modes": modes,
            "plans": plans,
            "per_query": [
                {
                    "q": p.query.q,
                    "filters": p.query.filters,
                    "tokens": p.tokens,
                    "mode": p.mode,
                    "hits": p.hits,
                    "matches": p.matches,
                    "ms": {k: round(v[-1] * 1000, 2) for k, v in p.timings.items()},
                    "statements": p.counts,
                }
                for p in prepared
            ],
        },
    )
    print(f"results: {saved.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
