"""Import benchmark: one 60,000-row CSV through import_job_create + import_run, twice.

The first run creates every patent (validation, segmentation, upsert, one event per row), the
second imports the same file again and takes the update path. A raw COPY of the same file into
a temporary table of text columns is the floor the import is compared with. Target: 60,000
rows in at most 60 s.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_marketplace \\
    REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python bench/import_bench.py [--rows 60000]
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import os
import pstats
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.generate import CSV_HEADERS, DEFAULT_SEED, usable_subclasses, write_csv  # noqa: E402

TARGET_SECONDS_PER_60K = 60.0
# Serials of imported patents start here, so they never meet the search benchmark's patents.
SERIAL_OFFSET = 5_000_000
ORGANISATION_NAME = "基准导入大学"
USER_EMAIL = "bench-import@example.com"


def make_csv(rows: int, seed: int) -> tuple[Path, float]:
    """Generate the file once per (rows, seed, IPC list); reruns reuse it."""
    subclasses = sorted(s for subs in usable_subclasses().values() for s in subs)
    digest = hashlib.sha256(" ".join(subclasses).encode()).hexdigest()[:8]
    path = common.DATA / f"import-{rows}-{seed}-{digest}.csv"
    started = time.perf_counter()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        with partial.open("w", encoding="utf-8", newline="") as handle:
            write_csv(handle, rows, seed=seed, serial_offset=SERIAL_OFFSET)
        partial.rename(path)
    return path, time.perf_counter() - started


def fixtures() -> tuple[Any, Any]:
    """The importing organisation and one member (created directly, as tests do)."""
    from marketplace.models import Membership, MembershipRole, Organisation, Region, User
    from marketplace.validators import credit_code_check_character

    first17 = "12320000MB0000001"
    organisation, _ = Organisation.objects.get_or_create(
        name=ORGANISATION_NAME,
        defaults={
            "name_en": "Benchmark Import University",
            "kind": "university",
            "credit_code": first17 + credit_code_check_character(first17),
            "region": Region.objects.get(code="320102"),
        },
    )
    user = User.objects.filter(email=USER_EMAIL).first()
    if user is None:
        user = User.objects.create_user(USER_EMAIL, None, full_name="导入基准")
    Membership.objects.get_or_create(
        organisation=organisation, user=user, defaults={"role": MembershipRole.ADMIN}
    )
    return organisation, user


def clear_previous(organisation_id: int) -> int:
    """Delete what earlier runs imported for the organisation, so the first run creates."""
    from marketplace.models import ImportJob

    with common.connect() as conn:
        ids = "SELECT id FROM marketplace_patent WHERE owner_id = %s"
        for table in ("marketplace_patentevent", "marketplace_patentcoowner"):
            conn.execute(f"DELETE FROM {table} WHERE patent_id IN ({ids})", [organisation_id])
        deleted = conn.execute(
            "DELETE FROM marketplace_patent WHERE owner_id = %s", [organisation_id]
        ).rowcount
        conn.execute("VACUUM ANALYZE marketplace_patent")
        conn.execute("VACUUM ANALYZE marketplace_patentevent")
    for job in ImportJob.objects.filter(organisation_id=organisation_id):
        job.file.delete(save=False)
    return int(deleted)


def raw_copy(path: Path) -> tuple[float, int]:
    """COPY the CSV as it is into a temporary table of text columns: the I/O floor."""
    columns = ", ".join(f'"{header}" text' for header in CSV_HEADERS)
    data = path.read_bytes()
    with common.connect(autocommit=False) as conn:
        started = time.perf_counter()
        conn.execute(f"CREATE TEMP TABLE import_baseline ({columns}) ON COMMIT DROP")
        with conn.cursor().copy(
            "COPY import_baseline FROM STDIN WITH (FORMAT csv, HEADER true)"
        ) as copy:
            copy.write(data)
        rows = conn.execute("SELECT count(*) FROM import_baseline").fetchone()[0]
        conn.commit()
        return time.perf_counter() - started, rows


def statement_kind(sql: str) -> str:
    """The import's statements, by verb and table."""
    verb = sql.split(None, 1)[0].upper()
    for table in (
        "marketplace_patentevent",
        "marketplace_patentcoowner",
        "marketplace_importjob",
        "marketplace_patent",
        "marketplace_organisation",
        "marketplace_ipcclass",
        "marketplace_membership",
    ):
        if f'"{table}"' in sql[:200]:
            return f"{verb} {table.removeprefix('marketplace_')}"
    return verb


class StatementTimer:
    """Adds up the time of SQL statements (driver + server) by verb and table."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = statement_kind(sql)
            self.seconds[kind] = self.seconds.get(kind, 0.0) + time.perf_counter() - began
            self.counts[kind] = self.counts.get(kind, 0) + 1


class CopyUpsertManager:
    """Patent.objects for marketplace.services.imports, with bulk_create done by COPY.

    An experiment (--write copy): the rows go by COPY into a temporary staging table and then
    INSERT ... SELECT ... ON CONFLICT (application_number) DO UPDATE into marketplace_patent,
    with the same columns and update list the ORM's bulk_create would use. That skips the
    ORM's SQL compilation and psycopg's client-side binding of ~56,000 parameters per chunk.
    Everything else in _write_chunk and import_run runs unchanged.
    """

    STAGE = "bench_import_stage"

    def __init__(self, manager: Any) -> None:
        self.manager = manager

    def __getattr__(self, name: str) -> Any:
        return getattr(self.manager, name)

    def bulk_create(
        self,
        objs: Sequence[Any],
        *,
        update_conflicts: bool,
        unique_fields: Sequence[str],
        update_fields: Sequence[str],
        **kwargs: Any,
    ) -> Sequence[Any]:
        from django.db import connection

        model = self.manager.model
        fields = [
            f
            for f in model._meta.concrete_fields
            if not f.primary_key and not getattr(f, "generated", False)
        ]
        columns = ", ".join(f'"{f.column}"' for f in fields)
        unique = ", ".join(f'"{model._meta.get_field(n).column}"' for n in unique_fields)
        updates = ", ".join(
            f'"{column}" = EXCLUDED."{column}"'
            for column in (model._meta.get_field(n).column for n in update_fields)
        )
        table = model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {self.STAGE} ON COMMIT DELETE ROWS AS "
                f"SELECT {columns} FROM {table} WITH NO DATA"
            )
            with cursor.cursor.copy(f"COPY {self.STAGE} ({columns}) FROM STDIN") as copy:
                for obj in objs:
                    copy.write_row(
                        [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields]
                    )
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {self.STAGE} "
                f"ON CONFLICT ({unique}) DO UPDATE SET {updates}"
            )
            cursor.execute(f"DELETE FROM {self.STAGE}")
        return objs


class PatentWithCopyUpsert:
    """Stands in for the Patent model inside marketplace.services.imports."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.objects = CopyUpsertManager(model.objects)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.model(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


def content_checksum(organisation_id: int) -> str:
    """md5 over every stored value of the organisation's patents that an import writes."""
    with common.connect() as conn:
        row = conn.execute(
            "SELECT md5(string_agg(concat_ws('|', application_number, patent_type, is_pct, "
            "title, abstract, main_ipc, further_ipcs, ipc_prefixes, filing_date, grant_date, "
            "expiry_date, legal_status, title_tokens, body_tokens, search_vector::text), "
            "'\n' ORDER BY application_number)) FROM marketplace_patent WHERE owner_id = %s",
            [organisation_id],
        ).fetchone()
    return str(row[0])


def timed_import(path: Path, organisation: Any, user: Any, profile: bool) -> dict[str, Any]:
    """import_job_create + import_run on the file; the phases are read off the progress hook."""
    from django.db import connection

    from marketplace.models import ImportJob
    from marketplace.services.imports import import_job_create, import_run

    marks: dict[str, float] = {}
    timer = StatementTimer()

    def progress(job: ImportJob) -> None:
        marks.setdefault(job.phase, time.perf_counter())

    profiler = cProfile.Profile() if profile else None
    with path.open("rb") as upload, connection.execute_wrapper(timer):
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        job = import_job_create(
            actor=user,
            organisation_id=organisation.pk,
            upload=upload,
            file_name=path.name,
            size=path.stat().st_size,
            all_or_nothing=False,
            enqueue=False,
        )
        queued = time.perf_counter()
        job = import_run(job_id=job.pk, progress=progress)
        finished = time.perf_counter()
        if profiler:
            profiler.disable()
    total = finished - started
    result = {
        "status": job.status,
        "total_rows": job.total_rows,
        "created": job.created_count,
        "updated": job.updated_count,
        "errors": job.error_count,
        "first_errors": job.errors[:5],
        "seconds": round(total, 2),
        "rows_per_second": round(job.total_rows / total, 1),
        "phases": {
            "check upload (import_job_create)": round(queued - started, 2),
            "validate + segment + resolve": round(
                marks.get("writing", finished) - marks.get("validating", queued), 2
            ),
            "write (upsert, co-owners, events)": round(
                marks.get("done", finished) - marks.get("writing", finished), 2
            ),
        },
        "sql_seconds": {
            f"{kind} (x{timer.counts[kind]})": round(seconds, 2)
            for kind, seconds in sorted(timer.seconds.items(), key=lambda item: -item[1])
        },
    }
    if profiler:
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(30)
        result["profile"] = stream.getvalue()
    job.file.delete(save=False)
    return result


def report(label: str, run: dict[str, Any]) -> None:
    print(
        f"{label}: {run['total_rows']} rows in {run['seconds']:.1f} s = "
        f"{run['rows_per_second']:.0f} rows/s; created {run['created']}, updated "
        f"{run['updated']}, errors {run['errors']} ({run['status']})"
    )
    for phase, seconds in run["phases"].items():
        print(f"    {phase:<36} {seconds:7.2f} s")
    sql = run["sql_seconds"]
    print(f"    SQL statements (driver + server), {sum(sql.values()):.2f} s in all:")
    for kind, seconds in list(sql.items())[:6]:
        print(f"        {kind:<40} {seconds:7.2f} s")
    for error in run["first_errors"]:
        print(f"    error: {error}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED + 60)
    parser.add_argument("--profile", action="store_true", help="cProfile the first import")
    parser.add_argument(
        "--write",
        choices=("orm", "copy"),
        default="orm",
        help="orm: the application as it is; copy: experiment, bulk_create done by COPY",
    )
    args = parser.parse_args(argv)

    common.setup_django()
    note = common.ensure_schema()
    from marketplace.models import Patent

    print(f"database: bench; {note}")
    path, generate_seconds = make_csv(args.rows, args.seed)
    size = path.stat().st_size
    print(f"CSV: {path.relative_to(common.ROOT)}, {size / 1e6:.1f} MB ({generate_seconds:.1f} s)")
    organisation, user = fixtures()
    removed = clear_previous(organisation.pk)
    others = Patent.objects.count()
    load_before = [round(load, 2) for load in os.getloadavg()]
    print(f"removed {removed} patents of earlier runs; {others} other patents in the table")

    if args.write == "copy":
        import marketplace.services.imports as imports

        imports.Patent = PatentWithCopyUpsert(imports.Patent)  # type: ignore[assignment,misc]
        print("experiment: Patent.objects.bulk_create in the import replaced by COPY + upsert")
    copy_seconds, copied = raw_copy(path)
    print(
        f"baseline raw COPY into a temp table: {copied} rows in {copy_seconds:.2f} s "
        f"= {copied / copy_seconds:.0f} rows/s"
    )
    create = timed_import(path, organisation, user, args.profile)
    create["checksum"] = content_checksum(organisation.pk)
    report("import (create path)", create)
    update = timed_import(path, organisation, user, False)
    update["checksum"] = content_checksum(organisation.pk)
    report("re-import (update path)", update)
    print(f"content checksum after create {create['checksum']}, after update {update['checksum']}")
    load_after = [round(load, 2) for load in os.getloadavg()]
    print(f"load average (1/5/15 min) before {load_before}, after {load_after}")

    # Leave the table as it was found: the search benchmark shares it.
    clear_previous(organisation.pk)
    target = TARGET_SECONDS_PER_60K * args.rows / 60_000
    for label, run in (("create", create), ("update", update)):
        verdict = "met" if run["seconds"] <= target else "NOT met"
        print(f"target {target:.0f} s for {args.rows} rows, {label} path: {verdict}")
    if args.profile:
        print(create["profile"])
    saved = common.save_results(
        f"import-{args.rows}"
        + ("" if args.write == "orm" else f"-{args.write}")
        + f"-table{others}",
        {
            "write": args.write,
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "machine": common.machine(),
            "rows": args.rows,
            "csv_bytes": size,
            "other_patents_in_table": others,
            "loadavg_before_after": [load_before, load_after],
            "ipc": note,
            "baseline_copy_seconds": round(copy_seconds, 3),
            "create": {k: v for k, v in create.items() if k != "profile"},
            "update": update,
            "target_seconds": target,
        },
    )
    print(f"results: {saved.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
