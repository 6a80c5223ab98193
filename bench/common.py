"""Shared set-up for the benchmarks: environment, Django, the bench database, statistics.

The benchmarks only ever run against a database whose name contains "bench" (default
bench_marketplace) and Redis database 12; they refuse anything else, so a stray environment
cannot point them at the development or test database.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DATA = BENCH / ".data"
RESULTS = BENCH / "results"
BENCH_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_marketplace"
BENCH_REDIS_URL = "redis://127.0.0.1:6379/12"
IPC_CSV = ROOT / "marketplace" / "reference_data" / "ipc.csv"


def bench_environment() -> dict[str, str]:
    """The environment the benchmarks (and the server they start) run with."""
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", BENCH_DATABASE_URL)
    env.setdefault("REDIS_URL", BENCH_REDIS_URL)
    env.setdefault("MEDIA_ROOT", str(DATA / "media"))
    env.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    env.setdefault("DJANGO_ENV", "development")
    # No query log in connection.queries, no debug pages: the way production runs.
    env.setdefault("DEBUG", "false")
    env.setdefault("LOG_LEVEL", "WARNING")
    return env


def setup_django() -> None:
    """Configure Django for the bench database; refuse any database not named *bench*."""
    os.environ.update(bench_environment())
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django
    from django.conf import settings

    django.setup()
    name = settings.DATABASES["default"]["NAME"]
    if "bench" not in name:
        raise SystemExit(f"refusing to run against database {name!r}: its name lacks 'bench'")
    if not settings.REDIS_URL.rstrip("/").endswith("/12"):
        raise SystemExit(f"refusing Redis {settings.REDIS_URL!r}: the benchmarks use database 12")


def ensure_schema() -> str:
    """Migrate the bench database; load IPC titles when ipc.csv exists and passes its check.

    While ipc.csv is missing, migration 0004 (which loads it) is recorded as applied without
    running, and the import accepts every well-formed IPC subclass. Returns a one-line note.
    """
    from django.apps import apps
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    from marketplace.patents.cleaning import known_subclasses_cache_clear

    recorder = MigrationRecorder(connection)
    applied = recorder.has_table() and (
        recorder.migration_qs.filter(app="marketplace", name="0004_load_ipc_titles").exists()
    )
    if not IPC_CSV.exists() and not applied:
        call_command("migrate", "marketplace", "0003", verbosity=0)
        call_command("migrate", "marketplace", "0004", fake=True, verbosity=0)
    call_command("migrate", verbosity=0)
    note = "ipc.csv missing: IPC subclasses are not checked against a list"
    if IPC_CSV.exists():
        check = subprocess.run(
            [sys.executable, str(IPC_CSV.parent / "check.py")],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode == 0:
            from marketplace.reference import load_reference_tables

            load_reference_tables(lambda name: apps.get_model("marketplace", name), keys=("ipc",))
            count = apps.get_model("marketplace", "IpcClass").objects.filter(level="subclass")
            note = f"ipc.csv loaded: {count.count()} subclasses checked on import"
        else:
            note = "ipc.csv present but fails reference_data/check.py: not loaded"
    known_subclasses_cache_clear()
    return note


def connect(autocommit: bool = True) -> Any:
    """A psycopg connection to the bench database that binds parameters as Django does."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    return psycopg.connect(
        dbname=db["NAME"],
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        autocommit=autocommit,
        cursor_factory=psycopg.ClientCursor,
        # The service's connection options too (work_mem), so raw SQL runs as the app's does.
        options=db.get("OPTIONS", {}).get("options", ""),
    )


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import psycopg

    memory = 0
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            memory = int(handle.readline().split()[1]) // 1024
    except OSError:
        pass
    with connect() as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("shared_buffers", "work_mem", "effective_cache_size", "jit")
        }
    return {
        "loadavg_1_5_15": [round(load, 2) for load in os.getloadavg()],
        "cpus": os.cpu_count(),
        "memory_mib": memory,
        "python": platform.python_version(),
        "postgresql": server,
        "psycopg": psycopg.__version__,
        **settings,
    }


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0-100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max/mean of timings in seconds, in milliseconds."""
    if not values:
        return {}
    return {
        "p50": round(percentile(values, 50) * 1000, 2),
        "p95": round(percentile(values, 95) * 1000, 2),
        "p99": round(percentile(values, 99) * 1000, 2),
        "max": round(max(values) * 1000, 2),
        "mean": round(sum(values) / len(values) * 1000, 2),
    }


def format_summary(label: str, values: Sequence[float]) -> str:
    s = summary(values)
    return (
        f"{label:<34} p50 {s['p50']:8.1f}  p95 {s['p95']:8.1f}  p99 {s['p99']:8.1f}  "
        f"max {s['max']:8.1f}  mean {s['mean']:8.1f} ms  (n={len(values)})"
    )


@contextmanager
def stopwatch(label: str, results: dict[str, float]) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        results[label] = time.perf_counter() - started


def save_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    return path
