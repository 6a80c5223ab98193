"""`make run`'s set-up on a fresh database: the services check, database creation, migrations
and demo data (`make demo`, everything but the foreground servers), then every address
`make run` prints answers from a server on that database."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from psycopg import sql

from tests.live import ROOT, free_port


def _get(url: str) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, headers={"Accept": "text/html,application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """The name of a database that does not exist yet; dropped afterwards."""
    db = settings.DATABASES["default"]
    name = f"makerun_{uuid.uuid4().hex[:8]}"
    host, port, user = db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432), db["USER"]
    password = db.get("PASSWORD") or ""
    params = {"host": host, "port": port, "user": user, "password": password or None}
    yield f"postgres://{user}{':' + password if password else ''}@{host}:{port}/{name}"
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def test_make_runs_set_up_on_a_fresh_database_and_every_printed_address_answers(
    fresh_database: str,
) -> None:
    test_redis = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        "DATABASE_URL": fresh_database,
        "REDIS_URL": f"{test_redis}/13",  # no worker listens here: health says so
        "CACHE_KEY_PREFIX": "makerun",
        "EMAIL_URL": "consolemail://",
    }
    setup = subprocess.run(
        ["make", "-s", "demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "Created database" in setup.stdout

    printed = subprocess.run(
        ["make", "-s", "urls"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    urls = re.findall(r"http://127\.0\.0\.1:8000\S*", printed)
    assert [url.removeprefix("http://127.0.0.1:8000") for url in urls] == [
        "/",
        "/api/v1/",
        "/api/v1/docs/",
        "/api/v1/redoc/",
        "/api/v1/schema/",
        "/admin/",
        "/healthz",
    ]

    port = free_port()
    server = subprocess.Popen(
        [".venv/bin/python", "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(base + "/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.3)
        answers = {url: _get(url.replace("http://127.0.0.1:8000", base)) for url in urls}
        register = json.loads(_get(base + "/api/v1/register/?format=json")[2])
    finally:
        server.terminate()
        server.wait(timeout=15)

    statuses = {url.removeprefix("http://127.0.0.1:8000"): a[0] for url, a in answers.items()}
    assert statuses == {
        "/": 200,
        "/api/v1/": 200,
        "/api/v1/docs/": 200,
        "/api/v1/redoc/": 200,
        "/api/v1/schema/": 200,
        "/admin/": 200,  # the log-in page it redirects to
        "/healthz": 503,  # no Celery worker runs in this test
    }
    health = json.loads(answers["http://127.0.0.1:8000/healthz"][2])
    assert {name: check["ok"] for name, check in health["checks"].items()} == {
        "database": True,
        "redis": True,
        "celery": False,
    }
    # No Accept-Language and nobody logged in: the service speaks Chinese (LANGUAGE_CODE)
    assert b'<html lang="zh-hans">' in answers["http://127.0.0.1:8000/"][2]
    assert len(register["results"]) == 5  # the demo's announced declarations


def test_the_services_script_starts_a_stopped_redis() -> None:
    port = free_port()
    env = {**os.environ, "REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    started = subprocess.run(
        [".ci/start-services"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    try:
        assert started.returncode == 0, started.stderr
        assert started.stdout == f"starting Redis on port {port}\n"
        ping = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True)
        assert ping.stdout == b"PONG\n"
    finally:
        subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True)


def test_the_services_script_says_in_one_line_what_to_install(tmp_path: Path) -> None:
    """With neither a Redis server running nor one installed (a PATH without it)."""
    for tool in ("bash", "seq", "sleep", "ls", "sort", "tail", "mkdir", "pg_isready"):
        found = shutil.which(tool)
        if found:
            (tmp_path / tool).symlink_to(found)
    env = {
        **os.environ,
        "PATH": str(tmp_path),
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
    }
    refused = subprocess.run(
        [str(tmp_path / "bash"), ".ci/start-services"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"Redis is not running on 127.0.0.1:{env['REDIS_URL'].split(':')[2].split('/')[0]} nor "
        "installed: install it (apt-get install redis-server) or run `docker compose up`."
    ]
