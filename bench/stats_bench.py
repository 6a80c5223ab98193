"""Open statistics at pilot scale: `GET /api/v1/statistics/{dimension}/` (JSON and CSV).

The world: `--declarations` declarations (default 59,000) on as many patents of ~3,000
patentees (universities, institutes, enterprises, individuals) seated in counties all over
China, with varied IPC classes, payment modes and announcement months since 2023 (7 % withdrawn
since, 5 % ended otherwise), and `--licenses` open licenses (default 17,000) held by `--smes`
SMEs (default 110,000; they only hold licenses, the statistics never read them), 60 % of them
filed and the running-royalty ones with a royalty report each. All bulk-inserted once; a rerun
with the same sizes reuses it.

Timed in one run, through Django's test client (in process, no network):
  (a) every table in both formats, read from the precomputed cells (what the API does: the
      first request after a refresh reads the cells and keeps the rendered body in the cache,
      later ones answer from the cache);
  (b) baseline: the refresh itself (`statistics_refresh`, what beat and the event hook run),
      which is what computing the tables live from the licensing tables costs: one SQL
      statement. (Its run beside the former Python grouping, with the cells checked equal, is
      in BENCHMARKS.md, "Open statistics in SQL"; `--before d75ba78` repeats it, the
      former code loaded from git.)

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_h6_pilot REDIS_URL=redis://127.0.0.1:6386/12
    .venv/bin/python manage.py ensure_database
    .venv/bin/python bench/stats_bench.py [--declarations 59000] [--licenses 17000] [--repeat 50]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common

SEED = 20261207
PATENTEES = 3000
PREFIX = "基准统计"
DIMENSIONS = ("month", "province", "ipc-section", "ipc-class", "patentee-kind", "payment-mode")
MAIN_IPCS = (
    "H01M 4/525",
    "H01L 21/02",
    "H02J 7/00",
    "H04L 9/40",
    "G06F 16/00",
    "G06N 3/08",
    "G01N 33/50",
    "A61K 36/00",
    "A61B 5/00",
    "A01B 79/00",
    "C08L 23/00",
    "C12N 15/00",
    "C02F 1/00",
    "B65D 81/00",
    "B01D 53/00",
    "B23K 26/00",
    "F16H 57/00",
    "F24F 11/00",
    "E04B 1/00",
    "D06M 15/00",
)
KINDS = (("university", 35), ("research_institute", 20), ("enterprise", 40), ("individual", 5))
METHODS = (
    ("free", 10),
    ("lump_sum", 30),
    ("running_royalty", 25),
    ("entry_fee_plus_royalty", 35),
)


def _terms(method: str, rng: random.Random) -> dict[str, Any]:
    values: dict[str, Any] = {"payment_method": method}
    if method == "lump_sum":
        values["lump_sum_cny"] = Decimal(rng.randrange(1, 200) * 5000)
    if method == "entry_fee_plus_royalty":
        values["entry_fee_cny"] = Decimal(rng.randrange(1, 60) * 5000)
    if method in ("running_royalty", "entry_fee_plus_royalty"):
        values["royalty_basis"] = "net_sales"
        values["royalty_rate_percent"] = Decimal(rng.randrange(5, 80)) / 10
    return values


def _world(declarations: int, licenses: int, smes: int, seed: int) -> None:
    """Bulk-insert the world once; a rerun with the same sizes keeps it."""
    from django.db import transaction
    from django.utils import timezone

    from licensing.models import (
        Declaration,
        FilingStatus,
        License,
        LicenseFiling,
        LicenseStatus,
        RoyaltyReport,
    )
    from marketplace.models import Organisation, Patent, Region, User
    from tests.factories import application_number, patent_values

    if (
        Declaration.objects.filter(number__startswith="TJ").count() == declarations
        and License.objects.count() == licenses
    ):
        print("  world in place")
        return
    if Organisation.objects.filter(name__startswith=PREFIX).exists():
        raise SystemExit("a world of other sizes exists: drop the bench database")
    rng = random.Random(seed)
    today = timezone.localdate()
    now = timezone.now()
    counties = list(Region.objects.filter(level="county").values_list("code", flat=True))
    with transaction.atomic():
        user = User.objects.create_user(email="stats.bench@example.com", password=None)
        kinds = [k for k, _w in KINDS]
        weights = [w for _k, w in KINDS]
        patentees = Organisation.objects.bulk_create(
            Organisation(
                name=f"{PREFIX}专利权人{n:05d}",
                kind=rng.choices(kinds, weights)[0],
                region_id=rng.choice(counties),
            )
            for n in range(PATENTEES)
        )
        licensees = Organisation.objects.bulk_create(
            (
                Organisation(
                    name=f"{PREFIX}中小企业{n:06d}", kind="sme", region_id=rng.choice(counties)
                )
                for n in range(smes)
            ),
            batch_size=5000,
        )
        # The cleaning rules' canonical symbol and prefixes, once per IPC used.
        cleaned = {ipc: patent_values(1, main_ipc=ipc, further_ipcs=[]) for ipc in MAIN_IPCS}
        patents = []
        for serial in range(1, declarations + 1):
            values = cleaned[rng.choice(MAIN_IPCS)]
            filed = date(rng.randrange(2010, 2023), rng.randrange(1, 13), rng.randrange(1, 29))
            patents.append(
                Patent(
                    application_number=application_number(filed.year, "1", serial),
                    patent_type="invention",
                    title=f"基准专利{serial}",
                    main_ipc=values["main_ipc"],
                    ipc_prefixes=values["ipc_prefixes"],
                    filing_date=filed,
                    grant_date=filed + timedelta(days=700),
                    expiry_date=filed.replace(year=filed.year + 20) - timedelta(days=1),
                    owner=rng.choice(patentees),
                )
            )
        patents = Patent.objects.bulk_create(patents, batch_size=5000)
        method_names = [m for m, _w in METHODS]
        method_weights = [w for _m, w in METHODS]
        rows = []
        for number, patent in enumerate(patents, start=1):
            effective = date(2023, 1, 1) + timedelta(
                days=rng.randrange(0, (today - date(2023, 1, 1)).days)
            )
            roll = rng.random()
            status, withdrawal, ended = "announced", None, None
            if roll < 0.07:
                withdrawal = effective + timedelta(days=rng.randrange(30, 365))
                status, ended = "withdrawn", withdrawal
            elif roll < 0.12:
                status, ended = "terminated", effective + timedelta(days=rng.randrange(30, 365))
            if ended and ended >= today:
                status, withdrawal, ended = "announced", None, None
            rows.append(
                Declaration(
                    patent=patent,
                    organisation_id=patent.owner_id,
                    status=status,
                    number=f"TJ{effective.year}{number:07d}",
                    effective_date=effective,
                    withdrawal_date=withdrawal,
                    ended_date=ended,
                    contact_name="基准",
                    contact_phone="010-00000000",
                    contact_email="bench@example.com",
                    undertaking=True,
                    calculation_explanation="基准",
                    created_by=user,
                    **_terms(rng.choices(method_names, method_weights)[0], rng),
                )
            )
        created = Declaration.objects.bulk_create(rows, batch_size=5000)
        licensed = rng.sample(created, licenses)
        license_rows = []
        for declaration in licensed:
            assert declaration.effective_date is not None
            effective = declaration.effective_date + timedelta(days=rng.randrange(1, 200))
            effective = min(effective, today)
            license_rows.append(
                License(
                    declaration=declaration,
                    patent_id=declaration.patent_id,
                    licensor_id=declaration.organisation_id,
                    licensee=rng.choice(licensees),
                    status=LicenseStatus.ENDED if rng.random() < 0.1 else LicenseStatus.EFFECTIVE,
                    notice_text="书面通知",
                    notice_sent_at=now,
                    notice_delivered_at=now,
                    terms={"payment_method": declaration.payment_method},
                    due_at_acceptance_cny=declaration.lump_sum_cny
                    or declaration.entry_fee_cny
                    or Decimal("0.00"),
                    effective_date=effective,
                    term_end=effective + timedelta(days=5 * 365),
                    created_by=user,
                )
            )
        created_licenses = License.objects.bulk_create(license_rows, batch_size=5000)
        LicenseFiling.objects.bulk_create(
            (
                LicenseFiling(
                    license=license,
                    filed_by=user,
                    filed_on=min(license.effective_date + timedelta(days=30), today),
                    status=FilingStatus.ACCEPTED,
                )
                for license in created_licenses
                if rng.random() < 0.6 and license.effective_date
            ),
            batch_size=5000,
        )
        RoyaltyReport.objects.bulk_create(
            (
                RoyaltyReport(
                    license=license,
                    period_start=license.effective_date,
                    period_end=license.effective_date + timedelta(days=90),
                    basis_amount_cny=Decimal(rng.randrange(10_000, 5_000_000)),
                    amount_due_cny=Decimal(rng.randrange(500, 200_000)),
                    due_date=license.effective_date + timedelta(days=120),
                    reported_by=user,
                )
                for license, declaration in zip(created_licenses, licensed, strict=True)
                if declaration.royalty_rate_percent and license.effective_date
            ),
            batch_size=5000,
        )
    print(
        f"  created {len(created)} declarations of {PATENTEES} patentees, "
        f"{len(created_licenses)} licenses held by {smes} SMEs"
    )


def _former_refresh(commit: str) -> Any:
    """The Python refresh as licensing/open_statistics.py was at `commit`, loaded from git."""
    import importlib.util
    import subprocess
    import tempfile

    source = subprocess.run(
        ["git", "show", f"{commit}:licensing/open_statistics.py"],
        cwd=common.ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "former_open_statistics.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("former_open_statistics", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module.statistics_refresh_in_python


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--declarations", type=int, default=59_000)
    parser.add_argument("--licenses", type=int, default=17_000)
    parser.add_argument("--smes", type=int, default=110_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--baseline-repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--before",
        metavar="COMMIT",
        help="also time the former Python grouping, as licensing/open_statistics.py was at "
        "COMMIT (d75ba78 has it), alternating with the SQL refresh, cells checked equal",
    )
    args = parser.parse_args(argv)
    common.setup_django()
    from django.db import connection
    from django.test import Client

    from licensing.models import StatisticsCell
    from licensing.open_statistics import statistics_refresh

    print(common.ensure_schema())
    result: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": common.machine()}
    print(f"load average before: {result['machine']['loadavg_1_5_15']}")
    began = time.perf_counter()
    _world(args.declarations, args.licenses, args.smes, args.seed)
    print(f"  world ready in {time.perf_counter() - began:.1f} s")
    with common.connect() as conn:
        conn.execute("VACUUM ANALYZE")

    refresh: list[float] = []
    before: list[float] = []
    former = _former_refresh(args.before) if args.before else None
    columns = [f.name for f in StatisticsCell._meta.fields if f.name not in ("id", "refreshed_at")]
    for _ in range(max(3, args.baseline_repeat)):
        if former is not None:
            began = time.perf_counter()
            former()
            before.append(time.perf_counter() - began)
            by_former = list(StatisticsCell.objects.order_by("dimension", "key").values(*columns))
        began = time.perf_counter()
        cells = statistics_refresh()
        refresh.append(time.perf_counter() - began)
        if former is not None:
            now = list(StatisticsCell.objects.order_by("dimension", "key").values(*columns))
            assert now == by_former, "the SQL refresh differs from the former one"
    client = Client(HTTP_HOST="127.0.0.1")
    paths = [f"/api/v1/statistics/{d}/" for d in DIMENSIONS]
    paths += [f"{path}?file_format=csv" for path in paths] + ["/api/v1/statistics/"]
    statements = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        first = client.get(paths[0])
    assert first.status_code == 200, first.content
    statements_first, statements = statements, 0
    with connection.execute_wrapper(count):
        assert client.get(paths[0]).content == first.content
    statements_cached = statements
    for path in paths:  # warm up
        assert client.get(path).status_code == 200
    timings: list[float] = []
    per_path: dict[str, list[float]] = {path: [] for path in paths}
    for _ in range(args.repeat):
        for path in paths:
            began = time.perf_counter()
            response = client.get(path)
            elapsed = time.perf_counter() - began
            assert response.status_code == 200
            timings.append(elapsed)
            per_path[path].append(elapsed)
    total = StatisticsCell.objects.get(dimension="total")
    result.update(
        {
            "declarations": args.declarations,
            "licenses": args.licenses,
            "smes": args.smes,
            "cells": cells,
            "statements_first_request_after_refresh": statements_first,
            "statements_cached_request": statements_cached,
            "total": {
                "declarations_announced": total.declarations_announced,
                "declarations_in_force": total.declarations_in_force,
                "licenses_granted": total.licenses_granted,
                "licenses_filed": total.licenses_filed,
                "royalty_reports": total.royalty_reports,
            },
            "api_ms": common.summary(timings),
            "api_ms_by_path": {path: common.summary(values) for path, values in per_path.items()},
            "refresh_ms": common.summary(refresh),
        }
    )
    print(
        f"  {cells} cells; SQL statements: {statements_first} on the first request after a "
        f"refresh, {statements_cached} after; total {result['total']}"
    )
    print(f"  {common.format_summary('GET statistics (precomputed)', timings)}")
    for path, values in per_path.items():
        print(f"    {common.format_summary(path.removeprefix('/api/v1/statistics/'), values)}")
    if before:
        result["refresh_before_ms"] = common.summary(before)
        print(f"  {common.format_summary(f'before: refresh as at {args.before}', before)}")
    print(f"  {common.format_summary('after: refresh in SQL (= computed live)', refresh)}")
    result["loadavg_end"] = common.machine()["loadavg_1_5_15"]
    saved = common.save_results(f"stats-{args.declarations}x{args.licenses}", result)
    print(f"saved {saved.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
