"""The Celery application; queues: default, import, index, match. And the one way the project
sends work to it from a transaction: publish_after_commit."""

import logging
import os
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from celery import Celery
from celery import Task as CeleryTask
from django.db import InterfaceError, OperationalError, connections, transaction
from kombu import Queue
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from marketplace import unreachable

logger = logging.getLogger(__name__)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

# A task whose database connection went away under it (PostgreSQL restarted, failed over, its
# backend terminated) is sent again after 1, 2, 4 ... 60 s, about 5 minutes in all: without
# this the task was lost (a notification, a vector, a match list) until a beat sweep, if any,
# found what it had left undone. tests/test_database_restart.py restarts PostgreSQL under a
# real worker.
DATABASE_LOST_RETRIES = 10
DATABASE_LOST_MAX_COUNTDOWN = 60


# SQLSTATEs of a connection going away: connection exceptions (08...), and the server shutting
# down, crashed or starting up (57P01-57P03). Not a query cancelled (57014) nor a deadlock.
_CONNECTION_LOST_STATES = ("08", "57P01", "57P02", "57P03")


def database_lost(error: BaseException) -> bool:
    """The error is the connection's loss, not a query's own failure (a deadlock, a timeout,
    a constraint). A client-side error (refused, closed, no answer) carries no SQLSTATE."""
    if isinstance(error, InterfaceError):
        return True
    if not isinstance(error, OperationalError):
        return False
    state = getattr(error.__cause__, "sqlstate", None)
    return state is None or state.startswith(_CONNECTION_LOST_STATES)


class Task(CeleryTask):
    """Every task of the project: sent again when the database went away while it ran."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.request.called_directly:  # a plain call in this process: no worker's request
            return super().__call__(*args, **kwargs)
        # A worker (or apply()) has pushed the task's request already: run the body under it,
        # as Celery does for a task without a __call__ of its own.
        try:
            return self.run(*args, **kwargs)
        except (OperationalError, InterfaceError) as error:
            if not database_lost(error):
                raise
            for conn in connections.all():
                conn.close_if_unusable_or_obsolete()
            retries = self.request.retries
            logger.warning(
                "%s lost its database connection (%s): sent again, retry %d",
                self.name,
                error,
                retries + 1,
            )
            raise self.retry(
                exc=error,
                countdown=min(DATABASE_LOST_MAX_COUNTDOWN, 2**retries),
                max_retries=max(DATABASE_LOST_RETRIES, self.max_retries or 0),
            ) from error


app = Celery("marketplace", task_cls=Task)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in ("default", "import", "index", "match")]
app.autodiscover_tasks()


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
