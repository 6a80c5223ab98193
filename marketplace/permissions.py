"""Who may run each command of the core app: one check per rule, raising the refusal with its
stable code (403).

The API runs the check as soon as it has found the object (what the caller may not see is a
404 before that), before it reads the body, so a role that may not act is refused whatever it
sends; the services run the same check under their lock. Visibility is the querysets'
business (marketplace.querysets); this module says what one may *do*.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext_lazy as _

from marketplace import roles
from marketplace.errors import PermissionDenied
from marketplace.models import Membership, MembershipRole


def allows(check: Callable[..., object], *args: Any) -> bool:
    """Whether a check lets the actor through (for code that reports rather than refuses)."""
    try:
        check(*args)
    except PermissionDenied:
        return False
    return True


def check_organisation_admin(actor: Any, organisation_id: int) -> None:
    """Editing the organisation, inviting, removing members, changing roles, the profile."""
    if not (
        actor.is_authenticated
        and Membership.objects.filter(
            organisation_id=organisation_id, user=actor, role=MembershipRole.ADMIN
        ).exists()
    ):
        raise PermissionDenied(
            "organisation_admin_required", _("Only an admin of this organisation can do this.")
        )


def check_patent_owner(actor: Any, owner_id: int) -> None:
    """Creating and editing a patent: the owning organisation's members."""
    if not Membership.objects.is_member(actor, owner_id):
        raise PermissionDenied(
            "not_a_member", _("Only members of the owning organisation can do this.")
        )


def check_patent_facts(actor: Any, patent: Any) -> None:
    """Recording legal-status facts, pledges and exclusive licenses: the owner's members, and
    reviewers (who record what CNIPA publishes)."""
    if not roles.has(actor, roles.RECORD_LEGAL_STATUS):
        check_patent_owner(actor, patent.owner_id)


def check_patent_hindrance(actor: Any, patent: Any = None) -> None:
    """Recording and resolving another hindrance to open licensing: reviewers."""
    if not roles.has(actor, roles.RECORD_LEGAL_STATUS):
        raise PermissionDenied("reviewer_required", _("Only a reviewer can do this."))


def check_need_owner(actor: Any, organisation_id: int) -> None:
    """Creating and managing a technology need: the SME's members."""
    if not Membership.objects.is_member(actor, organisation_id):
        raise PermissionDenied(
            "not_a_member", _("Only members of the SME can manage its technology needs.")
        )


def check_import(actor: Any, organisation_id: int | None = None) -> None:
    """Importing a portfolio: the organisation's members. Without an organisation (before the
    upload that names it is read), a member of any organisation."""
    members = Membership.objects.filter(user=actor) if actor.is_authenticated else None
    if organisation_id is not None and members is not None:
        members = members.filter(organisation_id=organisation_id)
    if members is None or not members.exists():
        raise PermissionDenied(
            "not_a_member", _("Only members of the organisation can import its patents.")
        )
