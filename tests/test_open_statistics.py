"""Open statistics: exact counts per table, the small-cell rule (primary and secondary), JSON and
CSV for anyone, nothing that names an SME, and the refresh that the API reads from."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from licensing.models import Declaration, License, StatisticsCell
from licensing.open_statistics import statistics_refresh
from licensing.services import declarations as declaration_services
from licensing.services import licenses as services
from licensing.tasks import refresh_open_statistics
from marketplace.models import Organisation, OrganisationKind, Region, User
from tests.conftest import ROLES, World
from tests.declarations_helpers import announced, declarable_patent
from tests.factories import MembershipFactory, OrganisationFactory, SmeProfileFactory

TODAY = timezone.localdate
MONTH = f"{TODAY().year:04d}-{TODAY().month:02d}"
DIMENSIONS = ("month", "province", "ipc-section", "ipc-class", "patentee-kind", "payment-mode")


@dataclass
class Market:
    smes: list[tuple[Organisation, User]]
    licenses: list[License]
    declarations: dict[str, Declaration]


def _license(declaration: Declaration, sme: tuple[Organisation, User]) -> License:
    organisation, user = sme
    return services.license_accept(
        actor=user,
        declaration_id=declaration.pk,
        licensee_id=organisation.pk,
        notice_text="通知",
        payment={
            "amount_cny": declaration.entry_fee_cny,
            "reference": f"R{declaration.pk}-{organisation.pk}",
            "paid_on": TODAY(),
        },
    )


@pytest.fixture
def market(world: World) -> Market:
    """University (Jiangsu): H01M with 3 licenses, A61K with 3, G06F with 1 (rate 5 %).
    Institute (Guangdong): H01L with 1 license, and a declaration since withdrawn."""
    guangdong = Region.objects.filter(code__startswith="44", level="county").first()
    institute = OrganisationFactory.create(
        name="广东示范研究院", kind=OrganisationKind.RESEARCH_INSTITUTE, region=guangdong
    )
    institute_user = MembershipFactory.create(organisation=institute).user
    uni, reviewer = world.university_member, world.reviewer
    declarations = {
        "H01M": announced(declarable_patent(world.university, 1), uni, reviewer),
        "A61K": announced(
            declarable_patent(world.university, 2, main_ipc="A61K 36/00", further_ipcs=[]),
            uni,
            reviewer,
            entry_fee_cny="80000.00",
        ),
        "G06F": announced(
            declarable_patent(world.university, 3, main_ipc="G06F 16/00", further_ipcs=[]),
            uni,
            reviewer,
            royalty_rate_percent="5.0000",
        ),
        "H01L": announced(
            declarable_patent(institute, 4, main_ipc="H01L 21/00", further_ipcs=[]),
            institute_user,
            reviewer,
        ),
        "withdrawn": announced(
            declarable_patent(institute, 5, main_ipc="H01L 33/00", further_ipcs=[]),
            institute_user,
            reviewer,
        ),
    }
    declaration_services.declaration_request_withdrawal(
        actor=institute_user, declaration_id=declarations["withdrawn"].pk, reason="不再开放"
    )
    declaration_services.declaration_approve_withdrawal(
        actor=reviewer, declaration_id=declarations["withdrawn"].pk
    )
    smes = [(world.sme, world.sme_admin)]
    for index in range(2):
        profile = SmeProfileFactory.create(organisation__name=f"示范中小企业{index}")
        user = MembershipFactory.create(organisation=profile.organisation).user
        smes.append((profile.organisation, user))
    licenses = [_license(declarations["H01M"], sme) for sme in smes]
    licenses += [_license(declarations["A61K"], sme) for sme in smes]
    licenses.append(_license(declarations["G06F"], smes[0]))
    licenses.append(_license(declarations["H01L"], smes[1]))
    for license in licenses[:3]:
        services.license_file(
            actor=world.university_member, license_id=license.pk, filed_on=TODAY()
        )
    services.royalty_report(
        actor=world.sme_admin,
        license_id=licenses[0].pk,
        period_start=TODAY(),
        period_end=TODAY(),
        basis_amount=Decimal("100000.00"),
    )
    return Market(smes=smes, licenses=licenses, declarations=declarations)


def _refreshed() -> list[dict[str, Any]]:
    """The cells as a refresh stores them."""
    statistics_refresh()
    return [dict(row) for row in StatisticsCell.objects.values()]


def _table(rows: list[dict[str, Any]], dimension: str) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in rows if row["dimension"] == dimension}


def _figures(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["declarations_announced"],
        row["declarations_withdrawn"],
        row["declarations_in_force"],
        row["licenses_granted"],
        row["licenses_filed"],
        row["royalty_reports"],
        row["royalties_reported_cny"],
        row["is_suppressed"],
    )


@pytest.mark.django_db
def test_the_tables_count_exactly_and_hide_cells_of_fewer_than_three_licenses(
    market: Market,
) -> None:
    rows = _refreshed()
    # (announced, withdrawn, in force, granted, filed, royalty reports, royalties, suppressed)
    # One royalty report from one licensee: hidden everywhere, the total too.
    assert _figures(_table(rows, "total")["all"]) == (5, 1, 4, 8, 3, None, None, True)
    ipc_class = _table(rows, "ipc_class")
    assert {key: _figures(row) for key, row in ipc_class.items()} == {
        # A61: 3 licenses, shown... but hidden as the next smallest beside G06's single one.
        "A61": (1, 0, 1, None, 0, 0, Decimal("0.00"), True),
        "G06": (1, 0, 1, None, 0, 0, Decimal("0.00"), True),
        # H01: H01M's 3 and H01L's 1; 3 filed; the one report hidden with its sum.
        "H01": (3, 1, 2, 4, 3, None, None, True),
    }
    kind = _table(rows, "patentee_kind")
    # The institute's single license is hidden, so the university's 7 is too (8 - 7 = 1).
    assert {key: _figures(row)[:5] for key, row in kind.items()} == {
        "research_institute": (2, 1, 1, None, 0),
        "university": (3, 0, 3, None, 3),
    }
    province = _table(rows, "province")
    assert {key: row["licenses_granted"] for key, row in province.items()} == {
        "320000": None,
        "440000": None,
    }
    assert province["320000"]["label_zh"] == "江苏省"
    section = _table(rows, "ipc_section")
    assert {key: row["licenses_granted"] for key, row in section.items()} == {
        "A": None,
        "G": None,
        "H": 4,
    }
    month = _table(rows, "month")
    assert _figures(month[MONTH])[:5] == (5, 1, 4, 8, 3)
    method = _table(rows, "payment_method")
    assert _figures(method["entry_fee_plus_royalty"])[:5] == (5, 1, 4, 8, 3)


@pytest.mark.django_db
def test_medians_need_three_declared_terms(market: Market) -> None:
    rows = _refreshed()
    total = _table(rows, "total")["all"]
    # Rates 3.5, 3.5, 5, 3.5, 3.5; entry fees 50000 ×4 and 80000.
    assert total["median_royalty_rate_percent"] == Decimal("3.5000")
    assert total["median_upfront_cny"] == Decimal("50000.00")
    ipc_class = _table(rows, "ipc_class")
    assert ipc_class["H01"]["median_royalty_rate_percent"] == Decimal("3.5000")
    assert ipc_class["A61"]["median_upfront_cny"] is None
    assert ipc_class["G06"]["median_royalty_rate_percent"] is None


@pytest.mark.django_db
def test_the_api_serves_the_refreshed_cells_only(world: World, market: Market) -> None:
    client = world.client("anonymous")
    before = client.get("/api/v1/statistics/province/")
    assert before.status_code == 200
    assert (before.json()["rows"], before.json()["total"]) == ([], None)
    assert refresh_open_statistics() == StatisticsCell.objects.count()
    # The empty table rendered (and cached) before the refresh is not served after it.
    province = client.get("/api/v1/statistics/province/").json()
    assert [row["key"] for row in province["rows"]] == ["320000", "440000"]
    after = client.get("/api/v1/statistics/ipc-class/").json()
    assert [row["key"] for row in after["rows"]] == ["A61", "G06", "H01"]
    assert after["total"]["licenses_granted"] == 8
    assert after["minimum_licenses_per_cell"] == 3
    assert after["rows"][2]["licenses_granted"] == 4
    assert after["rows"][0]["licenses_granted"] is None


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_anyone_reads_every_table_as_json_and_csv_and_no_sme_is_named(
    world: World, market: Market, role: str
) -> None:
    statistics_refresh()
    client = world.client(role)
    index = client.get("/api/v1/statistics/")
    assert index.status_code == 200
    assert index.json()["dimensions"] == list(DIMENSIONS)
    assert index["Cache-Control"] == "public, max-age=300"
    sme_names = [organisation.name for organisation, _user in market.smes]
    for dimension in DIMENSIONS:
        as_json = client.get(f"/api/v1/statistics/{dimension}/")
        as_csv = client.get(f"/api/v1/statistics/{dimension}/?file_format=csv")
        assert (as_json.status_code, as_csv.status_code) == (200, 200)
        assert as_csv["Content-Type"] == "text/csv; charset=utf-8"
        text = as_csv.content.decode("utf-8-sig")
        for body in (as_json.content.decode(), text):
            assert not any(name in body for name in sme_names)
    kinds = client.get("/api/v1/statistics/patentee-kind/?file_format=csv")
    rows = list(csv.DictReader(io.StringIO(kinds.content.decode("utf-8-sig"))))
    assert [row["key"] for row in rows][-1] == "all"
    by_key = {row["key"]: row for row in rows}
    # Suppressed figures are empty cells in the CSV.
    assert by_key["research_institute"]["licenses_granted"] == ""
    assert by_key["all"]["licenses_granted"] == "8"


@pytest.mark.django_db
def test_an_unknown_table_or_format_is_refused_in_the_error_format(world: World) -> None:
    client = world.client("anonymous")
    unknown = client.get("/api/v1/statistics/sme/")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not_found"
    bad_format = client.get("/api/v1/statistics/month/?file_format=xml")
    assert bad_format.status_code == 400
    assert bad_format.json()["fields"]["file_format"][0]["code"] == "invalid_choice"


@pytest.mark.django_db
def test_a_refresh_replaces_the_cells_in_one_transaction(world: World, market: Market) -> None:
    statistics_refresh()
    first = set(StatisticsCell.objects.values_list("dimension", "key"))
    services.license_accept(
        actor=market.smes[2][1],
        declaration_id=market.declarations["G06F"].pk,
        licensee_id=market.smes[2][0].pk,
        notice_text="通知",
        payment={"amount_cny": Decimal("50000.00"), "reference": "R-new", "paid_on": TODAY()},
    )
    statistics_refresh()
    assert set(StatisticsCell.objects.values_list("dimension", "key")) == first
    total = StatisticsCell.objects.get(dimension="total")
    assert total.licenses_granted == 9


@pytest.mark.django_db
def test_the_admin_lists_the_cells_and_refreshes_them(client: Any, market: Market) -> None:
    admin_user = User.objects.create_superuser(email="root@example.com", password="pw")
    client.force_login(admin_user)
    response = client.post(
        "/admin/licensing/statisticscell/",
        {"action": "refresh", "_selected_action": ["0"], "select_across": "1"},
        follow=True,
    )
    assert response.status_code == 200
    assert StatisticsCell.objects.get(dimension="total").licenses_granted == 8
    listing = client.get("/admin/licensing/statisticscell/?dimension=ipc_class")
    assert listing.status_code == 200
    assert "H01" in listing.content.decode()


@pytest.mark.django_db
def test_a_license_event_schedules_one_refresh_for_the_next_five_minutes(
    market: Market,
) -> None:
    from django.core.cache import cache

    from licensing.models import LicenseEvent
    from licensing.tasks import STATISTICS_REFRESH_PENDING, notify_license_event

    cache.delete(STATISTICS_REFRESH_PENDING)
    event = LicenseEvent.objects.filter(license=market.licenses[0]).first()
    assert event is not None
    notify_license_event(event.pk)
    assert cache.get(STATISTICS_REFRESH_PENDING) == 1
    # A second event within the window finds the refresh due and schedules none.
    assert cache.add(STATISTICS_REFRESH_PENDING, 1) is False


@pytest.mark.django_db
def test_asking_for_csv_by_accept_header_gets_csv(world: World) -> None:
    response = world.client("anonymous").get(
        "/api/v1/statistics/month/?file_format=csv", HTTP_ACCEPT="text/csv"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"


@pytest.mark.django_db
def test_the_statistics_are_in_the_openapi_schema_for_anyone(world: World) -> None:
    schema = world.client("anonymous").get("/api/v1/schema/", {"format": "json"}).json()
    index = schema["paths"]["/api/v1/statistics/"]["get"]
    table = schema["paths"]["/api/v1/statistics/{dimension}/"]["get"]
    assert (index["operationId"], table["operationId"]) == ("statistics_index", "statistics_table")
    assert set(table["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert "400" in table["responses"] and "404" in table["responses"]
    dimension = next(p for p in table["parameters"] if p["name"] == "dimension")
    assert set(dimension["schema"]["enum"]) == set(DIMENSIONS)
    # No log-in: neither operation asks for a credential.
    assert index.get("security") in (None, [], [{}])
    assert table.get("security") in (None, [], [{}])
