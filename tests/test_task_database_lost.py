"""A task whose database connection goes away while it runs is sent again (issue 15:
PostgreSQL restarted under a worker); a query's own failure is not (marketplace/celery.py).
The restart itself, with a real worker, is tests/test_database_restart.py."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.db import InterfaceError, OperationalError

from marketplace.celery import app, database_lost

attempts: list[int] = []


def _django_error(cause: Exception) -> OperationalError:
    error = OperationalError(str(cause))
    error.__cause__ = cause  # as Django's DatabaseErrorWrapper raises it
    return error


FAILURES: dict[str, Exception] = {
    "terminated": _django_error(psycopg.errors.AdminShutdown("terminating connection")),
    "crashed": _django_error(psycopg.errors.CrashShutdown("crash of another server process")),
    "starting": _django_error(psycopg.errors.CannotConnectNow("the database system is starting")),
    "refused": _django_error(psycopg.OperationalError("connection refused")),
    "closed": InterfaceError("connection already closed"),
    "cancelled": _django_error(psycopg.errors.QueryCanceled("statement timeout")),
    "deadlock": _django_error(psycopg.errors.DeadlockDetected("deadlock detected")),
    "lock": _django_error(psycopg.errors.LockNotAvailable("could not obtain lock")),
}
LOST = {"terminated", "crashed", "starting", "refused", "closed"}


@app.task(bind=True, name="tests.fails_once")
def fails_once(self: Any, failure: str) -> str:
    attempts.append(self.request.retries)
    if len(attempts) == 1:
        raise FAILURES[failure]
    return "done"


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_only_a_lost_connection_counts_as_lost(failure: str) -> None:
    assert database_lost(FAILURES[failure]) is (failure in LOST)


@pytest.mark.parametrize("failure", sorted(LOST))
def test_a_task_that_lost_its_database_is_sent_again(failure: str) -> None:
    attempts.clear()
    assert fails_once.apply((failure,)).get() == "done"
    assert attempts == [0, 1]  # the task's own request (retries) inside the body


@pytest.mark.parametrize("failure", sorted(set(FAILURES) - LOST))
def test_a_query_that_failed_on_its_own_is_not_sent_again(failure: str) -> None:
    attempts.clear()
    result = fails_once.apply((failure,))
    assert result.failed() and isinstance(result.result, OperationalError)
    assert attempts == [0]


def test_a_plain_call_in_process_raises_as_before() -> None:
    attempts.clear()
    with pytest.raises(OperationalError):
        fails_once("terminated")
    assert attempts == [0]
