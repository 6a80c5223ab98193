"""Mediation cases (rules §7): application, notice, answer, acceptance, sessions, outcome,
recusal; deadlines in working days on the official calendar."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import IO, Any

from django.core.files.base import File
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from licensing import permissions
from licensing.models import (
    OPEN_CASE_STATUSES,
    WAITING_CASE_STATUSES,
    AgreementObligation,
    CaseAgent,
    CaseEvidence,
    CaseStatus,
    DeadlineKind,
    Declaration,
    License,
    MediationAgreement,
    MediationCase,
    MediationEvent,
    MediationSession,
    RecusalRequest,
)
from licensing.notifications import mediation_event_notify
from licensing.permissions import check_case_mediator as _require_mediator
from licensing.permissions import is_case_mediator as is_case_mediator  # the admin's
from licensing.rules import rule
from licensing.workdays import Deadline, add_days, add_workdays
from licensing.workflow import MEDIATION, case_transition
from marketplace.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from marketplace.models import Membership, User
from marketplace.units import megabytes

S = CaseStatus
K = DeadlineKind
V = MediationEvent.Verb
ALLOWED_EVIDENCE = {
    ".pdf": (b"%PDF",),
    ".png": (b"\x89PNG",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".docx": (b"PK\x03\x04",),
    ".xlsx": (b"PK\x03\x04",),
    ".txt": (),
}
# The type an evidence file is served with (the download's schema lists these).
EVIDENCE_CONTENT_TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".txt": "text/plain",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _today() -> date:
    return timezone.localdate()


def _lock(actor: User, case_id: int) -> MediationCase:
    case = (
        MediationCase.objects.visible_to(actor)
        .select_for_update(of=("self",))
        .filter(pk=case_id)
        .first()
    )
    if case is None:
        raise NotFound()
    return case


def _require_not_paused(case: MediationCase) -> None:
    if case.is_paused:
        raise Conflict(
            "case_paused", _("The case is paused until the supervisor decides on the recusal.")
        )


def _event(
    case: MediationCase, actor: User | None, verb: str, *, reason: str = "", **data: Any
) -> MediationEvent:
    """A step that does not move the case's status (its notification follows after commit)."""
    event = MEDIATION.record(case, verb, actor=actor, reason=reason, data=data)
    assert isinstance(event, MediationEvent)
    return event


def _next_number(on: date) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('licensing_mediation_case_number_seq')")
        row = cursor.fetchone()
    assert row is not None
    return f"MC{on.year}{row[0]:06d}"


@dataclass(frozen=True)
class AgentInput:
    name: str
    power_of_attorney: str


def _check_agent_count(*, already_named: int, agents: list[AgentInput]) -> None:
    """Rules §7: a party has at most two agents with power of attorney (configurable)."""
    limit = int(rule("MEDIATION_MAX_AGENTS_PER_PARTY"))
    if already_named + len(agents) > limit:
        raise InvalidInput(
            "too_many_agents",
            _("At most %(limit)d agents per party; %(named)d already named.")
            if already_named
            else _("At most %(limit)d agents per party."),
            fields={"agents": [_("Too many.")]},
            params={"limit": limit, "named": already_named},
        )


def _create_agents(case: MediationCase, organisation_id: int, agents: list[AgentInput]) -> None:
    CaseAgent.objects.bulk_create(
        CaseAgent(
            case=case,
            organisation_id=organisation_id,
            name=agent.name,
            power_of_attorney=agent.power_of_attorney,
        )
        for agent in agents
    )


def _name_agents(case: MediationCase, actor: User, side: str, agents: list[AgentInput]) -> None:
    """Add agents to one side of a locked case (the row lock makes the count exact)."""
    if not agents:
        return
    organisation_id = case.organisation_of(side)
    already_named = CaseAgent.objects.filter(case=case, organisation_id=organisation_id).count()
    _check_agent_count(already_named=already_named, agents=agents)
    _create_agents(case, organisation_id, agents)
    _event(case, actor, V.AGENTS_NAMED, side=side, agents=[agent.name for agent in agents])


def _lock_own_open_side(actor: User, case_id: int) -> tuple[MediationCase, str]:
    """The locked case and the caller's side, for a party acting on its own agents while the
    case is open."""
    case = _lock(actor, case_id)
    side = permissions.check_case_name_agents(actor, case)
    if case.status not in OPEN_CASE_STATUSES:
        raise Conflict("case_closed", _("The case is over."))
    return case, side


@transaction.atomic
def case_name_agents(*, actor: User, case_id: int, agents: list[AgentInput]) -> MediationCase:
    """A party names agents with power of attorney for its own side while the case is open;
    the other side's agents are that side's to name."""
    case, side = _lock_own_open_side(actor, case_id)
    _name_agents(case, actor, side, agents)
    return case


@transaction.atomic
def case_revoke_agent(*, actor: User, case_id: int, agent_id: int) -> MediationCase:
    """A party revokes the power of attorney of one of its own agents while the case is open
    (to replace a wrong name within the limit of two); the timeline keeps the name."""
    case, side = _lock_own_open_side(actor, case_id)
    agent = CaseAgent.objects.filter(
        pk=agent_id, case=case, organisation_id=case.organisation_of(side)
    ).first()
    if agent is None:  # another side's agent is not the caller's to revoke, nor to know of
        raise NotFound()
    agent.delete()
    _event(case, actor, V.AGENT_REVOKED, side=side, agents=[agent.name])
    return case


@transaction.atomic
def case_apply(
    *,
    actor: User,
    applicant_id: int,
    respondent_id: int,
    declaration_id: int,
    license_id: int | None,
    cause: str,
    summary: str,
    matters: str,
    agents: list[AgentInput] | None = None,
) -> MediationCase:
    """A patentee or licensee applies; the application must go to the respondent within
    5 working days."""
    if not Membership.objects.is_member(actor, applicant_id):
        raise PermissionDenied("not_a_member", _("Apply as a member of your organisation."))
    declaration = Declaration.objects.filter(pk=declaration_id).exclude(status="draft").first()
    if declaration is None:
        raise NotFound()
    license = None
    if license_id is not None:
        # Only a party sees a license: to anyone else one that exists answers like one that
        # does not (no oracle of license ids under a public declaration).
        license = (
            License.objects.filter(pk=license_id, declaration=declaration)
            .filter(Q(licensor_id=applicant_id) | Q(licensee_id=applicant_id))
            .first()
        )
        if license is None:
            raise InvalidInput(
                "license_not_under_declaration",
                _("That license was not granted under this declaration."),
                fields={"license": [_("Not under this declaration.")]},
            )
        parties = {license.licensor_id, license.licensee_id}
    else:
        parties = {declaration.organisation_id, respondent_id}
        if (
            applicant_id != declaration.organisation_id
            and respondent_id != declaration.organisation_id
        ):
            parties = set()
    if {applicant_id, respondent_id} != parties:
        raise InvalidInput(
            "not_the_parties",
            _("A case is between the patentee and the licensee of this declaration or license."),
            fields={"respondent": [_("Not the other party.")]},
        )
    agents = agents or []
    _check_agent_count(already_named=0, agents=agents)
    today = _today()
    deadline = add_workdays(today, int(rule("MEDIATION_NOTICE_WORKDAYS")))
    case = MediationCase.objects.create(
        number=_next_number(today),
        applicant_id=applicant_id,
        respondent_id=respondent_id,
        declaration=declaration,
        license=license,
        cause=cause,
        summary=summary,
        matters=matters,
        applied_by=actor,
        deadline=deadline.date,
        deadline_kind=K.NOTICE_TO_RESPONDENT,
        deadline_provisional=deadline.provisional,
    )
    _create_agents(case, applicant_id, agents)
    _event(case, actor, V.APPLIED, deadline=deadline.date.isoformat())
    return case


@transaction.atomic
def case_assign(*, actor: User, case_id: int, mediator_id: int) -> MediationCase:
    """A supervisor assigns (or reassigns) the mediator; the parties learn the name today."""
    permissions.check_case_assign(actor)
    case = _lock(actor, case_id)
    mediator = User.objects.mediators().filter(pk=mediator_id).first()
    if mediator is None:
        raise InvalidInput(
            "not_a_mediator",
            _("That user is not a mediator."),
            fields={"mediator": [_("Not a mediator.")]},
        )
    before = case.mediator.email if case.mediator else None
    case.mediator = mediator
    case.mediator_named_on = _today()
    case.save(update_fields=["mediator", "mediator_named_on", "updated_at"])
    _event(case, actor, V.MEDIATOR_ASSIGNED, mediator=mediator.email, previous=before)
    return case


@transaction.atomic
def case_send_notice(*, actor: User, case_id: int) -> MediationCase:
    """The mediator sends the application to the respondent; it has 15 days to answer."""
    case = _lock(actor, case_id)
    _require_mediator(actor, case)
    _require_not_paused(case)
    case_transition(
        case,
        to=S.NOTIFIED,
        actor=actor,
        deadline=add_days(_today(), int(rule("MEDIATION_ANSWER_DAYS"))),
        deadline_kind=K.RESPONDENT_ANSWER,
    )
    return case


@transaction.atomic
def case_respond(
    *,
    actor: User,
    case_id: int,
    agree: bool,
    reason: str = "",
    agents: list[AgentInput] | None = None,
) -> MediationCase:
    """The respondent agrees to mediate, naming its agents if it wishes (the case must then be
    accepted within 5 working days), or refuses (not accepted; the applicant is told)."""
    case = _lock(actor, case_id)
    permissions.check_case_respond(actor, case)
    if agents and not agree:
        raise InvalidInput(
            "agents_need_agreement",
            _("Agents are named when agreeing to mediate, not with a refusal."),
            fields={"agents": [_("Only with an agreement.")]},
        )
    if agree:
        case_transition(
            case,
            to=S.AGREED,
            actor=actor,
            reason=reason,
            deadline=add_workdays(_today(), int(rule("MEDIATION_ACCEPT_WORKDAYS"))),
            deadline_kind=K.ACCEPT_CASE,
        )
        _name_agents(case, actor, "respondent", agents or [])
    else:
        case_transition(
            case,
            to=S.NOT_ACCEPTED,
            actor=actor,
            reason=reason or gettext_noop("respondent refused"),
            deadline=_tell_applicant_deadline(_today()),
            deadline_kind=K.TELL_APPLICANT,
        )
    return case


def _tell_applicant_deadline(not_accepted_on: date) -> Deadline:
    """Rules §7: a case not accepted, the applicant is told within 5 working days."""
    return add_workdays(not_accepted_on, int(rule("MEDIATION_NOT_ACCEPTED_NOTICE_WORKDAYS")))


@transaction.atomic
def case_record_applicant_told(*, case_id: int) -> bool:
    """Once the applicant's members have the notice that the case was not accepted, record it
    in the timeline and stop waiting on that deadline; safe to run again (False: nothing to
    record, or no member of the applicant could be told yet)."""
    from marketplace.models import Notification

    case = (
        MediationCase.objects.select_for_update()
        .filter(pk=case_id, status=S.NOT_ACCEPTED, deadline_kind=K.TELL_APPLICANT)
        .first()
    )
    if case is None or case.deadline is None:
        return False
    event = MediationEvent.objects.filter(case=case, verb=V.NOT_ACCEPTED).last()
    told = Notification.objects.filter(
        source=f"mediation_event:{event.pk if event else 0}",
        user__memberships__organisation_id=case.applicant_id,
    )
    if not told.exists():
        return False
    deadline = case.deadline
    MediationCase.objects.filter(pk=case.pk).update(
        deadline=None, deadline_kind="", deadline_provisional=False, updated_at=timezone.now()
    )
    case.deadline, case.deadline_kind, case.deadline_provisional = None, "", False
    # The notice is created in the same run that records it: today is the day it was told.
    told_on = _today()
    _event(
        case,
        None,
        V.APPLICANT_TOLD,
        deadline=deadline.isoformat(),
        told_on=told_on.isoformat(),
        in_time=told_on <= deadline,
    )
    return True


@transaction.atomic
def case_accept(*, actor: User, case_id: int, session_at: datetime, place: str) -> MediationCase:
    """The mediator accepts the case and tells the parties the time and place."""
    case = _lock(actor, case_id)
    _require_mediator(actor, case)
    _require_not_paused(case)
    if not place.strip():
        raise InvalidInput(
            "place_required", _("Give the place."), fields={"place": [_("This field is required.")]}
        )
    # The case now waits on its first session.
    case_transition(
        case,
        to=S.ACCEPTED,
        actor=actor,
        session_at=session_at,
        session_place=place.strip(),
        deadline=Deadline(timezone.localtime(session_at).date(), False),
        deadline_kind=K.SESSION,
    )
    return case


@transaction.atomic
def case_record_session(
    *,
    actor: User,
    case_id: int,
    held_at: datetime,
    place: str,
    applicant_present: bool,
    respondent_present: bool,
    notes: str,
    absence_excused: bool = False,
) -> MediationSession:
    """Record a session. An applicant absent without good reason withdraws the case; an
    absent respondent closes it without agreement (rules §7)."""
    case = _lock(actor, case_id)
    _require_mediator(actor, case)
    _require_not_paused(case)
    if case.status != S.ACCEPTED:
        raise Conflict("case_not_accepted", _("Sessions are held once the case is accepted."))
    session = MediationSession.objects.create(
        case=case,
        held_at=held_at,
        place=place,
        applicant_present=applicant_present,
        respondent_present=respondent_present,
        absence_excused=absence_excused,
        notes=notes,
        recorded_by=actor,
    )
    _event(case, actor, V.SESSION_RECORDED, session=session.pk)
    if not absence_excused and not applicant_present:
        case_transition(
            case,
            to=S.WITHDRAWN,
            actor=actor,
            reason=gettext_noop("applicant absent without good reason"),
        )
    elif not absence_excused and not respondent_present:
        case_transition(
            case,
            to=S.CLOSED,
            actor=actor,
            reason=gettext_noop("respondent absent without good reason"),
        )
    return session


@dataclass(frozen=True)
class ObligationInput:
    payer_id: int
    amount_cny: Decimal
    due_date: date
    description: str


@transaction.atomic
def case_record_agreement(
    *,
    actor: User,
    case_id: int,
    text: str,
    obligations: list[ObligationInput],
    is_notarised: bool = False,
    signed_by_both: bool = False,
) -> MediationAgreement:
    """The mediator records the agreement: signed by both at the session (the case is settled)
    or proposed for the parties to accept through the API."""
    case = _lock(actor, case_id)
    _require_mediator(actor, case)
    _require_not_paused(case)
    if case.status != S.ACCEPTED:
        raise Conflict("case_not_accepted", _("An agreement comes after acceptance."))
    if MediationAgreement.objects.filter(case=case).exists():
        raise Conflict("agreement_exists", _("This case already has an agreement."))
    if not text.strip():
        raise InvalidInput(
            "text_required",
            _("Write the agreement."),
            fields={"text": [_("This field is required.")]},
        )
    parties = {case.applicant_id, case.respondent_id}
    for obligation in obligations:
        if obligation.payer_id not in parties:
            raise InvalidInput(
                "payer_not_a_party",
                _("A payer must be one of the parties."),
                fields={"obligations": [_("Not a party.")]},
            )
    now = timezone.now()
    agreement = MediationAgreement.objects.create(
        case=case,
        text=text.strip(),
        is_notarised=is_notarised,
        recorded_by=actor,
        applicant_accepted_at=now if signed_by_both else None,
        respondent_accepted_at=now if signed_by_both else None,
    )
    AgreementObligation.objects.bulk_create(
        AgreementObligation(
            agreement=agreement,
            payer_id=o.payer_id,
            payee_id=(parties - {o.payer_id}).pop(),
            amount_cny=o.amount_cny,
            due_date=o.due_date,
            description=o.description,
        )
        for o in obligations
    )
    _event(case, actor, V.AGREEMENT_RECORDED, agreement=agreement.pk, signed=signed_by_both)
    if signed_by_both:
        case_transition(case, to=S.SETTLED, actor=actor)
    return agreement


@transaction.atomic
def case_accept_agreement(*, actor: User, case_id: int) -> MediationCase:
    """A party accepts the proposed agreement; when both have, the case is settled."""
    case = _lock(actor, case_id)
    side = permissions.check_case_accept_agreement(actor, case)
    agreement = MediationAgreement.objects.select_for_update().filter(case=case).first()
    if agreement is None or case.status != S.ACCEPTED:
        raise Conflict("no_agreement", _("There is no proposed agreement to accept."))
    field = f"{side}_accepted_at"
    if getattr(agreement, field) is None:
        setattr(agreement, field, timezone.now())
        agreement.save(update_fields=[field])
        _event(case, actor, f"agreement_accepted_by_{side}")
    if agreement.applicant_accepted_at and agreement.respondent_accepted_at:
        case_transition(case, to=S.SETTLED, actor=actor)
    return case


@transaction.atomic
def case_close(*, actor: User, case_id: int, reason: str) -> MediationCase:
    """The mediator closes the case without agreement."""
    case = _lock(actor, case_id)
    _require_mediator(actor, case)
    case_transition(
        case, to=S.CLOSED, actor=actor, reason=reason or gettext_noop("no agreement reached")
    )
    return case


@transaction.atomic
def case_withdraw(*, actor: User, case_id: int, reason: str = "") -> MediationCase:
    """The applicant withdraws; mediation is voluntary."""
    case = _lock(actor, case_id)
    permissions.check_case_withdraw(actor, case)
    case_transition(case, to=S.WITHDRAWN, actor=actor, reason=reason)
    return case


@transaction.atomic
def case_request_recusal(*, actor: User, case_id: int, reasons: str) -> RecusalRequest:
    """A party asks the mediator to step aside, within 3 working days of learning the name;
    the case pauses until a supervisor decides."""
    case = _lock(actor, case_id)
    side = permissions.check_case_request_recusal(actor, case)
    if case.mediator_id is None or case.mediator_named_on is None:
        raise Conflict("no_mediator", _("No mediator has been named yet."))
    if case.status not in OPEN_CASE_STATUSES:
        raise Conflict("case_closed", _("The case is over."))
    window = add_workdays(case.mediator_named_on, int(rule("MEDIATION_RECUSAL_WORKDAYS")))
    if _today() > window.date:
        raise Conflict(
            "recusal_too_late",
            _(
                "A recusal must be asked within 3 working days of learning the mediator's "
                "name (by %(date)s)."
            ),
            params={"date": window.date.isoformat()},
        )
    if not reasons.strip():
        raise InvalidInput(
            "reasons_required",
            _("Give the reasons."),
            fields={"reasons": [_("This field is required.")]},
        )
    if RecusalRequest.objects.filter(case=case, status=RecusalRequest.Status.PENDING).exists():
        raise Conflict("recusal_pending", _("A recusal request is already pending."))
    recusal = RecusalRequest.objects.create(
        case=case,
        mediator_id=case.mediator_id,
        organisation_id=case.organisation_of(side),
        requested_by=actor,
        reasons=reasons.strip(),
    )
    MediationCase.objects.filter(pk=case.pk).update(is_paused=True, updated_at=timezone.now())
    case.is_paused = True
    _event(case, actor, V.RECUSAL_REQUESTED, reason=reasons.strip(), recusal=recusal.pk)
    return recusal


@transaction.atomic
def case_decide_recusal(
    *, actor: User, case_id: int, grant: bool, reason: str = ""
) -> MediationCase:
    """A supervisor decides; granting removes the mediator (assign another). The pause is
    added to the deadline the case was waiting on."""
    permissions.check_case_decide_recusal(actor)
    case = _lock(actor, case_id)
    recusal = (
        RecusalRequest.objects.select_for_update()
        .filter(case=case, status=RecusalRequest.Status.PENDING)
        .first()
    )
    if recusal is None:
        raise Conflict("no_recusal_pending", _("No recusal request is pending."))
    recusal.status = RecusalRequest.Status.GRANTED if grant else RecusalRequest.Status.REFUSED
    recusal.decided_by = actor
    recusal.save(update_fields=["status", "decided_by"])
    paused_days = (_today() - recusal.created_at.date()).days
    updates: dict[str, Any] = {"is_paused": False, "updated_at": timezone.now()}
    if case.deadline is not None and paused_days > 0:
        updates["deadline"] = case.deadline + (timedelta(days=paused_days))
    if grant:
        updates.update(mediator=None, mediator_named_on=None)
    MediationCase.objects.filter(pk=case.pk).update(**updates)
    case.refresh_from_db()
    _event(case, actor, V.RECUSAL_GRANTED if grant else V.RECUSAL_REFUSED, reason=reason)
    return case


def evidence_check(upload: IO[bytes], name: str, size: int) -> str:
    """The file's type from its name and first bytes; refuses anything else."""
    limit = int(rule("EVIDENCE_MAX_BYTES"))
    if size > limit:
        raise InvalidInput(
            "evidence_too_large",
            _("Evidence files are at most %(limit)s MB."),
            fields={"file": [_("Too large.")]},
            params={"limit": megabytes(limit)},
        )
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in ALLOWED_EVIDENCE:
        raise InvalidInput(
            "evidence_type_not_allowed",
            _("Upload PDF, PNG, JPEG, DOCX, XLSX or TXT evidence."),
            fields={"file": [_("Type not allowed.")]},
        )
    head = upload.read(8)
    upload.seek(0)
    magics = ALLOWED_EVIDENCE[suffix]
    if magics and not any(head.startswith(magic) for magic in magics):
        raise InvalidInput(
            "evidence_content_mismatch",
            _("The file's content does not match its %(suffix)s name."),
            fields={"file": [_("Content does not match.")]},
            params={"suffix": suffix},
        )
    if not magics and b"\x00" in upload.read(4096):
        upload.seek(0)
        raise InvalidInput(
            "evidence_content_mismatch",
            _("A .txt file must be text."),
            fields={"file": [_("Content does not match.")]},
            params={"suffix": suffix},
        )
    upload.seek(0)
    return EVIDENCE_CONTENT_TYPES[suffix]


@transaction.atomic
def case_add_evidence(
    *, actor: User, case_id: int, upload: IO[bytes], name: str, size: int, description: str = ""
) -> CaseEvidence:
    """A party puts a document on file (stored under a random name, never served directly)."""
    case = _lock(actor, case_id)
    side = permissions.check_case_add_evidence(actor, case)
    content_type = evidence_check(upload, name, size)
    digest = hashlib.sha256()
    for chunk in iter(lambda: upload.read(65536), b""):
        digest.update(chunk)
    upload.seek(0)
    evidence = CaseEvidence(
        case=case,
        organisation_id=case.organisation_of(side),
        uploaded_by=actor,
        original_name=name[-255:],
        content_type=content_type,
        size=size,
        sha256=digest.hexdigest(),
        description=description,
    )
    evidence.file.save(f"{case.number}-{digest.hexdigest()[:16]}", File(upload), save=False)
    evidence.save()
    _event(case, actor, V.EVIDENCE_ADDED, evidence=evidence.pk, name=evidence.original_name)
    return evidence


def mediation_sweep(today: date | None = None) -> dict[str, int]:
    """Celery beat: a respondent silent past 15 days means not accepted; an applicant not yet
    told that its case was not accepted is told; the mediator (or, with none assigned, the
    supervisors) hears of every deadline due within one working day."""
    today = today or _today()
    moved = 0
    silent = MediationCase.objects.filter(
        status=S.NOTIFIED, deadline__lt=today, is_paused=False
    ).values_list("pk", flat=True)
    for case_id in list(silent):
        with transaction.atomic():
            case = MediationCase.objects.select_for_update().filter(pk=case_id).first()
            if (
                case is None
                or case.status != S.NOTIFIED
                or case.deadline is None
                or case.deadline >= today
            ):
                continue
            # The 5 working days run from the end of the 15 days, not from the sweep's run.
            case_transition(
                case,
                to=S.NOT_ACCEPTED,
                actor=None,
                reason=gettext_noop("respondent silent past the deadline"),
                deadline=_tell_applicant_deadline(case.deadline),
                deadline_kind=K.TELL_APPLICANT,
            )
            moved += 1
    return {
        "not_accepted": moved,
        "applicants_told": tell_applicants(),
        "reminded": remind_deadlines(today),
    }


def mediation_event_announce(*, event_id: int) -> int:
    """Tell the audience of one step of a case (licensing/notifications.py); for a case not
    accepted, record that the applicant has been told (rules §7). Safe to run twice; returns
    how many were told now."""
    event = MediationEvent.objects.select_related("case").filter(pk=event_id).first()
    if event is None:
        return 0
    told = mediation_event_notify(event)
    if event.verb == V.NOT_ACCEPTED:
        case_record_applicant_told(case_id=event.case_id)
    return told


def tell_applicants() -> int:
    """A backstop for the notice of non-acceptance: tell every applicant still waiting for it
    (the notification is idempotent, so a task that did run adds nothing)."""
    waiting = MediationEvent.objects.filter(
        verb=V.NOT_ACCEPTED, case__status=S.NOT_ACCEPTED, case__deadline_kind=K.TELL_APPLICANT
    ).values_list("pk", "case_id")
    told = 0
    for event_id, case_id in list(waiting):
        mediation_event_announce(event_id=event_id)  # records the notice once an applicant has it
        told += not MediationCase.objects.filter(
            pk=case_id, deadline_kind=K.TELL_APPLICANT
        ).exists()
    return told


def remind_deadlines(today: date) -> int:
    """Remind of deadlines due by the next working day (once per case and deadline)."""
    from marketplace.services.notifications import notify

    horizon = add_workdays(today, 1).date
    sent = 0
    due = MediationCase.objects.filter(
        status__in=WAITING_CASE_STATUSES, is_paused=False, deadline__range=(today, horizon)
    ).select_related("mediator")
    supervisors = list(
        User.objects.filter(
            groups__permissions__codename="supervise_mediation", is_active=True
        ).distinct()
    )
    for case in due:
        users = [case.mediator] if case.mediator else supervisors

        def render(user: User, case: MediationCase = case) -> tuple[str, str]:
            return (
                str(_("Deadline %(date)s: case %(number)s"))
                % {
                    "date": case.deadline.isoformat() if case.deadline else "",
                    "number": case.number,
                },
                str(_("Case %(number)s waits on: %(kind)s."))
                % {
                    "number": case.number,
                    "kind": case.get_deadline_kind_display(),
                },
            )

        sent += len(
            notify(
                users=users,
                kind="mediation_deadline",
                source=f"mediation_deadline:{case.pk}:{case.deadline}",
                render=render,
                data={"case": case.pk},
            )
        )
    return sent


def overdue_filter(today: date) -> Q:
    return Q(status__in=WAITING_CASE_STATUSES, deadline__lt=today, is_paused=False)
