"""Every public list ordering and filter is served by an index: the queries the endpoints really
send, EXPLAINed at a few thousand rows, never read the whole patent or declaration table
(no sequential scan, no sort of every row before the page)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from licensing.models import Declaration
from marketplace.models import Patent
from tests.conftest import World
from tests.declarations_helpers import announced, declarable_patent

PATENTS = 4000
SORT_LIMIT = 500  # rows: a selective filter's matches may be sorted, never a table's worth
BIG_TABLES = (Patent._meta.db_table, Declaration._meta.db_table)
PUBLIC_STATUSES = (
    "announced",
    "withdrawn",
    "terminated",
    "revoked",
    "expired",
    "superseded",
    "withdrawal_requested",
)


def _columns(table: str) -> list[str]:
    """Columns an INSERT may set: not the serial id, not the generated ones."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
            " AND is_generated = 'NEVER' AND column_name <> 'id' ORDER BY ordinal_position",
            [table],
        )
        return [row[0] for row in cursor.fetchall()]


def _clone(table: str, template_id: int, overrides: dict[str, str], source: str) -> None:
    """Copy the template row once per row of `source` (SQL with a column n), with overrides."""
    columns = _columns(table)
    values = ", ".join(overrides.get(column, f"t.{column}") for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {values}"
            f" FROM {table} t, ({source}) s WHERE t.id = %s",
            [template_id],
        )


# 1 patent in RARE_EVERY is in textiles (IPC D01F 6/00), the rest in batteries (H01M): a
# rare filter's matches are few, so a plan that walks the register for them reads everything.
RARE_EVERY = 100
RARE = f"mod(s.n, {RARE_EVERY}) = 0"
RARE_PREFIXES = "ARRAY['D', 'D01', 'D01F', 'D01F6', 'D01F6/00']::varchar(20)[]"


@pytest.fixture
def crowd(world: World) -> dict[str, Any]:
    """4,000 patents of one university (3 in 4 listed; 1 in RARE_EVERY in textiles) and one
    declaration on each, spread over the statuses (drafts too), effective dates and payment
    methods; then ANALYZE."""
    patent = declarable_patent(world.university, 1, is_listed=True)
    declaration = announced(patent, world.university_admin, world.reviewer)
    _clone(
        Patent._meta.db_table,
        patent.pk,
        {
            "application_number": "'X' || lpad(s.n::text, 13, '0')",
            "is_listed": "mod(s.n, 4) <> 0",
            "patent_type": "(ARRAY['invention', 'utility_model', 'design'])[mod(s.n, 3) + 1]",
            "legal_status": "CASE WHEN mod(s.n, 10) = 0 THEN 'expired' ELSE t.legal_status END",
            "created_at": "t.created_at - make_interval(mins => s.n::int)",
            "main_ipc": f"CASE WHEN {RARE} THEN 'D01F 6/00' ELSE t.main_ipc END",
            "further_ipcs": f"CASE WHEN {RARE} THEN '{{}}' ELSE t.further_ipcs END",
            "ipc_prefixes": f"CASE WHEN {RARE} THEN {RARE_PREFIXES} ELSE t.ipc_prefixes END",
        },
        f"SELECT generate_series(1, {PATENTS - 1}) AS n",
    )
    statuses = ", ".join(f"'{status}'" for status in (*PUBLIC_STATUSES, "draft"))
    _clone(
        Declaration._meta.db_table,
        declaration.pk,
        {
            "patent_id": "s.patent_id",
            "number": "CASE WHEN mod(s.n, 8) = 7 THEN NULL"
            " ELSE 'OL9' || lpad(s.n::text, 10, '0') END",
            "status": f"(ARRAY[{statuses}])[mod(s.n, 8) + 1]",
            "payment_method": "(ARRAY['lump_sum', 'entry_fee_plus_royalty'])[mod(s.n, 2) + 1]",
            "effective_date": "CASE WHEN mod(s.n, 8) = 7 THEN NULL"
            " ELSE t.effective_date - mod(s.n, 700)::int END",
            "created_at": "t.created_at - make_interval(mins => s.n::int)",
        },
        f"SELECT id AS patent_id, row_number() OVER (ORDER BY id) AS n"
        f" FROM {Patent._meta.db_table} WHERE id <> {patent.pk}",
    )
    with connection.cursor() as cursor:
        # The word index's pending list holds the crowd's rows until a VACUUM (as a freshly
        # loaded table's would): merged now, as autovacuum does in service.
        cursor.execute("SELECT gin_clean_pending_list('patent_search')")
        cursor.execute(f"ANALYZE {Patent._meta.db_table}")
        cursor.execute(f"ANALYZE {Declaration._meta.db_table}")
    return {"patent": patent, "organisation": world.university}


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += _nodes(child)
    return found


def _whole_table_reads(path: str) -> list[str]:
    """Plans of the queries a GET of `path` sends that scan or sort a big table entirely."""
    client = APIClient()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, response.content
    problems = []
    for query in queries.captured_queries:
        sql = query["sql"]
        if not any(f'"{table}"' in sql for table in BIG_TABLES) or sql.startswith("SAVEPOINT"):
            continue
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
            raw = cursor.fetchone()[0]
        plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
        nodes = _nodes(plan)
        for node in nodes:
            if node["Node Type"] == "Seq Scan" and node["Relation Name"] in BIG_TABLES:
                problems.append(f"Seq Scan on {node['Relation Name']}: {sql}")
            # A sort of more rows than a few pages: the index does not give the order.
            if node["Node Type"] == "Sort" and node["Plans"][0]["Plan Rows"] > SORT_LIMIT:
                problems.append(f"Sort of {node['Plans'][0]['Plan Rows']} rows: {sql}")
    return problems


READ_LIMIT = 300  # rows of a big table one request may read: a page (51) of each, and slack


def _rows_read(path: str) -> dict[str, int]:
    """Rows of each big table that the queries of a GET of `path` really read (EXPLAIN
    ANALYZE: rows returned plus rows a filter or a recheck threw away, times loops). A walk of
    the ordered index past rows that fail the filter shows here, not in the plan's shape.

    Sequential scans are disabled for the EXPLAIN: at 4,000 rows the declaration table is a
    few hundred pages and reading it whole is the cheapest plan for a rare filter, which it is
    not at 1,000,000 (BENCHMARKS.md, the register at 1M). What is checked is that an index plan
    reading only about a page exists and is the planner's choice among the index plans; a
    sequential scan, if the planner still has no other way, counts every row and fails."""
    client = APIClient()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, response.content
    read: dict[str, int] = {}
    for query in queries.captured_queries:
        sql = query["sql"]
        if not any(f'"{table}"' in sql for table in BIG_TABLES) or sql.startswith("SAVEPOINT"):
            continue
        with connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off")
            try:
                cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
                raw = cursor.fetchone()[0]
            finally:
                cursor.execute("RESET enable_seqscan")
        plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
        for node in _nodes(plan):
            table = node.get("Relation Name")
            if table not in BIG_TABLES:
                continue
            rows = (
                node["Actual Rows"]
                + node.get("Rows Removed by Filter", 0)
                + node.get("Rows Removed by Index Recheck", 0)
            )
            read[table] = read.get(table, 0) + int(rows * node["Actual Loops"])
    return read


def _next(path: str) -> str:
    """The second page's address (the cursor's WHERE clause must be served too)."""
    link = APIClient().get(path).json()["next"]
    assert link, path
    return str(link).removeprefix("http://testserver")


PATENT_LISTS = [
    "/api/v1/patents/",
    "/api/v1/patents/?patent_type=invention",
    "/api/v1/patents/?patent_type=invention&patent_type=design",
    "/api/v1/patents/?legal_status=expired",
    "/api/v1/patents/?ipc=H01M",
]
REGISTER_LISTS = [
    "/api/v1/register/",
    "/api/v1/register/?status=announced",
    "/api/v1/register/?status=withdrawn&status=revoked",
    "/api/v1/register/?payment_method=lump_sum",
    "/api/v1/register/?effective_from=2000-01-01",
    "/api/v1/register/?ipc=H01M",
    "/api/v1/declarations/",
    "/api/v1/declarations/?status=announced",
]
REFERENCE_LISTS = [
    "/api/v1/organisations/",
    "/api/v1/reference/industries/",
    "/api/v1/reference/regions/",
    "/api/v1/reference/regions/?level=province",
    "/api/v1/reference/ipc/",
    "/api/v1/reference/tables/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", PATENT_LISTS + REGISTER_LISTS)
def test_public_list_is_served_by_an_index(crowd: dict[str, Any], path: str) -> None:
    assert _whole_table_reads(path) == []
    assert _whole_table_reads(_next(path)) == []


# The register's filters and their combinations, common and rare: each reads about a page.
REGISTER_FILTERS = [
    "/api/v1/register/",
    "/api/v1/register/?ipc=H01M",
    "/api/v1/register/?ipc=H",
    "/api/v1/register/?ipc=D",
    "/api/v1/register/?ipc=D01F",
    "/api/v1/register/?ipc=D01F6/00",
    "/api/v1/register/?ipc=D&status=announced",
    "/api/v1/register/?ipc=D&payment_method=lump_sum",
    "/api/v1/register/?ipc=D&effective_from=2000-01-01",
    "/api/v1/register/?status=withdrawn&status=revoked",
    "/api/v1/register/?payment_method=lump_sum&status=announced",
    "/api/v1/register/?effective_to=2100-01-01",
    "/api/v1/register/?q=OL90000000001",  # a declaration number
    "/api/v1/register/?q=ZL2021100000",  # the beginning of an application number
    "/api/v1/register/?q=2099100000",  # no such number: found missing through the index
    "/api/v1/register/?q=石墨烯",  # title words that no title has: through the word index
    pytest.param(
        "/api/v1/register/?q=锂离子",
        marks=pytest.mark.xfail(
            strict=True,
            reason="title words most titles have: every match is read and sorted by date (the"
            " word index narrows only rare words)",
        ),
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", REGISTER_FILTERS)
def test_a_register_filter_reads_about_a_page_however_rare_its_matches(
    crowd: dict[str, Any], path: str
) -> None:
    for address in (path, _next(path) if APIClient().get(path).json()["next"] else None):
        if address is None:
            continue
        read = _rows_read(address)
        assert all(rows <= READ_LIMIT for rows in read.values()), (address, read)


@pytest.mark.django_db
def test_the_read_guard_catches_a_register_walk(crowd: dict[str, Any]) -> None:
    """The check itself: without the declarations' IPC index a rare prefix walks the register
    (what the ?ipc= filter did through the patent at 1,000,000 patents: 3,798 rows a page)."""
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX declaration_public_ipc")
    read = _rows_read("/api/v1/register/?ipc=D")
    assert read[Declaration._meta.db_table] > 2000


@pytest.mark.django_db
@pytest.mark.parametrize("path", REFERENCE_LISTS)
def test_reference_list_does_not_read_the_patent_tables(crowd: dict[str, Any], path: str) -> None:
    assert _whole_table_reads(path) == []


@pytest.mark.django_db
def test_lists_of_one_organisation_and_one_patent_are_served_by_an_index(
    crowd: dict[str, Any],
) -> None:
    organisation = crowd["organisation"].pk
    patent = crowd["patent"].pk
    for path in (
        f"/api/v1/patents/?organisation={organisation}",
        f"/api/v1/declarations/?organisation={organisation}",
        f"/api/v1/declarations/?patent={patent}",
        f"/api/v1/patents/{patent}/declarations/",
        f"/api/v1/patents/{patent}/",
    ):
        assert _whole_table_reads(path) == [], path
    assert _whole_table_reads(_next(f"/api/v1/patents/?organisation={organisation}")) == []


@pytest.mark.django_db
def test_the_guard_catches_a_list_no_index_serves(crowd: dict[str, Any]) -> None:
    """The check itself: with the list's index gone, the same request fails it."""
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX patent_listed_created")
        cursor.execute("DROP INDEX patent_owner_created")
    listed = Patent.objects.filter(is_listed=True).count()
    problems = _whole_table_reads("/api/v1/patents/")
    assert len(problems) == 1
    found = re.fullmatch(r"Sort of (\d+) rows: SELECT .*", problems[0], re.S)
    assert found, problems[0][:80]
    # The whole listed table sorted (the plan's row count differs from the count by a few,
    # 2,991 to 3,006 against 3,001 seen: the statistics of a crowd loaded just before).
    assert listed * 0.9 <= int(found[1]) <= listed * 1.1, (found[1], listed)
