"""Mediation (rules §7): working-day deadlines across holidays, the workflow, recusal,
absences, outcome into the ledger, evidence, and who may see and do what."""

from __future__ import annotations

import io
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from licensing.ledger import license_ledger
from licensing.models import (
    CaseEvidence,
    HolidayCalendarYear,
    HolidayOverride,
    MediationCase,
    MediationEvent,
)
from licensing.services import mediation as services
from licensing.tasks import notify_mediation_event
from licensing.workdays import Deadline, add_workdays
from marketplace import emails
from marketplace.models import Notification, OutboundEmail, User
from marketplace.tasks import send_email
from tests.conftest import ROLES, World, client_for
from tests.mediation_helpers import fix_today, licensed, open_case, supervisor

pytestmark = pytest.mark.django_db

BEFORE_NATIONAL_DAY = date(2025, 9, 30)  # National Day holiday 2025-10-01..08; 10-11 worked


# ---- working days --------------------------------------------------------------------------


def test_five_working_days_across_the_national_day_week() -> None:
    deadline = add_workdays(BEFORE_NATIONAL_DAY, 5)
    # 10-09 Thu, 10-10 Fri, 10-11 Sat (adjusted working day), 10-13 Mon, 10-14 Tue.
    assert (deadline.date, deadline.provisional) == (date(2025, 10, 14), False)


def test_three_working_days_skip_an_ordinary_weekend() -> None:
    assert add_workdays(date(2025, 11, 20), 3).date == date(2025, 11, 25)


def test_a_year_the_library_does_not_know_skips_new_years_day_and_is_marked_provisional() -> None:
    deadline = add_workdays(date(2026, 12, 30), 5)
    # 12-31, then 2027: 01-01 (a Friday, a statutory holiday every year), 01-04..01-07.
    assert (deadline.date, deadline.provisional) == (date(2027, 1, 7), True)


def test_the_fixed_statutory_holidays_and_qingming_are_skipped_in_an_unpublished_year() -> None:
    # 2027-04-05 (Mon) is the 清明 solar term: 04-02 Fri, then 04-06, 04-07.
    assert add_workdays(date(2027, 4, 1), 3) == Deadline(date(2027, 4, 7), True)
    # Labour Day 05-01..02 falls on Sat/Sun in 2027; 2028: Mon 05-01, Tue 05-02 are off.
    assert add_workdays(date(2028, 4, 28), 2) == Deadline(date(2028, 5, 4), True)
    # National Day 2027: Fri 10-01 off; 09-30 Thu, then 10-04 Mon.
    assert add_workdays(date(2027, 9, 29), 2) == Deadline(date(2027, 10, 4), True)
    # 2028: National Day Sun 10-01 .. Tue 10-03: 09-29 Fri, then 10-04 Wed.
    assert add_workdays(date(2028, 9, 28), 2) == Deadline(date(2028, 10, 4), True)


def test_the_operator_table_overrides_and_extends_the_library() -> None:
    HolidayCalendarYear.objects.create(year=2027, source="State Council notice 2027 (entered)")
    HolidayOverride.objects.create(date=date(2027, 1, 1), is_workday=False, note="元旦")
    deadline = add_workdays(date(2026, 12, 30), 5)
    assert (deadline.date, deadline.provisional) == (date(2027, 1, 7), False)
    HolidayOverride.objects.create(date=date(2025, 10, 11), is_workday=False, note="test override")
    assert add_workdays(BEFORE_NATIONAL_DAY, 5).date == date(2025, 10, 15)


# ---- workflow with deadlines ---------------------------------------------------------------


@pytest.fixture
def case(world: World, monkeypatch: pytest.MonkeyPatch) -> MediationCase:
    fix_today(monkeypatch, BEFORE_NATIONAL_DAY)
    return open_case(world, licensed(world))


def test_application_must_reach_the_respondent_within_five_working_days(
    case: MediationCase,
) -> None:
    assert (case.status, case.deadline, case.deadline_kind) == (
        "applied",
        date(2025, 10, 14),
        "notice_to_respondent",
    )
    assert case.number.startswith("MC2025")


def test_whole_flow_to_a_settled_agreement_with_payments_in_the_ledger(
    world: World, case: MediationCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    boss = supervisor()
    services.case_assign(actor=boss, case_id=case.pk, mediator_id=world.mediator.pk)
    services.case_send_notice(actor=world.mediator, case_id=case.pk)
    case.refresh_from_db()
    assert (case.status, case.deadline, case.deadline_kind) == (
        "notified",
        date(2025, 10, 15),
        "respondent_answer",  # 15 calendar days
    )
    services.case_respond(actor=world.university_admin, case_id=case.pk, agree=True)
    case.refresh_from_db()
    assert (case.status, case.deadline) == ("agreed", date(2025, 10, 14))  # 5 working days
    services.case_accept(
        actor=world.mediator,
        case_id=case.pk,
        session_at=timezone.make_aware(datetime(2025, 10, 20, 9)),
        place="南京调解中心 3 楼",
    )
    services.case_record_session(
        actor=world.mediator,
        case_id=case.pk,
        held_at=timezone.make_aware(datetime(2025, 10, 20, 9)),
        place="南京调解中心 3 楼",
        applicant_present=True,
        respondent_present=True,
        notes="双方陈述",
    )
    services.case_record_agreement(
        actor=world.mediator,
        case_id=case.pk,
        text="被许可人于10月31日前补付入门费差额。",
        obligations=[
            services.ObligationInput(world.sme.pk, Decimal("8000.00"), date(2025, 10, 31), "补付")
        ],
    )
    case.refresh_from_db()
    assert case.status == "accepted"  # proposed: both parties must accept
    client_for(world.sme_admin).post(f"/api/v1/mediation-cases/{case.pk}/accept-agreement/")
    response = world.client("org_admin").post(
        f"/api/v1/mediation-cases/{case.pk}/accept-agreement/"
    )
    assert response.json()["status"] == "settled"
    dues = license_ledger(case.license, date(2025, 11, 5)).dues  # type: ignore[arg-type]
    mediation = [due for due in dues if due.kind == "mediation"]
    assert [(d.amount, d.due_date, d.state(date(2025, 11, 5))) for d in mediation] == [
        (Decimal("8000.00"), date(2025, 10, 31), "overdue")
    ]
    verbs = list(MediationEvent.objects.filter(case=case).values_list("verb", flat=True))
    assert verbs == [
        "applied",
        "mediator_assigned",
        "notice_sent",
        "respondent_agreed",
        "accepted",
        "session_recorded",
        "agreement_recorded",
        "agreement_accepted_by_applicant",
        "agreement_accepted_by_respondent",
        "settled",
    ]


def test_a_silent_respondent_means_not_accepted_after_fifteen_days(
    world: World, case: MediationCase
) -> None:
    boss = supervisor()
    services.case_assign(actor=boss, case_id=case.pk, mediator_id=world.mediator.pk)
    services.case_send_notice(actor=world.mediator, case_id=case.pk)
    assert services.mediation_sweep(date(2025, 10, 15))["not_accepted"] == 0
    assert services.mediation_sweep(date(2025, 10, 16))["not_accepted"] == 1
    case.refresh_from_db()
    assert case.status == "not_accepted"
    # The platform's own reason is shown in the reader's language.
    for language, reason in (
        ("zh-hans", "被申请人逾期未答复"),
        ("en", "respondent silent past the deadline"),
    ):
        events = world.client("org_admin").get(
            f"/api/v1/mediation-cases/{case.pk}/timeline/", HTTP_ACCEPT_LANGUAGE=language
        )
        assert [e["reason"] for e in events.json() if e["verb"] == "not_accepted"] == [reason]


def test_a_refusal_ends_the_case(world: World, case: MediationCase) -> None:
    services.case_assign(actor=supervisor(), case_id=case.pk, mediator_id=world.mediator.pk)
    services.case_send_notice(actor=world.mediator, case_id=case.pk)
    response = world.client("org_admin").post(
        f"/api/v1/mediation-cases/{case.pk}/respond/",
        {"agree": False, "reason": "诉讼解决"},
        format="json",
    )
    assert response.json()["status"] == "not_accepted"
    # A person's own words come back as typed, whatever the reader's language.
    events = world.client("org_admin").get(
        f"/api/v1/mediation-cases/{case.pk}/timeline/", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert [e["reason"] for e in events.json() if e["verb"] == "not_accepted"] == ["诉讼解决"]


# ---- not accepted: the applicant is told within 5 working days ---------------------------------


def _notified_on(world: World, monkeypatch: pytest.MonkeyPatch, day: date) -> MediationCase:
    fix_today(monkeypatch, day)
    case = open_case(world, licensed(world))
    services.case_assign(actor=supervisor(), case_id=case.pk, mediator_id=world.mediator.pk)
    services.case_send_notice(actor=world.mediator, case_id=case.pk)
    return case


def _waits_on(case: MediationCase) -> tuple[Any, ...]:
    case.refresh_from_db()
    return (case.status, case.deadline, case.deadline_kind, case.deadline_provisional)


def test_a_refusal_before_national_day_is_told_to_the_applicant_in_app_and_by_mail_after_commit(
    world: World, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    case = _notified_on(world, monkeypatch, date(2025, 9, 29))
    with django_capture_on_commit_callbacks() as callbacks:
        response = world.client("org_admin").post(
            f"/api/v1/mediation-cases/{case.pk}/respond/",
            {"agree": False, "reason": "诉讼解决"},
            format="json",
        )
    assert response.status_code == 200
    # 5 working days from 09-29: 09-30, (National Day 10-01..10-08), 10-09, 10-10,
    # 10-11 (an adjusted working Saturday), 10-13.
    assert (response.json()["deadline"], response.json()["deadline_kind"]) == (
        "2025-10-13",
        "tell_applicant",
    )
    assert _waits_on(case) == ("not_accepted", date(2025, 10, 13), "tell_applicant", False)
    event = MediationEvent.objects.get(case=case, verb="not_accepted")
    assert (event.actor, event.from_status, event.to_status, event.reason, event.data) == (
        world.university_admin,
        "notified",
        "not_accepted",
        "诉讼解决",
        {"deadline": "2025-10-13"},
    )
    assert len(callbacks) == 1  # the notification task is enqueued only once it commits
    assert not Notification.objects.filter(kind="mediation_not_accepted").exists()

    with django_capture_on_commit_callbacks() as after_notice:
        assert notify_mediation_event(event.pk) == 3  # the SME's admin, the university's two
    told = Notification.objects.get(user=world.sme_admin, kind="mediation_not_accepted")
    assert told.title == f"Mediation case {case.number}: not accepted"
    assert told.body == (
        f"Case {case.number}, status not accepted.\nReason: 诉讼解决\n"
        "The case was not accepted for mediation. Mediation is voluntary: you may still take "
        "the dispute to court."
    )
    queued = OutboundEmail.objects.get(
        kind="mediation_not_accepted", to_email=world.sme_admin.email
    )
    assert (queued.subject, queued.body, queued.status) == (told.title, told.body, "queued")
    # After commit, one callback publishes every e-mail of the notification together.
    sent_after_commit = [
        email_id
        for callback in after_notice
        if isinstance(callback, partial) and callback.args[0] is emails.send_in_batches
        for email_id in callback.args[1][0]
    ]
    assert sorted(sent_after_commit) == sorted(
        OutboundEmail.objects.filter(kind="mediation_not_accepted").values_list("pk", flat=True)
    )
    assert send_email.apply(args=(queued.pk,)).get() == "sent"
    assert [(message.to, message.subject) for message in mail.outbox] == [
        ([world.sme_admin.email], told.title)
    ]
    # The deadline is met and no longer waited on; the timeline says when.
    assert _waits_on(case) == ("not_accepted", None, "", False)
    recorded = MediationEvent.objects.get(case=case, verb="applicant_told")
    assert (recorded.actor, recorded.data) == (
        None,
        {"deadline": "2025-10-13", "told_on": "2025-09-29", "in_time": True},
    )
    assert notify_mediation_event(event.pk) == 0  # a retried task tells no one twice
    assert MediationEvent.objects.filter(case=case, verb="applicant_told").count() == 1
    shown = client_for(world.sme_admin).get(f"/api/v1/mediation-cases/{case.pk}/").json()
    assert (shown["status"], shown["deadline"], shown["deadline_kind"]) == (
        "not_accepted",
        None,
        "",
    )


def test_a_respondent_silent_until_national_day_gives_five_working_days_from_the_last_day(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = _notified_on(world, monkeypatch, date(2025, 9, 15))
    assert _waits_on(case) == ("notified", date(2025, 9, 30), "respondent_answer", False)
    fix_today(monkeypatch, date(2025, 10, 1))  # the sweep runs on the first holiday
    assert services.mediation_sweep(date(2025, 10, 1)) == {
        "not_accepted": 1,
        "applicants_told": 1,
        "reminded": 0,
    }
    # Counted from 09-30, the last day to answer: 10-09, 10-10, 10-11, 10-13, 10-14.
    event = MediationEvent.objects.get(case=case, verb="not_accepted")
    assert (event.actor, event.reason, event.data) == (
        None,
        "respondent silent past the deadline",
        {"deadline": "2025-10-14"},
    )
    told = Notification.objects.get(user=world.sme_admin, kind="mediation_not_accepted")
    assert told.title == f"Mediation case {case.number}: not accepted"
    assert OutboundEmail.objects.filter(
        kind="mediation_not_accepted", to_email=world.sme_admin.email
    ).exists()
    assert _waits_on(case) == ("not_accepted", None, "", False)
    assert MediationEvent.objects.get(case=case, verb="applicant_told").data == {
        "deadline": "2025-10-14",
        "told_on": "2025-10-01",
        "in_time": True,
    }
    assert services.mediation_sweep(date(2025, 10, 2)) == {
        "not_accepted": 0,
        "applicants_told": 0,
        "reminded": 0,
    }


def test_an_applicant_not_yet_told_is_reminded_of_then_told_late_by_the_sweep(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = _notified_on(world, monkeypatch, date(2025, 9, 29))
    # The applicant's only member is away (inactive): no one on its side can be told yet.
    User.objects.filter(pk=world.sme_admin.pk).update(is_active=False)
    services.case_respond(actor=world.university_admin, case_id=case.pk, agree=False)
    event = MediationEvent.objects.get(case=case, verb="not_accepted")
    assert notify_mediation_event(event.pk) == 2  # the respondent's members only
    assert _waits_on(case) == ("not_accepted", date(2025, 10, 13), "tell_applicant", False)
    fix_today(monkeypatch, date(2025, 10, 11))
    assert services.mediation_sweep(date(2025, 10, 11)) == {
        "not_accepted": 0,
        "applicants_told": 0,
        "reminded": 1,
    }
    reminder = Notification.objects.get(kind="mediation_deadline")
    assert (reminder.user, reminder.title, reminder.body) == (
        world.mediator,
        f"Deadline 2025-10-13: case {case.number}",
        f"Case {case.number} waits on: tell the applicant the case was not accepted.",
    )
    User.objects.filter(pk=world.sme_admin.pk).update(is_active=True)
    fix_today(monkeypatch, date(2025, 10, 14))
    assert services.mediation_sweep(date(2025, 10, 14))["applicants_told"] == 1
    assert Notification.objects.filter(user=world.sme_admin, kind="mediation_not_accepted").exists()
    assert _waits_on(case) == ("not_accepted", None, "", False)
    assert MediationEvent.objects.get(case=case, verb="applicant_told").data == {
        "deadline": "2025-10-13",
        "told_on": "2025-10-14",
        "in_time": False,
    }


@pytest.mark.parametrize(
    ("applicant_present", "respondent_present", "status"),
    [(False, True, "withdrawn"), (True, False, "closed"), (True, True, "accepted")],
)
def test_absences_at_a_session(
    world: World,
    case: MediationCase,
    applicant_present: bool,
    respondent_present: bool,
    status: str,
) -> None:
    services.case_assign(actor=supervisor(), case_id=case.pk, mediator_id=world.mediator.pk)
    services.case_send_notice(actor=world.mediator, case_id=case.pk)
    services.case_respond(actor=world.university_admin, case_id=case.pk, agree=True)
    services.case_accept(
        actor=world.mediator, case_id=case.pk, session_at=timezone.now(), place="线上"
    )
    services.case_record_session(
        actor=world.mediator,
        case_id=case.pk,
        held_at=timezone.now(),
        place="线上",
        applicant_present=applicant_present,
        respondent_present=respondent_present,
        notes="",
    )
    case.refresh_from_db()
    assert case.status == status


def test_recusal_within_three_working_days_pauses_the_case_until_decided(
    world: World, case: MediationCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    boss = supervisor()
    services.case_assign(actor=boss, case_id=case.pk, mediator_id=world.mediator.pk)  # named 09-30
    fix_today(monkeypatch, date(2025, 10, 14))  # 3 working days: 10-09, 10-10, 10-11
    late = client_for(world.sme_admin).post(
        f"/api/v1/mediation-cases/{case.pk}/recusal/",
        {"reasons": "调解员曾代理对方"},
        format="json",
    )
    assert late.status_code == 409
    assert late.json()["code"] == "recusal_too_late"
    fix_today(monkeypatch, date(2025, 10, 11))
    asked = client_for(world.sme_admin).post(
        f"/api/v1/mediation-cases/{case.pk}/recusal/",
        {"reasons": "调解员曾代理对方"},
        format="json",
    )
    assert asked.json()["is_paused"] is True
    paused = world.client("mediator").post(f"/api/v1/mediation-cases/{case.pk}/send-notice/")
    assert paused.json()["code"] == "case_paused"
    decided = client_for(boss).post(
        f"/api/v1/mediation-cases/{case.pk}/recusal-decision/",
        {"grant": True, "reason": "存在利害关系"},
        format="json",
    )
    assert (decided.json()["is_paused"], decided.json()["mediator"]) == (False, None)


def test_evidence_type_and_size_are_checked_and_downloads_limited(
    world: World, case: MediationCase, settings: Any
) -> None:
    client = client_for(world.sme_admin)
    pdf = SimpleUploadedFile(
        "回单.pdf", b"%PDF-1.7 payment receipt", content_type="application/pdf"
    )
    uploaded = client.post(
        f"/api/v1/mediation-cases/{case.pk}/evidence/", {"file": pdf}, format="multipart"
    )
    assert uploaded.status_code == 201, uploaded.json()
    fake = SimpleUploadedFile("回单.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")
    refused = client.post(
        f"/api/v1/mediation-cases/{case.pk}/evidence/", {"file": fake}, format="multipart"
    )
    assert refused.json()["code"] == "evidence_content_mismatch"
    exe = SimpleUploadedFile("tool.exe", b"MZ", content_type="application/octet-stream")
    assert (
        client.post(
            f"/api/v1/mediation-cases/{case.pk}/evidence/", {"file": exe}, format="multipart"
        ).json()["code"]
        == "evidence_type_not_allowed"
    )
    assert CaseEvidence.objects.count() == 1
    evidence_id = uploaded.json()["id"]
    url = f"/api/v1/mediation-cases/{case.pk}/evidence/{evidence_id}/download/"
    assert b"".join(client.get(url).streaming_content) == b"%PDF-1.7 payment receipt"  # type: ignore[attr-defined]
    assert world.client("mediator").get(url).status_code == 404  # not assigned (yet)
    services.case_assign(actor=supervisor(), case_id=case.pk, mediator_id=world.mediator.pk)
    assert world.client("mediator").get(url).status_code == 200
    assert world.client("member").get(url).status_code == 200  # the respondent's member
    outsider = client_for(supervisor.__globals__["UserFactory"].create())
    assert outsider.get(url).status_code == 404


def test_an_applicant_names_only_the_other_party(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    fix_today(monkeypatch, BEFORE_NATIONAL_DAY)
    license = licensed(world)
    from tests.factories import OrganisationFactory

    stranger = OrganisationFactory.create(name="无关机构")
    response = client_for(world.sme_admin).post(
        "/api/v1/mediation-cases/",
        {
            "applicant": world.sme.pk,
            "respondent": stranger.pk,
            "declaration": license.declaration_id,
            "license": license.pk,
            "cause": "payment",
            "summary": "x",
            "matters": "y",
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "not_the_parties"
    assert not MediationCase.objects.exists()


# ---- who sees and does what ----------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_cases_are_seen_by_the_parties_and_the_assigned_mediator_only(
    world: World, case: MediationCase, role: str
) -> None:
    # other_member is the SME admin (the applicant); use an outsider instead for that role.
    from tests.factories import MembershipFactory

    outsider = MembershipFactory.create().user
    users = {**{r: world.user(r) for r in ROLES}, "other_member": outsider}
    before = client_for(users[role]).get(f"/api/v1/mediation-cases/{case.pk}/")
    expected = {"member": 200, "org_admin": 200, "anonymous": 401}.get(role, 404)
    assert before.status_code == expected
    services.case_assign(actor=supervisor(), case_id=case.pk, mediator_id=world.mediator.pk)
    after = client_for(users[role]).get(f"/api/v1/mediation-cases/{case.pk}/")
    assert after.status_code == (200 if role == "mediator" else expected)


@pytest.mark.parametrize("role", ROLES)
def test_only_the_cases_mediator_sends_the_notice(
    world: World, case: MediationCase, role: str
) -> None:
    services.case_assign(actor=supervisor(), case_id=case.pk, mediator_id=world.mediator.pk)
    response = world.client(role).post(f"/api/v1/mediation-cases/{case.pk}/send-notice/")
    case.refresh_from_db()
    if role == "mediator":
        assert response.status_code == 200
        assert case.status == "notified"
        return
    assert response.status_code == {"anonymous": 401, "member": 403, "org_admin": 403}.get(
        role, 404 if role != "other_member" else 403
    )
    assert case.status == "applied"


def test_another_mediator_cannot_open_the_case_by_api_or_admin(
    world: World, case: MediationCase
) -> None:
    from marketplace import roles
    from marketplace.services.platform import platform_role_grant
    from tests.factories import UserFactory

    other = UserFactory.create(email="other-mediator@example.com")
    platform_role_grant(user=other, role=roles.MEDIATOR, actor=None)
    services.case_assign(actor=supervisor(), case_id=case.pk, mediator_id=world.mediator.pk)
    assert client_for(other).get(f"/api/v1/mediation-cases/{case.pk}/").status_code == 404
    admin = client_for(None)
    admin.force_login(other)
    page = admin.get(f"/admin/licensing/mediationcase/{case.pk}/change/")
    assert page.status_code == 302  # the admin's "does not exist" redirect
    listing = admin.get("/admin/licensing/mediationcase/")
    assert case.number not in listing.content.decode()
    act = admin.post(f"/admin/licensing/mediationcase/{case.pk}/act/send_notice/")
    assert act.status_code == 404
    case.refresh_from_db()
    assert case.status == "applied"
    evidence = services.case_add_evidence(
        actor=world.sme_admin, case_id=case.pk, upload=io.BytesIO(b"%PDF-1.7"), name="a.pdf", size=8
    )
    download = f"/admin/licensing/mediationcase/{case.pk}/evidence/{evidence.pk}/"
    assert admin.get(download).status_code == 404
    history = admin.get(f"/admin/licensing/mediationcase/{case.pk}/history/")
    assert (history.status_code, history["Location"]) == (302, "/admin/")  # "does not exist"
    mine = client_for(None)
    mine.force_login(world.mediator)
    assert case.number in mine.get("/admin/licensing/mediationcase/").content.decode()
    assert b"".join(mine.get(download).streaming_content) == b"%PDF-1.7"  # type: ignore[attr-defined]


def test_the_mediators_case_page_shows_the_timeline_read_only(
    world: World, case: MediationCase
) -> None:
    services.case_assign(actor=supervisor(), case_id=case.pk, mediator_id=world.mediator.pk)
    client = client_for(None)
    client.force_login(world.mediator)
    page = client.get(f"/admin/licensing/mediationcase/{case.pk}/change/").content.decode()
    steps = re.findall(r'<td class="field-step">\s*<p>([^<]+)</p>', page)
    assert steps == ["applied", "mediator assigned"]  # the steps' labels, not their codes
    assert 'name="events-0-reason"' not in page  # shown, not editable


def test_parties_and_reviewers_have_no_mediation_admin(world: World, case: MediationCase) -> None:
    page = f"/admin/licensing/mediationcase/{case.pk}/change/"
    party = client_for(None)
    party.force_login(world.sme_admin)
    response = party.get(page)
    # A party is not staff: the admin sends it to its login page.
    assert (response.status_code, response["Location"]) == (302, f"/admin/login/?next={page}")
    reviewer = client_for(None)
    reviewer.force_login(world.reviewer)
    response = reviewer.get(page)
    # A reviewer is staff without the mediation permissions: refused, nothing of the case shown.
    assert response.status_code == 403
    assert case.number not in response.content.decode()


def test_the_admin_lists_overdue_cases_first_with_badges_and_acts_through_the_workflow(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    fix_today(monkeypatch, BEFORE_NATIONAL_DAY)
    license = licensed(world)
    boss = supervisor()
    later = open_case(world, license)
    overdue = open_case(world, license, summary="逾期案件")
    for item in (later, overdue):
        services.case_assign(actor=boss, case_id=item.pk, mediator_id=world.mediator.pk)
    today = timezone.localdate()
    MediationCase.objects.filter(pk=overdue.pk).update(deadline=today - timedelta(days=3))
    MediationCase.objects.filter(pk=later.pk).update(deadline=today + timedelta(days=5))
    client = client_for(None)
    client.force_login(world.mediator)
    page = client.get("/admin/licensing/mediationcase/").content.decode()
    assert page.index(overdue.number) < page.index(later.number)
    assert "overdue 3 d" in page
    response = client.post(f"/admin/licensing/mediationcase/{overdue.pk}/act/send_notice/")
    assert response.status_code == 302
    overdue.refresh_from_db()
    assert overdue.status == "notified"
    assert MediationEvent.objects.filter(
        case=overdue, verb="notice_sent", actor=world.mediator
    ).exists()


def test_the_mediator_is_reminded_once_of_a_deadline_due_by_the_next_working_day(
    world: World, case: MediationCase
) -> None:
    from marketplace.models import Notification

    services.case_assign(actor=supervisor(), case_id=case.pk, mediator_id=world.mediator.pk)
    # Deadline 2025-10-14 (notice to the respondent): 10-13 is the working day before it.
    assert services.mediation_sweep(date(2025, 10, 10))["reminded"] == 0
    assert services.mediation_sweep(date(2025, 10, 13))["reminded"] == 1
    assert services.mediation_sweep(date(2025, 10, 13))["reminded"] == 0
    reminder = Notification.objects.get(kind="mediation_deadline")
    assert (reminder.user, reminder.title) == (
        world.mediator,
        f"Deadline 2025-10-14: case {case.number}",
    )


def test_without_a_mediator_the_supervisors_are_reminded(world: World, case: MediationCase) -> None:
    from marketplace.models import Notification

    boss = supervisor()
    assert services.mediation_sweep(date(2025, 10, 13))["reminded"] == 1
    assert Notification.objects.get(kind="mediation_deadline").user == boss
