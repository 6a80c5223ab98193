"""The open statistics as aggregated in SQL, on the cases the SQL has to get right by hand:
medians that fall between two terms (rounded half to even), a zero lump sum, a single small
cell, an empty market. (Before the Python grouping was removed, both were checked equal cell
for cell on the same data, at pilot scale too; BENCHMARKS.md, "Open statistics in SQL".)"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from bench import stats_bench
from licensing.models import Declaration, License, StatisticsCell
from licensing.open_statistics import statistics_refresh
from tests.conftest import World


def _stored() -> dict[tuple[str, str], dict[str, Any]]:
    statistics_refresh()
    return {(row["dimension"], row["key"]): dict(row) for row in StatisticsCell.objects.values()}


@pytest.mark.django_db
def test_an_empty_market_has_one_total_cell_of_zeros(world: World) -> None:
    cells = _stored()
    assert list(cells) == [("total", "all")]
    total = cells[("total", "all")]
    assert (total["label_zh"], total["label_en"]) == ("全部", "all")
    assert total["declarations_announced"] == total["licenses_granted"] == 0
    assert total["royalties_reported_cny"] == Decimal("0.00")
    assert total["median_royalty_rate_percent"] is None
    assert total["is_suppressed"] is False


@pytest.mark.django_db
def test_medians_between_two_terms_round_half_to_even_and_a_zero_lump_sum_falls_through(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given six announced declarations: four running royalties in January 2023 whose middle
    # rates are 1.0002 and 1.0003 and middle upfronts 10000.02 and 10000.03 (both means end in
    # a 5), one with a zero lump sum and an entry fee, one with no terms
    monkeypatch.setattr(stats_bench, "PATENTEES", 2)
    stats_bench._world(6, 0, 1, seed=3)
    declarations = list(Declaration.objects.filter(number__startswith="TJ").order_by("pk"))
    for declaration, rate, lump_sum in zip(
        declarations[:4],
        ("1.0000", "1.0002", "1.0003", "1.0009"),
        ("10000.00", "10000.02", "10000.03", "10000.09"),
        strict=True,
    ):
        declaration.payment_method = "running_royalty"
        declaration.royalty_rate_percent = Decimal(rate)
        declaration.lump_sum_cny, declaration.entry_fee_cny = Decimal(lump_sum), None
        declaration.effective_date = date(2023, 1, 10)
    declarations[4].payment_method = "lump_sum"
    declarations[4].royalty_rate_percent = None
    declarations[4].lump_sum_cny, declarations[4].entry_fee_cny = Decimal("0"), Decimal("20000")
    declarations[5].payment_method = "free"
    declarations[5].royalty_rate_percent = None
    declarations[5].lump_sum_cny = declarations[5].entry_fee_cny = None
    for declaration in declarations:
        declaration.status = "announced"
        declaration.withdrawal_date = declaration.ended_date = None
    Declaration.objects.bulk_update(
        declarations,
        [
            "payment_method",
            "royalty_rate_percent",
            "lump_sum_cny",
            "entry_fee_cny",
            "effective_date",
            "status",
            "withdrawal_date",
            "ended_date",
        ],
    )

    cells = _stored()

    # Then the mean of the middle terms is rounded half to even, as Decimal.quantize does:
    # 1.00025 → 1.0002 and 10000.025 → 10000.02 (half up would give 1.0003 and 10000.03)
    for key in (("payment_method", "running_royalty"), ("month", "2023-01")):
        assert cells[key]["median_royalty_rate_percent"] == Decimal("1.0002"), key
        assert cells[key]["median_upfront_cny"] == Decimal("10000.02"), key
    # And over all six the upfronts are 10000.00, .02, .03, .09 and the entry fee 20000.00
    # behind the zero lump sum: the median is 10000.03 (with the zero it would be 10000.02)
    total = cells[("total", "all")]
    assert total["median_upfront_cny"] == Decimal("10000.03")
    assert total["median_royalty_rate_percent"] == Decimal("1.0002")
    assert total["declarations_announced"] == total["declarations_in_force"] == 6
    # Medians need three terms
    assert cells[("payment_method", "lump_sum")]["median_upfront_cny"] is None


@pytest.mark.django_db
def test_a_single_small_cell_hides_the_next_smallest_of_its_table(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given licenses spread so that one payment mode has two licenses, one five, one the rest
    monkeypatch.setattr(stats_bench, "PATENTEES", 20)
    stats_bench._world(120, 60, 20, seed=11)
    licensed = set(License.objects.values_list("declaration_id", flat=True))
    with_license = sorted(licensed)
    Declaration.objects.filter(pk__in=with_license).update(payment_method="free")
    Declaration.objects.filter(pk__in=with_license[:2]).update(payment_method="lump_sum")
    Declaration.objects.filter(pk__in=with_license[2:7]).update(payment_method="running_royalty")

    cells = _stored()

    # Then the two is hidden, and so is the five (the total minus the rest would give the two)
    assert cells[("payment_method", "lump_sum")]["licenses_granted"] is None
    assert cells[("payment_method", "running_royalty")]["licenses_granted"] is None
    assert cells[("payment_method", "running_royalty")]["is_suppressed"] is True
    assert cells[("payment_method", "free")]["licenses_granted"] == 53
    assert cells[("total", "all")]["licenses_granted"] == 60
