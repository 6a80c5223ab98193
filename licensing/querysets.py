"""Permission-aware querysets of the licensing app, and the declaration status sets.

Every read that depends on who asks starts from one of these `visible_to(user)` methods (or a
narrower, named scope), in the API, the admin and the services' own look-ups, so an object
someone may not see is a 404 wherever they ask.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from marketplace import roles
from marketplace.models import Organisation

# A declaration in force: licenses can be obtained under it (a withdrawal takes effect only
# when announced, rules §3). The one definition: the model's constraint, the services, the
# register's figures, search hits and saved-search alerts (marketplace reads it through the
# relation on Patent, marketplace.querysets.declaration_in_force_statuses) all use it.
IN_FORCE_STATUSES = ("announced", "withdrawal_requested")
# Shown in the public register (once announced, a declaration stays on it).
PUBLIC = (
    *IN_FORCE_STATUSES,
    "withdrawn",
    "terminated",
    "revoked",
    "expired",
    "superseded",
)


class DeclarationQuerySet(models.QuerySet):
    """Declarations: public once announced; drafts for the patentee and co-owners; reviewers
    see everything but drafts."""

    def public(self) -> DeclarationQuerySet:
        return self.filter(status__in=PUBLIC)

    def visible_to(self, user: Any) -> DeclarationQuerySet:
        if not user.is_authenticated:
            return self.public()
        own = models.Q(organisation__memberships__user=user) | models.Q(
            patent__co_owners__memberships__user=user
        )
        if roles.is_platform_staff(user):
            return self.filter(
                models.Q(pk__in=self.exclude(status="draft").values("pk"))
                | models.Q(pk__in=self.filter(own).values("pk"))
            )
        return self.filter(
            models.Q(status__in=PUBLIC) | models.Q(pk__in=self.filter(own).values("pk"))
        )

    def records_visible_to(self, user: Any) -> DeclarationQuerySet:
        """Declarations whose patentee records (what would refuse a submission, the candidate
        licensees) the user may read: the declaring organisation's members; reviewers all."""
        if roles.is_reviewer(user):
            return self.all()
        return self.filter(
            organisation_id__in=Organisation.objects.records_visible_to(user).values("pk")
        )

    def in_force(self) -> DeclarationQuerySet:
        return self.filter(status__in=IN_FORCE_STATUSES)


class LicenseQuerySet(models.QuerySet):
    """Licenses: the parties (licensee and patentee) see their own; platform staff all."""

    def visible_to(self, user: Any) -> LicenseQuerySet:
        if not user.is_authenticated:
            return self.none()
        if roles.is_platform_staff(user):
            return self.all()
        mine = Organisation.objects.with_member(user).values("pk")
        return self.filter(models.Q(licensee_id__in=mine) | models.Q(licensor_id__in=mine))


class MediationCaseQuerySet(models.QuerySet):
    """Cases: the parties see their own; a mediator only the cases assigned to them; a
    supervisor every case."""

    def for_mediator(self, user: Any) -> MediationCaseQuerySet:
        if not user.is_authenticated:
            return self.none()
        if roles.has(user, roles.SUPERVISE_MEDIATION):
            return self.all()
        if roles.is_mediator(user):
            return self.filter(mediator=user)
        return self.none()

    def for_party(self, user: Any) -> MediationCaseQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(
            models.Q(applicant__memberships__user=user)
            | models.Q(respondent__memberships__user=user)
        ).distinct()

    def visible_to(self, user: Any) -> MediationCaseQuerySet:
        return self.filter(
            models.Q(pk__in=self.for_mediator(user).values("pk"))
            | models.Q(pk__in=self.for_party(user).values("pk"))
        )
