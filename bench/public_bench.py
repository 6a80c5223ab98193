"""Public read benchmark: anonymous register list, patent list, patent detail and search under
50 keep-alive clients, closed loop and open loop, gunicorn as deployed, beside a bare WSGI floor.

Targets (issue 19): >= 900 requests/s and p99 <= 20 ms at 300 requests/s open loop for the cached
list and detail endpoints.

1. Set-up: --patents generated patents (default 59,000, the pilot's size), all listed, COPY'd by
   bench/search_bench.py's loader, and one declaration on each (7 in 8 announced, the rest
   withdrawn), COPY'd too; VACUUM ANALYZE. A rerun reuses the data when the counts match.
2. For each gunicorn configuration (default `sync:5`, the Dockerfile's command), the project
   twice: with the public HTTP cache on (PUBLIC_CACHE_SECONDS=10, the default) and off (0).
   Per endpoint: a warm-up pass over its paths, a closed loop of --requests requests from
   --clients clients (each with its own keep-alive http.client connection, reopened when a
   sync worker closes it), then an open loop at --rate requests/s for --duration seconds
   (latency counted from the scheduled arrival, so queueing is included).
   Every answer must be 200 (asserted); the cached runs send no conditional headers, so they
   measure the server-side body cache, not 304s.
3. The floor: bench/floor_wsgi.py (no framework, a small JSON answer) under the same server
   configuration and the same loops, so the figures beside it say what gunicorn and these
   Python clients alone cost on this machine.
4. --baseline-tree DIR (a git worktree of an earlier commit, same database): for each endpoint,
   one client sends every address to a server of DIR's code and to this tree's, alternately,
   request by request (--sequential requests to each), so both versions are measured in one run
   under the same load; then this tree's loops as above.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_public \\
    REDIS_URL=redis://127.0.0.1:6379/12 \\
    .venv/bin/python bench/public_bench.py
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.accept_bench import BackendMeter, Server, ServerConfig, cpu_snapshot, cpu_used
from bench.generate import DEFAULT_SEED, PatentGenerator, make_queries

BOOT_SECONDS = 600
UNCACHED_TARGET_P99_MS = 50.0  # uncached public lists at 1,000,000 patents (issue 19)
UNCACHED_TARGET_ROWS = 1_000_000
LISTS = ("register list", "patent list", "patent detail")
PATHS_PER_ENDPOINT = 40  # distinct addresses per endpoint (pages, filters, ids, queries)


class PatientServer(Server):
    """accept_bench's gunicorn runner, waiting up to BOOT_SECONDS for the workers to boot: on a
    shared, loaded 2-core machine five workers importing the project can take over a minute."""

    def __init__(
        self,
        config: ServerConfig,
        application: str = "marketplace.wsgi:application",
        app_dir: Path = common.ROOT,
    ):
        super().__init__(
            config, app_dir=app_dir, application=application, boot_seconds=BOOT_SECONDS
        )


# ---- data -------------------------------------------------------------------------------------


def ensure_data(patents: int, seed: int, reload: bool) -> dict[str, Any]:
    """The listed patents (search_bench's loader) and one declaration on each."""
    from bench import search_bench
    from licensing.models import Declaration
    from marketplace.models import Patent

    organisations = search_bench.ensure_organisations(seed)
    first = next(PatentGenerator(seed, 0).patents(1)).application_number
    have = search_bench.loaded_rows([pk for pk, _ in organisations], first)
    timings: dict[str, float] = {}
    # load_declarations unlists the patents of withdrawn declarations (1 in 8).
    loaded = have in (patents, patents - (patents + 1) // 8) and Patent.objects.count() == patents
    if not loaded or reload:
        print(f"loading {patents} patents (table has {max(have, 0)} of ours)", flush=True)
        timings = search_bench.load_patents(patents, organisations, seed)
    if Declaration.objects.count() != patents or timings:
        with common.stopwatch("declarations COPY", timings):
            load_declarations()
    with common.connect() as conn:
        conn.execute("VACUUM ANALYZE licensing_declaration")
    return {"patents": patents, "organisations": len(organisations), "load_seconds": timings}


def _bench_user() -> int:
    from marketplace.models import User

    user, _created = User.objects.get_or_create(
        email="bench-public@example.com", defaults={"full_name": "bench"}
    )
    return int(user.pk)


def load_declarations() -> None:
    """One declaration per patent, COPY'd: 7 in 8 announced, the rest withdrawn; effective
    dates over three years, lump sum or entry fee plus royalty."""
    from django.db.models.fields import NOT_PROVIDED

    from licensing.models import Declaration
    from marketplace.models import Patent

    user = _bench_user()
    rows = list(Patent.objects.order_by("id").values_list("id", "owner_id", "created_at"))
    specific = {
        "patent_id",
        "organisation_id",
        "number",
        "status",
        "payment_method",
        "royalty_basis",
        "lump_sum_cny",
        "entry_fee_cny",
        "royalty_rate_percent",
        "contact_name",
        "contact_phone",
        "contact_email",
        "undertaking",
        "calculation_explanation",
        "effective_date",
        "withdrawal_date",
        "created_by_id",
        "created_at",
        "updated_at",
    }
    # Columns with a database default (ipc_prefixes: set by licensing 0021's trigger from the
    # patent) are left out of the COPY, so the database fills them as it would in production.
    others = {
        f.column: f.get_default()
        for f in Declaration._meta.concrete_fields
        if f.column not in specific
        and not f.primary_key
        and getattr(f, "db_default", NOT_PROVIDED) is NOT_PROVIDED
    }
    columns = [*sorted(specific), *others]
    first_day = date(2024, 1, 1)
    with common.connect(autocommit=False) as conn:
        conn.execute("TRUNCATE licensing_declaration RESTART IDENTITY CASCADE")
        with conn.cursor().copy(
            f"COPY licensing_declaration ({', '.join(columns)}) FROM STDIN"
        ) as copy:
            for n, (patent_id, owner_id, created_at) in enumerate(rows):
                withdrawn = n % 8 == 7
                lump = n % 2 == 0
                effective = first_day + timedelta(days=n * 1000 // len(rows))
                values = {
                    "patent_id": patent_id,
                    "organisation_id": owner_id,
                    "number": f"OL{2024 + n * 3 // len(rows)}{n + 1:07d}",
                    "status": "withdrawn" if withdrawn else "announced",
                    "payment_method": "lump_sum" if lump else "entry_fee_plus_royalty",
                    "royalty_basis": "" if lump else "net_sales",
                    "lump_sum_cny": 20000 + n % 50 * 1000 if lump else None,
                    "entry_fee_cny": None if lump else 10000,
                    "royalty_rate_percent": None if lump else 3.5,
                    "contact_name": "技术转移中心",
                    "contact_phone": "025-84315000",
                    "contact_email": "tto@uni.example.com",
                    "undertaking": True,
                    "calculation_explanation": "按研发成本计。",
                    "effective_date": effective,
                    "withdrawal_date": effective + timedelta(days=30) if withdrawn else None,
                    "created_by_id": user,
                    "created_at": created_at,
                    "updated_at": created_at,
                }
                row = [values[c] for c in sorted(specific)] + [
                    json.dumps(v) if isinstance(v, list | dict) else v for v in others.values()
                ]
                copy.write_row(row)
        # Patents of a withdrawn declaration leave public search, as licensing does.
        conn.execute(
            "UPDATE marketplace_patent p SET is_listed = false FROM licensing_declaration d"
            " WHERE d.patent_id = p.id AND d.status = 'withdrawn'"
        )
        conn.commit()
    with common.connect() as conn:
        conn.execute("VACUUM ANALYZE marketplace_patent")


# ---- endpoints --------------------------------------------------------------------------------


def endpoint_paths(seed: int) -> dict[str, list[str]]:
    """Distinct addresses per endpoint, as anonymous visitors send them."""
    from licensing.models import Declaration
    from marketplace.models import Patent

    rng = random.Random(seed)
    listed = list(Patent.objects.filter(is_listed=True).values_list("id", flat=True))
    numbers = list(Declaration.objects.values_list("number", flat=True)[:5000])
    queries = make_queries(PATHS_PER_ENDPOINT, seed=seed + 7)
    register = ["/api/v1/register/"] + [
        "/api/v1/register/?"
        + rng.choice(
            [
                "status=announced",
                "payment_method=lump_sum",
                "payment_method=entry_fee_plus_royalty",
                "status=withdrawn",
                f"effective_from=2025-0{rng.randint(1, 9)}-01",
                f"ipc={rng.choice('ABCDEFGH')}",
            ]
        )
        for _ in range(PATHS_PER_ENDPOINT // 2 - 1)
    ]
    register += [f"/api/v1/register/{number}/" for number in rng.sample(numbers, 4)]
    patents = ["/api/v1/patents/"] + [
        "/api/v1/patents/?"
        + rng.choice(
            [
                "patent_type=invention",
                "patent_type=utility_model",
                "legal_status=in_force",
                f"ipc={rng.choice('ABCDEFGH')}",
            ]
        )
        for _ in range(PATHS_PER_ENDPOINT // 2 - 1)
    ]
    return {
        "register list": register,
        "patent list": patents,
        "patent detail": [
            f"/api/v1/patents/{pk}/" for pk in rng.sample(listed, PATHS_PER_ENDPOINT)
        ],
        "search": [
            "/api/v1/search/patents/?" + urlencode([("q", query.q), *query.filters])
            for query in queries
        ],
    }


# ---- load -------------------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0
    connections: int = 0
    rate: float | None = None
    clients: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # cores used on average during the run
    slowest_paths_ms: dict[str, float] = field(default_factory=dict)  # median per address

    def describe(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "requests": len(self.latencies),
            "seconds": round(self.seconds, 2),
            "requests_per_second": round(len(self.latencies) / self.seconds, 1),
            "latency_ms": common.summary(self.latencies),
            "statuses": dict(self.statuses),
            "connections_opened": self.connections,
            "offered_rate": self.rate,
            "clients": self.clients,
            "cpu_cores": self.cpu,
            "cpu_ms_per_request": self.cpu_per_request(),
            **({"slowest_paths_median_ms": self.slowest_paths_ms} if self.slowest_paths_ms else {}),
        }

    def cpu_per_request(self) -> dict[str, float]:
        """CPU milliseconds per request of the server's processes and of our PostgreSQL
        backends (what a request costs whatever else runs on the machine)."""
        if not self.cpu or not self.latencies:
            return {}
        return {
            name: round(self.cpu[name] * self.seconds / len(self.latencies) * 1000, 2)
            for name in ("server", "postgres")
        }

    def line(self) -> str:
        s = common.summary(self.latencies)
        cpu = self.cpu_per_request()
        spent = f"  CPU/req server {cpu['server']:.1f} + pg {cpu['postgres']:.1f} ms" if cpu else ""
        return (
            f"  {self.label:<46} {len(self.latencies) / self.seconds:7.0f} req/s"
            f"  p50 {s['p50']:7.1f}  p99 {s['p99']:7.1f}  max {s['max']:7.1f} ms"
            f"  {dict(self.statuses)}  connects {self.connections}{spent}"
        )


def _get(connection: http.client.HTTPConnection, path: str) -> int:
    for attempt in range(2):
        reused = connection.sock is not None
        try:
            connection.request("GET", path, headers={"Accept": "application/json"})
            response = connection.getresponse()
            response.read()
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
            return response.status
        except (ConnectionError, http.client.BadStatusLine, http.client.RemoteDisconnected):
            connection.close()  # a sync worker closed the kept-alive connection: once more
            if attempt or not reused:
                raise
    raise AssertionError("unreachable")


def run_load(
    label: str,
    port: int,
    paths: Sequence[str],
    requests: int,
    clients: int,
    rate: float | None,
    server_pid: int | None = None,
) -> Run:
    """Closed loop (rate None): each client sends its next request when answered. Open loop:
    request i is due at start + i / rate; latency is counted from then. With server_pid, the
    CPU time of the server's process tree and of our database's backends is measured too."""
    run = Run(label, rate=rate, clients=clients)
    lock = threading.Lock()
    position = iter(range(requests))
    ready = threading.Barrier(clients + 1)
    start = [0.0]

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        connects = 0
        ready.wait()
        while True:
            with lock:
                index = next(position, None)
            if index is None:
                break
            if rate is None:
                began = time.perf_counter()
            else:
                began = start[0] + index / rate
                time.sleep(max(0.0, began - time.perf_counter()))
            connects += connection.sock is None
            try:
                statuses[_get(connection, paths[index % len(paths)])] += 1
            except Exception:  # a transport failure is a result
                statuses[0] += 1
            latencies.append(time.perf_counter() - began)
        connection.close()
        with lock:
            run.latencies += latencies
            run.statuses.update(statuses)
            run.connections += connects

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    meter = BackendMeter(server_pid) if server_pid is not None else None
    before = cpu_snapshot(server_pid, postgres=0.0)
    start[0] = time.perf_counter()
    ready.wait()
    for thread in threads:
        thread.join()
    run.seconds = time.perf_counter() - start[0]
    if meter is not None:
        run.cpu = cpu_used(before, cpu_snapshot(server_pid, postgres=meter.stop()), run.seconds)
    return run


def interleaved(
    servers: Sequence[tuple[str, Server]], name: str, paths: Sequence[str], requests: int
) -> dict[str, Run]:
    """One client, each address sent to every server in turn (request by request), so the
    versions meet the same moments of a shared machine's load."""
    runs = {
        label: Run(f"{label} {name}: one client, interleaved", clients=1) for label, _ in servers
    }
    by_path: dict[str, dict[str, list[float]]] = {label: {} for label, _ in servers}
    connections = {
        label: http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        for label, server in servers
    }
    for label, _server in servers:  # warm-up: every address once
        for path in paths:
            _get(connections[label], path)
    began = time.perf_counter()
    for index in range(requests):
        path = paths[index % len(paths)]
        for label, _server in servers:
            run, connection = runs[label], connections[label]
            run.connections += connection.sock is None
            start = time.perf_counter()
            try:
                run.statuses[_get(connection, path)] += 1
            except Exception:  # a transport failure is a result
                run.statuses[0] += 1
            run.latencies.append(time.perf_counter() - start)
            by_path[label].setdefault(path, []).append(run.latencies[-1])
    elapsed = time.perf_counter() - began
    for label, run in runs.items():
        run.seconds = sum(run.latencies) or elapsed
        connections[label].close()
        print(run.line(), flush=True)
        bad = {status: n for status, n in run.statuses.items() if status != 200}
        if bad:
            raise SystemExit(f"{run.label}: answers other than 200: {bad}")
    # Per address, the median of each version: which filter a change made faster or slower.
    medians = {
        label: {path: common.percentile(spent, 50) * 1000 for path, spent in paths_.items()}
        for label, paths_ in by_path.items()
    }
    first = servers[0][0]
    slowest = sorted(medians[first], key=lambda path: -max(m[path] for m in medians.values()))
    print("      median ms per address: " + " / ".join(label for label, _ in servers))
    for path in slowest[:6]:
        figures = " / ".join(f"{medians[label][path]:6.1f}" for label, _ in servers)
        print(f"      {figures}  {path}")
    for label, run in runs.items():
        run.slowest_paths_ms = {path: round(medians[label][path], 1) for path in slowest[:6]}
    return runs


def endpoint_runs(
    server: Server, name: str, paths: Sequence[str], args: argparse.Namespace, label: str
) -> dict[str, Any]:
    run_load("warm-up", server.port, paths, max(len(paths), 2 * args.clients), args.clients, None)
    runs: dict[str, Run] = {}
    pid = server.pid
    if args.sequential:
        runs["sequential"] = run_load(
            f"{label} {name}: one client", server.port, paths, args.sequential, 1, None, pid
        )
        print(runs["sequential"].line(), flush=True)
    if args.requests:
        runs["closed"] = run_load(
            f"{label} {name}: closed", server.port, paths, args.requests, args.clients, None, pid
        )
        print(runs["closed"].line(), flush=True)
    for rate in args.rate:
        key = "open" if rate == args.rate[0] else f"open {rate:g}"
        runs[key] = run_load(
            f"{label} {name}: open {rate:g}/s",
            server.port,
            paths,
            int(rate * args.duration),
            args.clients,
            rate,
            pid,
        )
        print(runs[key].line(), flush=True)
    for run in runs.values():
        bad = {status: n for status, n in run.statuses.items() if status != 200}
        if bad and name != "floor":
            raise SystemExit(f"{run.label}: answers other than 200: {bad}")
    return {key: run.describe() for key, run in runs.items()}


def in_process(
    paths: dict[str, list[str]],
    repeat: int,
    labels: Sequence[tuple[str, int]] = (("cached", 10), ("uncached", 0)),
) -> dict[str, Any]:
    """Sequential GETs through the Django test client (no HTTP, no gunicorn): wall time and this
    process's CPU time per request, the body cache on (after a warm pass) and off. CPU time is
    what a request costs the server's Python regardless of what else runs on the machine."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_ACCEPT="application/json", HTTP_HOST="127.0.0.1")
    figures: dict[str, Any] = {}
    sql = [0.0]

    def timed(execute: Any, statement: str, params: Any, many: bool, context: Any) -> Any:
        began = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            sql[0] += time.perf_counter() - began

    for label, seconds in labels:
        settings.PUBLIC_CACHE_SECONDS = seconds
        for name, endpoint in paths.items():
            for path in endpoint:
                assert client.get(path).status_code == 200, path
            walls, cpus, sqls = [], [], []
            by_path: dict[str, list[float]] = {}
            for index in range(repeat):
                path = endpoint[index % len(endpoint)]
                sql[0] = 0.0
                wall, cpu = time.perf_counter(), time.process_time()
                with connection.execute_wrapper(timed):
                    client.get(path)
                cpus.append(time.process_time() - cpu)
                walls.append(time.perf_counter() - wall)
                sqls.append(sql[0])
                by_path.setdefault(path, []).append(sql[0])
            figures[f"{label} {name}"] = {
                "wall_ms": common.summary(walls),
                "sql_ms": common.summary(sqls),
                "cpu_ms_mean": round(sum(cpus) / len(cpus) * 1000, 2),
                # The slowest addresses by their median SQL time: which filter costs.
                "slowest_paths_sql_ms": {
                    path: round(sorted(spent)[len(spent) // 2] * 1000, 1)
                    for path, spent in sorted(
                        by_path.items(), key=lambda item: -sorted(item[1])[len(item[1]) // 2]
                    )[:5]
                },
            }
            print(
                f"  in-process {label} {name:<14}"
                f" wall p50 {common.percentile(walls, 50) * 1000:6.1f}"
                f"  p99 {common.percentile(walls, 99) * 1000:6.1f} ms"
                f"  SQL p50 {common.percentile(sqls, 50) * 1000:6.1f}"
                f"  p99 {common.percentile(sqls, 99) * 1000:6.1f} ms"
                f"  CPU {sum(cpus) / len(cpus) * 1000:6.2f} ms/request",
                flush=True,
            )
            for path, spent in figures[f"{label} {name}"]["slowest_paths_sql_ms"].items():
                print(f"      SQL median {spent:7.1f} ms  {path}")
    return figures


def uncached_verdicts(results: dict[str, Any], patents: int) -> dict[str, Any]:
    """The uncached target (p99 <= 50 ms at 1,000,000 patents) for each list and loop run."""
    verdicts: dict[str, Any] = {}
    if patents < UNCACHED_TARGET_ROWS:
        return verdicts
    print(f"\ntarget: uncached p99 <= {UNCACHED_TARGET_P99_MS:.0f} ms at {patents:,} patents")
    for slug, configuration in results["configurations"].items():
        for name in LISTS:
            loops = {
                **configuration["runs"].get(f"uncached {name} interleaved", {}),
                **configuration["runs"].get(f"uncached {name}", {}),
            }
            for loop, run in loops.items():
                p99 = run["latency_ms"]["p99"]
                met = p99 <= UNCACHED_TARGET_P99_MS
                verdicts[f"{slug} {name} {loop}"] = {"p99_ms": p99, "met": met}
                state = "met" if met else f"NOT met ({p99 / UNCACHED_TARGET_P99_MS:.1f}x)"
                print(f"  {slug} {name:<14} {loop:<12} p99 {p99:8.1f} ms  {state}")
    return verdicts


def _commit(tree: Path) -> str:
    import subprocess

    return subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patents", type=int, default=59_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=3000, help="per closed loop (0: none)")
    parser.add_argument(
        "--rate",
        type=float,
        nargs="*",
        default=[300.0],
        help="open loop requests/s (one loop per rate; none: no open loop)",
    )
    parser.add_argument(
        "--sequential", type=int, default=0, help="requests from one client, each after the last"
    )
    parser.add_argument(
        "--uncached-only",
        action="store_true",
        help="only the server with the public cache off (PUBLIC_CACHE_SECONDS=0)",
    )
    parser.add_argument(
        "--endpoints",
        nargs="*",
        choices=("register", "patents", "detail", "search"),
        help="the endpoints to load (default: all four)",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="open loop seconds")
    parser.add_argument(
        "--server",
        type=ServerConfig.parse,
        action="append",
        help="sync:N or gthread:WxT (repeatable; default sync:5, the Dockerfile's)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--reload", action="store_true")
    parser.add_argument(
        "--in-process", type=int, default=200, help="requests per endpoint (0: skip)"
    )
    parser.add_argument("--in-process-only", action="store_true", help="skip the HTTP runs")
    parser.add_argument("--label", default="", help="added to the results file's name")
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        help="also serve each endpoint from the code in this directory (an earlier commit),"
        " one client interleaved request by request with this tree's (--sequential each)",
    )
    args = parser.parse_args(argv)
    configs = args.server or [ServerConfig("sync", 5, 1)]

    common.setup_django()
    print(f"database: bench; {common.ensure_schema()}")
    data = ensure_data(args.patents, args.seed, args.reload)
    paths = endpoint_paths(args.seed)
    if args.endpoints:
        chosen = {
            {"register": "register list", "patents": "patent list", "detail": "patent detail"}.get(
                key, key
            )
            for key in args.endpoints
        }
        paths = {name: endpoint for name, endpoint in paths.items() if name in chosen}
    caches = (("uncached", "0"),) if args.uncached_only else (("cached", "10"), ("uncached", "0"))
    results: dict[str, Any] = {
        "machine": common.machine(),
        "data": data,
        "arguments": {k: str(v) for k, v in vars(args).items()},
        "baseline_tree_commit": _commit(args.baseline_tree) if args.baseline_tree else None,
        "this_tree_commit": _commit(common.ROOT),
        "load_average_before": os.getloadavg(),
        "configurations": {},
    }
    if args.in_process:
        print("\nin-process (Django test client, sequential)")
        results["in_process"] = in_process(
            paths, args.in_process, [(label, int(seconds)) for label, seconds in caches]
        )
    for config in [] if args.in_process_only else configs:
        runs: dict[str, Any] = {}
        print(f"\n{config.label}")
        os.environ["PUBLIC_CACHE_SECONDS"] = "10"
        for cache_label, seconds in caches:
            os.environ["PUBLIC_CACHE_SECONDS"] = seconds  # the server's environment
            server = PatientServer(config)
            baseline = (
                PatientServer(config, app_dir=args.baseline_tree) if args.baseline_tree else None
            )
            try:
                for name, endpoint in paths.items():
                    if baseline is None:
                        continue
                    pair = interleaved(
                        [("baseline", baseline), ("this tree", server)],
                        name,
                        endpoint,
                        args.sequential or 200,
                    )
                    runs[f"{cache_label} {name} interleaved"] = {
                        version: run.describe() for version, run in pair.items()
                    }
                for name, endpoint in paths.items():
                    runs[f"{cache_label} {name}"] = endpoint_runs(
                        server, name, endpoint, args, cache_label
                    )
            finally:
                errors = server.stop()
                if baseline is not None:
                    errors += baseline.stop()
            if errors:
                print("server errors:", *errors[:10], sep="\n  ")
        floor = PatientServer(config, application="bench.floor_wsgi:application")
        try:
            runs["floor"] = endpoint_runs(floor, "floor", ["/"], args, "bare WSGI")
        finally:
            floor.stop()
        results["configurations"][config.slug] = {"command": floor.command, "runs": runs}
    results["load_average_after"] = os.getloadavg()
    results["verdicts"] = uncached_verdicts(results, args.patents)
    suffix = "-in-process" if args.in_process_only else ("-uncached" if args.uncached_only else "")
    suffix += f"-{args.label}" if args.label else ""
    path = common.save_results(f"public-{args.patents}{suffix}", results)
    print(f"\nresults: {path.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
