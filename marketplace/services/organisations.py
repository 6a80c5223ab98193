"""Organisations: details, invitations, members and roles, SME profiles."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from marketplace import emails, permissions
from marketplace.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from marketplace.models import (
    Industry,
    Invitation,
    InvitationStatus,
    Membership,
    MembershipRole,
    Organisation,
    OrganisationEvent,
    OrganisationEventVerb,
    OrganisationKind,
    Region,
    SmeProfile,
    User,
)
from marketplace.models.accounts import UserManager
from marketplace.models.organisations import INVITATION
from marketplace.services.accounts import check_password_strength

EDITABLE_ORGANISATION_FIELDS = (
    "name_en",
    "region",
    "address",
    "contact_email",
    "contact_phone",
    "website",
)


def _record(
    organisation: Organisation,
    actor: User | None,
    verb: OrganisationEventVerb,
    *,
    subject_user: User | None = None,
    **data: Any,
) -> None:
    OrganisationEvent.objects.create(
        organisation=organisation, actor=actor, verb=verb, subject_user=subject_user, data=data
    )


def _lock_organisation_as_admin(*, organisation_id: int, actor: User) -> Organisation:
    """Lock the organisation row (serialises admin-count checks) and require actor is admin."""
    organisation = Organisation.objects.select_for_update().filter(pk=organisation_id).first()
    if organisation is None:
        raise NotFound()
    permissions.check_organisation_admin(actor, organisation.pk)
    return organisation


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def organisation_update(
    *, organisation_id: int, actor: User, changes: dict[str, Any]
) -> Organisation:
    """Change an organisation's editable details (admins only)."""
    organisation = _lock_organisation_as_admin(organisation_id=organisation_id, actor=actor)
    unknown = set(changes) - set(EDITABLE_ORGANISATION_FIELDS)
    if unknown:
        raise InvalidInput(
            "field_not_editable",
            _("These fields cannot be changed here: %(fields)s."),
            params={"fields": ", ".join(sorted(unknown))},
        )
    changed: dict[str, str] = {}
    for field, value in changes.items():
        before = getattr(organisation, field)
        if before != value:
            changed[field] = str(value.pk if isinstance(value, Region) else value)
            setattr(organisation, field, value)
    if changed:
        organisation.save(update_fields=[*changes.keys(), "updated_at"])
        _record(organisation, actor, OrganisationEventVerb.UPDATED, changes=changed)
    return organisation


@transaction.atomic
def invitation_create(
    *, organisation_id: int, actor: User, email: str, role: str
) -> tuple[Invitation, str]:
    """Invite an address to join; returns the invitation and its one-time token."""
    organisation = _lock_organisation_as_admin(organisation_id=organisation_id, actor=actor)
    email = UserManager.normalize_email(email)
    if Membership.objects.filter(organisation=organisation, user__email=email).exists():
        raise Conflict(
            "already_member",
            _("This person is already a member of the organisation."),
            fields={"email": [_("Already a member.")]},
        )
    if Invitation.objects.filter(
        organisation=organisation, email=email, status=InvitationStatus.PENDING
    ).exists():
        raise Conflict(
            "invitation_pending",
            _("An invitation to this address is already pending; revoke it to send a new one."),
            fields={"email": [_("Already invited.")]},
        )
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organisation=organisation,
        email=email,
        role=role,
        token_hash=_hash_token(token),
        invited_by=actor,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_TIMEOUT_DAYS),
    )
    _record(organisation, actor, OrganisationEventVerb.MEMBER_INVITED, email=email, role=role)
    emails.send_after_commit(emails.invitation_message, invitation_id=invitation.pk, token=token)
    return invitation, token


@transaction.atomic
def invitation_revoke(*, organisation_id: int, invitation_id: int, actor: User) -> Invitation:
    """Withdraw a pending invitation (admins only)."""
    organisation = _lock_organisation_as_admin(organisation_id=organisation_id, actor=actor)
    invitation = Invitation.objects.filter(pk=invitation_id, organisation=organisation).first()
    if invitation is None:
        raise NotFound()
    revoked = InvitationStatus.REVOKED
    if not INVITATION.allowed(invitation.status, revoked) or not INVITATION.move(
        invitation, to=revoked
    ):
        raise Conflict(
            "invitation_not_pending",
            _("Only a pending invitation can be revoked; this one is %(status)s."),
            params={"status": invitation.get_status_display()},
        )
    _record(organisation, actor, OrganisationEventVerb.INVITATION_REVOKED, email=invitation.email)
    invitation.refresh_from_db()
    return invitation


def invitation_lookup(*, token: str) -> tuple[Invitation, bool]:
    """The pending invitation a token names, and whether its address has an account already
    (for the page that accepts it); errors as invitation_accept's."""
    invitation = (
        Invitation.objects.select_related("organisation", "invited_by")
        .filter(token_hash=_hash_token(token))
        .first()
    )
    if invitation is None:
        raise InvalidInput(
            "invitation_invalid",
            _("This invitation is not valid."),
            fields={"token": [_("Unknown token.")]},
        )
    if invitation.status != InvitationStatus.PENDING:
        raise Conflict(
            "invitation_not_pending",
            _("Only a pending invitation can be accepted; this one is %(status)s."),
            params={"status": invitation.get_status_display()},
        )
    if invitation.expires_at <= timezone.now():
        raise Conflict("invitation_expired", _("This invitation has expired; ask for a new one."))
    return invitation, User.objects.filter(email=invitation.email).exists()


@transaction.atomic
def invitation_accept(
    *,
    token: str,
    actor: User | None,
    full_name: str = "",
    password: str = "",
) -> Membership:
    """Join the organisation named by an invitation token.

    A logged-in user accepts for their own address; someone without an account gets one,
    already verified because the token reached their mailbox.
    """
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("organisation")
        .filter(token_hash=_hash_token(token))
        .first()
    )
    if invitation is None:
        raise InvalidInput(
            "invitation_invalid",
            _("This invitation is not valid."),
            fields={"token": [_("Unknown token.")]},
        )
    if invitation.status != InvitationStatus.PENDING:
        raise Conflict(
            "invitation_not_pending",
            _("Only a pending invitation can be accepted; this one is %(status)s."),
            params={"status": invitation.get_status_display()},
        )
    now = timezone.now()
    if invitation.expires_at <= now:
        raise Conflict("invitation_expired", _("This invitation has expired; ask for a new one."))
    existing = User.objects.filter(email=invitation.email).first()
    if actor is not None and actor.is_authenticated:
        if actor.email != invitation.email:
            raise PermissionDenied(
                "invitation_email_mismatch",
                _("This invitation was sent to another e-mail address."),
            )
        user = actor
    elif existing is not None:
        raise PermissionDenied(
            "login_required",
            _("An account with this address exists: log in, then accept the invitation."),
        )
    else:
        if not full_name.strip():
            raise InvalidInput(
                "full_name_required",
                _("Give your full name to create your account."),
                fields={"full_name": [_("This field is required.")]},
            )
        user = User(email=invitation.email, full_name=full_name.strip(), email_verified_at=now)
        check_password_strength(password=password, user=user, field="password")
        user.set_password(password)
        user.save()
    if user.email_verified_at is None:
        user.email_verified_at = now
        user.save(update_fields=["email_verified_at"])
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                organisation=invitation.organisation, user=user, role=invitation.role
            )
    except IntegrityError as error:
        raise Conflict(
            "already_member", _("You are already a member of this organisation.")
        ) from error
    # The row is locked and was pending above: the compare-and-swap cannot lose.
    INVITATION.move(invitation, to=InvitationStatus.ACCEPTED, accepted_by=user, closed_at=now)
    _record(
        invitation.organisation,
        user,
        OrganisationEventVerb.MEMBER_JOINED,
        subject_user=user,
        role=invitation.role,
    )
    return membership


def _remaining_admins(organisation: Organisation, excluding: Membership) -> int:
    return (
        Membership.objects.filter(organisation=organisation, role=MembershipRole.ADMIN)
        .exclude(pk=excluding.pk)
        .count()
    )


def _last_admin_error() -> Conflict:
    return Conflict(
        "last_admin",
        _("An organisation must keep at least one admin: appoint another admin first."),
    )


@transaction.atomic
def membership_remove(*, organisation_id: int, membership_id: int, actor: User) -> None:
    """Remove a member (admins only); the last admin cannot be removed."""
    organisation = _lock_organisation_as_admin(organisation_id=organisation_id, actor=actor)
    membership = (
        Membership.objects.select_related("user")
        .filter(pk=membership_id, organisation=organisation)
        .first()
    )
    if membership is None:
        raise NotFound()
    if membership.role == MembershipRole.ADMIN and _remaining_admins(organisation, membership) == 0:
        raise _last_admin_error()
    membership.delete()
    _record(
        organisation,
        actor,
        OrganisationEventVerb.MEMBER_REMOVED,
        subject_user=membership.user,
        role=membership.role,
    )


@transaction.atomic
def membership_leave(*, organisation_id: int, actor: User) -> None:
    """Leave an organisation; the last admin cannot leave."""
    organisation = Organisation.objects.select_for_update().filter(pk=organisation_id).first()
    membership = (
        Membership.objects.filter(organisation=organisation, user=actor).first()
        if organisation
        else None
    )
    if organisation is None or membership is None:
        raise NotFound()
    if membership.role == MembershipRole.ADMIN and _remaining_admins(organisation, membership) == 0:
        raise _last_admin_error()
    membership.delete()
    _record(organisation, actor, OrganisationEventVerb.MEMBER_LEFT, subject_user=actor)


@transaction.atomic
def membership_change_role(
    *, organisation_id: int, membership_id: int, actor: User, role: str
) -> Membership:
    """Make a member an admin or an admin a member (admins only; one admin must remain)."""
    organisation = _lock_organisation_as_admin(organisation_id=organisation_id, actor=actor)
    membership = (
        Membership.objects.select_related("user")
        .filter(pk=membership_id, organisation=organisation)
        .first()
    )
    if membership is None:
        raise NotFound()
    if membership.role == role:
        return membership
    if (
        membership.role == MembershipRole.ADMIN
        and role != MembershipRole.ADMIN
        and _remaining_admins(organisation, membership) == 0
    ):
        raise _last_admin_error()
    before = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    _record(
        organisation,
        actor,
        OrganisationEventVerb.MEMBER_ROLE_CHANGED,
        subject_user=membership.user,
        before=before,
        after=role,
    )
    return membership


@transaction.atomic
def sme_profile_save(
    *,
    organisation_id: int,
    actor: User,
    industry: Industry,
    region: Region,
    size: str,
    employee_count: int | None = None,
    annual_revenue_cny: Any = None,
    description: str = "",
) -> SmeProfile:
    """Create or replace an SME's profile (admins of that SME only)."""
    organisation = _lock_organisation_as_admin(organisation_id=organisation_id, actor=actor)
    if organisation.kind != OrganisationKind.SME:
        raise Conflict(
            "not_an_sme",
            _("Only an organisation of kind SME has an SME profile."),
        )
    values = {
        "industry": industry,
        "region": region,
        "size": size,
        "employee_count": employee_count,
        "annual_revenue_cny": annual_revenue_cny,
        "description": description,
    }
    profile, _created = SmeProfile.objects.update_or_create(
        organisation=organisation, defaults=values
    )
    _record(
        organisation,
        actor,
        OrganisationEventVerb.SME_PROFILE_SAVED,
        industry=industry.code,
        region=region.code,
        size=size,
    )
    return profile


def invitations_expire() -> int:
    """Mark pending invitations past their expiry as expired; returns how many."""
    now = timezone.now()
    expired = 0
    for invitation in Invitation.objects.filter(
        status=InvitationStatus.PENDING, expires_at__lte=now
    ).select_related("organisation")[:1000]:
        with transaction.atomic():
            if INVITATION.claim(
                invitation.pk,
                from_status=InvitationStatus.PENDING,
                to=InvitationStatus.EXPIRED,
                closed_at=now,
            ):
                expired += 1
                _record(
                    invitation.organisation,
                    None,
                    OrganisationEventVerb.INVITATION_EXPIRED,
                    email=invitation.email,
                )
    return expired
