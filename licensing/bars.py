"""The nine bars to an open-license declaration (rules §3), checked on submission and again
at announcement, and re-checked whenever the patent's facts change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from marketplace.errors import Message
from marketplace.models import LegalStatus, Patent, PatentType
from marketplace.patents.terms import patent_year


@dataclass(frozen=True)
class Bar:
    number: int
    code: str
    message: Message


BAR_MESSAGES: dict[str, tuple[int, Message]] = {
    "bar_not_granted": (
        5,
        _("Bar 5: only a granted, announced patent can be declared; this one has no grant."),
    ),
    "bar_exclusive_license": (
        1,
        _("Bar 1: an exclusive or sole license is in force on this patent."),
    ),
    "bar_suspended_or_preserved": (
        2,
        _(
            "Bar 2: proceedings are suspended for an ownership dispute or the patent is under "
            "court preservation."
        ),
    ),
    "bar_annual_fees_unpaid": (
        3,
        _("Bar 3: the annual fee for the current patent year has not been paid."),
    ),
    "bar_pledged_without_consent": (
        4,
        _("Bar 4: the patent is pledged and the pledgee has not consented to open licensing."),
    ),
    "bar_terminated_or_expired": (
        5,
        _("Bar 5: the patent has terminated or its term has expired."),
    ),
    "bar_invalidated": (6, _("Bar 6: the patent has been wholly invalidated.")),
    "bar_no_evaluation_report": (
        7,
        _("Bar 7: a utility model or design needs a patent right evaluation report."),
    ),
    "bar_negative_evaluation_report": (
        8,
        _("Bar 8: the patent right evaluation report's conclusion is negative."),
    ),
    "bar_reviewer_hindrance": (
        9,
        _("Bar 9: a reviewer has recorded another hindrance to open licensing."),
    ),
}


def _bar(code: str) -> Bar:
    number, message = BAR_MESSAGES[code]
    return Bar(number, code, message)


def bars_for(patent: Patent, today: date) -> list[Bar]:
    """Every bar that holds for the patent today, in the order of the rules."""
    found: list[Bar] = []
    if patent.exclusive_licenses.filter(starts_on__lte=today, ends_on__gte=today).exists():
        found.append(_bar("bar_exclusive_license"))
    if patent.is_suspended or patent.is_under_preservation:
        found.append(_bar("bar_suspended_or_preserved"))
    ended = patent.legal_status in (LegalStatus.TERMINATED, LegalStatus.EXPIRED) or (
        patent.expiry_date < today
    )
    current_year = patent_year(patent.filing_date, today)
    # A patent no longer in force owes no annual fee: bar 5 alone says why it cannot be declared.
    if not ended and (
        patent.annual_fees_paid_through is None or patent.annual_fees_paid_through < current_year
    ):
        found.append(_bar("bar_annual_fees_unpaid"))
    if patent.pledges.filter(
        Q(released_on__isnull=True) | Q(released_on__gt=today),
        registered_on__lte=today,
        pledgee_consents=False,
    ).exists():
        found.append(_bar("bar_pledged_without_consent"))
    if patent.grant_date is None:
        found.append(_bar("bar_not_granted"))
    elif ended:
        found.append(_bar("bar_terminated_or_expired"))
    if patent.legal_status == LegalStatus.INVALIDATED:
        found.append(_bar("bar_invalidated"))
    if patent.patent_type in (PatentType.UTILITY_MODEL, PatentType.DESIGN):
        if patent.evaluation_report_date is None:
            found.append(_bar("bar_no_evaluation_report"))
        elif patent.evaluation_report_positive is False:
            found.append(_bar("bar_negative_evaluation_report"))
    if patent.hindrances.filter(resolved_at__isnull=True).exists():
        found.append(_bar("bar_reviewer_hindrance"))
    return sorted(found, key=lambda bar: bar.number)
