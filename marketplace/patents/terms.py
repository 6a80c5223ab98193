"""Patent terms (Patent Law Art. 42): counted from the filing date."""

from __future__ import annotations

from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from marketplace.patents.numbers import DESIGN, INVENTION, UTILITY_MODEL

# Designs filed from this date have 15 years (2020 amendment in force 2021-06-01), before it 10.
DESIGN_15_YEARS_FROM = date(2021, 6, 1)


def term_years(patent_type: str, filing_date: date) -> int:
    if patent_type == INVENTION:
        return 20
    if patent_type == UTILITY_MODEL:
        return 10
    if patent_type == DESIGN:
        return 15 if filing_date >= DESIGN_15_YEARS_FROM else 10
    raise ValueError(f"unknown patent type {patent_type!r}")


def expiry_date(patent_type: str, filing_date: date) -> date:
    """The last day the patent is in force: the day before the term's final anniversary.

    A 20-year term from 2010-03-15 runs to 2030-03-14. (Term extensions for patent term
    compensation, Art. 42(2)-(3), are not modelled yet.)
    """
    return (
        filing_date + relativedelta(years=term_years(patent_type, filing_date)) - timedelta(days=1)
    )


def patent_year(filing_date: date, on: date) -> int:
    """Which patent year `on` falls in: year 1 runs from the filing date to the day before
    its first anniversary."""
    years = relativedelta(on, filing_date).years
    return years + 1
