"""Real outside parts for integration tests: a Celery worker process and an SMTP sink.

The worker is a separate `celery worker` process on the real Redis broker, using the test
database, so tests that use it must commit their data (transactional tests).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import requests
from aiosmtpd.controller import Controller
from django.conf import settings

from marketplace.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SmtpSink:
    """An SMTP server standing in for the outside mail system; it keeps what it receives."""

    port: int
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted"

    def wait_for(self, to: str, timeout: float = 30.0, subject_contains: str = "") -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages:
                if message["To"] == to and subject_contains in (message["Subject"] or ""):
                    return message
            time.sleep(0.1)
        raise AssertionError(f"no mail to {to} within {timeout}s; got {len(self.messages)}")


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


def _database_url() -> str:
    db = settings.DATABASES["default"]
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@dataclass
class Server:
    """A gunicorn server of the test's own."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-20000:]


def start_gunicorn(
    database_url: str,
    log_path: Path,
    workers: int = 2,
    environment: dict[str, str] | None = None,
) -> Server:
    """gunicorn (sync workers, as in the Dockerfile) on `database_url`, connections kept for
    60 s between requests as in production; returns once every worker has answered."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url,
        "DATABASE_CONN_MAX_AGE": "60",
        "DEBUG": "false",
        **(environment or {}),
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "marketplace.wsgi:application",
                f"--bind=127.0.0.1:{port}",
                f"--workers={workers}",
                "--timeout=60",
                "--access-logfile=-",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + 90
    while True:
        assert process.poll() is None and time.monotonic() < deadline, server.log()
        try:
            # The first answer of each worker loads the URL configuration (seconds).
            if requests.get(f"{server.url}/api/v1/", timeout=30).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.2)
    return server


def stop_gunicorn(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@dataclass
class WorkerProcess:
    nodename: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_worker(
    log_path: Path, smtp_port: int, queues: str = "default,import,index,match"
) -> WorkerProcess:
    """A `celery worker` subprocess on the test database; returns once it answers a ping."""
    nodename = f"test-{uuid.uuid4().hex[:8]}@localhost"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _database_url(),
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "DATABASE_CONN_MAX_AGE": "0",
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "marketplace",
                "worker",
                "--pool=solo",
                f"--queues={queues}",
                "--without-gossip",
                "--without-mingle",
                f"--hostname={nodename}",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    worker = WorkerProcess(nodename, process, log_path)
    deadline = time.monotonic() + 60
    while not celery_app.control.ping(destination=[nodename], timeout=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"Celery worker did not start:\n{worker.log()}")
    return worker


def stop_worker(worker: WorkerProcess) -> None:
    worker.process.terminate()
    try:
        worker.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        worker.process.kill()
        worker.process.wait()


@pytest.fixture(scope="module")
def celery_worker_process(
    django_db_setup: None, smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """Start `celery worker` for a test module, on every queue, against the test database.

    Module-scoped on purpose: a worker left running would pick up the tasks other
    transactional tests enqueue and hold locks while their database is flushed (deadlock).
    """
    celery_app.control.purge()
    worker = start_worker(tmp_path_factory.mktemp("celery") / "worker.log", smtp_sink.port)
    yield worker
    celery_app.control.purge()
    stop_worker(worker)
