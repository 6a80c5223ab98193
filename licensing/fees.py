"""Annual fees with the 15 % open-license reduction (rules §5).

Per patent year: the full fee from the schedule in force on its due date; the general
reduction where the patentee qualifies (85 % single, 70 % joint, for 10 patent years from the
year of grant); the open-license reduction (15 %) for fees not yet due when a license was
filed and falling within that license's implementation period, stopping from the patent year
after a withdrawal; the larger reduction applied (no stacking); late fees in the grace period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dateutil.relativedelta import relativedelta

from licensing.models import AnnualFeeRate, FilingStatus, LicenseFiling
from licensing.rules import rule
from marketplace.models import Patent
from marketplace.patents.terms import patent_year, term_years

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class FeeYear:
    year: int
    due_date: date
    full_fee: Decimal
    general_reduction: Decimal  # a rate, e.g. 0.85
    open_license_reduction: Decimal
    applied_reduction: Decimal
    fee: Decimal
    open_license_saving: Decimal
    state: str  # paid, upcoming, due, late, lapsed
    late_fee: Decimal

    def as_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "due_date": self.due_date.isoformat(),
            "full_fee_cny": str(self.full_fee),
            "general_reduction": str(self.general_reduction),
            "open_license_reduction": str(self.open_license_reduction),
            "applied_reduction": str(self.applied_reduction),
            "fee_cny": str(self.fee),
            "open_license_saving_cny": str(self.open_license_saving),
            "state": self.state,
            "late_fee_cny": str(self.late_fee),
        }


def due_date(patent: Patent, year: int) -> date:
    """Each patent year's fee is due on the anniversary of the filing date that starts it."""
    return patent.filing_date + relativedelta(years=year - 1)


def full_fee(patent_type: str, year: int, on: date, rates: list[AnnualFeeRate]) -> Decimal:
    candidates = [
        rate
        for rate in rates
        if rate.patent_type == patent_type
        and rate.year_from <= year <= rate.year_to
        and rate.valid_from <= on
    ]
    if not candidates:  # a due date before any schedule we hold: use the oldest schedule
        candidates = [
            rate
            for rate in rates
            if rate.patent_type == patent_type and rate.year_from <= year <= rate.year_to
        ]
    if not candidates:
        raise LookupError(f"no annual fee for {patent_type} year {year}")
    return max(candidates, key=lambda rate: rate.valid_from).amount_cny


def general_reduction(patent: Patent, year: int) -> Decimal:
    """The general fee reduction rate for this patent year (0 when it does not apply)."""
    if patent.owner.kind not in rule("GENERAL_FEE_REDUCTION_KINDS") or patent.grant_date is None:
        return ZERO
    first = patent_year(patent.filing_date, patent.grant_date)
    if not first <= year < first + int(rule("GENERAL_FEE_REDUCTION_YEARS")):
        return ZERO
    joint = patent.co_owners.exists()
    return Decimal(
        rule("GENERAL_FEE_REDUCTION_JOINT") if joint else rule("GENERAL_FEE_REDUCTION_SINGLE")
    )


@dataclass(frozen=True)
class Coverage:
    filed_on: date
    starts: date
    ends: date
    stops_after_year: int | None  # the declaration was withdrawn during this patent year


def open_license_coverage(patent: Patent) -> list[Coverage]:
    filings = (
        LicenseFiling.objects.filter(
            license__patent=patent,
            license__is_open_license=True,
            status__in=[FilingStatus.FILED, FilingStatus.ACCEPTED],
        )
        .select_related("license__declaration")
        .order_by("filed_on")
    )
    coverage = []
    for filing in filings:
        license = filing.license
        if license.effective_date is None or license.term_end is None:
            continue
        withdrawal = license.declaration.withdrawal_date if license.declaration else None
        coverage.append(
            Coverage(
                filed_on=filing.filed_on,
                starts=license.effective_date,
                ends=license.term_end,
                stops_after_year=patent_year(patent.filing_date, withdrawal)
                if withdrawal
                else None,
            )
        )
    return coverage


def open_license_reduction(year: int, due: date, coverage: list[Coverage]) -> Decimal:
    for item in coverage:
        not_yet_due_at_filing = due > item.filed_on
        in_implementation = item.starts <= due <= item.ends
        before_stop = item.stops_after_year is None or year <= item.stops_after_year
        if not_yet_due_at_filing and in_implementation and before_stop:
            return Decimal(rule("OPEN_LICENSE_FEE_REDUCTION"))
    return ZERO


def _state(patent: Patent, year: int, due: date, today: date) -> tuple[str, int]:
    if patent.annual_fees_paid_through is not None and year <= patent.annual_fees_paid_through:
        return "paid", 0
    if due > today:
        return "upcoming", 0
    months_late = relativedelta(today, due).years * 12 + relativedelta(today, due).months
    if months_late >= int(rule("FEE_GRACE_MONTHS")):
        return "lapsed", months_late
    return ("late" if months_late >= 1 else "due"), months_late


def fee_calendar(patent: Patent, today: date, *, from_year: int | None = None) -> list[FeeYear]:
    """Every patent year from `from_year` (default: the current one) to the last."""
    rates = list(AnnualFeeRate.objects.all())
    coverage = open_license_coverage(patent)
    last = term_years(patent.patent_type, patent.filing_date)
    first = from_year or max(1, min(patent_year(patent.filing_date, today), last))
    years = []
    for year in range(first, last + 1):
        due = due_date(patent, year)
        full = full_fee(patent.patent_type, year, due, rates)
        general = general_reduction(patent, year)
        open_rate = open_license_reduction(year, due, coverage)
        applied = max(general, open_rate)
        fee = _money(full * (1 - applied))
        without_open = _money(full * (1 - general))
        state, months_late = _state(patent, year, due, today)
        late_fee = (
            _money(full * Decimal(rule("LATE_FEE_PER_MONTH")) * min(months_late, 5))
            if state == "late"
            else ZERO
        )
        years.append(
            FeeYear(
                year=year,
                due_date=due,
                full_fee=full,
                general_reduction=general,
                open_license_reduction=open_rate,
                applied_reduction=applied,
                fee=fee,
                open_license_saving=without_open - fee,
                state=state,
                late_fee=late_fee,
            )
        )
    return years


def calendar_totals(years: list[FeeYear]) -> dict[str, str]:
    unpaid = [year for year in years if year.state != "paid"]
    return {
        "remaining_fees_cny": str(sum((year.fee for year in unpaid), ZERO)),
        "late_fees_cny": str(sum((year.late_fee for year in unpaid), ZERO)),
        "open_license_saving_cny": str(sum((year.open_license_saving for year in years), ZERO)),
    }
