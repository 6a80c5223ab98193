"""Permission-aware querysets of the matching app."""

from __future__ import annotations

from typing import Any

from django.db import models

from licensing.models import Declaration
from marketplace import roles
from marketplace.models import Organisation


class MatchQuerySet(models.QuerySet):
    """Matches: the SME's side sees its lists (with budgets and every reason), the patentee's
    side its declarations' candidate licensees (without them, see CandidateSerializer)."""

    # Platform staff see every list: no filter at all, since a full run holds millions of rows.

    def for_sme(self, user: Any) -> MatchQuerySet:
        """The lists of SMEs whose private card the user may read: its members; platform
        staff every one."""
        return self.all() if roles.is_platform_staff(user) else self.filter(_sme_side(user))

    def for_patentee(self, user: Any) -> MatchQuerySet:
        """The candidates of declarations whose patentee records the user may read: the
        declaring organisation's members; reviewers every one."""
        return self.all() if roles.is_reviewer(user) else self.filter(_patentee_side(user))

    def visible_to(self, user: Any) -> MatchQuerySet:
        if roles.is_platform_staff(user):
            return self.all()
        return self.filter(_sme_side(user) | _patentee_side(user))


def _sme_side(user: Any) -> models.Q:
    return models.Q(sme_id__in=Organisation.objects.private_visible_to(user).values("pk"))


def _patentee_side(user: Any) -> models.Q:
    return models.Q(declaration_id__in=Declaration.objects.records_visible_to(user).values("pk"))
