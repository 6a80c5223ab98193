"""A broker that cannot be reached when a transaction commits (rules: a 500 is a bug).

The data is committed before anything is published, so the answer is the one the committed
data deserves; the lost message is logged, and the sweeps send what they cover (here: the
registration mail, which stays queued until `resend_stale_emails` re-queues it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps

from licensing.models import License, LicenseEvent
from marketplace.celery import app
from marketplace.models import Organisation, OutboundEmail
from marketplace.reference import load_reference_tables
from tests.conftest import World, client_for
from tests.declarations_helpers import announced, declarable_patent
from tests.live import free_port
from tests.test_accounts import registration
from tests.test_licenses import accept_body

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker_unreachable(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the Celery app at a port nobody listens on (a real refused connection); its
    connection and producer pools are made anew for that address and put back afterwards."""
    _reference_data()
    monkeypatch.setattr(app, "_pool", None)
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
    monkeypatch.setitem(app.conf, "broker_url", f"redis://127.0.0.1:{free_port()}/0")
    yield
    _reference_data()


def _reference_data() -> None:
    """Transactional tests flush the database afterwards; put the reference tables back."""
    load_reference_tables(lambda name: apps.get_model("marketplace", name))


def test_an_acceptance_committed_while_the_broker_is_down_answers_201(
    world: World, broker_unreachable: None, caplog: Any
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
    [record] = [r for r in caplog.records if r.name == "marketplace.celery"]
    assert "licensing.tasks.notify_license_event" in record.getMessage()
    # A retry with the same key replays the first answer; nothing is granted twice.
    again = client.post(
        "/api/v1/licenses/",
        accept_body(declaration, world.sme.pk),
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert (again.status_code, again["Idempotent-Replay"]) == (201, "true")
    assert License.objects.count() == 1


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
