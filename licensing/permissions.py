"""Who may run each licensing command: one check per command, named after its service, that
raises the refusal with its stable code (403) and returns nothing, or the actor's side.

The API runs the check as soon as it has found the object (what the caller may not see is a
404 before that), before it reads the body, so a role that may not act is refused whatever it
sends; the service runs the same check under its lock, for every other caller (the admin,
tasks) and for a role changed in between. What the caller may *see* is the querysets'
business (licensing.querysets); this module says what they may *do* with it.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from marketplace import roles
from marketplace.errors import Message, PermissionDenied
from marketplace.models import Membership, Organisation

# ---- the rules -----------------------------------------------------------------------------


def _require_permission(actor: Any, permission: str, code: str, message: Message) -> None:
    if not roles.has(actor, permission):
        raise PermissionDenied(code, message)


def _require_member(actor: Any, organisation_id: int | None, code: str, message: Message) -> None:
    if organisation_id is None or not Membership.objects.is_member(actor, organisation_id):
        raise PermissionDenied(code, message)


def _reviewer(actor: Any) -> None:
    _require_permission(
        actor, roles.REVIEW_DECLARATIONS, "reviewer_required", _("Only a reviewer can do this.")
    )


# ---- declarations --------------------------------------------------------------------------


def check_declaration_patentee(actor: Any, declaration: Any) -> None:
    """Editing, submitting and withdrawing: the declaring organisation's members."""
    _require_member(
        actor,
        declaration.organisation_id,
        "patentee_required",
        _("Only members of the patentee organisation can do this."),
    )


def check_declaration_review(actor: Any, declaration: Any = None) -> None:
    """Announcing, refusing, approving or refusing a withdrawal, terminating, revoking."""
    _reviewer(actor)


def check_declaration_consent(actor: Any, declaration: Any) -> set[int]:
    """A co-owner's member consents; returns the co-owning organisations the actor is in."""
    co_owners = set(declaration.patent.co_owners.values_list("pk", flat=True))
    mine = set(Organisation.objects.with_member(actor).values_list("pk", flat=True))
    if not co_owners & mine:
        raise PermissionDenied(
            "co_owner_required", _("Only a member of a co-owning organisation can consent.")
        )
    return co_owners & mine


# ---- licenses ------------------------------------------------------------------------------


def check_license_pay_upfront(actor: Any, license: Any) -> None:
    _require_member(
        actor,
        license.licensee_id,
        "licensee_required",
        _("Only the licensee records its payments."),
    )


def check_license_contest_payment(actor: Any, license: Any) -> None:
    _require_member(
        actor,
        license.licensor_id,
        "patentee_required",
        _("Only the patentee can contest a payment."),
    )


def check_license_withdraw_contest(actor: Any, license: Any) -> None:
    _require_member(
        actor,
        license.licensor_id,
        "patentee_required",
        _("Only the patentee can withdraw its contest."),
    )


def check_license_file(actor: Any, license: Any) -> None:
    if not (
        Membership.objects.is_member(actor, license.licensee_id)
        or Membership.objects.is_member(actor, license.licensor_id)
    ):
        raise PermissionDenied("party_required", _("Only the patentee or the licensee files."))


def check_filing_decide(actor: Any, license: Any = None) -> None:
    _require_permission(
        actor, roles.REVIEW_FILINGS, "reviewer_required", _("Only a reviewer can do this.")
    )


def check_royalty_report(actor: Any, license: Any) -> None:
    _require_member(
        actor, license.licensee_id, "licensee_required", _("Only the licensee reports royalties.")
    )


def check_royalty_pay(actor: Any, license: Any) -> None:
    check_license_pay_upfront(actor, license)


# ---- mediation -----------------------------------------------------------------------------


def case_party(actor: Any, case: Any) -> str | None:
    """The actor's side in the case ("applicant", "respondent"), or None."""
    if Membership.objects.is_member(actor, case.applicant_id):
        return "applicant"
    if Membership.objects.is_member(actor, case.respondent_id):
        return "respondent"
    return None


def is_case_mediator(actor: Any, case: Any) -> bool:
    """The case's own mediator, or a supervisor (who may act on every case)."""
    return roles.has(actor, roles.SUPERVISE_MEDIATION) or (
        roles.is_mediator(actor) and case.mediator_id == actor.pk
    )


def _require_party(actor: Any, case: Any, message: Message) -> str:
    side = case_party(actor, case)
    if side is None:
        raise PermissionDenied("party_required", message)
    return side


def check_case_mediator(actor: Any, case: Any) -> None:
    """Sending the notice, accepting, recording sessions and agreements, closing."""
    if not is_case_mediator(actor, case):
        raise PermissionDenied("mediator_required", _("Only the case's mediator can do this."))


def check_case_assign(actor: Any, case: Any = None) -> None:
    _require_permission(
        actor,
        roles.SUPERVISE_MEDIATION,
        "supervisor_required",
        _("Only a mediation supervisor assigns cases."),
    )


def check_case_decide_recusal(actor: Any, case: Any = None) -> None:
    _require_permission(
        actor,
        roles.SUPERVISE_MEDIATION,
        "supervisor_required",
        _("Only a mediation supervisor decides."),
    )


def check_case_respond(actor: Any, case: Any) -> None:
    if case_party(actor, case) != "respondent":
        raise PermissionDenied("respondent_required", _("Only the respondent answers."))


def check_case_withdraw(actor: Any, case: Any) -> None:
    if case_party(actor, case) != "applicant":
        raise PermissionDenied("applicant_required", _("Only the applicant withdraws."))


def check_case_name_agents(actor: Any, case: Any) -> str:
    return _require_party(actor, case, _("Only a party names its agents."))


def check_case_request_recusal(actor: Any, case: Any) -> str:
    return _require_party(actor, case, _("Only a party can ask for a recusal."))


def check_case_accept_agreement(actor: Any, case: Any) -> str:
    return _require_party(actor, case, _("Only a party accepts the agreement."))


def check_case_add_evidence(actor: Any, case: Any) -> str:
    return _require_party(actor, case, _("Only a party files evidence."))
