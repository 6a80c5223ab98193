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

    def audit_visible_to(self, user: Actor) -> OrganisationQuerySet:
        """Organisations whose audit trail (events) the user may read: those it
        administers; every one for reviewers."""
        if roles.is_reviewer(user):
            return self.all()
        return self.administered_by(user)

    def private_visible_to(self, user: Actor) -> OrganisationQuerySet:
        """Organisations whose members, profile and contacts the user may read: its members;
        every one for platform staff (reviewers, mediators)."""
        if not user.is_authenticated:
            return self.none()
        if roles.is_platform_staff(user):
            return self.all()
        return self.with_member(user)

    def records_visible_to(self, user: Actor) -> OrganisationQuerySet:
        """Organisations whose business records (imports, annual fees, the licensing funnel,
        its declarations' candidates) the user may read: its members; every one for reviewers
        (mediators read none of them)."""
        if not user.is_authenticated:
            return self.none()
        if roles.is_reviewer(user):
            return self.all()
        return self.with_member(user)


class MembershipQuerySet(models.QuerySet):
    """Memberships: members see their own organisations' lists, platform staff see all."""

    def is_member(self, user: Actor, organisation_id: int) -> bool:
        """The user belongs to the organisation (anonymous users belong nowhere)."""
        return bool(
            user.is_authenticated
            and self.filter(organisation_id=organisation_id, user=user).exists()
        )

    def visible_to(self, user: Actor) -> MembershipQuerySet:
        if not user.is_authenticated:
            return self.none()
        if roles.is_platform_staff(user):
            return self.all()
        return self.filter(organisation__memberships__user=user)


class PatentQuerySet(models.QuerySet):
    """Patents: listed ones are public; owners and co-owners see their own; staff see all."""

    def visible_to(self, user: Actor) -> PatentQuerySet:
        if not user.is_authenticated:
            return self.filter(is_listed=True)
        if roles.is_platform_staff(user):
            return self.all()
        own = models.Q(owner__memberships__user=user) | models.Q(co_owners__memberships__user=user)
        return self.filter(
            models.Q(is_listed=True) | models.Q(pk__in=self.filter(own).values("pk"))
        )

    def of_member(self, user: Actor) -> PatentQuerySet:
        """Patents whose owning organisation (the one that maintains them) has this member."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(owner__memberships__user=user)

    def records_visible_to(self, user: Actor) -> PatentQuerySet:
        """Patents whose records (history, fee calendar) the user may read: their owner's and
        co-owners' members; every one for reviewers."""
        if not user.is_authenticated:
            return self.none()
        if roles.is_reviewer(user):
            return self.all()
        own = models.Q(owner__memberships__user=user) | models.Q(co_owners__memberships__user=user)
        return self.filter(pk__in=self.filter(own).values("pk"))

    def in_force_statuses(self) -> tuple[str, ...]:
        """The statuses of a declaration in force: the one definition every read of "a patent
        with a declaration in force" uses (this queryset's filter, the search hits' join).

        They are licensing's (licensing.querysets), read through the relation it declares on
        Patent, since marketplace does not import licensing."""
        declarations = self.model._meta.get_field("declarations").related_model
        return tuple(declarations.IN_FORCE_STATUSES)

    def with_declaration_in_force(self, **declaration: Any) -> PatentQuerySet:
        """Patents with a declaration in force (at most one each) that also matches the given
        lookups (`id=...`), in one join that a later values() reads its columns through."""
        lookups = {f"declarations__{name}": value for name, value in declaration.items()}
        return self.filter(declarations__status__in=self.in_force_statuses(), **lookups)


class ImportJobQuerySet(models.QuerySet):
    """Imports: the organisation's members see its imports; reviewers all."""

    def visible_to(self, user: Actor) -> ImportJobQuerySet:
        # The organisation's records rule (OrganisationQuerySet.records_visible_to).
        if not user.is_authenticated:
            return self.none()
        if roles.is_reviewer(user):
            return self.all()
        return self.filter(organisation__memberships__user=user)


class NotificationQuerySet(models.QuerySet):
    """Notifications: each user sees their own, nobody else's (staff included)."""

    def visible_to(self, user: Actor) -> NotificationQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(user=user)


class TechnologyNeedQuerySet(models.QuerySet):
    """Needs: open ones are visible to logged-in users; an SME sees all of its own."""

    def visible_to(self, user: Actor) -> TechnologyNeedQuerySet:
        if not user.is_authenticated:
            return self.none()
        if roles.is_platform_staff(user):
            return self.all()
        return self.filter(
            models.Q(status="open") | models.Q(organisation__memberships__user=user)
        ).distinct()


def known_related(instance: models.Model, **related: list[Any]) -> None:
    """Record related objects already in hand (a row just created, a relation known to be
    empty) as if prefetched, so that `instance.<name>.all()` answers without a query.

    Django keeps prefetched rows in `_prefetched_objects_cache` as evaluated querysets (see
    `prefetch_related_objects`); this fills it the same way, for reverse relations."""
    cache = instance.__dict__.setdefault("_prefetched_objects_cache", {})
    for name, objects in related.items():
        queryset = getattr(instance, name).get_queryset()
        queryset._result_cache = list(objects)
        queryset._prefetch_done = True
        cache[name] = queryset
