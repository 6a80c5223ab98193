"""The licensing app's workflows: one literal table of allowed moves per model with a status,
and the functions that move them (through `marketplace.workflow.Workflow.transition`, the
only writer of `status`).

Declarations (rules §3):
    draft → submitted → announced | not_announced
    announced → withdrawal_requested → withdrawn | announced (withdrawal refused)
    announced / withdrawal_requested → terminated | revoked | expired | superseded
Licenses (rules §4):
    awaiting_payment → effective → ended (its term is over: the daily sweep)
    effective → contested (the upfront payment) → effective (it arrived) | ended (it did not)
Payments: recorded ⇄ contested. Filings: filed → accepted | returned.
Mediation cases (rules §7):
    applied → notified → agreed → accepted → settled | closed
    notified → not_accepted; applied / notified / agreed / accepted → withdrawn

A step that does not move the status (a filing, a session, an agent named...) is an event
verb only: `<WORKFLOW>.record(...)`. Each verb's label and audience are on its event model's
`Verb` choices.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from licensing.models import (
    CaseStatus,
    Declaration,
    DeclarationEvent,
    DeclarationStatus,
    FilingStatus,
    License,
    LicenseEvent,
    LicenseFiling,
    LicensePayment,
    LicenseStatus,
    MediationCase,
    MediationEvent,
    PaymentStatus,
)
from licensing.workdays import Deadline
from marketplace.models import User
from marketplace.workflow import Workflow

S = DeclarationStatus
DV = DeclarationEvent.Verb
DECLARATION = Workflow(
    model=Declaration,
    statuses=DeclarationStatus,
    moves={
        (S.DRAFT, S.SUBMITTED): DV.SUBMITTED,
        (S.SUBMITTED, S.ANNOUNCED): DV.ANNOUNCED,
        (S.SUBMITTED, S.NOT_ANNOUNCED): DV.NOT_ANNOUNCED,
        (S.ANNOUNCED, S.WITHDRAWAL_REQUESTED): DV.WITHDRAWAL_REQUESTED,
        (S.WITHDRAWAL_REQUESTED, S.WITHDRAWN): DV.WITHDRAWN,
        (S.WITHDRAWAL_REQUESTED, S.ANNOUNCED): DV.WITHDRAWAL_REFUSED,
        (S.ANNOUNCED, S.TERMINATED): DV.TERMINATED,
        (S.WITHDRAWAL_REQUESTED, S.TERMINATED): DV.TERMINATED,
        (S.ANNOUNCED, S.REVOKED): DV.REVOKED,
        (S.WITHDRAWAL_REQUESTED, S.REVOKED): DV.REVOKED,
        (S.ANNOUNCED, S.EXPIRED): DV.EXPIRED,
        (S.WITHDRAWAL_REQUESTED, S.EXPIRED): DV.EXPIRED,
        (S.ANNOUNCED, S.SUPERSEDED): DV.SUPERSEDED,
        (S.WITHDRAWAL_REQUESTED, S.SUPERSEDED): DV.SUPERSEDED,
    },
    not_allowed=(
        "declaration_transition_not_allowed",
        _("A declaration that is %(current)s cannot become %(new)s."),
    ),
    changed=(
        "declaration_changed",
        _("The declaration was changed by someone else; reload and try again."),
    ),
    event=DeclarationEvent,
    subject="declaration",
    notify="licensing.tasks.notify_declaration_event",
)

L = LicenseStatus
LV = LicenseEvent.Verb
LICENSE = Workflow(
    model=License,
    statuses=LicenseStatus,
    moves={
        (L.AWAITING_PAYMENT, L.EFFECTIVE): LV.TOOK_EFFECT,
        (L.EFFECTIVE, L.CONTESTED): LV.PAYMENT_CONTESTED,
        (L.CONTESTED, L.EFFECTIVE): LV.PAYMENT_CONFIRMED,
        (L.CONTESTED, L.ENDED): LV.CONTEST_UPHELD,
        (L.EFFECTIVE, L.ENDED): LV.TERM_ENDED,
    },
    not_allowed=(
        "license_transition_not_allowed",
        _("A license that is %(current)s cannot become %(new)s."),
    ),
    changed=("license_changed", _("The license changed meanwhile; reload it.")),
    event=LicenseEvent,
    subject="license",
    notify="licensing.tasks.notify_license_event",
)

P = PaymentStatus
# A payment's steps are recorded on its license's timeline (the verbs named here).
PAYMENT = Workflow(
    model=LicensePayment,
    statuses=PaymentStatus,
    moves={
        (P.RECORDED, P.CONTESTED): LV.PAYMENT_CONTESTED,
        (P.CONTESTED, P.RECORDED): LV.PAYMENT_CONFIRMED,
    },
    not_allowed=("payment_already_contested", _("This payment is already contested.")),
    changed=("payment_changed", _("The payment changed meanwhile; reload the license.")),
    stamp=None,
)

F = FilingStatus
# A filing's decision is recorded on its license's timeline.
FILING = Workflow(
    model=LicenseFiling,
    statuses=FilingStatus,
    moves={(F.FILED, F.ACCEPTED): LV.FILING_ACCEPTED, (F.FILED, F.RETURNED): LV.FILING_RETURNED},
    not_allowed=("filing_already_decided", _("This filing was already decided.")),
    changed=("filing_already_decided", _("This filing was already decided.")),
    stamp=None,
)

C = CaseStatus
MV = MediationEvent.Verb
MEDIATION = Workflow(
    model=MediationCase,
    statuses=CaseStatus,
    moves={
        (C.APPLIED, C.NOTIFIED): MV.NOTICE_SENT,
        (C.NOTIFIED, C.AGREED): MV.RESPONDENT_AGREED,
        (C.NOTIFIED, C.NOT_ACCEPTED): MV.NOT_ACCEPTED,
        (C.AGREED, C.ACCEPTED): MV.ACCEPTED,
        (C.ACCEPTED, C.SETTLED): MV.SETTLED,
        (C.ACCEPTED, C.CLOSED): MV.CLOSED_WITHOUT_AGREEMENT,
        (C.APPLIED, C.WITHDRAWN): MV.WITHDRAWN,
        (C.NOTIFIED, C.WITHDRAWN): MV.WITHDRAWN,
        (C.AGREED, C.WITHDRAWN): MV.WITHDRAWN,
        (C.ACCEPTED, C.WITHDRAWN): MV.WITHDRAWN,
    },
    not_allowed=(
        "case_transition_not_allowed",
        _("A case that is %(current)s cannot become %(new)s."),
    ),
    changed=("case_changed", _("The case was changed by someone else; reload it.")),
    event=MediationEvent,
    subject="case",
    notify="licensing.tasks.notify_mediation_event",
)


def declaration_transition(
    declaration: Declaration,
    *,
    to: str,
    actor: User | None,
    reason: str = "",
    data: dict[str, Any] | None = None,
    **updates: Any,
) -> DeclarationEvent:
    """Move a declaration (compare-and-swap, timeline event, notification after commit)."""
    event = DECLARATION.transition(
        declaration, to=to, actor=actor, reason=reason, data=data, **updates
    )
    assert isinstance(event, DeclarationEvent)
    return event


def case_transition(
    case: MediationCase,
    *,
    to: str,
    actor: User | None,
    reason: str = "",
    deadline: Deadline | None = None,
    deadline_kind: str = "",
    **updates: Any,
) -> MediationEvent:
    """Move a case and set (or clear) the deadline it now waits on; the event names it."""
    event = MEDIATION.transition(
        case,
        to=to,
        actor=actor,
        reason=reason,
        data={"deadline": deadline.date.isoformat() if deadline else None},
        deadline=deadline.date if deadline else None,
        deadline_kind=deadline_kind if deadline else "",
        deadline_provisional=deadline.provisional if deadline else False,
        **updates,
    )
    assert isinstance(event, MediationEvent)
    return event
