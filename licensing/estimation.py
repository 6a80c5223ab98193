"""Royalty estimation (rules §6): what a declaration costs an SME, year by year; and a
suggested range for a patentee from versioned reference statistics, naming the basis."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dateutil.relativedelta import relativedelta

from licensing.models import Declaration, RoyaltyStatistic

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def license_years(declaration: Declaration, start: date) -> int:
    """How many (whole or part) license years a license starting on `start` would run."""
    end = declaration.patent.expiry_date
    if declaration.license_term_years:
        end = min(end, start + relativedelta(years=declaration.license_term_years))
    delta = relativedelta(end, start)
    return max(1, delta.years + (1 if (delta.months or delta.days) else 0))


def estimate_cost(
    declaration: Declaration, *, projected: list[Decimal], start: date
) -> dict[str, Any]:
    """Year-by-year cost at the projected net sales or profit (the declaration's basis).

    `projected` gives the basis amount for years 1, 2, …; the last value repeats for the
    remaining years of the term.
    """
    years = license_years(declaration, start)
    rate = declaration.royalty_rate_percent or ZERO
    minimum = declaration.minimum_annual_royalty_cny or ZERO
    upfront = declaration.lump_sum_cny or declaration.entry_fee_cny or ZERO
    rows = []
    total = ZERO
    for number in range(1, years + 1):
        basis = projected[min(number, len(projected)) - 1] if projected else ZERO
        royalty = _money(basis * rate / 100)
        top_up = max(minimum - royalty, ZERO) if rate else ZERO
        paid_upfront = upfront if number == 1 else ZERO
        cost = paid_upfront + royalty + top_up
        total += cost
        rows.append(
            {
                "year": number,
                "basis_cny": str(basis),
                "upfront_cny": str(paid_upfront),
                "royalty_cny": str(royalty),
                "minimum_top_up_cny": str(top_up),
                "cost_cny": str(cost),
                "cumulative_cny": str(total),
            }
        )
    return {
        "declaration": declaration.pk,
        "payment_method": declaration.payment_method,
        "royalty_basis": declaration.royalty_basis,
        "years": rows,
        "total_cny": str(total),
    }


def suggest_range(*, industry_code: str | None, basis: str) -> dict[str, Any]:
    """The most specific statistic for the industry (division, then section, then all
    industries) in its newest version; returns the range and which statistic was used."""
    candidates = RoyaltyStatistic.objects.filter(basis=basis).order_by("-version")
    chosen = None
    for code in _industry_chain(industry_code):
        chosen = candidates.filter(industry_code=code).first()
        if chosen:
            break
    if chosen is None:
        chosen = candidates.filter(industry_code="").first()
    if chosen is None:
        return {"basis": basis, "available": False, "used": None}
    return {
        "basis": basis,
        "available": True,
        "low": str(chosen.low) if chosen.low is not None else None,
        "typical": str(chosen.typical),
        "high": str(chosen.high) if chosen.high is not None else None,
        "unit": chosen.unit,
        "used": {
            "industry": chosen.industry_code or "all industries",
            "version": chosen.version,
            "statistic": chosen.statistic,
            "sample_size": chosen.sample_size,
            "source": chosen.source,
        },
    }


def _industry_chain(code: str | None) -> list[str]:
    if not code:
        return []
    chain = []
    while len(code) >= 1:
        chain.append(code)
        code = code[:-1] if len(code) > 3 else (code[0] if len(code) > 1 else "")
        if not code:
            break
    return list(dict.fromkeys(chain))
