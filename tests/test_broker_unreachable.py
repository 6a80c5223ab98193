"""A broker that cannot be reached when a transaction commits (rules: a 500 is a bug).

The data is committed before anything is published, so the answer is the one the committed
data deserves; the lost message is logged, and the sweeps send what they cover: the
registration mail stays queued until `resend_stale_emails` re-queues it, and an event's
notification is sent by `notify_missed_events`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.utils import timezone

from licensing.models import DeclarationEvent, License, LicenseEvent
from licensing.tasks import notify_license_event, notify_missed_events
from marketplace.celery import app
from marketplace.models import Notification, Organisation, OutboundEmail
from marketplace.reference import load_reference_tables
from tests.conftest import World, client_for
from tests.declarations_helpers import announced, declarable_patent
from tests.live import free_port
from tests.test_accounts import registration
from tests.test_licenses import accept_body


@pytest.fixture
def broker_unreachable(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the Celery app at a port nobody listens on (a real refused connection); its
    connection and producer pools are made anew for that address and put back afterwards.
    Request it before `world`: it loads the reference tables a transactional test needs."""
    _reference_data()
    monkeypatch.setattr(app, "_pool", None)
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
    monkeypatch.setitem(app.conf, "broker_url", f"redis://127.0.0.1:{free_port()}/0")
    yield
    _reference_data()


def _reference_data() -> None:
    """Transactional tests flush the database afterwards; put the reference tables back."""
    load_reference_tables(lambda name: apps.get_model("marketplace", name))


@pytest.mark.django_db(transaction=True)
def test_an_acceptance_committed_while_the_broker_is_down_answers_201(
    broker_unreachable: None, world: World, caplog: Any
) -> None:
    declaration = announced(
        declarable_patent(world.university), world.university_member, world.reviewer
    )
    client = client_for(world.sme_admin)
    client.raise_request_exception = False
    caplog.clear()  # the announcement's own messages were lost too
    with caplog.at_level(logging.ERROR, logger="marketplace.celery"):
        response = client.post(
            "/api/v1/licenses/",
            accept_body(declaration, world.sme.pk),
            format="json",
            HTTP_IDEMPOTENCY_KEY="k-1",
        )
    assert response.status_code == 201, response.content
    license = License.objects.get()
    assert (response.json()["id"], license.status) == (license.pk, "effective")
    assert sorted(LicenseEvent.objects.values_list("verb", flat=True)) == [
        "notice_sent",
        "took_effect",
    ]
    # Both of the acceptance's messages were kept for the sweep (the license event's
    # notification and the licensee's match lists), nothing else was attempted.
    messages = [r.getMessage() for r in caplog.records if r.name == "marketplace.celery"]
    assert sorted(
        task for m in messages for task in ("notify_license_event", "refresh_lists") if task in m
    ) == ["notify_license_event", "refresh_lists"]
    assert len(messages) == 2
    # A retry with the same key replays the first answer; nothing is granted twice.
    again = client.post(
        "/api/v1/licenses/",
        accept_body(declaration, world.sme.pk),
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert (again.status_code, again["Idempotent-Replay"]) == (201, "true")
    assert License.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_registration_committed_while_the_broker_is_down_answers_201_and_keeps_the_mail(
    broker_unreachable: None, caplog: Any
) -> None:
    client = client_for(None)
    client.raise_request_exception = False
    with caplog.at_level(logging.ERROR, logger="marketplace.celery"):
        response = client.post("/api/v1/auth/register/", registration(), format="json")
    assert response.status_code == 201, response.content
    assert Organisation.objects.filter(pk=response.json()["id"]).exists()
    mail = OutboundEmail.objects.get(kind="email_verification")
    assert mail.status == "queued"  # left for the resend sweep
    messages = [r.getMessage() for r in caplog.records if r.name == "marketplace.celery"]
    assert any("marketplace.tasks.send_email" in message for message in messages)


@pytest.mark.django_db
def test_the_sweep_sends_the_notifications_of_events_whose_message_was_lost(
    world: World,
) -> None:
    # In a test transaction nothing is ever committed, so no task was published: every
    # event below is one whose message was lost.
    declaration = announced(
        declarable_patent(world.university), world.university_member, world.reviewer
    )
    accepted = client_for(world.sme_admin).post(
        "/api/v1/licenses/", accept_body(declaration, world.sme.pk), format="json"
    )
    license = accepted.json()["id"]
    assert not Notification.objects.exists()
    # Within the grace period a task may still be queued: nothing is sent yet.
    assert notify_missed_events() == {
        "declaration_event": 0,
        "license_event": 0,
        "mediation_event": 0,
    }
    now = timezone.now()
    LicenseEvent.objects.update(created_at=now - timedelta(minutes=6))
    DeclarationEvent.objects.filter(verb="submitted").update(created_at=now - timedelta(days=2))
    DeclarationEvent.objects.exclude(verb="submitted").update(created_at=now - timedelta(minutes=6))

    assert notify_missed_events() == {
        # "announced": the university's two members (co-owners: none); "submitted" is older
        # than the sweep's day and is left alone.
        "declaration_event": 2,
        # "took_effect": the two members and the SME's admin; the same acceptance's
        # "notice_sent" is told by it, not on its own.
        "license_event": 3,
        "mediation_event": 0,
    }
    told = sorted(Notification.objects.values_list("kind", "user__email"))
    assert told == [
        ("declaration_announced", "admin@uni.example.com"),
        ("declaration_announced", "member@uni.example.com"),
        ("license_took_effect", "admin@sme.example.com"),
        ("license_took_effect", "admin@uni.example.com"),
        ("license_took_effect", "member@uni.example.com"),
    ]
    assert OutboundEmail.objects.filter(kind="license_took_effect").count() == 3
    took_effect = LicenseEvent.objects.get(license_id=license, verb="took_effect")
    assert Notification.objects.filter(source=f"license_event:{took_effect.pk}").count() == 3
    # A second sweep, or the lost task arriving late, tells nobody again.
    assert notify_missed_events() == {
        "declaration_event": 0,
        "license_event": 0,
        "mediation_event": 0,
    }
    assert notify_license_event(took_effect.pk) == 0
    assert Notification.objects.count() == 5
