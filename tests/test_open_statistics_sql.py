"""The open statistics aggregated in SQL give exactly the cells the former Python grouping gave,
on a varied market: every dimension, ties in the medians, single small cells, empty markets."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bench import stats_bench
from licensing.models import Declaration, License, LicenseFiling, RoyaltyReport, StatisticsCell
from licensing.open_statistics import statistics_refresh, statistics_refresh_in_python
from tests.conftest import World

COLUMNS = [
    field.name for field in StatisticsCell._meta.fields if field.name not in ("id", "refreshed_at")
]


def _stored() -> dict[tuple[str, str], dict[str, Any]]:
    return {(row["dimension"], row["key"]): row for row in StatisticsCell.objects.values(*COLUMNS)}


def _both() -> tuple[dict[tuple[str, str], dict[str, Any]], dict[tuple[str, str], dict[str, Any]]]:
    count_python = statistics_refresh_in_python()
    python = _stored()
    count_sql = statistics_refresh()
    sql = _stored()
    assert count_python == count_sql == len(python)
    return python, sql


@pytest.mark.django_db
def test_an_empty_market_gives_the_same_single_total_cell(world: World) -> None:
    python, sql = _both()
    assert sql == python
    assert list(sql) == [("total", "all")]


@pytest.mark.django_db
def test_sql_and_python_aggregations_give_the_same_cells_on_a_varied_market(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stats_bench, "PATENTEES", 40)
    # Given a small bench world (several patentee kinds, provinces, classes and modes, since
    # 2023, withdrawn and terminated declarations, filed licenses and royalty reports)
    stats_bench._world(400, 150, 40, seed=7)
    declarations = list(Declaration.objects.filter(number__startswith="TJ").order_by("pk"))
    # and medians that fall between two terms (a tie at the fifth decimal: half to even),
    for declaration, rate in zip(
        declarations[:4], ("1.0000", "1.0001", "1.0002", "1.0003"), strict=True
    ):
        declaration.royalty_rate_percent = Decimal(rate)
        declaration.payment_method = "running_royalty"
        declaration.effective_date = date(2023, 1, 10)
    for declaration, amount in zip(
        declarations[4:8], ("10000.01", "10000.02", "10000.05", "10000.06"), strict=True
    ):
        declaration.lump_sum_cny, declaration.entry_fee_cny = Decimal(amount), None
        declaration.effective_date = date(2023, 2, 10)
    # a zero lump sum that falls through to the entry fee, and an ended declaration with only
    # a withdrawal date
    declarations[8].lump_sum_cny, declarations[8].entry_fee_cny = Decimal("0.00"), Decimal("5.00")
    declarations[9].status, declarations[9].ended_date = "expired", None
    declarations[9].withdrawal_date = date(2024, 6, 1)
    Declaration.objects.bulk_update(
        declarations[:10],
        [
            "royalty_rate_percent",
            "payment_method",
            "effective_date",
            "lump_sum_cny",
            "entry_fee_cny",
            "status",
            "ended_date",
            "withdrawal_date",
        ],
    )
    # and a license effective before its declaration's month, a returned filing (not counted)
    # in another month, and one royalty report in a month nothing else happened
    license = License.objects.order_by("pk").first()
    assert license is not None
    License.objects.filter(pk=license.pk).update(effective_date=date(2022, 11, 5))
    filing = LicenseFiling.objects.order_by("pk").first()
    assert filing is not None
    LicenseFiling.objects.create(
        license_id=filing.license_id,
        filed_by_id=filing.filed_by_id,
        filed_on=filing.filed_on + timedelta(days=62),
        status="returned",
    )
    report = RoyaltyReport.objects.order_by("pk").first()
    assert report is not None
    RoyaltyReport.objects.filter(pk=report.pk).update(period_end=date(2030, 3, 31))

    # When both aggregations run on the same data
    python, sql = _both()

    # Then every cell is the same, figure for figure
    assert sql == python
    dimensions = {dimension for dimension, _key in sql}
    assert dimensions == {
        "total",
        "month",
        "province",
        "ipc_section",
        "ipc_class",
        "patentee_kind",
        "payment_method",
    }
    assert any(row["is_suppressed"] for row in sql.values())
    assert sql[("month", "2023-01")]["median_royalty_rate_percent"] is not None


@pytest.mark.django_db
def test_a_single_small_cell_hides_the_next_smallest_in_sql_as_in_python(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stats_bench, "PATENTEES", 20)
    # Given licenses spread so that one payment mode has two licenses and the others more
    stats_bench._world(120, 60, 20, seed=11)
    declarations = list(Declaration.objects.filter(number__startswith="TJ").order_by("pk"))
    licensed = set(License.objects.values_list("declaration_id", flat=True))
    with_license = [d for d in declarations if d.pk in licensed]
    Declaration.objects.filter(pk__in=[d.pk for d in with_license]).update(payment_method="free")
    Declaration.objects.filter(pk__in=[d.pk for d in with_license[:2]]).update(
        payment_method="lump_sum"
    )
    Declaration.objects.filter(pk__in=[d.pk for d in with_license[2:7]]).update(
        payment_method="running_royalty"
    )

    python, sql = _both()

    assert sql == python
    assert sql[("payment_method", "lump_sum")]["licenses_granted"] is None
    assert sql[("payment_method", "running_royalty")]["licenses_granted"] is None
    assert sql[("payment_method", "free")]["licenses_granted"] is not None
