"""Servers this process found unreachable a moment ago, skipped for a few seconds.

Each Redis client of a request waits at most REDIS_SOCKET_TIMEOUT for an answer. A Redis that
hangs (accepts connections, never answers) would still cost that much per call, and a request
makes several (throttle read and write, two or three publishes, the public cache's
generation): a second or more each. So the first failed call marks the server (host and port,
shared by the cache and the broker on it) and for REDIS_RETRY_AFTER_SECONDS every client skips
it at once: the cache answers as empty, a publish goes straight to the outbox
(`UnsentTask`). The first call after that tries the server again.

Per process and without a lock: two threads that both try once more do no harm.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from django.conf import settings

_down_until: dict[str, float] = {}


def server_of(url: str) -> str:
    """`host:port` of a redis://, rediss:// (or any network) URL; a unix socket's path."""
    parts = urlsplit(url)
    if parts.scheme == "unix" or not parts.hostname:
        return parts.path
    return f"{parts.hostname}:{parts.port or 6379}"


def is_down(url: str) -> bool:
    """Whether a call to this server failed less than REDIS_RETRY_AFTER_SECONDS ago."""
    return _down_until.get(server_of(url), 0.0) > time.monotonic()


def mark_down(url: str) -> None:
    """A call to this server could not connect or got no answer in time."""
    _down_until[server_of(url)] = time.monotonic() + settings.REDIS_RETRY_AFTER_SECONDS


def forget() -> None:
    """Try every server again at the next call (tests that restart one)."""
    _down_until.clear()
