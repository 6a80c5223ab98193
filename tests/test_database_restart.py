"""PostgreSQL itself restarted under load (issue 15), with gunicorn and a real Celery worker.

The machine's shared PostgreSQL is never restarted: the test starts a cluster of its own
(initdb into a temporary directory, trust authentication, a free port), copies the test
database into it, and points this process, the server and the worker at it. While clients
send acceptances and new patents, it is restarted with `pg_ctl restart -m fast` (backends
told to stop, a checkpoint) and once with `-m immediate` (every process killed at once, crash
recovery from the WAL, as after a power cut of the database process).

Every answer is a 2xx or the 503 `database_unavailable` with Retry-After; nothing is
half-written; every 2xx's effect is there after the restarts; the next requests succeed; the
worker keeps working and every notification, mail and search vector is delivered.

`make test` runs one fast and one immediate restart (DB_RESTARTS=2: about 30 s of CPU in all,
the server's and worker's start included); `make test-outage` runs 6 (DB_RESTARTS=6).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from django.db import connection, connections
from rest_framework.authtoken.models import Token

from licensing.models import IdempotencyRecord, License, LicenseEvent, LicensePayment
from marketplace.celery import app as celery_app
from marketplace.models import Notification, OutboundEmail, Patent, PatentEvent, PatentVector, User
from tests.factories import application_number
from tests.live import (
    Server,
    SmtpSink,
    _database_url,
    free_port,
    start_gunicorn,
    start_worker,
    stop_gunicorn,
    stop_worker,
)
from tests.test_faults import _market
from tests.test_licenses import accept_body


def _server_binaries() -> Path:
    """PG_BIN, or the newest PostgreSQL installed the Debian way (its pg_dump reads the
    shared server too)."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _server_binaries()
# Restarts during the load, alternating fast and immediate (the first is fast).
RESTARTS = int(os.environ.get("DB_RESTARTS", "2"))
CLIENTS = 4
ACCEPTANCES_PER_CLIENT = 2 + 2 * RESTARTS
PATENTS_PER_CLIENT = 1 + RESTARTS
RETRY_SECONDS = 0.1  # a real client waits Retry-After (5 s); the test is in a hurry

pytestmark = pytest.mark.skipif(
    not (PG_BIN / "initdb").exists(), reason=f"no PostgreSQL server binaries in {PG_BIN}"
)


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own, restarted at will.

    `fsync=off` only skips flushing to disk, which matters when the machine itself crashes: a
    killed database process (`-m immediate`) still finds every commit in the WAL, written
    before the commit was answered.
    """

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="pg-restart-"))
        self.data = self.directory / "data"
        self.port = free_port()
        # initdb and postgres refuse to run as root: as root (CI), the cluster is postgres'.
        self.owner = "postgres" if os.geteuid() == 0 else ""
        if self.owner:
            self.directory.chmod(0o755)
            shutil.chown(self.directory, self.owner)
        self.options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c max_connections=40"
        )

    def _run(self, program: str, *args: str) -> None:
        command = [str(PG_BIN / program), *args]
        if self.owner:
            command = ["runuser", "-u", self.owner, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (command, done.stdout, done.stderr)

    def start(self) -> None:
        self._run(
            "initdb",
            f"--pgdata={self.data}",
            "--auth=trust",
            "--username=postgres",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log_path),
            "-w",
            "-o",
            self.options,
            "start",
        )

    @property
    def log_path(self) -> Path:
        return self.directory / "postgres.log"

    def restart(self, mode: str) -> float:
        """`pg_ctl restart -m mode`; returns the seconds until it accepts connections again."""
        started = time.monotonic()
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log_path),  # without a log file the server keeps the pipe open
            "-w",
            "-m",
            mode,
            "-o",
            self.options,
            "restart",
        )
        return time.monotonic() - started

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def copy_database(self, settings_dict: dict[str, Any]) -> None:
        """The test database (migrated by pytest-django on the shared server) into this one."""
        name = settings_dict["NAME"]
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        env = {**os.environ, "PGPASSWORD": settings_dict.get("PASSWORD") or ""}
        dump = subprocess.Popen(
            [
                str(PG_BIN / "pg_dump"),
                f"--host={settings_dict['HOST'] or '127.0.0.1'}",
                f"--port={settings_dict['PORT'] or 5432}",
                f"--username={settings_dict['USER']}",
                "--no-owner",
                name,
            ],
            stdout=subprocess.PIPE,
            env=env,
        )
        restore = subprocess.run(
            [
                str(PG_BIN / "psql"),
                "--quiet",
                "--no-psqlrc",
                "--set=ON_ERROR_STOP=1",
                "--host=127.0.0.1",
                f"--port={self.port}",
                "--username=postgres",
                f"--dbname={name}",
            ],
            stdin=dump.stdout,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert dump.stdout is not None
        dump.stdout.close()
        assert dump.wait(timeout=60) == 0
        assert restore.returncode == 0, restore.stderr


@pytest.fixture
def private_postgres(
    transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PrivatePostgres]:
    """This process (and the server and worker it starts) on a PostgreSQL of the test's own;
    the shared one is left as it was (pytest-django flushes it after the test as usual)."""
    cluster = PrivatePostgres()
    cluster.start()
    try:
        settings_dict = connection.settings_dict  # the same dict as settings.DATABASES
        cluster.copy_database(settings_dict)
        connections.close_all()
        monkeypatch.setitem(settings_dict, "HOST", "127.0.0.1")
        monkeypatch.setitem(settings_dict, "PORT", str(cluster.port))
        monkeypatch.setitem(settings_dict, "PASSWORD", "")
        try:
            yield cluster
        finally:
            connections.close_all()
    finally:
        cluster.stop()


@dataclass
class Item:
    what: str  # "acceptance" or "patent"
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    key: str  # the SME's id or the patent's application number


@dataclass
class Final:
    item: Item
    status: int
    body: dict[str, Any]
    attempts: int


@dataclass
class Load:
    """Client threads, each sending its items one after the other; a 503 is sent again (an
    acceptance with the same Idempotency-Key) until it gets another answer. Every answer is
    kept."""

    url: str
    clients: list[list[Item]]
    answers: list[tuple[str, int, str, str]] = field(default_factory=list)
    finals: list[Final] = field(default_factory=list)
    failures: list[BaseException] = field(default_factory=list)

    def _client(self, work: list[Item]) -> None:
        try:
            for item in work:
                attempts = 0
                while True:
                    attempts += 1
                    response = requests.post(
                        f"{self.url}{item.path}", json=item.body, headers=item.headers, timeout=60
                    )
                    body = response.json()
                    code = body.get("code", "") if isinstance(body, dict) else ""
                    self.answers.append(
                        (
                            item.what,
                            response.status_code,
                            code,
                            response.headers.get("Retry-After", ""),
                        )
                    )
                    if response.status_code != 503 or attempts >= 200:
                        break
                    time.sleep(RETRY_SECONDS)
                self.finals.append(Final(item, response.status_code, body, attempts))
        except BaseException as error:  # reported in the test's thread
            self.failures.append(error)

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._client, args=(work,)) for work in self.clients]
        for thread in threads:
            thread.start()
        return threads

    def done(self) -> int:
        return len(self.finals)


def _headers(user: User, key: str = "") -> dict[str, str]:
    token, _created = Token.objects.get_or_create(user=user)
    headers = {"Authorization": f"Token {token.key}", "Accept-Language": "en"}
    if key:
        headers["Idempotency-Key"] = key
    return headers


def _patent_body(organisation: int, serial: int) -> dict[str, Any]:
    return {
        "organisation": organisation,
        "application_number": application_number(2022, "1", 700 + serial),
        "title": f"一种重启时登记的固态电解质{serial}",
        "abstract": "本发明涉及一种硫化物固态电解质。",
        "main_ipc": "H01M 10/0562",
        "filing_date": "2022-05-10",
        "grant_date": "2024-08-01",
    }


def _wait_until(condition: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.mark.django_db(transaction=True)
def test_postgresql_restarted_under_load_answers_2xx_or_503_and_loses_nothing(
    private_postgres: PrivatePostgres, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    began = time.monotonic()
    declaration, patentee, _reviewer, licensees = _market(
        "重启大学", smes=CLIENTS * ACCEPTANCES_PER_CLIENT
    )
    print(f"\nmarket made in {time.monotonic() - began:.1f} s")
    acceptances = [
        Item(
            "acceptance",
            "/api/v1/licenses/",
            _headers(User.objects.get(pk=user_id), key=f"restart-{sme_id}"),
            accept_body(declaration, sme_id),
            str(sme_id),
        )
        for user_id, sme_id in licensees
    ]
    owner_headers = _headers(patentee)
    patents = [
        Item("patent", "/api/v1/patents/", owner_headers, body, body["application_number"])
        for body in (
            _patent_body(declaration.organisation_id, serial)
            for serial in range(CLIENTS * PATENTS_PER_CLIENT)
        )
    ]
    # Each client alternates: two acceptances, one patent.
    clients: list[list[Item]] = [[] for _client in range(CLIENTS)]
    for index in range(CLIENTS):
        mine = acceptances[index::CLIENTS]
        theirs = patents[index::CLIENTS]
        while mine or theirs:
            clients[index].extend(mine[:2])
            clients[index].extend(theirs[:1])
            mine, theirs = mine[2:], theirs[1:]
    total = len(acceptances) + len(patents)

    celery_app.control.purge()
    began = time.monotonic()
    # The server and the worker start side by side (each takes seconds to import).
    servers: list[Server] = []
    starting = threading.Thread(
        target=lambda: servers.append(
            # The search warm-up is not what is tested here, and costs seconds.
            start_gunicorn(
                _database_url(),
                tmp_path / "gunicorn.log",
                workers=2,
                environment={"SEARCH_WARM_UP": "false"},
            )
        )
    )
    starting.start()
    try:
        worker = start_worker(tmp_path / "worker.log", smtp_sink.port)
    finally:
        starting.join(timeout=120)
    assert servers, (tmp_path / "gunicorn.log").read_text(errors="replace")[-5000:]
    server = servers[0]
    print(f"\nworker and server up in {time.monotonic() - began:.1f} s")
    load = Load(server.url, clients)
    downtime: list[tuple[str, float]] = []
    try:
        threads = load.start()
        started = time.monotonic()
        for restart in range(RESTARTS):
            mode = "fast" if restart % 2 == 0 else "immediate"
            # Each restart comes once a further share of the items has its answer, so that
            # requests are in flight at every one of them.
            _wait_until(
                lambda restart=restart: (
                    load.done() >= total * (restart + 1) // (RESTARTS + 2) or load.failures
                ),
                "the load made no progress",
                timeout=120,
            )
            downtime.append((mode, private_postgres.restart(mode)))
        for thread in threads:
            thread.join(timeout=180)
        loaded = time.monotonic() - started
        assert not load.failures, load.failures
        connections.close_all()  # this process's own connection went with the restarts too

        # The next requests, on the connections the server opens again, succeed.
        after = [
            requests.get(f"{server.url}/api/v1/licenses/", headers=owner_headers, timeout=30)
            for _request in range(4)
        ]
        assert [response.status_code for response in after] == [200] * 4, server.log()

        statuses = Counter(load.answers)
        print(
            f"\n{RESTARTS} restarts ({', '.join(f'{m} {s:.1f} s' for m, s in downtime)}) "
            f"under {CLIENTS} clients over {loaded:.1f} s: {dict(statuses)}"
        )
        # Only 2xx or the 503 a client may send again; a patent whose first attempt's COMMIT
        # went through as its connection went away meets itself on the retry (409
        # patent_exists: patents take no Idempotency-Key). Its answer is read inside the
        # transaction, so a loss while it is read rolls it back (that was 1-3 in 12 before).
        retried_patents = {
            final.item.key: final for final in load.finals if final.item.what == "patent"
        }
        assert set(statuses) <= {
            ("acceptance", 201, "", ""),
            ("acceptance", 503, "database_unavailable", "5"),
            ("patent", 201, "", ""),
            ("patent", 503, "database_unavailable", "5"),
            ("patent", 409, "patent_exists", ""),
        }, (statuses, server.log())
        assert sum(1 for answer in load.answers if answer[1] == 503) >= 1, (
            "no request was in flight or sent while the database was away"
        )
        assert len(load.finals) == total

        # Every 2xx's effect is there after the restarts, and nothing else: each SME has the
        # one license its answer names, with both events and its one payment.
        finals = {(final.item.what, final.item.key): final for final in load.finals}
        licenses = License.objects.filter(declaration=declaration)
        assert sorted(licenses.values_list("licensee_id", flat=True)) == sorted(
            sme_id for _user_id, sme_id in licensees
        )
        for license in licenses:
            final = finals["acceptance", str(license.licensee_id)]
            assert (final.status, final.body["id"]) == (201, license.pk), final
            assert sorted(
                LicenseEvent.objects.filter(license=license).values_list("verb", flat=True)
            ) == ["notice_sent", "took_effect"]
            assert LicensePayment.objects.filter(license=license).count() == 1
        assert LicenseEvent.objects.filter(license__declaration=declaration).count() == 2 * len(
            acceptances
        )
        assert IdempotencyRecord.objects.filter(key__startswith="restart-").count() == len(
            acceptances
        )
        # Each patent once, with its one creation event; a 201 names it, or (its commit came
        # just before the loss) the retry's 409 does.
        for item in patents:
            patent = Patent.objects.get(application_number=item.key)
            final = retried_patents[item.key]
            if final.status == 201:
                assert final.body["id"] == patent.pk
            else:
                assert (final.status, final.attempts > 1) == (409, True), final
            assert list(
                PatentEvent.objects.filter(patent=patent).values_list("verb", flat=True)
            ) == [PatentEvent.Verb.CREATED]
        assert (
            Patent.objects.filter(owner=declaration.organisation_id).count() == len(patents) + 1
        )  # and the declared one

        # The worker went on through the restarts: every license's notification, every
        # patent's vector and every queued mail is delivered, without beat's sweeps.
        sources = {
            f"license_event:{pk}"
            for pk in LicenseEvent.objects.filter(
                license__declaration=declaration, verb="took_effect"
            ).values_list("pk", flat=True)
        }
        _wait_until(
            lambda: set(Notification.objects.values_list("source", flat=True)) >= sources,
            f"notifications missing:\n{worker.log()[-8000:]}",
        )
        numbers = [item.key for item in patents]
        _wait_until(
            lambda: (
                PatentVector.objects.filter(patent__application_number__in=numbers).count()
                == len(numbers)
            ),
            f"vectors missing:\n{worker.log()[-8000:]}",
        )
        _wait_until(
            lambda: not OutboundEmail.objects.exclude(status="sent").exists(),
            f"mail not sent: {list(OutboundEmail.objects.values_list('status', flat=True))}"
            f"\n{worker.log()[-8000:]}",
        )
        for email in OutboundEmail.objects.values_list("to_email", flat=True):
            smtp_sink.wait_for(email, timeout=30)
        assert worker.process.poll() is None, worker.log()
        delivered = time.monotonic() - started - loaded
        print(
            f"{len(sources)} notifications, {len(numbers)} vectors and "
            f"{OutboundEmail.objects.count()} mails delivered {delivered:.1f} s after the load"
        )
    finally:
        stop_gunicorn(server)
        stop_worker(worker)
        celery_app.control.purge()
