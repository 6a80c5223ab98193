"""Matching speed: a full re-match of 110,000 SMEs × 59,000 declarations, and new declarations.

1. Data, generated into its own database (bench_match) with COPY, seeded and deterministic:
   - 3,200 patentees (universities, institutes, enterprises) in counties of patent-heavy
     provinces, one member each;
   - 59,000 in-force patents from bench/generate.py (real IPC subclasses and groups, Chinese and
     English text, tokens as the application stores them), one announced declaration each with
     royalty terms (free, lump sum, running royalty, entry fee plus royalty);
   - 110,000 SMEs with an admin user and a profile: a GB/T 4754 class (four in five drawn
     through the shipped IPC↔industry concordance from a generated IPC subclass, so SMEs sit
     where patents are; the rest any class), a GB/T 2260 county, a size and a description;
     about a third with an open technology need whose title, description and keywords are
     Chinese technical terms of the SME's field, most with a budget;
   - the text vectors of patents, needs and profiles, computed by the `index` path
     (matching.services.vectors_for), as they are in production before any match runs.
   A rerun with the same sizes finds the data loaded and skips this.
2. (a) Full re-match through the real chunked path: run_start enqueues the chunks on the
   `match` queue and real `celery worker` processes (-Q match, prefork, concurrency 2 — one per
   core) run chunk_run; timed from run_start until the run is complete and current. Phases of
   one chunk are timed in process. A second run is timed too when --runs 2: it also retires
   the first run's rows.
   Baselines in the same run: the numpy scoring alone (feature sums + top-k, no reasons, no
   database) over a sample of SMEs, extrapolated to all; and a raw COPY of the run's own match
   rows into an unindexed, unconstrained copy of the table.
3. (b) New declarations: N new in-force patents with announced declarations, each matched with
   the task the `match` queue runs on announcement (matching.tasks.match_declaration: matches
   stored, the SMEs' users notified in-app and by queued e-mail), called in process as a worker
   calls it, one after another; p50/p95 of the whole task. The first call, which loads the
   SMEs into the worker's memory, is reported separately.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_match \\
    REDIS_URL=redis://127.0.0.1:6381/12 .venv/bin/python bench/match_bench.py
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common, vocab  # noqa: E402

SMES = 110_000
DECLARATIONS = 59_000
PATENTEES = 3_200
SME_PREFIX = "基准匹配企业"
PATENTEE_PREFIX = "基准匹配专利权人"
NEW_SERIAL_OFFSET = 6_000_000  # new declarations' patents never meet the loaded ones
TARGET_FULL_S = 300.0
TARGET_NEW_P95_MS = 1000.0
SEED = 20261121
NOW = datetime(2026, 11, 1, tzinfo=UTC)


# ---- data ---------------------------------------------------------------------------------


def _counties() -> dict[str, list[str]]:
    from marketplace.models import Region

    counties: dict[str, list[str]] = {}
    for code in Region.objects.filter(level="county").values_list("code", flat=True):
        counties.setdefault(code[:2] + "0000", []).append(code)
    return counties


def _county_picker(rng: random.Random) -> Any:
    from bench.generate import Weighted

    counties = _counties()
    provinces = [p for p in vocab.PROVINCE_WEIGHTS if p in counties]
    # Every province has SMEs; the patent-heavy ones more.
    weights = [vocab.PROVINCE_WEIGHTS.get(p, 0.5) for p in counties]
    pick = Weighted(list(counties), weights)
    del provinces
    return lambda: rng.choice(counties[pick.pick(rng)])


def _credit_code(prefix: str, county: str, number: int) -> str:
    from marketplace.validators import credit_code_check_character

    first17 = f"91{county}{prefix}{number:07d}"
    return first17 + credit_code_check_character(first17)


def _copy(conn: Any, table: str, columns: Sequence[str], rows: Any) -> int:
    count = 0
    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def loaded() -> tuple[int, int]:
    """(SMEs, announced declarations) of a previous load, or (0, 0)."""
    with common.connect() as conn:
        smes = conn.execute(
            "SELECT count(*) FROM marketplace_organisation WHERE name LIKE %s",
            [SME_PREFIX + "%"],
        ).fetchone()[0]
        declarations = conn.execute(
            "SELECT count(*) FROM licensing_declaration d JOIN marketplace_organisation o "
            "ON o.id = d.organisation_id WHERE o.name LIKE %s AND d.status = 'announced'",
            [PATENTEE_PREFIX + "%"],
        ).fetchone()[0]
    return int(smes), int(declarations)


def _industry_sampler(rng: random.Random) -> Any:
    """An SME's industry: 4 in 5 through the concordance from a generated IPC subclass (SMEs
    sit where patents are), 1 in 5 any GB/T 4754 class."""
    from bench.generate import PatentGenerator, Weighted
    from marketplace.models import Industry
    from matching.models import IpcIndustry

    classes = list(Industry.objects.filter(level="class").values_list("code", flat=True))
    table: dict[str, list[tuple[str, float]]] = {}
    for prefix, code, weight in IpcIndustry.objects.values_list(
        "ipc_prefix", "industry_code", "weight"
    ):
        table.setdefault(prefix, []).append((code, float(weight)))
    known = set(classes)
    generator = PatentGenerator(SEED + 11, 0)

    def sample() -> tuple[str, str]:
        section = generator.sections.pick(rng)
        subclass = generator.subclasses[section].pick(rng)
        if rng.random() < 0.8:
            for prefix in (subclass, subclass[:3], subclass[:1]):
                rows = [(c, w) for c, w in table.get(prefix, []) if c in known]
                if rows:
                    return Weighted([c for c, _ in rows], [w for _, w in rows]).pick(rng), section
        return rng.choice(classes), section

    return sample


def load_data(smes: int, declarations: int, seed: int) -> dict[str, float]:
    """TRUNCATE the tables the benchmark fills and COPY everything in one transaction."""
    from bench.generate import PatentGenerator, Weighted, model_row
    from bench.search_bench import extra_columns
    from marketplace.models import Industry
    from marketplace.search.segment import query_tokens

    timings: dict[str, float] = {}
    rng = random.Random(seed)
    county = _county_picker(rng)
    industry_names = dict(Industry.objects.values_list("code", "name_zh"))
    began = time.perf_counter()
    with common.connect(autocommit=False) as conn:
        conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
        with common.stopwatch("truncate", timings):
            conn.execute(
                "TRUNCATE matching_match, matching_matchchunk, matching_matchrun, "
                "matching_matchfeedback, matching_textvector, marketplace_notification, "
                "marketplace_outboundemail, licensing_declarationevent, licensing_declaration, "
                "marketplace_technologyneed, marketplace_smeprofile, marketplace_membership, "
                "marketplace_patent, marketplace_organisation, marketplace_user "
                "RESTART IDENTITY CASCADE"
            )
        # Users: one admin per SME, one per patentee. Unusable passwords (no hashing).
        with common.stopwatch("users, organisations, memberships", timings):
            total = smes + PATENTEES
            _copy(
                conn,
                "marketplace_user",
                (
                    "password",
                    "is_superuser",
                    "email",
                    "full_name",
                    "preferred_language",
                    "is_staff",
                    "is_active",
                    "email_verified_at",
                    "date_joined",
                ),
                (
                    (
                        "!bench",
                        False,
                        f"bench-match-{n}@example.com",
                        f"用户{n}",
                        "en" if n % 7 == 0 else "zh-hans",
                        False,
                        True,
                        NOW,
                        NOW,
                    )
                    for n in range(total)
                ),
            )
            kinds = ("university", "research_institute", "enterprise")
            patentee_rows = []
            for n in range(PATENTEES):
                place = county()
                patentee_rows.append(
                    (
                        f"{PATENTEE_PREFIX}{n:04d}",
                        f"Benchmark patentee {n:04d}",
                        rng.choices(kinds, (35, 15, 50))[0],
                        _credit_code("MP", place, n),
                        "",
                        "",
                        "",
                        "",
                        NOW,
                        NOW,
                        place,
                    )
                )
            sme_regions = [county() for _ in range(smes)]
            organisation_columns = (
                "name",
                "name_en",
                "kind",
                "credit_code",
                "address",
                "contact_email",
                "contact_phone",
                "website",
                "created_at",
                "updated_at",
                "region_id",
            )
            _copy(conn, "marketplace_organisation", organisation_columns, patentee_rows)
            _copy(
                conn,
                "marketplace_organisation",
                organisation_columns,
                (
                    (
                        f"{SME_PREFIX}{n:06d}",
                        f"Benchmark SME {n:06d}",
                        "sme",
                        _credit_code("MX", sme_regions[n], n),
                        "",
                        "",
                        "",
                        "",
                        NOW,
                        NOW,
                        sme_regions[n],
                    )
                    for n in range(smes)
                ),
            )
            # Identity columns restarted at 1: patentees are 1..PATENTEES, SMEs follow; users
            # 1..smes are the SMEs' admins, the rest the patentees'.
            _copy(
                conn,
                "marketplace_membership",
                ("role", "created_at", "user_id", "organisation_id"),
                itertools.chain(
                    (("admin", NOW, n + 1, PATENTEES + n + 1) for n in range(smes)),
                    (("admin", NOW, smes + n + 1, n + 1) for n in range(PATENTEES)),
                ),
            )
        with common.stopwatch("SME profiles and needs", timings):
            industry = _industry_sampler(rng)
            sizes = Weighted(["micro", "small", "medium"], [45, 40, 15])
            profiles = []
            needs = []
            for n in range(smes):
                code, section = industry()
                terms = vocab.ZH_TERMS[section]
                objects = vocab.ZH_OBJECTS[section]
                size = sizes.pick(rng)
                employees = {"micro": 8, "small": 60, "medium": 400}[size] * rng.randint(1, 4)
                revenue = Decimal(employees * rng.randint(300_000, 900_000))
                main = rng.sample(terms, 2)
                description = (
                    f"本公司主要从事{industry_names.get(code, '')}，产品包括{main[0]}"
                    f"{rng.choice(objects)}和{main[1]}{rng.choice(objects)}，"
                    f"拥有{rng.randint(2, 30)}项生产工艺。"
                )
                profiles.append(
                    (size, employees, revenue, description, NOW, code, PATENTEES + n + 1, sme_regions[n])
                )
                if rng.random() < 1 / 3:
                    wanted = rng.sample(terms, rng.choice((2, 3, 3, 4)))
                    obj = rng.choice(objects)
                    title = f"寻求{wanted[0]}{obj}{rng.choice(('技术', '工艺', '方案'))}"
                    text = (
                        f"我公司需要{'、'.join(wanted)}相关技术，用于改进{obj}的"
                        f"{rng.choice(vocab.ZH_QUALITIES)}，"
                        f"降低{rng.choice(vocab.ZH_COSTS)}。"
                    )
                    keywords = list(dict.fromkeys(w for t in wanted for w in query_tokens(t)))
                    budget = (
                        None
                        if rng.random() < 0.2
                        else Decimal(rng.choice((50_000, 100_000, 200_000, 500_000, 2_000_000)))
                    )
                    needs.append(
                        (
                            title,
                            text,
                            keywords[:6],
                            [],
                            [],
                            None,
                            budget,
                            "any",
                            date(2027, 6, 30),
                            "open",
                            NOW,
                            NOW,
                            n + 1,
                            PATENTEES + n + 1,
                            sme_regions[n],
                        )
                    )
            _copy(
                conn,
                "marketplace_smeprofile",
                (
                    "size",
                    "employee_count",
                    "annual_revenue_cny",
                    "description",
                    "updated_at",
                    "industry_id",
                    "organisation_id",
                    "region_id",
                ),
                profiles,
            )
            _copy(
                conn,
                "marketplace_technologyneed",
                (
                    "title",
                    "description",
                    "keywords",
                    "ipc_areas",
                    "industries",
                    "budget_min_cny",
                    "budget_max_cny",
                    "payment_method",
                    "expires_on",
                    "status",
                    "created_at",
                    "updated_at",
                    "created_by_id",
                    "organisation_id",
                    "region_id",
                ),
                needs,
            )
            timings["needs"] = len(needs)
        with common.stopwatch("patents (generate + segment + COPY)", timings):
            _load_patents(conn, declarations, seed, smes)
        with common.stopwatch("declarations", timings):
            _copy(
                conn,
                "licensing_declaration",
                DECLARATION_COLUMNS,
                _declaration_rows(conn, rng, smes, first_number=0),
            )
        with common.stopwatch("commit (FK checks)", timings):
            conn.commit()
    with common.connect() as conn, common.stopwatch("VACUUM ANALYZE", timings):
        conn.execute("VACUUM ANALYZE")
    timings["total"] = time.perf_counter() - began
    return timings


def _load_patents(
    conn: Any, count: int, seed: int, smes: int, *, serial_offset: int = 0, number: int = 0
) -> list[int]:
    """`count` in-force patents of the bench patentees (Zipf-weighted: a few big universities);
    returns their ids."""
    from bench.generate import COPY_COLUMNS, PatentGenerator, Weighted, model_row
    from bench.search_bench import extra_columns

    rng = random.Random(seed + 3 + number)
    owners = Weighted(
        list(range(1, PATENTEES + 1)), [1 / (rank + 1) ** 0.7 for rank in range(PATENTEES)]
    )
    generator = PatentGenerator(seed + number, serial_offset)
    extra = extra_columns()
    columns = ", ".join([*COPY_COLUMNS, *extra])
    defaults = tuple(extra.values())
    today = date.today()
    written = 0
    stream = generator.patents(10 * count + 1000)
    with conn.cursor().copy(f"COPY marketplace_patent ({columns}) FROM STDIN") as copy:
        for patent in stream:
            if written >= count:
                break
            if patent.legal_status != "in_force" or patent.grant_date is None:
                continue
            values = model_row(patent, owner_id=owners.pick(rng), created_at=NOW)
            if values[COPY_COLUMNS.index("expiry_date")] < today:
                continue
            copy.write_row(values + defaults)
            written += 1
    del smes
    rows = conn.execute(
        "SELECT id FROM marketplace_patent WHERE id NOT IN "
        "(SELECT patent_id FROM licensing_declaration) ORDER BY id"
    ).fetchall()
    return [row[0] for row in rows]


DECLARATION_COLUMNS = (
    "number",
    "status",
    "payment_method",
    "royalty_basis",
    "lump_sum_cny",
    "entry_fee_cny",
    "royalty_rate_percent",
    "minimum_annual_royalty_cny",
    "license_term_years",
    "contact_name",
    "contact_phone",
    "contact_email",
    "contact_address",
    "undertaking",
    "calculation_explanation",
    "other_terms",
    "advertising_words",
    "flagged_bars",
    "effective_date",
    "created_at",
    "updated_at",
    "created_by_id",
    "organisation_id",
    "patent_id",
)


def _declaration_rows(conn: Any, rng: random.Random, smes: int, first_number: int) -> Any:
    """One announced declaration per patent not yet declared, with royalty terms."""
    patents = conn.execute(
        "SELECT id, owner_id FROM marketplace_patent WHERE id NOT IN "
        "(SELECT patent_id FROM licensing_declaration) ORDER BY id"
    ).fetchall()
    return _declaration_terms(patents, rng, smes, first_number)


def _declaration_terms(
    patents: Sequence[tuple[int, int]], rng: random.Random, smes: int, first_number: int
) -> Any:
    from psycopg.types.json import Jsonb

    for offset, (patent_id, owner_id) in enumerate(patents):
        method = rng.choices(
            ("free", "lump_sum", "running_royalty", "entry_fee_plus_royalty"), (15, 35, 30, 20)
        )[0]
        lump = entry = rate = minimum = None
        basis = ""
        if method == "lump_sum":
            lump = Decimal(rng.choice((10_000, 30_000, 50_000, 100_000, 200_000, 500_000)))
        if method in ("running_royalty", "entry_fee_plus_royalty"):
            basis = "net_sales"
            rate = Decimal(rng.choice(("0.5", "1", "2", "3", "5")))
            minimum = Decimal(rng.choice((0, 5_000, 20_000)))
        if method == "entry_fee_plus_royalty":
            entry = Decimal(rng.choice((5_000, 20_000, 50_000, 200_000)))
        effective = date(2026, 1, 5) + timedelta(days=rng.randrange(300))
        yield (
            f"KF{effective.year}{first_number + offset + 1:07d}",
            "announced",
            method,
            basis,
            lump,
            entry,
            rate,
            minimum,
            None,
            "许可联系人",
            "010-12345678",
            "licensing@example.com",
            "",
            True,
            "按行业惯例确定。",
            "",
            Jsonb([]),
            Jsonb([]),
            effective,
            NOW,
            NOW,
            smes + owner_id,  # the patentee's admin user
            owner_id,
            patent_id,
        )


def compute_vectors() -> dict[str, float]:
    """Text vectors of patents, needs and SME profiles, as the `index` queue stores them."""
    from marketplace.models import Industry, Patent, SmeProfile, TechnologyNeed
    from matching.services import _need_text, _patent_text, _sme_text, vectors_for

    timings: dict[str, float] = {}
    names = dict(Industry.objects.values_list("code", "name_zh"))
    sources: dict[str, Any] = {
        "patent": (Patent.objects.only("title", "abstract"), _patent_text),
        "need": (TechnologyNeed.objects.all(), _need_text),
        "sme": (
            SmeProfile.objects.only("organisation_id", "industry_id", "description"),
            lambda profile: _sme_text(profile, names),
        ),
    }
    for kind, (queryset, text) in sources.items():
        with common.stopwatch(f"vectors: {kind}", timings):
            batch: dict[int, str] = {}
            for item in queryset.order_by("pk").iterator(chunk_size=5000):
                key = item.organisation_id if kind == "sme" else item.pk
                batch[key] = text(item)
                if len(batch) == 20_000:
                    vectors_for(kind, batch)
                    batch = {}
            vectors_for(kind, batch)
    return timings


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smes", type=int, default=SMES)
    parser.add_argument("--declarations", type=int, default=DECLARATIONS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--load-only", action="store_true")
    args = parser.parse_args(argv)
    common.setup_django()
    print(common.ensure_schema())
    if loaded() != (args.smes, args.declarations):
        print(f"loading {args.smes} SMEs and {args.declarations} declarations ...", flush=True)
        timings = load_data(args.smes, args.declarations, args.seed)
        timings.update(compute_vectors())
        for label, value in timings.items():
            print(f"  {label:<40} {value:8.1f}")
    if args.load_only:
        return


if __name__ == "__main__":
    main()
