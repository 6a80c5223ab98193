"""A patentee's funnel at pilot scale: `GET /api/v1/organisations/{id}/funnel/` (JSON, CSV,
XLSX) and the reviewers' whole-register funnel.

The world is bench/stats_bench.py's (59,000 declarations of ~3,000 patentees, 17,000 licenses,
110,000 SMEs), plus `--days` days of page-view and search-impression counters for every
declared patent (59,000 × 30 = 1.77 million PatentDailyCount rows by default) and a current
match run holding each declaration in the lists of 5 SMEs (295,000 matches). Timed through
Django's test client, logged in as a member of the patentee with the most declarations and of a
median one; baseline in the same run: the same organisation's royalty ledger
(`GET /api/v1/organisations/{id}/royalty-ledger/`), an organisation-scoped read of the
licensing tables that already ships. Also timed: the counter's per-request cost (one HINCRBY
pipeline) and a flush of 10,000 counted (patent, day) pairs.

The reviewers' whole-register funnel, before and after in the same run: before, the overview
computed `funnel(None)` on every visit the ten-minute cache missed; after, beat's
`register_funnel_refresh` stores it (timed) and `GET /admin/funnel/` as a reviewer reads the
snapshot (`--repeat` × 5 requests), alternating with the admin index `GET /admin/` as the
baseline (the admin's own request cycle: session, user, permissions, template).

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_h6_pilot REDIS_URL=redis://127.0.0.1:6386/12
    .venv/bin/python bench/funnel_bench.py [--days 30] [--repeat 20]
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common, stats_bench


def _counts_and_matches(days: int, seed: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from licensing.models import Declaration
    from marketplace.models import Organisation, PatentDailyCount
    from matching.models import Match, MatchRun

    if PatentDailyCount.objects.exists():
        print("  counters and matches in place")
        return
    rng = random.Random(seed)
    today = timezone.localdate()
    declarations = list(Declaration.objects.values_list("pk", "patent_id"))
    smes = list(
        Organisation.objects.filter(name__startswith=f"{stats_bench.PREFIX}中小企业")
        .order_by("pk")
        .values_list("pk", flat=True)[:20000]
    )
    buffer = io.StringIO()
    for _declaration, patent in declarations:
        for offset in range(days):
            views, impressions = rng.randint(0, 6), rng.randint(0, 30)
            buffer.write(f"{patent}\t{today - timedelta(days=offset)}\t{views}\t{impressions}\n")
    with (
        connection.cursor() as cursor,
        cursor.copy(
            "COPY marketplace_patentdailycount (patent_id, day, views, search_impressions) "
            "FROM STDIN"
        ) as copy,
    ):
        copy.write(buffer.getvalue())
    run = MatchRun.objects.create(status="complete", is_current=True)
    now = timezone.now().isoformat()
    buffer = io.StringIO()
    for declaration, patent in declarations:
        for rank, sme in enumerate(rng.sample(smes, 5), start=1):
            buffer.write(
                f"{run.pk}\t{sme}\t{declaration}\t{patent}\t0.5\t{rank}\t{{}}\t[]\t{now}\n"
            )
    with (
        connection.cursor() as cursor,
        cursor.copy(
            f"COPY {Match._meta.db_table} (run_id, sme_id, declaration_id, patent_id, score, "
            "rank, components, reasons, created_at) FROM STDIN"
        ) as copy,
    ):
        copy.write(buffer.getvalue())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--seed", type=int, default=stats_bench.SEED)
    args = parser.parse_args(argv)
    common.setup_django()
    from django.db.models import Count
    from django.test import Client
    from django.utils import timezone

    from marketplace import counters, roles
    from marketplace.models import Membership, Organisation, User
    from marketplace.services.platform import platform_role_grant
    from matching.funnel import funnel
    from reporting.register_funnel import register_funnel_refresh

    print(common.ensure_schema())
    result: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": common.machine()}
    print(f"load average before: {result['machine']['loadavg_1_5_15']}")
    began = time.perf_counter()
    stats_bench._world(59_000, 17_000, 110_000, args.seed)
    _counts_and_matches(args.days, args.seed)
    print(f"  world ready in {time.perf_counter() - began:.1f} s")
    with common.connect() as conn:
        conn.execute("VACUUM ANALYZE")
    ranked = list(
        Organisation.objects.annotate(n=Count("declarations"))
        .filter(n__gt=0)
        .order_by("-n", "pk")
        .values_list("pk", "n")
    )
    chosen = {"largest": ranked[0], "median": ranked[len(ranked) // 2]}
    member, _ = User.objects.get_or_create(email="funnel.bench@example.com")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(member)
    for label, (organisation_id, count) in chosen.items():
        Membership.objects.get_or_create(
            user=member, organisation_id=organisation_id, defaults={"role": "member"}
        )
        paths = {
            "json": f"/api/v1/organisations/{organisation_id}/funnel/",
            "csv": f"/api/v1/organisations/{organisation_id}/funnel/?file_format=csv",
            "xlsx": f"/api/v1/organisations/{organisation_id}/funnel/?file_format=xlsx",
            "baseline: royalty ledger": f"/api/v1/organisations/{organisation_id}/royalty-ledger/",
        }
        result[label] = {"organisation": organisation_id, "declarations": count}
        print(f"  {label} patentee: {count} declarations")
        for name, path in paths.items():
            assert client.get(path).status_code == 200  # warm up
            timings = []
            for _ in range(args.repeat):
                began = time.perf_counter()
                response = client.get(path)
                timings.append(time.perf_counter() - began)
                assert response.status_code == 200
            result[label][name] = common.summary(timings)
            print(f"    {common.format_summary(name, timings)}")
    whole = []
    for _ in range(3):
        began = time.perf_counter()
        funnel(None, timezone.localdate())
        whole.append(time.perf_counter() - began)
    result["whole_register"] = common.summary(whole)
    print(f"  {common.format_summary('before: whole register computed (59,000)', whole)}")
    refresh = []
    for _ in range(2):
        began = time.perf_counter()
        register_funnel_refresh()
        refresh.append(time.perf_counter() - began)
    result["register_snapshot_refresh"] = common.summary(refresh)
    print(f"  {common.format_summary('after: beat refresh of the snapshot', refresh)}")
    reviewer, _ = User.objects.get_or_create(email="funnel.reviewer@example.com")
    if not roles.is_reviewer(reviewer):
        platform_role_grant(user=reviewer, role=roles.REVIEWER, actor=None)
    reviewer_client = Client(HTTP_HOST="127.0.0.1", HTTP_ACCEPT_LANGUAGE="zh-hans")
    reviewer_client.force_login(reviewer)
    for _ in range(3):  # warm up
        assert reviewer_client.get("/admin/funnel/").status_code == 200
    overview: list[float] = []
    admin_index: list[float] = []
    for _ in range(args.repeat * 5):  # alternating, so both see the same load
        for path, timings in (("/admin/funnel/", overview), ("/admin/", admin_index)):
            began = time.perf_counter()
            response = reviewer_client.get(path)
            timings.append(time.perf_counter() - began)
            assert response.status_code == 200
    result["reviewer_overview"] = common.summary(overview)
    result["baseline_admin_index"] = common.summary(admin_index)
    print(f"  {common.format_summary('after: GET /admin/funnel/ (reviewer, snapshot)', overview)}")
    print(f"  {common.format_summary('baseline: GET /admin/ (same reviewer)', admin_index)}")
    organisation_id = chosen["largest"][0]
    as_reviewer = []
    for _ in range(args.repeat):
        began = time.perf_counter()
        response = reviewer_client.get(f"/api/v1/organisations/{organisation_id}/funnel/")
        as_reviewer.append(time.perf_counter() - began)
        assert response.status_code == 200
    result["reviewer_largest_patentee_json"] = common.summary(as_reviewer)
    print(f"  {common.format_summary('reviewer: largest patentee JSON (live)', as_reviewer)}")
    hits = []
    for index in range(2000):
        began = time.perf_counter()
        counters.count(counters.VIEW, [index % 10000 + 1])
        hits.append(time.perf_counter() - began)
    result["count_one_view"] = common.summary(hits)
    print(f"  {common.format_summary('count one view (Redis)', hits)}")
    counters.counters_flush()
    counters.count(counters.IMPRESSION, range(1, 10001))
    began = time.perf_counter()
    written = counters.counters_flush()
    result["flush_10000_ms"] = (time.perf_counter() - began) * 1000
    print(f"  flush of {written} (patent, day) rows: {result['flush_10000_ms']:.0f} ms")
    result["loadavg_end"] = common.machine()["loadavg_1_5_15"]
    print(f"load average after: {result['loadavg_end']}")
    saved = common.save_results("funnel-59000", result)
    print(f"saved {saved.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
