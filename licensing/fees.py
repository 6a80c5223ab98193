"""Annual fees with the 15 % open-license reduction (rules §5).

Per patent year: the full fee from the schedule in force on its due date; the general
reduction where the patentee qualifies (85 % single, 70 % joint, for 10 patent years from the
year of grant); the open-license reduction (15 %) for fees not yet due when a license was
filed and falling within that license's implementation period, stopping from the patent year
after a withdrawal; the larger reduction applied (no stacking); late fees in the grace period.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db.models import QuerySet

from licensing.models import AnnualFeeRate, Declaration, FilingStatus, LicenseFiling
from licensing.rules import rule
from marketplace.models import Patent, PatentCoOwner
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
    filed = patent.filing_date
    try:
        return filed.replace(year=filed.year + year - 1)
    except ValueError:  # filed on 29 February: due on the 28th in a common year
        return filed.replace(year=filed.year + year - 1, day=28)


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


def general_reduction(patent: Patent, *, co_owner_kinds: list[str]) -> tuple[range, Decimal]:
    """The patent years the general fee reduction covers and its rate: 10 years from the
    year of grant where the patentee qualifies (an empty range where it does not);
    `co_owner_kinds`: the kinds of the patent's co-owners (joint applicants), who qualify
    only if each of them does (财税〔2016〕78号 Art. 3)."""
    kinds = rule("GENERAL_FEE_REDUCTION_KINDS")
    qualifies = patent.owner.kind in kinds and all(kind in kinds for kind in co_owner_kinds)
    if not qualifies or patent.grant_date is None:
        return range(0), ZERO
    joint = bool(co_owner_kinds)
    first = patent_year(patent.filing_date, patent.grant_date)
    rate = rule("GENERAL_FEE_REDUCTION_JOINT") if joint else rule("GENERAL_FEE_REDUCTION_SINGLE")
    return range(first, first + int(rule("GENERAL_FEE_REDUCTION_YEARS"))), Decimal(rate)


@dataclass(frozen=True)
class Coverage:
    filed_on: date
    starts: date
    ends: date
    stops_after_year: int | None  # the declaration was withdrawn during this patent year


@dataclass(frozen=True)
class FeeFacts:
    """What the calendars read besides the patents themselves, loaded once for one patent or
    a batch (a patentee's totals walk thousands: four queries per batch, not a dozen per
    patent): the fee schedule, the filed open licenses by patent with the withdrawal that
    ends each, the kinds of each co-owned patent's co-owners."""

    rates: list[AnnualFeeRate]
    coverage: dict[int, list[Coverage]]
    co_owner_kinds: dict[int, list[str]]


def _withdrawal_dates(patent_ids: list[int]) -> dict[int, date | None]:
    """By declaration: the withdrawal date of the declaration its terms led to. A changed
    declaration supersedes the old one, which is never withdrawn itself: the withdrawal that
    ends the open licensing is that of the last announced declaration down the chain."""
    rows = list(
        Declaration.objects.filter(patent_id__in=patent_ids).values_list(
            "pk", "supersedes_id", "effective_date", "withdrawal_date"
        )
    )
    # Only an announced successor (it has an effective date) takes over; a draft naming
    # the declaration it would supersede does not.
    successor = {
        supersedes: pk for pk, supersedes, effective, _ in rows if supersedes and effective
    }
    own = {pk: withdrawal for pk, _, _, withdrawal in rows}
    result: dict[int, date | None] = {}
    for pk in own:
        current, seen = pk, {pk}
        while current in successor and successor[current] not in seen:
            current = successor[current]
            seen.add(current)
        result[pk] = own[current]
    return result


def fee_facts(patents: list[Patent]) -> FeeFacts:
    by_id = {patent.pk: patent for patent in patents}
    filings = (
        LicenseFiling.objects.filter(
            license__patent_id__in=list(by_id),
            license__is_open_license=True,
            status__in=[FilingStatus.FILED, FilingStatus.ACCEPTED],
        )
        .select_related("license")
        .order_by("filed_on", "id")
    )
    withdrawals = _withdrawal_dates(list(by_id))
    coverage: dict[int, list[Coverage]] = {}
    for filing in filings:
        license = filing.license
        if license.effective_date is None or license.term_end is None:
            continue
        withdrawal = withdrawals.get(license.declaration_id) if license.declaration_id else None
        patent = by_id[license.patent_id]
        coverage.setdefault(patent.pk, []).append(
            Coverage(
                filed_on=filing.filed_on,
                starts=license.effective_date,
                ends=license.term_end,
                stops_after_year=patent_year(patent.filing_date, withdrawal)
                if withdrawal
                else None,
            )
        )
    co_owner_kinds: dict[int, list[str]] = {}
    for patent_id, kind in PatentCoOwner.objects.filter(patent_id__in=list(by_id)).values_list(
        "patent_id", "organisation__kind"
    ):
        co_owner_kinds.setdefault(patent_id, []).append(kind)
    return FeeFacts(
        rates=list(AnnualFeeRate.objects.all()), coverage=coverage, co_owner_kinds=co_owner_kinds
    )


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


def fee_calendar(
    patent: Patent, today: date, *, from_year: int | None = None, facts: FeeFacts | None = None
) -> list[FeeYear]:
    """Every patent year from `from_year` (default: the current one) to the last; `facts`
    from `fee_facts` over a batch that holds this patent (else read for this one).

    Annual fees start with the year of grant, that year's due when the grant is registered
    (Implementing Regulations, annual-fee articles): an application not yet granted owes
    none (an empty calendar), and the patent years before the grant are not charged."""
    if patent.grant_date is None:
        return []
    facts = facts or fee_facts([patent])
    rates = facts.rates
    coverage = facts.coverage.get(patent.pk, [])
    general_years, general_rate = general_reduction(
        patent, co_owner_kinds=facts.co_owner_kinds.get(patent.pk, [])
    )
    last = term_years(patent.patent_type, patent.filing_date)
    grant_year = patent_year(patent.filing_date, patent.grant_date)
    first = max(grant_year, from_year or max(1, min(patent_year(patent.filing_date, today), last)))
    years = []
    for year in range(first, last + 1):
        due = due_date(patent, year)
        if year == grant_year:
            due = max(due, patent.grant_date)
        full = full_fee(patent.patent_type, year, due, rates)
        general = general_rate if year in general_years else ZERO
        open_rate = open_license_reduction(year, due, coverage)
        applied = max(general, open_rate)
        fee = _money(full * (1 - applied))
        without_open = _money(full * (1 - general))
        state, months_late = _state(patent, year, due, today)
        late_fee = (
            _money(
                full
                * Decimal(rule("LATE_FEE_PER_MONTH"))
                * min(months_late, int(rule("LATE_FEE_MAX_MONTHS")))
            )
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


def _sums(years: list[FeeYear]) -> dict[str, Decimal]:
    unpaid = [year for year in years if year.state != "paid"]
    return {
        "remaining_fees_cny": sum((year.fee for year in unpaid), ZERO),
        "late_fees_cny": sum((year.late_fee for year in unpaid), ZERO),
        "open_license_saving_cny": sum((year.open_license_saving for year in years), ZERO),
    }


def calendar_totals(years: list[FeeYear]) -> dict[str, str]:
    return {key: str(value) for key, value in _sums(years).items()}


TOTALS_BATCH = 500


def _batches(patents: QuerySet[Patent], size: int) -> Iterator[list[Patent]]:
    batch: list[Patent] = []
    for patent in patents.order_by("pk").iterator(chunk_size=size):
        batch.append(patent)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def patentee_totals(patents: QuerySet[Patent], today: date) -> dict[str, str]:
    """A patentee's fees over its patents in force: how many have a remaining year, this
    year's fees still open, all remaining fees, and what open licensing saves. Patents are
    read and their facts loaded in batches of TOTALS_BATCH."""
    count = 0
    this_year = remaining = saving = ZERO
    for batch in _batches(patents, TOTALS_BATCH):
        facts = fee_facts(batch)
        for patent in batch:
            years = fee_calendar(patent, today, facts=facts)
            if not years:
                continue
            count += 1
            sums = _sums(years)
            remaining += sums["remaining_fees_cny"]
            saving += sums["open_license_saving_cny"]
            if years[0].state != "paid":
                this_year += years[0].fee
    return {
        "patents": str(count),
        "current_year_fees_cny": str(this_year),
        "remaining_fees_cny": str(remaining),
        "open_license_saving_cny": str(saving),
    }
