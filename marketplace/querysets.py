"""Permission-aware querysets: every endpoint and admin page starts from one of these."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

from marketplace import roles

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

    Actor = AbstractBaseUser | AnonymousUser
else:
    Actor = Any


class UserQuerySet(models.QuerySet):
    """Users, with the platform roles as filters."""

    def reviewers(self) -> UserQuerySet:
        return self.filter(is_active=True, groups__name=roles.REVIEWER).distinct()

    def mediators(self) -> UserQuerySet:
        return self.filter(is_active=True, groups__name=roles.MEDIATOR).distinct()


class OrganisationQuerySet(models.QuerySet):
    """Organisations. Their public card (name, kind, region) is open: the register names them."""

    def visible_to(self, user: Actor) -> OrganisationQuerySet:
        return self.all()

    def with_member(self, user: Actor) -> OrganisationQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user)

    def administered_by(self, user: Actor) -> OrganisationQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user, memberships__role="admin")

    def private_visible_to(self, user: Actor) -> OrganisationQuerySet:
        """Organisations whose members, profile and contacts the user may read."""
        if not user.is_authenticated:
            return self.none()
        if roles.is_platform_staff(user):
            return self.all()
        return self.with_member(user)


class MembershipQuerySet(models.QuerySet):
    """Memberships: members see their own organisations' lists, platform staff see all."""

    def visible_to(self, user: Actor) -> MembershipQuerySet:
        if not user.is_authenticated:
            return self.none()
        if roles.is_platform_staff(user):
            return self.all()
        return self.filter(organisation__memberships__user=user)
