"""The Redis cache, degrading to "nothing cached" while Redis cannot be reached.

The cache holds nothing that is not kept elsewhere (throttle counters, rendered public
answers and their generation): a Redis outage must not turn requests into 500s. While it lasts,
reads miss, writes are dropped and throttles therefore let requests through. A call waits at
most REDIS_SOCKET_TIMEOUT (settings); the first one that fails logs a warning and marks the
server down (marketplace/unreachable.py), and the calls of the next REDIS_RETRY_AFTER_SECONDS
answer at once without trying, so a Redis that hangs costs a request one timeout at most.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from marketplace import unreachable

logger = logging.getLogger(__name__)

Result = TypeVar("Result")

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)


class ResilientRedisCache(RedisCache):
    """Django's Redis cache; a call that cannot reach Redis answers as an empty cache."""

    @property
    def _parent(self) -> Any:
        return super()

    @property
    def _server(self) -> str:
        return str(self._servers[0])  # type: ignore[attr-defined]  # set by RedisCache

    def _degrade(self, call: Callable[[], Result], fallback: Result, name: str) -> Result:
        if unreachable.is_down(self._server):
            return fallback
        try:
            return call()
        except UNREACHABLE as error:
            unreachable.mark_down(self._server)
            logger.warning("cache %s skipped, Redis unreachable: %s", name, error)
            return fallback

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        """No fallback makes sense for a counter: while Redis is away this raises Redis'
        ConnectionError at once (callers already handle RedisError)."""
        if unreachable.is_down(self._server):
            raise RedisConnectionError(f"skipped, {self._server} was unreachable just now")
        try:
            return int(self._parent.incr(key, delta, version))
        except UNREACHABLE:
            unreachable.mark_down(self._server)
            raise

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._degrade(lambda: self._parent.get(key, default, version), default, "get")

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        return self._degrade(lambda: self._parent.get_many(keys, version), {}, "get_many")

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._degrade(lambda: self._parent.has_key(key, version), False, "has_key")

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        self._degrade(lambda: self._parent.set(key, value, timeout, version), None, "set")

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        return self._degrade(lambda: self._parent.add(key, value, timeout, version), False, "add")

    def set_many(
        self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[Any]:
        return self._degrade(
            lambda: self._parent.set_many(data, timeout, version), list(data), "set_many"
        )

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._degrade(lambda: self._parent.touch(key, timeout, version), False, "touch")

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._degrade(lambda: self._parent.delete(key, version), False, "delete")

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        self._degrade(lambda: self._parent.delete_many(keys, version), None, "delete_many")

    def clear(self) -> None:
        self._degrade(lambda: self._parent.clear(), None, "clear")
