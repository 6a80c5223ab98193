"""The declaration workflow: a literal transition table and the one function that moves status.

draft → submitted → announced | not_announced
announced → withdrawal_requested → withdrawn | announced (withdrawal refused)
announced / withdrawal_requested → terminated | revoked | expired | superseded
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from licensing.models import Declaration, DeclarationEvent, DeclarationStatus
from marketplace.celery import publish_after_commit
from marketplace.errors import Conflict
from marketplace.models import User

S = DeclarationStatus
TRANSITIONS: dict[tuple[str, str], str] = {
    (S.DRAFT, S.SUBMITTED): "submitted",
    (S.SUBMITTED, S.ANNOUNCED): "announced",
    (S.SUBMITTED, S.NOT_ANNOUNCED): "not_announced",
    (S.ANNOUNCED, S.WITHDRAWAL_REQUESTED): "withdrawal_requested",
    (S.WITHDRAWAL_REQUESTED, S.WITHDRAWN): "withdrawn",
    (S.WITHDRAWAL_REQUESTED, S.ANNOUNCED): "withdrawal_refused",
    (S.ANNOUNCED, S.TERMINATED): "terminated",
    (S.WITHDRAWAL_REQUESTED, S.TERMINATED): "terminated",
    (S.ANNOUNCED, S.REVOKED): "revoked",
    (S.WITHDRAWAL_REQUESTED, S.REVOKED): "revoked",
    (S.ANNOUNCED, S.EXPIRED): "expired",
    (S.WITHDRAWAL_REQUESTED, S.EXPIRED): "expired",
    (S.ANNOUNCED, S.SUPERSEDED): "superseded",
    (S.WITHDRAWAL_REQUESTED, S.SUPERSEDED): "superseded",
}


def allowed(current: str, new: str) -> bool:
    return (current, new) in TRANSITIONS


def transition(
    declaration: Declaration,
    *,
    to: str,
    actor: User | None,
    reason: str = "",
    data: dict[str, Any] | None = None,
    **updates: Any,
) -> DeclarationEvent:
    """Move the declaration from its current status to `to` with a compare-and-swap.

    Zero rows updated means someone else moved it first: a 409, and nothing is written.
    The event is the timeline entry; notifications follow after commit.
    """
    current = declaration.status
    if not allowed(current, to):
        raise Conflict(
            "declaration_transition_not_allowed",
            _("A declaration that is %(current)s cannot become %(new)s."),
            params={"current": S(current).label, "new": S(to).label},
        )
    moved = Declaration.objects.filter(pk=declaration.pk, status=current).update(
        status=to, updated_at=timezone.now(), **updates
    )
    if not moved:
        raise Conflict(
            "declaration_changed",
            _("The declaration was changed by someone else; reload and try again."),
        )
    for name, value in updates.items():
        setattr(declaration, name, value)
    declaration.status = to
    event = DeclarationEvent.objects.create(
        declaration=declaration,
        actor=actor,
        verb=TRANSITIONS[(current, to)],
        from_status=current,
        to_status=to,
        reason=reason,
        data=data or {},
    )
    from licensing.tasks import notify_declaration_event

    publish_after_commit(notify_declaration_event.delay, event.pk)
    return event
