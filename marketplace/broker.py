"""kombu's Redis transport, with one fix: a worker that loses Redis while it holds
unacknowledged messages reconnects instead of dying.

Celery 5.7 handles a lost broker connection by collecting the connection (which drops the
transport's link to its settings) and then closing it; closing the default channel tries to
put the unacknowledged messages back, which needs those settings, and raises AttributeError
("'NoneType' object has no attribute 'hostname'"). That is not a connection error, so the
worker stopped with "Unrecoverable error" instead of reconnecting (found by the outage test,
tests/test_redis_outage.py). Here the channel says "connection error" instead, which the
close ignores; the messages are not lost, Redis gives them back after the visibility timeout
if it kept them (and an outage that lost them is what the outbox and the sweeps cover).
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection.client is None:
            raise RedisConnectionError("the broker connection was already collected")
        return super()._connparams(asynchronous)  # type: ignore[misc]  # not in the stubs


class Transport(kombu_redis.Transport):
    Channel = Channel
