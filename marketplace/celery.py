"""The Celery application; queues: default, import, index, match. And the one way the project
sends work to it from a transaction: publish_after_commit."""

import logging
import os
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from celery import Celery
from django.db import transaction
from kombu import Queue
from kombu.exceptions import OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

app = Celery("marketplace")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in ("default", "import", "index", "match")]
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


def publish_after_commit(send: Callable[..., object], *args: object) -> None:
    """Call `send(*args)` (a task's `delay`, or a function that publishes) once the current
    transaction commits.

    By then the data is committed, so a broker that cannot be reached must not turn the answer
    into a server error: the failure is logged and the request goes on. The beat sweeps pick
    up what they cover (mail left queued, events' notifications, stale imports and match runs,
    the nightly re-match).
    """
    transaction.on_commit(partial(_publish, send, args))


def publish_each(task: Any, calls: Iterable[tuple[object, ...]]) -> None:
    """Send `task` once for each tuple of arguments, over one broker connection."""
    with task.app.producer_or_acquire() as producer:
        for args in calls:
            task.apply_async(args, producer=producer)


def _publish(send: Callable[..., object], args: tuple[object, ...]) -> None:
    try:
        send(*args)
    except OperationalError:
        name = getattr(getattr(send, "__self__", None), "name", getattr(send, "__name__", send))
        logger.exception("the broker could not be reached after commit: %s%r not sent", name, args)
