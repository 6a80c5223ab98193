"""Declarations: drafting, consents, submission, review, withdrawal, ending, consistency."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from licensing.bars import Bar, bars_for
from licensing.models import Declaration, DeclarationConsent, DeclarationEvent, DeclarationStatus
from licensing.permissions import check_declaration_consent
from licensing.permissions import check_declaration_patentee as _require_patentee
from licensing.permissions import check_declaration_review as _require_reviewer
from licensing.terms import advertising_words, check_terms
from licensing.workflow import DECLARATION, declaration_transition
from marketplace.errors import Conflict, InvalidInput, Message, NotFound, PermissionDenied
from marketplace.models import Membership, Organisation, Patent, User
from marketplace.services.patents import patent_set_listing

S = DeclarationStatus
TERM_FIELDS = (
    "payment_method",
    "royalty_basis",
    "lump_sum_cny",
    "entry_fee_cny",
    "royalty_rate_percent",
    "minimum_annual_royalty_cny",
    "license_term_years",
    "contact_name",
    "contact_phone",
    "contact_email",
    "contact_address",
    "undertaking",
    "calculation_explanation",
    "other_terms",
)


def _today() -> date:
    return timezone.localdate()


def _lock(actor: User, declaration_id: int) -> Declaration:
    declaration = (
        Declaration.objects.visible_to(actor)
        .select_for_update(of=("self",))
        .select_related("patent", "organisation")
        .filter(pk=declaration_id)
        .first()
    )
    if declaration is None:
        raise NotFound()
    return declaration


def _terms_error(problems: list[tuple[str, str, str]]) -> InvalidInput:
    fields: dict[str, list[Any]] = {}
    for field, code, message in problems:
        fields.setdefault(field, []).append((code, message))
    _field, first_code, first_message = problems[0]
    return InvalidInput(first_code, first_message, fields=fields)


def _bars_error(bars: list[Bar]) -> InvalidInput:
    first = bars[0]
    return InvalidInput(
        first.code,
        first.message,
        fields={"bars": [(bar.code, bar.message) for bar in bars]},
    )


def _co_owner_ids(declaration: Declaration) -> list[int]:
    return list(declaration.patent.co_owners.values_list("pk", flat=True))


def missing_consents(declaration: Declaration, purpose: str) -> list[Organisation]:
    given = set(
        DeclarationConsent.objects.filter(declaration=declaration, purpose=purpose).values_list(
            "organisation_id", flat=True
        )
    )
    return list(
        Organisation.objects.filter(pk__in=_co_owner_ids(declaration))
        .exclude(pk__in=given)
        .order_by("name")
    )


def _missing_consent_error(organisations: list[Organisation], purpose: str) -> Conflict:
    names = "、".join(organisation.name for organisation in organisations)
    if purpose == DeclarationConsent.Purpose.DECLARATION:
        message = _("Every co-owner must consent first; still missing: %(names)s.")
    else:
        message = _("Every co-owner must consent to the withdrawal; still missing: %(names)s.")
    return Conflict("co_owner_consent_missing", message, params={"names": names})


def _check_draft_terms(values: dict[str, Any], patent: Patent) -> None:
    problems = [
        problem
        for problem in check_terms(values, patent_expiry=patent.expiry_date, today=_today())
        if problem[1] != "undertaking_required"
    ]
    if problems:
        raise _terms_error(problems)


def declaration_terms_problems(
    *, actor: User, patent_id: int, terms: dict[str, Any], refused: set[str]
) -> list[tuple[str, str, str]]:
    """The term rules a draft breaks on the fields its serializer accepted (refused fields are
    already reported; without an accepted payment method the term rules cannot be judged)."""
    if "payment_method" in refused:
        return []
    patent = Patent.objects.visible_to(actor).filter(pk=patent_id).first()
    if patent is None or not Membership.objects.is_member(actor, patent.owner_id):
        return []
    return [
        problem
        for problem in check_terms(terms, patent_expiry=patent.expiry_date, today=_today())
        if problem[1] != "undertaking_required" and problem[0] not in refused
    ]


@transaction.atomic
def declaration_create(*, actor: User, patent_id: int, terms: dict[str, Any]) -> Declaration:
    """Draft a declaration for a patent of the actor's organisation."""
    patent = (
        Patent.objects.visible_to(actor)
        .select_for_update(of=("self",))
        .filter(pk=patent_id)
        .first()
    )
    if patent is None:
        raise NotFound()
    if not Membership.objects.is_member(actor, patent.owner_id):
        raise PermissionDenied(
            "patentee_required", _("Only members of the patentee organisation can do this.")
        )
    if Declaration.objects.filter(patent=patent, status__in=(S.DRAFT, S.SUBMITTED)).exists():
        raise Conflict(
            "declaration_pending",
            _("This patent already has a declaration in draft or under review."),
        )
    _check_draft_terms(terms, patent)
    supersedes = Declaration.objects.in_force().filter(patent=patent).first()
    declaration = Declaration.objects.create(
        patent=patent,
        organisation_id=patent.owner_id,
        created_by=actor,
        supersedes=supersedes,
        advertising_words=advertising_words(terms),
        **terms,
    )
    DECLARATION.record(
        declaration, DeclarationEvent.Verb.DRAFTED, actor=actor, to_status=S.DRAFT, notify=False
    )
    return declaration


@transaction.atomic
def declaration_update(*, actor: User, declaration_id: int, terms: dict[str, Any]) -> Declaration:
    """Change a draft's terms (drafts only: an announced declaration is changed by a new one)."""
    declaration = _lock(actor, declaration_id)
    _require_patentee(actor, declaration)
    if declaration.status != S.DRAFT:
        raise Conflict(
            "declaration_not_draft",
            _("Only a draft can be edited; to change announced terms, draft a new declaration."),
        )
    merged = {field: getattr(declaration, field) for field in TERM_FIELDS}
    merged.update(terms)
    # Switching the payment method clears amounts that no longer apply.
    if "payment_method" in terms:
        for field in ("lump_sum_cny", "entry_fee_cny", "royalty_rate_percent", "royalty_basis"):
            if field not in terms:
                merged[field] = "" if field == "royalty_basis" else None
    _check_draft_terms(merged, declaration.patent)
    changes = {
        field: [str(getattr(declaration, field)), str(value)]
        for field, value in merged.items()
        if getattr(declaration, field) != value
    }
    for field, value in merged.items():
        setattr(declaration, field, value)
    declaration.advertising_words = advertising_words(merged)
    if changes:
        # Co-owners consented to the old terms, not to these.
        DeclarationConsent.objects.filter(
            declaration=declaration, purpose=DeclarationConsent.Purpose.DECLARATION
        ).delete()
    declaration.save()
    if changes:
        DECLARATION.record(
            declaration,
            DeclarationEvent.Verb.EDITED,
            actor=actor,
            data={"changes": changes},
            notify=False,
        )
    return declaration


@transaction.atomic
def declaration_consent(*, actor: User, declaration_id: int, purpose: str) -> DeclarationConsent:
    """A co-owner's member consents, for their organisation, to the declaration or withdrawal."""
    declaration = _lock(actor, declaration_id)
    organisation_ids = check_declaration_consent(actor, declaration)
    expected = S.DRAFT if purpose == DeclarationConsent.Purpose.DECLARATION else S.ANNOUNCED
    if declaration.status != expected:
        raise Conflict(
            "consent_not_possible",
            _("Consent to this is not possible while the declaration is %(status)s."),
            params={"status": S(declaration.status).label},
        )
    organisation_id = min(organisation_ids)
    consent, created = DeclarationConsent.objects.get_or_create(
        declaration=declaration,
        organisation_id=organisation_id,
        purpose=purpose,
        defaults={"given_by": actor},
    )
    if created:
        DECLARATION.record(
            declaration,
            f"consent_{purpose}",
            actor=actor,
            data={"organisation": organisation_id},
            notify=False,
        )
    return consent


def declaration_problems(declaration: Declaration) -> dict[str, Any]:
    """What stands in the way of submitting: bars, term problems, missing consents."""
    today = _today()
    terms = {field: getattr(declaration, field) for field in TERM_FIELDS}
    return {
        "bars": [
            {"number": bar.number, "code": bar.code, "message": str(bar.message)}
            for bar in bars_for(declaration.patent, today)
        ],
        "terms": [
            {"field": field, "code": code, "message": message}
            for field, code, message in check_terms(
                terms, patent_expiry=declaration.patent.expiry_date, today=today
            )
        ],
        "missing_consents": [
            {"id": organisation.pk, "name": organisation.name}
            for organisation in missing_consents(
                declaration, DeclarationConsent.Purpose.DECLARATION
            )
        ],
        "advertising_words": declaration.advertising_words,
    }


def _refuse_if_barred(declaration: Declaration) -> None:
    terms = {field: getattr(declaration, field) for field in TERM_FIELDS}
    problems = check_terms(terms, patent_expiry=declaration.patent.expiry_date, today=_today())
    if problems:
        raise _terms_error(problems)
    bars = bars_for(declaration.patent, _today())
    if bars:
        raise _bars_error(bars)


@transaction.atomic
def declaration_submit(*, actor: User, declaration_id: int) -> Declaration:
    """Submit a draft for review; every bar, term rule and co-owner consent is checked."""
    declaration = _lock(actor, declaration_id)
    _require_patentee(actor, declaration)
    Patent.objects.select_for_update().filter(pk=declaration.patent_id).first()
    if declaration.status != S.DRAFT:
        raise Conflict("declaration_not_draft", _("Only a draft can be submitted."))
    _refuse_if_barred(declaration)
    missing = missing_consents(declaration, DeclarationConsent.Purpose.DECLARATION)
    if missing:
        raise _missing_consent_error(missing, DeclarationConsent.Purpose.DECLARATION)
    declaration_transition(declaration, to=S.SUBMITTED, actor=actor)
    return declaration


def _next_number(on: date) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('licensing_declaration_number_seq')")
        row = cursor.fetchone()
    assert row is not None
    return f"OL{on.year}{row[0]:07d}"


@transaction.atomic
def declaration_announce(*, actor: User, declaration_id: int) -> Declaration:
    """A reviewer announces a submitted declaration: bars are checked again, a number is
    given, it takes effect today, and it supersedes the patent's previous declaration."""
    _require_reviewer(actor)
    declaration = _lock(actor, declaration_id)
    Patent.objects.select_for_update().filter(pk=declaration.patent_id).first()
    if declaration.status != S.SUBMITTED:
        raise Conflict(
            "declaration_not_submitted", _("Only a submitted declaration can be announced.")
        )
    _refuse_if_barred(declaration)
    today = _today()
    for previous in Declaration.objects.in_force().filter(patent_id=declaration.patent_id):
        declaration_transition(
            previous,
            to=S.SUPERSEDED,
            actor=actor,
            reason=f"superseded by declaration {declaration.pk}",
            ended_date=today,
        )
    declaration_transition(
        declaration,
        to=S.ANNOUNCED,
        actor=actor,
        number=_next_number(today),
        effective_date=today,
    )
    patent_set_listing(
        patent_ids=[declaration.patent_id], is_listed=True, terms=listing_terms(declaration)
    )
    return declaration


def listing_terms(declaration: Declaration) -> dict[str, Any]:
    """The copy of the terms that search filters and sorts on."""
    upfront = declaration.lump_sum_cny or declaration.entry_fee_cny or Decimal("0")
    return {
        "payment_method": declaration.payment_method,
        "upfront_cny": upfront,
        "royalty_rate": declaration.royalty_rate_percent,
    }


def _require_reason(
    reason: str, code: str = "reason_required", message: Message | None = None
) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidInput(
            code,
            message or _("Give the reason."),
            fields={"reason": [_("This field is required.")]},
        )
    return text


@transaction.atomic
def declaration_refuse(*, actor: User, declaration_id: int, reason: str) -> Declaration:
    """A reviewer decides not to announce a submitted declaration, with reasons."""
    _require_reviewer(actor)
    reason = _require_reason(reason)
    declaration = _lock(actor, declaration_id)
    declaration_transition(declaration, to=S.NOT_ANNOUNCED, actor=actor, reason=reason)
    return declaration


@transaction.atomic
def declaration_request_withdrawal(*, actor: User, declaration_id: int, reason: str) -> Declaration:
    """The patentee asks to withdraw (a reason, no conditions, every co-owner consenting)."""
    reason = _require_reason(
        reason, "withdrawal_reason_required", _("Give the reason for the withdrawal.")
    )
    declaration = _lock(actor, declaration_id)
    _require_patentee(actor, declaration)
    if declaration.status != S.ANNOUNCED:
        raise Conflict(
            "declaration_not_announced", _("Only an announced declaration can be withdrawn.")
        )
    missing = missing_consents(declaration, DeclarationConsent.Purpose.WITHDRAWAL)
    if missing:
        raise _missing_consent_error(missing, DeclarationConsent.Purpose.WITHDRAWAL)
    declaration_transition(declaration, to=S.WITHDRAWAL_REQUESTED, actor=actor, reason=reason)
    return declaration


@transaction.atomic
def declaration_approve_withdrawal(*, actor: User, declaration_id: int) -> Declaration:
    """A reviewer announces the withdrawal; it takes effect today. Licenses already granted
    stay as they are (rules §3)."""
    _require_reviewer(actor)
    declaration = _lock(actor, declaration_id)
    today = _today()
    declaration_transition(
        declaration, to=S.WITHDRAWN, actor=actor, withdrawal_date=today, ended_date=today
    )
    patent_set_listing(patent_ids=[declaration.patent_id], is_listed=False)
    return declaration


@transaction.atomic
def declaration_refuse_withdrawal(*, actor: User, declaration_id: int, reason: str) -> Declaration:
    """A reviewer refuses a withdrawal request (e.g. it carried conditions); it stays announced."""
    _require_reviewer(actor)
    reason = _require_reason(reason)
    declaration = _lock(actor, declaration_id)
    declaration_transition(declaration, to=S.ANNOUNCED, actor=actor, reason=reason)
    return declaration


def _end(actor: User | None, declaration: Declaration, to: str, reason: str) -> Declaration:
    declaration_transition(declaration, to=to, actor=actor, reason=reason, ended_date=_today())
    patent_set_listing(patent_ids=[declaration.patent_id], is_listed=False)
    return declaration


@transaction.atomic
def declaration_terminate(*, actor: User, declaration_id: int, reason: str) -> Declaration:
    """A reviewer terminates a declaration when a bar arose and the patentee did not withdraw."""
    _require_reviewer(actor)
    reason = _require_reason(reason)
    return _end(actor, _lock(actor, declaration_id), S.TERMINATED, reason)


@transaction.atomic
def declaration_revoke(*, actor: User, declaration_id: int, reason: str) -> Declaration:
    """A reviewer revokes a declaration obtained with false material."""
    _require_reviewer(actor)
    reason = _require_reason(reason)
    return _end(actor, _lock(actor, declaration_id), S.REVOKED, reason)


def declarations_expire(*, today: date | None = None) -> int:
    """End declarations whose patent's term is over (Celery beat, daily); returns how many."""
    today = today or _today()
    ended = 0
    due: QuerySet[Declaration] = Declaration.objects.in_force().filter(
        patent__expiry_date__lt=today
    ) | Declaration.objects.in_force().filter(patent__legal_status="expired")
    for declaration_id in due.values_list("pk", flat=True).distinct()[:1000]:
        with transaction.atomic():
            declaration = Declaration.objects.select_for_update().filter(pk=declaration_id).first()
            if declaration is None or declaration.status not in (
                S.ANNOUNCED,
                S.WITHDRAWAL_REQUESTED,
            ):
                continue
            _end(None, declaration, S.EXPIRED, "the patent's term has ended")
            ended += 1
    return ended


def declarations_recheck(patent_ids: list[int]) -> None:
    """After a patent's facts changed: flag (and hide from search) in-force declarations on
    which a bar now holds; clear the flag when none does."""
    today = _today()
    declarations = (
        Declaration.objects.in_force().filter(patent_id__in=patent_ids).select_related("patent")
    )
    for declaration in declarations:
        codes = [bar.code for bar in bars_for(declaration.patent, today)]
        if codes == declaration.flagged_bars:
            continue
        Declaration.objects.filter(pk=declaration.pk).update(
            flagged_bars=codes, updated_at=timezone.now()
        )
        DECLARATION.record(
            declaration,
            DeclarationEvent.Verb.BARS_FLAGGED if codes else DeclarationEvent.Verb.BARS_CLEARED,
            data={"bars": codes},
            notify=False,
        )
        patent_set_listing(patent_ids=[declaration.patent_id], is_listed=not codes)


def patent_guard(patent: Patent, action: str, details: dict[str, Any]) -> None:
    """Refuse patent changes that the rules forbid while a declaration is in force (§3)."""
    if not Declaration.objects.in_force().filter(patent_id=patent.pk).exists():
        return
    if action in ("exclusive_license", "abandon", "assign"):
        messages = {
            "exclusive_license": _(
                "No exclusive or sole license may be recorded while an open-license declaration "
                "is announced; withdraw the declaration first."
            ),
            "abandon": _(
                "The patent may not be abandoned while an open-license declaration is "
                "announced; withdraw the declaration first."
            ),
            "assign": _(
                "The patent may not be assigned while an open-license declaration is announced; "
                "withdraw the declaration first."
            ),
        }
        raise Conflict("declaration_in_force_withdraw_first", messages[action])
    if action == "pledge" and not details.get("pledgee_consents"):
        raise Conflict(
            "pledge_needs_consent_while_declared",
            _(
                "While an open-license declaration is announced, a new pledge needs the "
                "pledgee's consent to continued open licensing."
            ),
        )
