"""One transition mechanism (issue 17): every status table refuses what it does not list,
licenses end at term end and leave a contest either way, and a mediation step's admin action,
audience and label come from the one verb table."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from licensing import admin_mediation
from licensing.models import (
    CaseStatus,
    License,
    LicenseEvent,
    LicensePayment,
    LicenseStatus,
    MediationEvent,
    PaymentStatus,
)
from licensing.services import licenses as license_services
from licensing.services import mediation as mediation_services
from licensing.tasks import end_licenses, notify_mediation_event
from licensing.workflow import DECLARATION, FILING, LICENSE, MEDIATION, PAYMENT
from marketplace import tasks as marketplace_tasks
from marketplace.errors import Conflict, PermissionDenied
from marketplace.models import (
    Invitation,
    InvitationStatus,
    NeedStatus,
    Notification,
    OutboundEmail,
    OutboundEmailStatus,
    TechnologyNeed,
    TechnologyNeedEvent,
    User,
)
from marketplace.models.emails import OUTBOUND_EMAIL
from marketplace.models.imports import IMPORT_JOB
from marketplace.models.needs import NEED
from marketplace.models.organisations import INVITATION
from marketplace.services import needs as need_services
from marketplace.services import organisations as organisation_services
from marketplace.workflow import VerbChoices, Workflow
from matching.workflow import MATCH_RUN
from tests.conftest import World
from tests.mediation_helpers import licensed, open_case, supervisor
from tests.test_needs import _need

pytestmark = pytest.mark.django_db

WORKFLOWS: dict[str, Workflow[Any]] = {
    "declaration": DECLARATION,
    "license": LICENSE,
    "payment": PAYMENT,
    "filing": FILING,
    "mediation case": MEDIATION,
    "import job": IMPORT_JOB,
    "match run": MATCH_RUN,
    "technology need": NEED,
    "invitation": INVITATION,
    "outbound e-mail": OUTBOUND_EMAIL,
}
REFUSED = [
    pytest.param(name, current, new, id=f"{name}:{current}->{new}")
    for name, workflow in WORKFLOWS.items()
    for current in workflow.statuses.values
    for new in workflow.statuses.values
    if not workflow.allowed(current, new)
]


@pytest.mark.parametrize(("name", "current", "new"), REFUSED)
def test_a_move_the_table_does_not_list_is_refused_and_writes_nothing(
    name: str, current: str, new: str, django_assert_num_queries: Any
) -> None:
    workflow = WORKFLOWS[name]
    subject = workflow.model(status=current)
    with django_assert_num_queries(0), pytest.raises(Conflict) as refused:
        workflow.transition(subject, to=new)
    assert refused.value.code == workflow.not_allowed[0]
    assert subject.status == current


def test_every_move_of_every_table_records_a_declared_verb() -> None:
    for workflow in WORKFLOWS.values():
        assert workflow.moves, workflow
        if workflow.event is not None:
            assert set(workflow.moves.values()) <= set(workflow.event.Verb.values)


def test_a_mistyped_verb_fails_when_the_table_is_declared_not_by_notifying_nobody() -> None:
    with pytest.raises(ValueError, match="is not an event verb"):
        Workflow(
            model=License,
            statuses=LicenseStatus,
            moves={(LicenseStatus.EFFECTIVE, LicenseStatus.ENDED): "term_endd"},
            not_allowed=("x", "x"),
            changed=("x", "x"),
            event=LicenseEvent,
            subject="license",
        )
    with pytest.raises(ValueError, match="is not a LicenseEvent verb"):
        LICENSE.record(License(), "filingaccepted")


def test_a_lost_compare_and_swap_is_a_409_and_writes_no_event(world: World) -> None:
    license = licensed(world)
    License.objects.filter(pk=license.pk).update(status=LicenseStatus.ENDED)  # someone else
    events = LicenseEvent.objects.count()
    with pytest.raises(Conflict) as lost:
        LICENSE.transition(license, to=LicenseStatus.CONTESTED, actor=world.university_member)
    assert lost.value.code == "license_changed"
    assert LicenseEvent.objects.count() == events
    assert License.objects.get(pk=license.pk).status == LicenseStatus.ENDED


# ---- needs, invitations and e-mails on their tables ------------------------------------------


def test_closing_a_need_records_the_tables_verb_with_its_actor(world: World) -> None:
    need = _need(world)
    need_services.need_close(actor=world.sme_admin, need_id=need.pk)
    step = TechnologyNeedEvent.objects.filter(need=need).order_by("id").last()
    assert step is not None
    assert (step.verb, step.actor, step.from_status, step.to_status, step.step) == (
        "closed",
        world.sme_admin,
        "open",
        "closed",
        "closed",
    )
    assert TechnologyNeed.objects.get(pk=need.pk).status == "closed"


def test_a_need_moved_by_someone_else_is_a_409_and_writes_no_event(world: World) -> None:
    need = _need(world)
    TechnologyNeed.objects.filter(pk=need.pk).update(status=NeedStatus.CLOSED)
    events = TechnologyNeedEvent.objects.count()
    with pytest.raises(Conflict) as lost:
        NEED.transition(need, to=NeedStatus.CLOSED, actor=world.sme_admin)
    assert lost.value.code == "need_changed"
    assert TechnologyNeedEvent.objects.count() == events


def test_a_revoked_invitation_can_be_neither_revoked_again_nor_accepted(world: World) -> None:
    invitation, token = organisation_services.invitation_create(
        organisation_id=world.university.pk,
        actor=world.university_admin,
        email="new@example.com",
        role="member",
    )
    organisation_services.invitation_revoke(
        organisation_id=world.university.pk,
        invitation_id=invitation.pk,
        actor=world.university_admin,
    )
    revoked = Invitation.objects.get(pk=invitation.pk)
    assert revoked.status == InvitationStatus.REVOKED and revoked.closed_at is not None
    with pytest.raises(Conflict) as again:
        organisation_services.invitation_revoke(
            organisation_id=world.university.pk,
            invitation_id=invitation.pk,
            actor=world.university_admin,
        )
    assert again.value.code == "invitation_not_pending"
    with pytest.raises(Conflict) as accepted:
        organisation_services.invitation_accept(
            token=token, actor=None, full_name="新人", password="a-long-passphrase-9"
        )
    assert accepted.value.code == "invitation_not_pending"
    assert Invitation.objects.get(pk=invitation.pk).closed_at == revoked.closed_at


def test_a_mail_sent_after_the_stale_sweep_queued_it_again_is_not_sent_twice(
    settings: Any,
) -> None:
    from django.core import mail

    email = OutboundEmail.objects.create(
        kind="filing_due", to_email="a@example.com", subject="s", body="b"
    )
    assert marketplace_tasks._claim(email.pk)
    # The worker is slow; the sweep finds the claim stale and queues the mail again.
    OUTBOUND_EMAIL.move_all(
        OutboundEmail.objects.filter(pk=email.pk),
        from_status=OutboundEmailStatus.SENDING,
        to=OutboundEmailStatus.QUEUED,
    )
    marketplace_tasks._mark_sent(email.pk)  # the slow worker's mail went out after all
    assert OutboundEmail.objects.get(pk=email.pk).status == OutboundEmailStatus.SENT
    assert marketplace_tasks.send_email.apply(args=(email.pk,)).get() == "skipped"
    assert len(mail.outbox) == 0


# ---- licenses: term end and the contest's two exits -----------------------------------------


def test_the_daily_sweep_ends_a_license_the_day_after_its_term(world: World) -> None:
    license = licensed(world)
    today = timezone.localdate()
    License.objects.filter(pk=license.pk).update(term_end=today)
    assert license_services.licenses_end(today=today) == 0  # the last day is still in term
    assert end_licenses() == 0
    assert license_services.licenses_end(today=today + timedelta(days=1)) == 1
    license.refresh_from_db()
    assert license.status == LicenseStatus.ENDED
    event = LicenseEvent.objects.filter(license=license).last()
    assert event is not None
    assert (event.verb, event.from_status, event.to_status, event.actor) == (
        "term_ended",
        "effective",
        "ended",
        None,
    )
    assert event.data == {"term_end": today.isoformat()}
    assert license_services.licenses_end(today=today + timedelta(days=2)) == 0  # ended once


def test_the_daily_task_ends_licenses_whose_term_is_over(world: World) -> None:
    license = licensed(world)
    License.objects.filter(pk=license.pk).update(term_end=timezone.localdate() - timedelta(days=1))
    assert end_licenses() == 1
    assert License.objects.get(pk=license.pk).status == LicenseStatus.ENDED


def _contested(world: World) -> tuple[License, LicensePayment]:
    license = licensed(world)
    payment = license.payments.get()
    license_services.license_contest_payment(
        actor=world.university_member, license_id=license.pk, payment_id=payment.pk, reason="未收到"
    )
    license.refresh_from_db()
    assert license.status == LicenseStatus.CONTESTED
    return license, payment


def test_a_contest_withdrawn_by_the_patentee_makes_the_license_effective_again(
    world: World,
) -> None:
    license, payment = _contested(world)
    license_services.license_resolve_contest(
        actor=world.university_member, license_id=license.pk, payment_id=payment.pk, received=True
    )
    license.refresh_from_db()
    payment.refresh_from_db()
    assert (license.status, payment.status, payment.contest_reason) == ("effective", "recorded", "")
    event = LicenseEvent.objects.filter(license=license).last()
    assert event is not None
    assert (event.verb, event.from_status, event.to_status, event.data) == (
        "payment_confirmed",
        "contested",
        "effective",
        {"payment": payment.pk},
    )


def test_a_contest_upheld_by_a_reviewer_ends_the_license(world: World) -> None:
    license, payment = _contested(world)
    license_services.license_resolve_contest(
        actor=world.reviewer,
        license_id=license.pk,
        payment_id=payment.pk,
        received=False,
        reason="银行确认未到账",
    )
    license.refresh_from_db()
    payment.refresh_from_db()
    assert (license.status, payment.status) == ("ended", "contested")
    event = LicenseEvent.objects.filter(license=license).last()
    assert event is not None
    assert (event.verb, event.from_status, event.to_status, event.reason) == (
        "contest_upheld",
        "contested",
        "ended",
        "银行确认未到账",
    )


@pytest.mark.parametrize(("role", "received"), [("sme_admin", True), ("university_member", False)])
def test_only_the_patentee_confirms_and_only_a_reviewer_upholds(
    world: World, role: str, received: bool
) -> None:
    license, payment = _contested(world)
    events = LicenseEvent.objects.count()
    with pytest.raises(PermissionDenied):
        license_services.license_resolve_contest(
            actor=getattr(world, role),
            license_id=license.pk,
            payment_id=payment.pk,
            received=received,
            reason="理由",
        )
    license.refresh_from_db()
    payment.refresh_from_db()
    assert (license.status, payment.status) == ("contested", "contested")
    assert LicenseEvent.objects.count() == events


def test_the_contest_checks_its_compare_and_swap(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another writer moves the license after it was read (the lock is bypassed here on
    # purpose): the contest is a 409 and the payment stays recorded, instead of a contested
    # payment under a license that silently stayed as it was.
    license = licensed(world)
    payment = license.payments.get()
    real_lock = license_services._lock_license

    def lock_then_move(actor: User, license_id: int) -> License:
        locked = real_lock(actor, license_id)
        License.objects.filter(pk=license_id).update(status=LicenseStatus.ENDED)
        return locked

    monkeypatch.setattr(license_services, "_lock_license", lock_then_move)
    events = LicenseEvent.objects.count()
    with pytest.raises(Conflict) as lost:
        license_services.license_contest_payment(
            actor=world.university_member,
            license_id=license.pk,
            payment_id=payment.pk,
            reason="未收到",
        )
    assert lost.value.code == "license_changed"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.RECORDED
    assert LicenseEvent.objects.count() == events


# ---- mediation: one verb table ---------------------------------------------------------------


def test_a_mediation_steps_admin_action_audience_and_label_come_from_the_verb_table(
    world: World,
) -> None:
    verb = MediationEvent.Verb.NOTICE_SENT
    license = licensed(world)
    boss = supervisor()
    case = open_case(world, license)
    mediation_services.case_assign(actor=boss, case_id=case.pk, mediator_id=world.mediator.pk)
    case.refresh_from_db()
    # The admin offers the step where the table's move starts, with the table's label.
    assert MEDIATION.sources(verb) == {CaseStatus.APPLIED}
    assert "send_notice" in admin_mediation._actions(case, world.mediator)
    assert admin_mediation.ACTION_LABELS["send_notice"] == verb.action.label
    mediation_services.case_send_notice(actor=world.mediator, case_id=case.pk)
    case.refresh_from_db()
    assert "send_notice" not in admin_mediation._actions(case, world.mediator)
    event = MediationEvent.objects.get(case=case, verb=verb)
    # The timeline shows the table's label; the notification reaches the table's audience.
    inline = admin_mediation.MediationEventInline(MediationEvent, admin_mediation.admin.site)
    assert inline.step(event) == str(verb.label)
    assert verb.audience == ("respondent", "applicant")
    notify_mediation_event(event.pk)
    told = set(
        Notification.objects.filter(source=f"mediation_event:{event.pk}").values_list(
            "user__memberships__organisation_id", flat=True
        )
    )
    assert told == {case.applicant_id, case.respondent_id}


def test_every_admin_step_is_a_verb_with_a_service_and_every_form_has_a_step() -> None:
    names = {verb.action.name for verb in MediationEvent.Verb.actions()}
    assert names == {
        "assign",
        "decide_recusal",
        "send_notice",
        "accept",
        "record_session",
        "record_agreement",
        "close",
    }
    for name in names:
        assert callable(getattr(mediation_services, f"case_{name}"))
    assert set(admin_mediation.STEP_FORMS) <= names
    for verbs in (MediationEvent.Verb, LicenseEvent.Verb):
        assert issubclass(verbs, VerbChoices)
        assert all(str(verb.label) for verb in verbs)


def test_a_new_step_is_one_entry_in_the_verb_table() -> None:
    # The README's example, in small: a verb declared with its audience, action and label is
    # offered by the admin, heard by its audience and labelled in the timeline.
    from django.utils.translation import gettext_lazy as _

    from licensing.models.mediation import MEDIATOR, CaseAction

    class Verb(VerbChoices):
        SESSION_POSTPONED = (
            "session_postponed",
            ("applicant", "respondent"),
            CaseAction("postpone_session", MEDIATOR, _("Postpone the session"), ("accepted",)),
            _("session postponed"),
        )

    step = Verb.SESSION_POSTPONED
    assert (step.value, step.audience, step.action.name, str(step.label)) == (
        "session_postponed",
        ("applicant", "respondent"),
        "postpone_session",
        "session postponed",
    )
    assert Verb.notified() == ["session_postponed"]
    assert Verb.actions() == [step]
    assert Verb.label_of("no_such_step") == "no_such_step"


def test_payment_amounts_are_untouched_by_a_resolved_contest(world: World) -> None:
    license, payment = _contested(world)
    license_services.license_resolve_contest(
        actor=world.reviewer, license_id=license.pk, payment_id=payment.pk, received=True
    )
    assert LicensePayment.objects.get(pk=payment.pk).amount_cny == Decimal("50000.00")


@pytest.mark.parametrize(
    ("action", "status"),
    [("confirm_contested_payments", "effective"), ("uphold_contests", "ended")],
)
def test_reviewers_settle_a_contest_either_way_in_the_license_admin(
    world: World, action: str, status: str
) -> None:
    from django.test import Client

    license, _payment = _contested(world)
    admin = Client()
    admin.force_login(world.reviewer)
    assert admin.get("/admin/licensing/license/").status_code == 200
    response = admin.post(
        "/admin/licensing/license/",
        {"action": action, "_selected_action": [license.pk], "index": 0},
    )
    assert response.status_code == 302
    license.refresh_from_db()
    assert license.status == status
    event = LicenseEvent.objects.filter(license=license).last()
    assert event is not None
    assert (event.from_status, event.to_status, event.actor) == (
        "contested",
        status,
        world.reviewer,
    )
