"""The royalty ledger: what is due, paid and overdue, per license and per organisation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext as _

from licensing.models import License, LicenseStatus, PaymentStatus

ZERO = Decimal("0.00")


@dataclass
class Due:
    kind: str  # upfront, royalty, minimum_shortfall, mediation
    description: str
    amount: Decimal
    due_date: date
    paid: Decimal = ZERO
    report_id: int | None = None

    def state(self, today: date) -> str:
        if self.paid >= self.amount:
            return "paid"
        return "overdue" if self.due_date < today else "open"

    def as_dict(self, today: date) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "description": self.description,
            "amount_cny": str(self.amount),
            "due_date": self.due_date.isoformat(),
            "paid_cny": str(self.paid),
            "outstanding_cny": str(max(self.amount - self.paid, ZERO)),
            "state": self.state(today),
            "report": self.report_id,
        }


@dataclass
class LicenseLedger:
    license_id: int
    dues: list[Due] = field(default_factory=list)
    unallocated: Decimal = ZERO

    def totals(self, today: date) -> dict[str, str]:
        due = sum((d.amount for d in self.dues), ZERO)
        paid = sum((d.paid for d in self.dues), ZERO) + self.unallocated
        overdue = sum((d.amount - d.paid for d in self.dues if d.state(today) == "overdue"), ZERO)
        return {
            "due_cny": str(due),
            "paid_cny": str(paid),
            "overdue_cny": str(overdue),
            "balance_cny": str(due - paid),
        }


def _minimum_shortfalls(license: License, dues: list[Due], today: date) -> list[Due]:
    """For each completed license year, what the royalties fell short of the minimum."""
    minimum = license.terms.get("minimum_annual_royalty_cny")
    if not minimum or license.effective_date is None:
        return []
    minimum_amount = Decimal(minimum)
    end = min(license.term_end or today, today)
    shortfalls = []
    year_start = license.effective_date
    number = 1
    while year_start + relativedelta(years=1) - timedelta(days=1) <= end:
        year_end = year_start + relativedelta(years=1) - timedelta(days=1)
        royalties = sum(
            (
                d.amount
                for d in dues
                if d.kind == "royalty"
                and year_start
                <= d.due_date - timedelta(days=settings.ROYALTY_PAYMENT_DAYS)
                <= year_end
            ),
            ZERO,
        )
        if royalties < minimum_amount:
            shortfalls.append(
                Due(
                    "minimum_shortfall",
                    _("license year %(number)s: minimum annual royalty") % {"number": number},
                    minimum_amount - royalties,
                    year_end + timedelta(days=settings.ROYALTY_PAYMENT_DAYS),
                )
            )
        year_start = year_end + timedelta(days=1)
        number += 1
    return shortfalls


def license_ledger(license: License, today: date) -> LicenseLedger:
    """Dues in date order, with recorded (uncontested) payments applied to them."""
    ledger = LicenseLedger(license.pk)
    if license.due_at_acceptance_cny > 0:
        ledger.dues.append(
            Due(
                "upfront",
                _("due at acceptance"),
                license.due_at_acceptance_cny,
                license.effective_date or license.notice_sent_at.date(),
            )
        )
    for report in license.royalty_reports.all():
        ledger.dues.append(
            Due(
                "royalty",
                _("royalty %(start)s–%(end)s")
                % {"start": report.period_start.isoformat(), "end": report.period_end.isoformat()},
                report.amount_due_cny,
                report.due_date,
                report_id=report.pk,
            )
        )
    ledger.dues += _minimum_shortfalls(license, ledger.dues, today)
    # Payment obligations of mediation agreements on this license flow into its ledger
    # (read through the relations, so a caller's prefetch serves every license).
    for case in license.mediation_cases.all():
        agreement = getattr(case, "agreement", None)
        if agreement is None:
            continue
        for obligation in agreement.obligations.all():
            if obligation.payer_id != license.licensee_id:
                continue
            ledger.dues.append(
                Due(
                    "mediation",
                    _("mediation agreement: %(obligation)s")
                    % {"obligation": obligation.description},
                    obligation.amount_cny,
                    obligation.due_date,
                )
            )
    ledger.dues.sort(key=lambda due: (due.due_date, due.kind))
    payments = [p for p in license.payments.all() if p.status == PaymentStatus.RECORDED]
    # Payments against a report go to it first; the rest pays the oldest dues first.
    free = ZERO
    for payment in payments:
        # A payment goes first to what it was made for: the upfront due, or its report.
        if payment.kind == "upfront":
            target = next((d for d in ledger.dues if d.kind == "upfront"), None)
        elif payment.royalty_report_id:
            target = next(
                (d for d in ledger.dues if d.report_id == payment.royalty_report_id), None
            )
        else:
            target = None
        amount = payment.amount_cny
        if target is not None:
            applied = min(amount, target.amount - target.paid)
            target.paid += applied
            amount -= applied
        free += amount
    for due in ledger.dues:
        if free <= 0:
            break
        applied = min(free, due.amount - due.paid)
        due.paid += applied
        free -= applied
    ledger.unallocated = free
    return ledger


def organisation_ledger(organisation_id: int, today: date) -> dict[str, Any]:
    """Totals over an organisation's licenses, as licensee and as patentee."""
    licenses = (
        License.objects.filter(Q(licensee_id=organisation_id) | Q(licensor_id=organisation_id))
        .exclude(status=LicenseStatus.AWAITING_PAYMENT, due_at_acceptance_cny=0)
        .prefetch_related("royalty_reports", "payments", "mediation_cases__agreement__obligations")
    )
    sides: dict[str, dict[str, Decimal]] = {
        "as_licensee": {"due": ZERO, "paid": ZERO, "overdue": ZERO},
        "as_patentee": {"due": ZERO, "paid": ZERO, "overdue": ZERO},
    }
    rows = []
    for license in licenses:
        ledger = license_ledger(license, today)
        totals = ledger.totals(today)
        side = "as_licensee" if license.licensee_id == organisation_id else "as_patentee"
        for key in ("due", "paid", "overdue"):
            sides[side][key] += Decimal(totals[f"{key}_cny"])
        rows.append({"license": license.pk, "side": side, **totals})
    return {
        "organisation": organisation_id,
        "totals": {
            side: {f"{key}_cny": str(value) for key, value in values.items()}
            for side, values in sides.items()
        },
        "licenses": rows,
    }
