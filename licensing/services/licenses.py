"""Licenses (rules §4): acceptance by notice and payment, contesting, filing, royalties."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from licensing import permissions
from licensing.documents import license_document
from licensing.models import (
    Declaration,
    DeclarationStatus,
    FilingStatus,
    License,
    LicenseEvent,
    LicenseFiling,
    LicensePayment,
    LicenseStatus,
    PaymentKind,
    PaymentStatus,
    RoyaltyReport,
)
from licensing.querysets import IN_FORCE_STATUSES
from licensing.rules import rule
from licensing.terms import filing_deadline as filing_deadline_after
from licensing.workflow import FILING, LICENSE, PAYMENT
from marketplace import roles
from marketplace.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from marketplace.models import Membership, Organisation, Patent, User
from marketplace.querysets import known_related
from marketplace.units import cny

CENT = Decimal("0.01")
SNAPSHOT_FIELDS = (
    "payment_method",
    "royalty_basis",
    "lump_sum_cny",
    "entry_fee_cny",
    "royalty_rate_percent",
    "minimum_annual_royalty_cny",
    "license_term_years",
    "other_terms",
)


def _today() -> date:
    return timezone.localdate()


V = LicenseEvent.Verb


def _event_row(
    license: License, actor: User | None, verb: str, *, reason: str = "", **data: Any
) -> LicenseEvent:
    """A step that does not move the license's status: the timeline shows the status it
    happened in."""
    event = LICENSE.event_row(
        license, verb, actor=actor, to_status=license.status, reason=reason, data=data
    )
    assert isinstance(event, LicenseEvent)
    return event


def _event(
    license: License, actor: User | None, verb: str, *, reason: str = "", **data: Any
) -> LicenseEvent:
    event = _event_row(license, actor, verb, reason=reason, **data)
    event.save(force_insert=True)
    LICENSE.notify_after_commit(event)
    return event


def snapshot(declaration: Declaration) -> dict[str, Any]:
    """The terms a license is granted under, frozen (later declarations do not change them)."""
    terms: dict[str, Any] = {
        field: (str(value) if isinstance(value, Decimal) else value)
        for field in SNAPSHOT_FIELDS
        for value in [getattr(declaration, field)]
    }
    terms["declaration_number"] = declaration.number
    terms["declaration_effective_date"] = (
        declaration.effective_date.isoformat() if declaration.effective_date else None
    )
    return terms


def due_at_acceptance(declaration: Declaration) -> Decimal:
    return declaration.lump_sum_cny or declaration.entry_fee_cny or Decimal("0.00")


def term_end(effective: date, years: int | None, patent_expiry: date) -> date:
    if years is None:
        return patent_expiry
    return min(effective + relativedelta(years=years) - timedelta(days=1), patent_expiry)


def _lock_declaration_for_share(declaration_id: int) -> str | None:
    """FOR SHARE: acceptances run side by side, but a withdrawal (FOR UPDATE) waits for them,
    and an acceptance that starts after the withdrawal re-reads the new status."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT status FROM licensing_declaration WHERE id = %s FOR SHARE", [declaration_id]
        )
        row = cursor.fetchone()
    return str(row[0]) if row else None


def _check_payment(payment: dict[str, Any], due: Decimal, *, path: str = "payment.") -> None:
    """`path` prefixes the field names as the request body nests them: accepting sends the
    payment as `payment`, /pay/ sends its fields at the top."""
    if payment["amount_cny"] != due:
        raise InvalidInput(
            "payment_amount_mismatch",
            _("The amount due at acceptance is %(due)s; the payment was %(paid)s."),
            fields={f"{path}amount_cny": [_("Must equal the amount due.")]},
            # In the reader's units, as the register shows amounts: 5 万元 / CNY 50,000.00.
            params={"due": cny(due), "paid": cny(payment["amount_cny"])},
        )
    if payment["paid_on"] > _today():
        raise InvalidInput(
            "payment_date_in_future",
            _("A payment cannot be dated in the future."),
            fields={f"{path}paid_on": [_("In the future.")]},
        )


def standard_notice(*, declaration: Declaration, licensee: Organisation, language: str) -> str:
    """The written notice (书面通知) of Patent Law Art. 51(1) that the platform sends for an SME
    that wrote none, in the SME's language: to the patentee, naming the declaration and the
    patent, signed with the licensee's name and the date."""
    patent = declaration.patent
    with translation.override(language):
        return _(
            "Written notice of the exploitation of an open-licensed patent\n\n"
            "To %(licensor)s:\n\n"
            "Under Article 51(1) of the Patent Law of the PRC, %(licensee)s gives you written "
            "notice that it will exploit patent %(patent)s, “%(title)s”, under your "
            "open-license declaration %(declaration)s, and will pay the royalty in the mode and "
            "at the rates that declaration announced.\n\n"
            "%(licensee)s\n%(date)s"
        ) % {
            "licensor": declaration.organisation.name,
            "licensee": licensee.name,
            "patent": patent.patent_number,
            "title": patent.title,
            "declaration": declaration.number or "",
            "date": date_format(_today(), "DATE_FORMAT"),
        }


# No savepoint of its own: the API calls it inside the request's transaction, and any error
# here ends that transaction anyway (two statements fewer per acceptance).
@transaction.atomic(savepoint=False)
def license_accept(
    *,
    actor: User,
    declaration_id: int,
    licensee_id: int,
    notice_text: str = "",
    payment: dict[str, Any] | None = None,
) -> License:
    """Obtain a license by written notice (and payment of what is due at acceptance).

    No consent of the patentee is needed. The license takes effect when the notice has
    reached the patentee (the platform delivers it at once) and the payment is recorded; a
    free or royalty-only declaration grants on notice alone. Without `notice_text` the
    platform writes the standard notice in the actor's language.
    """
    # A membership proves the organisation exists: no separate lookup.
    if not Membership.objects.is_member(actor, licensee_id):
        raise PermissionDenied(
            "not_a_member", _("Only a member of the licensee organisation can send the notice.")
        )
    status = _lock_declaration_for_share(declaration_id)
    declaration = (
        Declaration.objects.select_related("patent").filter(pk=declaration_id).first()
        if status
        else None
    )
    if declaration is None or status == DeclarationStatus.DRAFT:
        raise NotFound()
    if status == DeclarationStatus.WITHDRAWN:
        raise Conflict(
            "declaration_withdrawn",
            _(
                "The declaration was withdrawn on %(date)s; "
                "a notice sent after that grants nothing."
            ),
            params={
                "date": declaration.withdrawal_date.isoformat()
                if declaration.withdrawal_date
                else ""
            },
        )
    if status not in IN_FORCE_STATUSES:
        raise Conflict(
            "declaration_not_in_force",
            _("This declaration is %(status)s: it offers no license."),
            params={"status": DeclarationStatus(declaration.status).label},
        )
    patent = declaration.patent
    if (
        licensee_id == declaration.organisation_id
        or patent.co_owners.filter(pk=licensee_id).exists()
    ):
        raise Conflict(
            "licensee_is_patentee", _("A patentee does not need a license to its own patent.")
        )
    if not notice_text.strip():
        notice_text = standard_notice(
            declaration=declaration,
            licensee=Organisation.objects.get(pk=licensee_id),
            language=actor.preferred_language,
        )
    due = due_at_acceptance(declaration)
    now = timezone.now()
    today = _today()
    effective = due == 0 or payment is not None
    values: dict[str, Any] = {
        "declaration": declaration,
        "patent": patent,
        "licensor_id": declaration.organisation_id,
        "licensee_id": licensee_id,
        "status": LicenseStatus.EFFECTIVE if effective else LicenseStatus.AWAITING_PAYMENT,
        "notice_text": notice_text,
        "notice_sent_at": now,
        "notice_delivered_at": now,
        "terms": snapshot(declaration),
        "due_at_acceptance_cny": due,
        "created_by": actor,
    }
    if effective:
        values["effective_date"] = today
        values["term_end"] = term_end(today, declaration.license_term_years, patent.expiry_date)
    try:
        with transaction.atomic():
            # A license held already is found by the unique index here, not by a query every
            # acceptance would pay for; the payment is checked after it (its errors roll the
            # insert back), so "you hold a license" answers first, as it did.
            license = License.objects.create(**values)
            if payment is not None:
                if due == 0:
                    raise InvalidInput(
                        "nothing_due_at_acceptance",
                        _("Nothing is due at acceptance under this declaration."),
                        fields={"payment": [_("Leave the payment out.")]},
                    )
                _check_payment(payment, due)
    except IntegrityError as error:  # the same licensee accepted a moment ago
        raise Conflict(
            "license_exists", _("Your organisation already holds a license under this declaration.")
        ) from error
    # When the license takes effect in the same request, "took_effect" tells the patentee;
    # one message to the broker per acceptance instead of two, one INSERT for both events.
    events = [_event_row(license, actor, V.NOTICE_SENT, declaration=declaration.pk)]
    if effective:
        events.append(_event_row(license, actor, V.TOOK_EFFECT, effective_date=today.isoformat()))
    LICENSE.notify_after_commit(LicenseEvent.objects.bulk_create(events)[-1])
    payments = []
    if payment is not None:
        payments.append(
            LicensePayment.objects.create(
                license=license, kind=PaymentKind.UPFRONT, recorded_by=actor, **payment
            )
        )
    known_related(license, payments=payments, filings=[])  # the answer needs no query for them
    return license


def _lock_license(actor: User, license_id: int) -> License:
    license = (
        License.objects.visible_to(actor)
        .select_for_update(of=("self",))
        .select_related("patent", "declaration")
        .filter(pk=license_id)
        .first()
    )
    if license is None:
        raise NotFound()
    return license


@transaction.atomic
def license_pay_upfront(*, actor: User, license_id: int, payment: dict[str, Any]) -> License:
    """Record the payment due at acceptance; the license takes effect."""
    license = _lock_license(actor, license_id)
    permissions.check_license_pay_upfront(actor, license)
    if license.status != LicenseStatus.AWAITING_PAYMENT:
        raise Conflict("license_not_awaiting_payment", _("Nothing is awaiting payment here."))
    _check_payment(payment, license.due_at_acceptance_cny, path="")
    LicensePayment.objects.create(
        license=license, kind=PaymentKind.UPFRONT, recorded_by=actor, **payment
    )
    today = _today()
    years = license.terms.get("license_term_years")
    LICENSE.transition(
        license,
        to=LicenseStatus.EFFECTIVE,
        actor=actor,
        data={"effective_date": today.isoformat()},
        effective_date=today,
        term_end=term_end(today, years, license.patent.expiry_date),
    )
    return license


@transaction.atomic
def license_contest_payment(
    *, actor: User, license_id: int, payment_id: int, reason: str
) -> License:
    """The patentee says a recorded payment never arrived; the licensee may go to mediation."""
    license = _lock_license(actor, license_id)
    permissions.check_license_contest_payment(actor, license)
    if not reason.strip():
        raise InvalidInput(
            "reason_required",
            _("Give the reason."),
            fields={"reason": [_("This field is required.")]},
        )
    payment = LicensePayment.objects.filter(pk=payment_id, license=license).first()
    if payment is None:
        raise NotFound()
    if payment.status == PaymentStatus.CONTESTED:
        raise Conflict("payment_already_contested", _("This payment is already contested."))
    PAYMENT.transition(payment, to=PaymentStatus.CONTESTED, contest_reason=reason.strip())
    before = license.status
    if payment.kind == PaymentKind.UPFRONT and before == LicenseStatus.EFFECTIVE:
        # An upfront payment that never arrived: the license it brought into effect is
        # contested until the patentee confirms the payment or the contest is upheld. The
        # compare-and-swap is checked (a 409 that rolls the payment back, not a silent skip).
        LICENSE.transition(
            license,
            to=LicenseStatus.CONTESTED,
            actor=actor,
            reason=reason,
            data={"payment": payment.pk},
        )
    else:
        LICENSE.record(
            license,
            V.PAYMENT_CONTESTED,
            actor=actor,
            from_status=before,
            reason=reason,
            data={"payment": payment.pk},
        )
    return license


@transaction.atomic
def license_resolve_contest(
    *, actor: User, license_id: int, payment_id: int, received: bool, reason: str = ""
) -> License:
    """Settle a contested payment either way (its two exits).

    Received after all (the patentee withdraws its contest, or a reviewer finds it paid): the
    payment counts again and a contested license is effective again. Never received (a
    reviewer upholds the contest, on the evidence or a mediation agreement): the payment stays
    out of the ledger and a license that rested on it ends.
    """
    license = _lock_license(actor, license_id)
    is_reviewer = roles.has(actor, roles.REVIEW_FILINGS)
    if received and not (is_reviewer or Membership.objects.is_member(actor, license.licensor_id)):
        raise PermissionDenied(
            "patentee_required", _("Only the patentee or a reviewer can confirm a payment.")
        )
    if not received and not is_reviewer:
        raise PermissionDenied("reviewer_required", _("Only a reviewer can do this."))
    if not received and not reason.strip():
        raise InvalidInput(
            "reason_required",
            _("Give the reason."),
            fields={"reason": [_("This field is required.")]},
        )
    payment = (
        LicensePayment.objects.select_for_update().filter(pk=payment_id, license=license).first()
    )
    if payment is None:
        raise NotFound()
    if payment.status != PaymentStatus.CONTESTED:
        raise Conflict("payment_not_contested", _("This payment is not contested."))
    data = {"payment": payment.pk}
    if received:
        PAYMENT.transition(payment, to=PaymentStatus.RECORDED, contest_reason="")
    verb = V.PAYMENT_CONFIRMED if received else V.CONTEST_UPHELD
    if license.status == LicenseStatus.CONTESTED:
        to = LicenseStatus.EFFECTIVE if received else LicenseStatus.ENDED
        LICENSE.transition(license, to=to, actor=actor, reason=reason, data=data)
    else:  # a royalty payment: the license's status does not rest on it
        LICENSE.record(
            license, verb, actor=actor, from_status=license.status, reason=reason, data=data
        )
    return license


def licenses_end(*, today: date | None = None) -> int:
    """End the effective licenses whose term is over (the daily sweep); returns how many.

    `term_end` is the last day of the term (rules §4: the declared years, or the patent's
    expiry), so a license ends the day after it."""
    today = today or _today()
    due = License.objects.filter(status=LicenseStatus.EFFECTIVE, term_end__lt=today)
    ended = 0
    for license_id in list(due.order_by("pk").values_list("pk", flat=True)):
        with transaction.atomic():
            license = License.objects.select_for_update().filter(pk=license_id).first()
            if (
                license is None
                or license.status != LicenseStatus.EFFECTIVE
                or license.term_end is None
                or license.term_end >= today
            ):
                continue
            LICENSE.transition(
                license,
                to=LicenseStatus.ENDED,
                actor=None,
                data={"term_end": license.term_end.isoformat()},
            )
            ended += 1
    return ended


def filing_deadline(license: License) -> date | None:
    return filing_deadline_after(license.effective_date)


@transaction.atomic
def license_file(*, actor: User, license_id: int, filed_on: date) -> LicenseFiling:
    """Either party files the effective license with CNIPA, within LICENSE_FILING_MONTHS of
    taking effect (rules §4)."""
    license = _lock_license(actor, license_id)
    permissions.check_license_file(actor, license)
    if license.status != LicenseStatus.EFFECTIVE or license.effective_date is None:
        raise Conflict("license_not_effective", _("Only an effective license can be filed."))
    deadline = filing_deadline(license)
    assert deadline is not None
    if filed_on > _today() or filed_on < license.effective_date:
        raise InvalidInput(
            "invalid_filing_date",
            _("The filing date must lie between the effective date and today."),
            fields={"filed_on": [_("Out of range.")]},
        )
    if filed_on > deadline:
        months = int(rule("LICENSE_FILING_MONTHS"))
        raise InvalidInput(
            "filing_deadline_passed",
            ngettext_lazy(
                "A license must be filed within %(months)d month of taking effect, "
                "by %(deadline)s.",
                "A license must be filed within %(months)d months of taking effect, "
                "by %(deadline)s.",
                months,
            ),
            fields={"filed_on": [_("After the deadline.")]},
            params={"months": months, "deadline": deadline.isoformat()},
        )
    try:
        with transaction.atomic():
            filing = LicenseFiling.objects.create(
                license=license, filed_by=actor, filed_on=filed_on
            )
    except IntegrityError as error:
        raise Conflict("license_already_filed", _("This license is already filed.")) from error
    # The filing refers to the exact contract document: its name and SHA-256.
    document = license_document(license)
    _event(
        license,
        actor,
        V.FILED,
        filing=filing.pk,
        filed_on=filed_on.isoformat(),
        document=document.filename,
        document_sha256=document.sha256,
    )
    return filing


@transaction.atomic
def filing_decide(*, actor: User, filing_id: int, accept: bool, note: str = "") -> LicenseFiling:
    """A reviewer accepts a filing or returns it (with a note) for correction."""
    permissions.check_filing_decide(actor)
    filing = (
        LicenseFiling.objects.select_for_update()
        .select_related("license")
        .filter(pk=filing_id)
        .first()
    )
    if filing is None:
        raise NotFound()
    if not accept and not note.strip():
        raise InvalidInput(
            "reason_required",
            _("Say why the filing is returned."),
            fields={"note": [_("This field is required.")]},
        )
    FILING.transition(
        filing,
        to=FilingStatus.ACCEPTED if accept else FilingStatus.RETURNED,
        reviewer_note=note.strip(),
        decided_by=actor,
    )
    filing.refresh_from_db()
    _event(
        filing.license,
        actor,
        V.FILING_ACCEPTED if accept else V.FILING_RETURNED,
        reason=note.strip(),
        filing=filing.pk,
    )
    return filing


def royalty_due(terms: dict[str, Any], basis_amount: Decimal) -> Decimal:
    rate = terms.get("royalty_rate_percent")
    if not rate:
        return Decimal("0.00")
    return (basis_amount * Decimal(rate) / 100).quantize(CENT, rounding=ROUND_HALF_UP)


@transaction.atomic
def royalty_report(
    *, actor: User, license_id: int, period_start: date, period_end: date, basis_amount: Decimal
) -> RoyaltyReport:
    """The licensee reports net sales or profit for a period; the royalty due follows."""
    license = _lock_license(actor, license_id)
    permissions.check_royalty_report(actor, license)
    if not license.terms.get("royalty_rate_percent"):
        raise Conflict("no_running_royalty", _("This license has no running royalty to report."))
    if license.effective_date is None or license.status == LicenseStatus.AWAITING_PAYMENT:
        raise Conflict("license_not_effective", _("The license has not taken effect."))
    if period_end < period_start or period_start < license.effective_date:
        raise InvalidInput(
            "invalid_period",
            _("The period must start on or after the effective date and end after it starts."),
            fields={"period_start": [_("Out of range.")]},
        )
    if period_end > _today():
        raise InvalidInput(
            "period_not_over",
            _("Report a period once it has ended."),
            fields={"period_end": [_("In the future.")]},
        )
    overlapping = license.royalty_reports.filter(
        period_start__lte=period_end, period_end__gte=period_start
    )
    if overlapping.exists():
        raise Conflict("period_overlaps", _("This period overlaps a period already reported."))
    report = RoyaltyReport.objects.create(
        license=license,
        period_start=period_start,
        period_end=period_end,
        basis_amount_cny=basis_amount,
        amount_due_cny=royalty_due(license.terms, basis_amount),
        due_date=period_end + timedelta(days=settings.ROYALTY_PAYMENT_DAYS),
        reported_by=actor,
    )
    _event(
        license,
        actor,
        V.ROYALTY_REPORTED,
        report=report.pk,
        amount_due=str(report.amount_due_cny),
    )
    return report


@transaction.atomic
def royalty_pay(
    *,
    actor: User,
    license_id: int,
    amount_cny: Decimal,
    reference: str,
    paid_on: date,
    proof: str = "",
    report_id: int | None = None,
) -> LicensePayment:
    """Record a royalty payment (optionally against one report)."""
    license = _lock_license(actor, license_id)
    permissions.check_royalty_pay(actor, license)
    report = None
    if report_id is not None:
        report = license.royalty_reports.filter(pk=report_id).first()
        if report is None:
            raise NotFound()
    if paid_on > _today():
        raise InvalidInput(
            "payment_date_in_future",
            _("A payment cannot be dated in the future."),
            fields={"paid_on": [_("In the future.")]},
        )
    payment = LicensePayment.objects.create(
        license=license,
        kind=PaymentKind.ROYALTY,
        amount_cny=amount_cny,
        reference=reference,
        proof=proof,
        paid_on=paid_on,
        royalty_report=report,
        recorded_by=actor,
    )
    _event(license, actor, V.ROYALTY_PAID, payment=payment.pk, amount=str(amount_cny))
    return payment


def _ordinary_license_note(actor: User) -> str:
    with translation.override(actor.preferred_language):
        return str(
            _(
                "Ordinary license recorded by the patentee: negotiated outside any open-license "
                "declaration, with no written notice under the Patent Law."
            )
        )


@transaction.atomic
def license_record_ordinary(
    *,
    actor: User,
    patent_id: int,
    licensee_id: int,
    starts_on: date,
    ends_on: date,
    notes: str = "",
) -> License:
    """Record an ordinary license negotiated outside a declaration: not an open license, and it
    gives no annual-fee reduction."""
    patent = Patent.objects.filter(pk=patent_id).first()
    if patent is None or not Membership.objects.is_member(actor, patent.owner_id):
        raise NotFound()
    if licensee_id == patent.owner_id or not Organisation.objects.filter(pk=licensee_id).exists():
        raise InvalidInput(
            "invalid_licensee",
            _("Name another registered organisation."),
            fields={"licensee": [_("Invalid.")]},
        )
    if ends_on < starts_on:
        raise InvalidInput(
            "ends_before_start",
            _("The license ends before it starts."),
            fields={"ends_on": [_("Before the start date.")]},
        )
    now = timezone.now()
    license = License.objects.create(
        declaration=None,
        patent=patent,
        licensor_id=patent.owner_id,
        licensee_id=licensee_id,
        is_open_license=False,
        status=LicenseStatus.EFFECTIVE,
        notice_text=notes.strip() or _ordinary_license_note(actor),
        notice_sent_at=now,
        notice_delivered_at=now,
        terms={"ordinary": True},
        due_at_acceptance_cny=Decimal("0.00"),
        effective_date=starts_on,
        term_end=ends_on,
        created_by=actor,
    )
    _event(license, actor, V.ORDINARY_RECORDED)
    return license
