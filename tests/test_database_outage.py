"""The database's connections terminated under the running server (issue 15), as a failover,
a restart or an administrator would, against gunicorn as deployed (persistent connections).

Only the server's own backends are terminated: they carry an application name of their own,
in the test database, on the shared PostgreSQL. A request whose connection goes away answers
503 `database_unavailable` with Retry-After (never a 500) and leaves nothing half-written; the
next request gets a fresh connection (CONN_HEALTH_CHECKS) and succeeds.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
import requests
from django.conf import settings
from rest_framework.authtoken.models import Token

from licensing.models import IdempotencyRecord, License, LicenseEvent, LicensePayment
from marketplace.celery import app as celery_app
from marketplace.models import User
from tests.live import Server, _database_url, start_gunicorn, stop_gunicorn
from tests.test_faults import _market
from tests.test_licenses import accept_body

APPLICATION = "faults-server"  # application_name of the server's connections
WORKERS = 2
CLIENTS = 4
SMES_PER_CLIENT = 6


@pytest.fixture(scope="module")
def app_server(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """gunicorn (sync workers, as in the Dockerfile) on the test database, connections kept
    for 60 s between requests as in production; one for the module (it starts in seconds)."""
    server = start_gunicorn(
        f"{_database_url()}?application_name={APPLICATION}",
        tmp_path_factory.mktemp("gunicorn") / "gunicorn.log",
        workers=WORKERS,
    )
    try:
        yield server
    finally:
        stop_gunicorn(server)
        celery_app.control.purge()  # the server's messages; no worker ran here


def _admin_connection() -> psycopg.Connection[Any]:
    """A connection of the test's own to the test database, outside Django."""
    db = settings.DATABASES["default"]
    return psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"],
        password=db.get("PASSWORD") or None,
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        autocommit=True,
    )


def _server_backends(admin: psycopg.Connection[Any]) -> list[int]:
    rows = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND application_name = %s",
        [APPLICATION],
    ).fetchall()
    return [row[0] for row in rows]


def _terminate_server_backends(admin: psycopg.Connection[Any]) -> int:
    rows = admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name = %s",
        [APPLICATION],
    ).fetchall()
    return sum(1 for (terminated,) in rows if terminated)


def _headers(user: User, key: str = "") -> dict[str, str]:
    token, _created = Token.objects.get_or_create(user=user)
    headers = {"Authorization": f"Token {token.key}", "Accept-Language": "en"}
    if key:
        headers["Idempotency-Key"] = key
    return headers


@pytest.mark.django_db(transaction=True)
def test_the_first_request_after_the_servers_connections_were_terminated_succeeds(
    app_server: Server,
) -> None:
    _declaration, patentee, _reviewer, _licensees = _market("断连重连大学", smes=0)
    headers = _headers(patentee)
    with _admin_connection() as admin:
        # Every worker holds its connection open between requests (CONN_MAX_AGE).
        for _request in range(4 * WORKERS):
            response = requests.get(f"{app_server.url}/api/v1/me/", headers=headers, timeout=30)
            assert response.status_code == 200, app_server.log()
        before = _server_backends(admin)
        assert before, "the server keeps no connection open?"
        assert _terminate_server_backends(admin) == len(before)

        # Each worker finds its connection dead before using it, and opens a new one.
        answers = [
            requests.get(f"{app_server.url}/api/v1/me/", headers=headers, timeout=30).status_code
            for _request in range(4 * WORKERS)
        ]
        assert answers == [200] * (4 * WORKERS), app_server.log()
        after = _server_backends(admin)
        assert after and not set(after) & set(before)


@dataclass
class Load:
    """Client threads: each accepts its SMEs' licenses (retrying a 503 with the same
    Idempotency-Key, as a client should) with reads in between, then keeps reading until told
    to stop. Every answer is kept."""

    url: str
    declaration_id: int
    clients: list[list[tuple[dict[str, str], dict[str, Any]]]]
    answers: list[tuple[str, int, str, str]] = field(default_factory=list)
    accepted: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    failures: list[BaseException] = field(default_factory=list)

    def _send(self, what: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = requests.request(method, f"{self.url}{path}", timeout=60, **kwargs)
        code = ""
        if response.headers.get("Content-Type", "").startswith("application/json"):
            body = response.json()
            code = body.get("code", "") if isinstance(body, dict) else ""
        self.answers.append(
            (what, response.status_code, code, response.headers.get("Retry-After", ""))
        )
        return response

    def _client(self, work: list[tuple[dict[str, str], dict[str, Any]]]) -> None:
        try:
            for headers, body in work:
                while True:
                    response = self._send(
                        "acceptance", "POST", "/api/v1/licenses/", json=body, headers=headers
                    )
                    if response.status_code != 503:
                        break
                    time.sleep(0.05)  # a real client waits Retry-After; the test is in a hurry
                self.accepted.append((response.status_code, response.json()))
                for path in ("/api/v1/licenses/", f"/api/v1/declarations/{self.declaration_id}/"):
                    self._send("read", "GET", path, headers=headers)
            while not self.stop.is_set():
                headers = work[0][0]
                self._send("read", "GET", "/api/v1/licenses/", headers=headers)
                self._send("read", "GET", "/api/v1/me/", headers=headers)
        except BaseException as error:  # reported in the test's thread
            self.failures.append(error)

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._client, args=(work,)) for work in self.clients]
        for thread in threads:
            thread.start()
        return threads

    def unavailable(self) -> int:
        return sum(1 for _what, status, _code, _retry in self.answers if status == 503)


@pytest.mark.django_db(transaction=True)
def test_connections_terminated_under_load_answer_503_write_nothing_partial_then_succeed(
    app_server: Server,
) -> None:
    declaration, _patentee, _reviewer, licensees = _market(
        "断连负载大学", smes=CLIENTS * SMES_PER_CLIENT
    )
    work = [
        (
            _headers(User.objects.get(pk=user_id), key=f"terminated-{sme_id}"),
            accept_body(declaration, sme_id),
        )
        for user_id, sme_id in licensees
    ]
    load = Load(
        app_server.url,
        declaration.pk,
        [work[index::CLIENTS] for index in range(CLIENTS)],
    )
    terminated = 0
    with _admin_connection() as admin:
        threads = load.start()
        started = time.monotonic()
        # Terminate the server's backends every 0.25 s until requests in flight were hit a
        # few times and half the acceptances have their answer (at most 30 s); the rest are
        # answered after, on the connections the server opens again.
        while time.monotonic() - started < 30 and (
            load.unavailable() < 5 or len(load.accepted) < len(work) // 2
        ):
            terminated += _terminate_server_backends(admin)
            time.sleep(0.25)
        killing = time.monotonic() - started
        load.stop.set()
        for thread in threads:
            thread.join(timeout=120)
        assert not load.failures, load.failures

        # The first request after the last termination: a fresh connection, a 200.
        headers = work[0][0]
        after = [
            requests.get(f"{app_server.url}/api/v1/licenses/", headers=headers, timeout=30)
            for _request in range(2 * WORKERS)
        ]
        assert [response.status_code for response in after] == [200] * (2 * WORKERS)

    statuses = Counter((what, status, code, retry) for what, status, code, retry in load.answers)
    print(
        f"\n{terminated} server backends terminated over {killing:.1f} s under "
        f"{CLIENTS} clients: {dict(statuses)}"
    )
    # Never a 500: a request whose connection went away is a 503 the client may retry.
    assert set(statuses) <= {
        ("acceptance", 201, "", ""),
        ("acceptance", 503, "database_unavailable", "5"),
        ("read", 200, "", ""),
        ("read", 503, "database_unavailable", "5"),
    }, (statuses, app_server.log())
    assert load.unavailable() >= 1, "no request was in flight when its connection went away"
    # Each SME has its one license, the answer its first attempt or a retry got (a retry of a
    # request whose commit came before the termination replays that first answer).
    assert [status for status, _body in load.accepted] == [201] * len(work)
    licenses = License.objects.filter(declaration=declaration)
    assert sorted(body["id"] for _status, body in load.accepted) == sorted(
        licenses.values_list("pk", flat=True)
    )
    assert sorted(licenses.values_list("licensee_id", flat=True)) == sorted(
        sme_id for _user_id, sme_id in licensees
    )
    # Nothing half-written: every license has both its events and its one payment, and
    # nothing refers to a license that was rolled back.
    for license in licenses:
        assert sorted(
            LicenseEvent.objects.filter(license=license).values_list("verb", flat=True)
        ) == ["notice_sent", "took_effect"]
        assert LicensePayment.objects.filter(license=license).count() == 1
    assert LicenseEvent.objects.count() == 2 * len(work)
    assert LicensePayment.objects.count() == len(work)
    assert IdempotencyRecord.objects.count() == len(work)


def _terminate_own_connection() -> None:
    """The test's own connection is terminated by the server, as a failover would."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with _admin_connection() as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/", "/api/v1/me/", "/admin/"])
def test_a_connection_lost_before_any_view_runs_is_a_503_too(path: str) -> None:
    """The session and the user are read by middleware, before any view: the loss is met
    there, where neither the API's handler nor a view's process_exception sees it."""
    from django.db import connection
    from django.test import Client

    from tests.factories import UserFactory

    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.raise_request_exception = False
    client.force_login(UserFactory.create(is_staff=True))
    _terminate_own_connection()
    try:
        response = client.get(path)
    finally:
        connection.close()
    assert response.status_code == 503, response.content
    assert (response["Retry-After"], response.json()["code"]) == ("5", "database_unavailable")
    assert client.get(path).status_code in {200, 302}  # a new connection


# The message says what is true whether the connection went before the commit or after it
# (a later read, the answer): what was committed stays, the rest was rolled back. The schema's
# 503 says the same.
LOST_MESSAGES = {
    "en": (
        "The database connection was lost during the request; what it had not committed "
        "was rolled back. Try again shortly."
    ),
    "zh-hans": "请求期间与数据库的连接中断，尚未提交的部分已回滚。请稍后重试。",
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", sorted(LOST_MESSAGES))
@pytest.mark.parametrize("how", ["token", "session"])
def test_the_503_says_exactly_what_was_rolled_back_in_both_languages(
    language: str, how: str
) -> None:
    from django.db import connection
    from django.test import Client

    from marketplace.api.schema import DATABASE_UNAVAILABLE_DESCRIPTION
    from tests.conftest import client_for
    from tests.factories import UserFactory

    user = UserFactory.create(is_staff=True)
    client: Any
    if how == "token":  # lost in the API's authentication: DRF's exception handler
        client = client_for(user, language=language)
        client.raise_request_exception = False
        path = "/api/v1/me/"
    else:  # lost in the session middleware, before any view: Django's handlers
        client = Client(HTTP_ACCEPT_LANGUAGE=language)
        client.raise_request_exception = False
        client.force_login(user)
        path = "/admin/"
    _terminate_own_connection()
    try:
        response = client.get(path)
    finally:
        connection.close()
    assert (response.status_code, response["Retry-After"]) == (503, "5")
    assert response.json() == {
        "code": "database_unavailable",
        "detail": LOST_MESSAGES[language],
        "fields": {},
    }
    assert "what it had not committed was rolled back" in DATABASE_UNAVAILABLE_DESCRIPTION
    assert "nothing was changed" not in LOST_MESSAGES["en"]
