"""Permission classes: who may call which command (visibility itself comes from querysets)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from marketplace.models import Membership, MembershipRole, User


def request_user(request: Any) -> User:
    """The logged-in user of a request (views call it behind IsAuthenticated)."""
    user = request.user
    assert isinstance(user, User)
    return user


def is_member(user: Any, organisation_id: int) -> bool:
    return Membership.objects.is_member(user, organisation_id)


def is_organisation_admin(user: Any, organisation_id: int) -> bool:
    return bool(
        user.is_authenticated
        and Membership.objects.filter(
            organisation_id=organisation_id, user=user, role=MembershipRole.ADMIN
        ).exists()
    )


class IsVerified(BasePermission):
    """Logged in with a verified e-mail address."""

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.email_verified_at is not None)
