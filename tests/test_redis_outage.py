"""Redis stopped with requests in flight, then started again (issue 15), with a real worker.

A Redis server of the test's own (never the shared one) is the broker and the cache. While it
is down, committed actions answer as usual and fast (a publish gives up within a second, the
throttles read an empty cache); what could not be published is kept in the database, and once
Redis is back the sweep publishes it and the worker does the work.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps

from licensing.models import License, LicenseEvent
from marketplace.celery import app as celery_app
from marketplace.celery import publish_unsent
from marketplace.models import Notification, OutboundEmail, UnsentTask
from marketplace.reference import load_reference_tables
from tests.conftest import client_for
from tests.live import SmtpSink, free_port, start_worker, stop_worker
from tests.test_faults import _market
from tests.test_licenses import accept_body
from tests.test_patents_api import NUMBER


def patent_body(organisation: int) -> dict[str, Any]:
    return {
        "organisation": organisation,
        "application_number": NUMBER,
        "title": "一种断电时登记的固态电解质",
        "abstract": "本发明涉及一种硫化物固态电解质。",
        "main_ipc": "H01M 10/0562",
        "filing_date": "2021-05-10",
        "grant_date": "2023-08-01",
    }


# How long Redis stays down while requests are sent (the probe used 40 s and 60 s;
# what is checked does not depend on the length, so the suite keeps it short).
OUTAGE_SECONDS = float(os.environ.get("FAULT_OUTAGE_SECONDS", "8"))


class RedisServer:
    """A `redis-server` process on a port of its own, stopped and started by the test."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while (
            subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True
            ).stdout.strip()
            != b"PONG"
        ):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def own_redis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> Iterator[RedisServer]:
    """Broker and cache of this process, and of the worker it starts, on a Redis of its own."""
    server = RedisServer(tmp_path)
    server.start()
    monkeypatch.setenv("TEST_REDIS_URL", server.url)  # read by the worker's tests.settings
    monkeypatch.setattr(celery_app, "_pool", None)
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)
    monkeypatch.setitem(celery_app.conf, "broker_url", f"{server.url}/15")
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": f"{server.url}/14",
        }
    }
    yield server
    if server.process is not None:
        server.stop()
    load_reference_tables(lambda name: apps.get_model("marketplace", name))


def _timed(call: Any) -> tuple[Any, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


@pytest.mark.django_db(transaction=True)
def test_redis_stopped_with_requests_in_flight_loses_and_blocks_nothing(
    own_redis: RedisServer, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    declaration, patentee, _reviewer, licensees = _market("断电大学", smes=4)
    worker = start_worker(tmp_path / "worker.log", smtp_sink.port)
    try:
        # A first request loads the URL configuration (seconds): not what is measured here.
        assert client_for(None).get("/api/v1/declarations/").status_code == 200
        assert client_for(patentee).get("/api/v1/patents/").status_code == 200
        own_redis.stop()
        outage_ends = time.monotonic() + OUTAGE_SECONDS
        answers: list[tuple[int, float]] = []
        for index, (user_id, sme_id) in enumerate(licensees):
            from marketplace.models import User

            client = client_for(User.objects.get(pk=user_id))
            client.raise_request_exception = False
            response, seconds = _timed(
                lambda client=client, sme_id=sme_id: client.post(
                    "/api/v1/licenses/",
                    accept_body(declaration, sme_id),
                    format="json",
                    HTTP_IDEMPOTENCY_KEY=f"outage-{sme_id}",
                )
            )
            answers.append((response.status_code, seconds))
            anonymous = client_for(None)
            anonymous.raise_request_exception = False
            response, seconds = _timed(
                lambda anonymous=anonymous, index=index: anonymous.post(
                    "/api/v1/auth/register/",
                    {
                        "name": f"断电个人{index}",
                        "kind": "individual",
                        "region": "320102",
                        "admin": {
                            "email": f"outage{index}@example.com",
                            "password": "a-long-and-unusual-passphrase",
                            "full_name": "断电",
                            "preferred_language": "en",
                        },
                    },
                    format="json",
                )
            )
            answers.append((response.status_code, seconds))
        owner = client_for(patentee)
        owner.raise_request_exception = False
        response, seconds = _timed(
            lambda: owner.post(
                "/api/v1/patents/",
                patent_body(organisation=declaration.organisation_id),
                format="json",
            )
        )
        answers.append((response.status_code, seconds))
        while time.monotonic() < outage_ends:
            time.sleep(0.1)
        # Every committed action answered as usual, none held long by the absent broker.
        assert [status for status, _seconds in answers] == [201, 201] * 4 + [201], answers
        print("seconds per request during the outage:", [round(s, 2) for _c, s in answers])
        assert max(seconds for _status, seconds in answers) < 1.5, answers
        assert License.objects.filter(declaration=declaration).count() == 4
        unsent = sorted(UnsentTask.objects.values_list("target", flat=True))
        assert unsent.count("licensing.tasks.notify_license_event") == 4  # one per acceptance
        assert unsent.count("marketplace.tasks.send_email") == 4
        assert "marketplace.tasks.index_patent_vectors" in unsent  # the new patent's vector
        verification = OutboundEmail.objects.filter(kind="email_verification")
        assert list(verification.values_list("status", flat=True)) == ["queued"] * 4

        own_redis.start()  # an empty Redis: the queued messages of before are gone too
        deadline = time.monotonic() + 60
        while not celery_app.control.ping(destination=[worker.nodename], timeout=0.5):
            assert time.monotonic() < deadline, worker.log()
        assert publish_unsent() == len(unsent)
        for index in range(4):
            smtp_sink.wait_for(f"outage{index}@example.com", timeout=60)
        sources = {
            f"license_event:{pk}"
            for pk in LicenseEvent.objects.filter(verb="took_effect").values_list("pk", flat=True)
        }
        assert len(sources) == 4
        deadline = time.monotonic() + 60
        while set(Notification.objects.values_list("source", flat=True)) < sources:
            assert time.monotonic() < deadline, worker.log()
            time.sleep(0.2)
    finally:
        stop_worker(worker)
    assert not UnsentTask.objects.exists()
    assert set(
        OutboundEmail.objects.filter(kind="email_verification").values_list("status", flat=True)
    ) == {"sent"}
