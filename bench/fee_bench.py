"""Annual-fee totals of a big patentee: `GET /api/v1/organisations/{id}/fee-totals/`.

The pilot's patentees hold 18 patents on average, but a big university holds thousands, and
its fee totals walk every remaining patent year of every patent in force (rules §5: the
schedule, the general reduction with its 10-year window, the 15 % open-license reduction of
filed licenses, late fees). The benchmark builds one university with `--patents` patents in
force (default 3,000), a tenth of them with a co-owner, a fifth under an open license that was
filed (a few of those declarations withdrawn since), some with last year's fee unpaid, and
times the endpoint through Django's test client. Baseline in the same run: one raw SQL
statement that reads every row the totals depend on (the floor for the reading).

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_fees REDIS_URL=redis://127.0.0.1:6379/12
    .venv/bin/python manage.py ensure_database
    .venv/bin/python bench/fee_bench.py [--patents 3000] [--repeat 10]
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

UNIVERSITY = "基准大学（年费）"
SEED = 20261121


def _world(patents: int, seed: int) -> tuple[int, Any]:
    """The university with its patents, licenses and filings; reused when already there."""
    from django.db import transaction
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from licensing.models import Declaration, FilingStatus, License, LicenseFiling, LicenseStatus
    from marketplace.models import Membership, Organisation, Patent, PatentCoOwner, Region, User
    from marketplace.models.organisations import MembershipRole, OrganisationKind
    from marketplace.patents.terms import patent_year
    from tests.declarations_helpers import service_terms
    from tests.factories import application_number, patent_values

    existing = Organisation.objects.filter(name=UNIVERSITY).first()
    if existing is not None and Patent.objects.filter(owner=existing).count() == patents:
        # A rerun reuses the world (the answer moves only with the date).
        admin = Membership.objects.filter(organisation=existing).first()
        assert admin is not None
        return existing.pk, Token.objects.get(user_id=admin.user_id).key
    rng = random.Random(seed)
    today = timezone.localdate()
    now = timezone.now()
    region = Region.objects.get(code="320102")
    with transaction.atomic():
        if existing is not None:
            raise SystemExit(f"{UNIVERSITY} exists with another patent count: drop bench_fees")
        university = Organisation.objects.create(
            name=UNIVERSITY,
            kind=OrganisationKind.UNIVERSITY,
            credit_code="12100000466000001X",
            region=region,
        )
        partner = Organisation.objects.create(
            name="基准研究院（共有人）",
            kind=OrganisationKind.RESEARCH_INSTITUTE,
            credit_code="12100000466000002X",
            region=region,
        )
        licensee = Organisation.objects.create(
            name="基准电池有限公司",
            kind=OrganisationKind.SME,
            credit_code="91320000466000003X",
            region=region,
        )
        admin = User.objects.create_user(email="fees.admin@example.com", password=None)
        Membership.objects.create(user=admin, organisation=university, role=MembershipRole.ADMIN)
        token = Token.objects.create(user=admin)
        rows = []
        for serial in range(1, patents + 1):
            kind = rng.choices(("1", "2", "3"), (80, 15, 5))[0]  # invention, utility, design
            filed = date(rng.randrange(2008, 2025), rng.randrange(1, 13), rng.randrange(1, 29))
            granted = filed + timedelta(days=rng.randrange(300, 1400))
            if granted >= today:
                granted = today - timedelta(days=30)
            values = patent_values(
                serial,
                application_number=application_number(filed.year, kind, serial),
                filing_date=filed.isoformat(),
                grant_date=granted.isoformat(),
                further_ipcs=[],
            )
            values["annual_fees_paid_through"] = patent_year(filed, today) - (
                1 if rng.random() < 0.3 else 0
            )
            if values["expiry_date"] < today:
                values["legal_status"] = "expired"  # the term ended: no more fees
            rows.append(Patent(owner=university, **values))
        created = Patent.objects.bulk_create(rows, batch_size=1000)
        in_force = [p for p in created if p.legal_status == "in_force"]
        PatentCoOwner.objects.bulk_create(
            PatentCoOwner(patent=p, organisation=partner) for p in in_force if rng.random() < 0.1
        )
        licensed = [p for p in in_force if rng.random() < 0.2]
        declarations = Declaration.objects.bulk_create(
            Declaration(
                patent=p,
                organisation=university,
                status="withdrawn" if number % 25 == 0 else "announced",
                number=f"KF2024{number:07d}",
                effective_date=date(2024, 3, 1),
                withdrawal_date=date(2025, 9, 1) if number % 25 == 0 else None,
                created_by=admin,
                **service_terms(),
            )
            for number, p in enumerate(licensed, start=1)
        )
        licenses = License.objects.bulk_create(
            License(
                declaration=d,
                patent=d.patent,
                licensor=university,
                licensee=licensee,
                status=LicenseStatus.EFFECTIVE,
                notice_text="书面通知",
                notice_sent_at=now,
                notice_delivered_at=now,
                due_at_acceptance_cny=Decimal("0.00"),
                effective_date=date(2024, 4, 1),
                term_end=date(2029, 3, 31),
                created_by=admin,
            )
            for d in declarations
        )
        LicenseFiling.objects.bulk_create(
            LicenseFiling(
                license=lic, filed_by=admin, filed_on=date(2024, 5, 6), status=FilingStatus.ACCEPTED
            )
            for lic in licenses
        )
    print(
        f"  created {len(created)} patents ({len(in_force)} in force), "
        f"{len(licenses)} filed open licenses"
    )
    return university.pk, token.key


def baseline_sql(organisation_id: int) -> float:
    """One statement reading what the totals depend on: patents, co-owners, filed licenses."""
    sql = """
        SELECT p.id, p.patent_type, p.filing_date, p.grant_date, p.annual_fees_paid_through,
               EXISTS (SELECT 1 FROM marketplace_patentcoowner c WHERE c.patent_id = p.id),
               f.filed_on, l.effective_date, l.term_end, d.withdrawal_date
        FROM marketplace_patent p
        LEFT JOIN licensing_license l ON l.patent_id = p.id AND l.is_open_license
        LEFT JOIN licensing_licensefiling f ON f.license_id = l.id
             AND f.status IN ('filed', 'accepted')
        LEFT JOIN licensing_declaration d ON d.id = l.declaration_id
        WHERE p.owner_id = %s AND p.legal_status = 'in_force'
    """
    with common.connect() as conn:
        began = time.perf_counter()
        conn.execute(sql, [organisation_id]).fetchall()
        return time.perf_counter() - began


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patents", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    common.setup_django()
    from django.db import connection
    from django.test import Client

    print(common.ensure_schema())
    result: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": common.machine()}
    print(f"load average before: {result['machine']['loadavg_1_5_15']}")
    organisation_id, token = _world(args.patents, args.seed)
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token}")
    path = f"/api/v1/organisations/{organisation_id}/fee-totals/"
    statements = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        first = client.get(path)
    assert first.status_code == 200, first.content
    body = first.json()
    print(f"  {body}")
    timings = []
    for _ in range(args.repeat):
        began = time.perf_counter()
        response = client.get(path)
        timings.append(time.perf_counter() - began)
        assert response.json() == body
    sql = [baseline_sql(organisation_id) for _ in range(args.repeat)]
    result.update(
        {
            "patents": args.patents,
            "answer": body,
            "statements": statements,
            "api_ms": common.summary(timings),
            "baseline_sql_ms": common.summary(sql),
        }
    )
    print(f"  statements per request: {statements}")
    print(f"  {common.format_summary('GET fee-totals', timings)}")
    print(f"  {common.format_summary('baseline: raw SQL of the rows', sql)}")
    per_patent = result["api_ms"]["p50"] / max(int(body["patents"]), 1)
    print(f"  {per_patent:.3f} ms per patent in force")
    result["loadavg_end"] = common.machine()["loadavg_1_5_15"]
    saved = common.save_results(f"fees-{args.patents}", result)
    print(f"saved {saved.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
