"""Reminders run by Celery beat: filings due, royalty reports due, payments overdue.

Each reminder has a source key naming what it is about, so running a sweep twice (or a
retried task) never sends the same reminder twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from licensing.ledger import Due, license_ledger
from licensing.models import FilingStatus, License, LicenseStatus
from licensing.rules import rule
from licensing.services.licenses import filing_deadline
from marketplace.models import User
from marketplace.services.notifications import notify
from marketplace.units import cny


def _members(organisation_id: int) -> list[User]:
    return list(User.objects.filter(memberships__organisation_id=organisation_id))


def _open_licenses() -> list[License]:
    return list(
        License.objects.filter(status=LicenseStatus.EFFECTIVE, is_open_license=True)
        .select_related("patent")
        .prefetch_related(
            "filings", "royalty_reports", "payments", "mediation_cases__agreement__obligations"
        )
    )


def _linked(
    render: Callable[[User], tuple[str, str]], license: License
) -> Callable[[User], tuple[str, str]]:
    """The reminder ends with the link to the license's page, where the party acts on it."""

    def linked(user: User) -> tuple[str, str]:
        title, body = render(user)
        return title, f"{body}\n" + _("The license: %(url)s") % {"url": license.page_url()}

    return linked


def remind_filings(today: date) -> int:
    """Both parties hear when a license's filing deadline is near and it is unfiled."""
    sent = 0
    months = int(rule("LICENSE_FILING_MONTHS"))
    for license in _open_licenses():
        found = filing_deadline(license)
        if found is None:
            continue
        deadline: date = found
        if not today <= deadline <= today + timedelta(days=int(rule("FILING_REMINDER_DAYS"))):
            continue
        if any(
            f.status in (FilingStatus.FILED, FilingStatus.ACCEPTED) for f in license.filings.all()
        ):
            continue

        def render(
            user: User, license: License = license, deadline: date = deadline
        ) -> tuple[str, str]:
            return (
                _("File license %(id)d by %(deadline)s") % {"id": license.pk, "deadline": deadline},
                ngettext(
                    "License %(id)d on %(patent)s must be filed with CNIPA within %(months)d "
                    "month of taking effect, by %(deadline)s.",
                    "License %(id)d on %(patent)s must be filed with CNIPA within %(months)d "
                    "months of taking effect, by %(deadline)s.",
                    months,
                )
                % {
                    "id": license.pk,
                    "patent": license.patent.patent_number,
                    "months": months,
                    "deadline": deadline,
                },
            )

        sent += len(
            notify(
                users=_members(license.licensor_id) + _members(license.licensee_id),
                kind="filing_due",
                source=f"filing_due:{license.pk}",
                render=_linked(render, license),
                data={"license": license.pk},
            )
        )
    return sent


def _quarters(start: date, today: date) -> list[tuple[date, date]]:
    quarters: list[tuple[date, date]] = []
    begin = start
    while True:
        end = begin + relativedelta(months=int(rule("ROYALTY_REPORT_MONTHS"))) - timedelta(days=1)
        if end + timedelta(days=int(rule("ROYALTY_REPORT_GRACE_DAYS"))) > today:
            return quarters
        quarters.append((begin, end))
        begin = end + timedelta(days=1)


def remind_royalty_reports(today: date) -> int:
    """The licensee hears when a quarter of a running-royalty license has gone unreported."""
    sent = 0
    for license in _open_licenses():
        if not license.terms.get("royalty_rate_percent") or license.effective_date is None:
            continue
        reports = list(license.royalty_reports.all())
        for begin, end in _quarters(license.effective_date, today):
            if any(r.period_start <= end and r.period_end >= begin for r in reports):
                continue

            def render(user: User, license: License = license, end: date = end) -> tuple[str, str]:
                return (
                    _("Royalty report due for license %(id)d") % {"id": license.pk},
                    _("Report net sales or profit for the period ending %(end)s.") % {"end": end},
                )

            sent += len(
                notify(
                    users=_members(license.licensee_id),
                    kind="royalty_report_due",
                    source=f"report_due:{license.pk}:{begin.isoformat()}",
                    render=_linked(render, license),
                    data={"license": license.pk, "period_start": begin.isoformat()},
                )
            )
    return sent


def remind_overdue_payments(today: date) -> int:
    """The licensee hears about each overdue due; the patentee too."""
    sent = 0
    for license in _open_licenses():
        for due in license_ledger(license, today).dues:
            if due.state(today) != "overdue":
                continue

            def render(user: User, license: License = license, due: Due = due) -> tuple[str, str]:
                return (
                    _("Payment overdue on license %(id)d") % {"id": license.pk},
                    _("%(what)s: %(amount)s was due on %(date)s.")
                    % {
                        "what": due.description,
                        "amount": cny(due.amount - due.paid),
                        "date": due.due_date,
                    },
                )

            sent += len(
                notify(
                    users=_members(license.licensee_id) + _members(license.licensor_id),
                    kind="payment_overdue",
                    source=f"overdue:{license.pk}:{due.kind}:{due.due_date.isoformat()}",
                    render=_linked(render, license),
                    data={"license": license.pk},
                )
            )
    return sent
