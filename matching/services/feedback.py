"""Feedback on a match: an SME member's verdict and reason code."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from marketplace.errors import NotFound, PermissionDenied
from marketplace.models import Membership, User
from matching.models import Match, MatchFeedback


def feedback_give(
    *, actor: User, sme_id: int, declaration_id: int, verdict: str, reason: str = ""
) -> MatchFeedback:
    """An SME member marks a match interesting or not relevant (with a reason code)."""
    if not Membership.objects.filter(user=actor, organisation_id=sme_id).exists():
        raise PermissionDenied("not_a_member", _("Only members of the SME give feedback."))
    if not Match.objects.filter(sme_id=sme_id, declaration_id=declaration_id).exists():
        raise NotFound()
    feedback, _created = MatchFeedback.objects.update_or_create(
        sme_id=sme_id,
        declaration_id=declaration_id,
        defaults={"verdict": verdict, "reason": reason, "given_by": actor},
    )
    return feedback
