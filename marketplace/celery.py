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
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from marketplace import unreachable

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
    broker = str(app.conf.broker_url or "")
    if unreachable.is_down(broker):
        # A publish failed moments ago (refused, or no answer within REDIS_SOCKET_TIMEOUT):
        # trying again would hold this request for nothing; the outbox sends it later.
        logger.error("the broker was unreachable just now: %s%r kept, not sent", send, args)
        _keep_unsent(send, args)
        return
    try:
        send(*args)
    except Exception as error:
        # Whatever the failure (kombu's OperationalError, a Redis error, a timeout), the data
        # is committed: the answer stands, and the calls are kept for publish_unsent_tasks.
        if isinstance(error, KombuOperationalError | RedisError | OSError):
            unreachable.mark_down(broker)
        logger.exception("the broker could not be reached after commit: %s%r not sent", send, args)
        _keep_unsent(send, args)


def _keep_unsent(send: Callable[..., object], args: tuple[object, ...]) -> None:
    from marketplace.models import UnsentTask

    task = getattr(send, "__self__", None)
    if send is publish_each:
        each, calls = args
        rows = [UnsentTask(target=each.name, args=list(call)) for call in calls]  # type: ignore[attr-defined]
    elif task is not None and getattr(send, "__name__", "") == "delay":
        rows = [UnsentTask(target=task.name, args=list(args))]
    else:
        rows = [UnsentTask(target=f"{send.__module__}:{send.__qualname__}", args=list(args))]
    try:
        UnsentTask.objects.bulk_create(rows)
    except Exception:
        logger.exception("the unsent calls could not be kept either: %r", rows)


def publish_unsent(limit: int = 500) -> int:
    """Publish again, oldest first, the calls the broker could not take after commit; each is
    deleted once sent. The tasks are idempotent, so one sent twice does no harm."""
    from importlib import import_module

    from marketplace.models import UnsentTask

    sent = failures = 0
    for row in UnsentTask.objects.order_by("created_at", "id")[:limit]:
        try:
            if ":" in row.target:
                module, name = row.target.split(":", 1)
                getattr(import_module(module), name)(*row.args)
            else:
                app.tasks[row.target].apply_async(row.args)
        except Exception:
            logger.warning("unsent %s still not sent", row, exc_info=True)
            UnsentTask.objects.filter(pk=row.pk).update(attempts=row.attempts + 1)
            failures += 1
            if failures == 3:
                break  # the broker is still away: the next sweep tries again
            continue
        UnsentTask.objects.filter(pk=row.pk).delete()
        sent += 1
    return sent
