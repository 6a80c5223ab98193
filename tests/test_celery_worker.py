"""Through a real Celery worker process: mail after commit over SMTP, health, idempotency."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.apps import apps
from django.core import mail

from marketplace.models import OutboundEmail
from marketplace.reference import load_reference_tables
from marketplace.tasks import send_email
from tests.conftest import client_for
from tests.live import SmtpSink, WorkerProcess, free_port


def _reference_data() -> None:
    """Transactional tests flush the database afterwards; put the reference tables back."""
    load_reference_tables(lambda name: apps.get_model("marketplace", name))


@pytest.mark.django_db(transaction=True)
def test_registration_mail_goes_out_through_the_worker_and_its_token_logs_in(
    celery_worker_process: WorkerProcess, smtp_sink: SmtpSink
) -> None:
    _reference_data()
    client = client_for(None)
    response = client.post(
        "/api/v1/auth/register/",
        {
            "name": "南京示范大学",
            "kind": "individual",
            "region": "320102",
            "admin": {
                "email": "worker-test@example.com",
                "password": "a-long-and-unusual-passphrase",
                "full_name": "工人",
                "preferred_language": "en",
            },
        },
        format="json",
    )
    assert response.status_code == 201, response.json()

    message = smtp_sink.wait_for("worker-test@example.com")
    assert message["Subject"] == "Verify your e-mail address"
    body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    token = re.search(r"token=(\S+)", body).group(1)  # type: ignore[union-attr]
    email = OutboundEmail.objects.get(to_email="worker-test@example.com")
    assert (email.status, email.attempts) == ("sent", 1)

    assert client.post("/api/v1/auth/verify-email/", {"token": token}).status_code == 200
    login = client.post(
        "/api/v1/auth/token/",
        {"email": "worker-test@example.com", "password": "a-long-and-unusual-passphrase"},
    )
    assert login.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_health_reports_database_redis_and_worker(celery_worker_process: WorkerProcess) -> None:
    response = client_for(None).get("/healthz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "redis": True,
        "celery": True,
    }


@pytest.mark.django_db
def test_health_is_503_when_redis_is_unreachable(settings: Any) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client_for(None).get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["redis"]["ok"] is False
    assert response.json()["checks"]["database"]["ok"] is True


@pytest.mark.django_db(transaction=True)
def test_mail_a_lost_worker_left_behind_is_sent_by_the_sweep(
    celery_worker_process: WorkerProcess, smtp_sink: SmtpSink
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from marketplace.tasks import resend_stale_emails

    now = timezone.now()
    old, recent = now - timedelta(minutes=31), now - timedelta(minutes=5)

    def email(name: str, status: str, created: Any, claimed: Any = None) -> OutboundEmail:
        row = OutboundEmail.objects.create(
            kind="test", to_email=f"{name}@example.com", subject=name, body=name
        )
        OutboundEmail.objects.filter(pk=row.pk).update(
            status=status, created_at=created, claimed_at=claimed
        )
        return row

    email("lost-message", "queued", old)
    email("lost-claim", "sending", old, old)
    email("fresh", "queued", recent)
    email("retrying", "queued", old, recent)
    email("sending", "sending", old, recent)
    email("sent", "sent", old, old)

    assert resend_stale_emails() == 2
    smtp_sink.wait_for("lost-message@example.com")
    smtp_sink.wait_for("lost-claim@example.com")
    statuses = dict(OutboundEmail.objects.values_list("to_email", "status"))
    assert statuses == {
        "lost-message@example.com": "sent",
        "lost-claim@example.com": "sent",
        "fresh@example.com": "queued",
        "retrying@example.com": "queued",
        "sending@example.com": "sending",
        "sent@example.com": "sent",
    }
    untouched = {"fresh", "retrying", "sending", "sent"}
    assert not [m for m in smtp_sink.messages if m["Subject"] in untouched]


@pytest.mark.django_db
def test_a_second_delivery_of_the_send_task_sends_nothing() -> None:
    email = OutboundEmail.objects.create(
        kind="test", to_email="once@example.com", subject="Once", body="only once"
    )
    assert send_email.apply(args=(email.pk,)).get() == "sent"
    assert send_email.apply(args=(email.pk,)).get() == "skipped"
    assert [m.to for m in mail.outbox] == [["once@example.com"]]


@pytest.mark.django_db
def test_a_batch_of_mails_goes_out_over_one_connection_and_once_only() -> None:
    from marketplace.emails import Message, queue_many
    from marketplace.tasks import send_emails

    rows = queue_many([Message("test", f"batch{n}@example.com", f"B{n}", "body") for n in range(3)])
    ids = [row.pk for row in rows]
    assert send_emails.apply(args=(ids,)).get() == {"sent": 3, "retried": 0, "skipped": 0}
    assert send_emails.apply(args=(ids,)).get() == {"sent": 0, "retried": 0, "skipped": 3}
    assert sorted(m.to[0] for m in mail.outbox) == [f"batch{n}@example.com" for n in range(3)]
    assert set(OutboundEmail.objects.filter(pk__in=ids).values_list("status", "attempts")) == {
        ("sent", 1)
    }


@pytest.mark.django_db
def test_a_batch_that_cannot_reach_the_server_goes_back_to_single_retries(settings: Any) -> None:
    from marketplace.emails import Message, queue_many
    from marketplace.tasks import send_emails

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 1
    rows = queue_many([Message("test", f"down{n}@example.com", "Down", "x") for n in range(2)])
    result = send_emails.apply(args=([row.pk for row in rows],)).get()
    assert result == {"sent": 0, "retried": 2, "skipped": 0}
    for row in rows:
        row.refresh_from_db()
        assert (row.status, row.attempts) == ("queued", 1)
        assert "Connection refused" in row.last_error or "ConnectionRefused" in row.last_error


@pytest.mark.django_db
def test_unreachable_smtp_server_is_retried_then_marked_failed(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 1
    email = OutboundEmail.objects.create(
        kind="test", to_email="down@example.com", subject="Down", body="server down"
    )
    result = send_email.apply(args=(email.pk,))
    email.refresh_from_db()
    assert result.get(propagate=False) == "failed"
    assert (email.status, email.attempts) == ("failed", (send_email.max_retries or 0) + 1)
    assert "Connection refused" in email.last_error or "ConnectionRefused" in email.last_error


@pytest.mark.django_db(transaction=True)
def test_template_imported_through_the_api_and_worker_is_found_by_chinese_search(
    celery_worker_process: WorkerProcess,
) -> None:
    import time

    from django.core.files.uploadedfile import SimpleUploadedFile

    from marketplace.models import ImportJob, Patent
    from tests.factories import MembershipFactory

    _reference_data()
    member = MembershipFactory.create().user
    organisation_id = member.memberships.get().organisation_id
    client = client_for(member)
    template = client_for(None).get(
        "/api/v1/patent-imports/template/", {"file_format": "xlsx", "language": "zh"}
    )
    upload = client.post(
        "/api/v1/patent-imports/",
        {
            "organisation": organisation_id,
            "file": SimpleUploadedFile("template.xlsx", template.content),
        },
        format="multipart",
    )
    assert upload.status_code == 202, upload.json()
    job_id = upload.json()["id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/patent-imports/{job_id}/").json()
        if job["phase"] == "done":
            break
        time.sleep(0.2)
    assert (job["status"], job["created_count"], job["progress"]) == ("succeeded", 1, 1.0), job
    assert ImportJob.objects.get(pk=job_id).status == "succeeded"
    found = client.get("/api/v1/search/patents/", {"q": "锂离子电池 正极", "scope": "mine"}).json()
    assert [item["application_number"] for item in found["results"]] == [
        Patent.objects.get().application_number
    ]


@pytest.mark.django_db(transaction=True)
def test_announcement_reaches_the_patentee_in_app_and_by_mail_through_the_worker(
    celery_worker_process: WorkerProcess, smtp_sink: SmtpSink
) -> None:
    import time

    from marketplace import roles
    from marketplace.models import Notification
    from marketplace.services.platform import platform_role_grant
    from tests.declarations_helpers import announced, declarable_patent
    from tests.factories import MembershipFactory, UserFactory

    _reference_data()
    member = MembershipFactory.create(user__email="patentee-worker@example.com").user
    reviewer = UserFactory.create(email="reviewer-worker@example.com")
    platform_role_grant(user=reviewer, role=roles.REVIEWER, actor=None)
    declaration = announced(
        declarable_patent(member.memberships.get().organisation), member, reviewer
    )
    assert declaration.number
    message = smtp_sink.wait_for(
        "patentee-worker@example.com", subject_contains=f"{declaration.number}: announced"
    )
    assert message["Subject"] == f"Open-license declaration {declaration.number}: announced"
    deadline = time.monotonic() + 10
    while not Notification.objects.filter(user=member, kind="declaration_announced").exists():
        assert time.monotonic() < deadline, "no in-app notification"
        time.sleep(0.1)
