"""The one point where services hand work to Celery: by task name, after commit.

House style: services never import tasks. Tasks import the services they run, so a service
that imported a task (even inside a function) would close a cycle. A service names the task
instead (its Celery name, which is its dotted path: `"marketplace.tasks.send_email"`) and the
task is looked up here when the work is sent. A name that is not a task fails at that moment,
loudly, in the service's own test.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.module_loading import import_string

from marketplace.celery import publish_after_commit, publish_each


def task(name: str) -> Any:
    """The Celery task called `name` (its dotted path)."""
    found = import_string(name)
    if not hasattr(found, "delay"):
        raise TypeError(f"{name} is not a Celery task")
    return found


def after_commit(name: str, *args: object) -> None:
    """Send the task `name` with `args` once the current transaction commits (a broker that
    cannot be reached then keeps the call for the outbox sweep: marketplace/celery.py)."""
    publish_after_commit(task(name).delay, *args)


def each_after_commit(name: str, calls: Iterable[tuple[object, ...]]) -> None:
    """Send the task `name` once per tuple of arguments, over one broker connection, once the
    current transaction commits."""
    publish_after_commit(publish_each, task(name), list(calls))


def each_now(name: str, calls: Iterable[tuple[object, ...]]) -> None:
    """Send the task `name` once per tuple of arguments now, over one broker connection (for
    work that already runs after commit: a task, or a callback published after commit)."""
    publish_each(task(name), calls)
