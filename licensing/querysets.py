"""Permission-aware querysets of the licensing app."""

from __future__ import annotations

from typing import Any

from django.db import models

from marketplace import roles

PUBLIC = (
    "announced",
    "withdrawal_requested",
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

    def in_force(self) -> DeclarationQuerySet:
        return self.filter(status__in=("announced", "withdrawal_requested"))


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
