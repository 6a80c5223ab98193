"""Patent page views and search impressions, counted without storing who looked (issue 18).

A request adds to a per-day Redis hash (`HINCRBY`, one round trip, no database write); the
beat task `flush_patent_counters` moves the sums into PatentDailyCount. The counting happens
in `PatentCounterMiddleware`, which wraps the public HTTP cache: an anonymous answer replayed
from the cache (or a 304) is still a view.

A flush first renames the day's hash to a claimed key (new counts go to a fresh hash at once),
then adds the claimed sums to the table and deletes the claim inside the same database
transaction's lock: a second flusher waits on the advisory lock and then finds the claim gone.
If the database commit fails after the claim was deleted, that batch's counts are lost; we
prefer losing a minute of counts to counting them twice.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

import redis
from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from redis.exceptions import RedisError

from marketplace import unreachable

logger = logging.getLogger(__name__)

PREFIX = "patent-counts"
CLAIMED_PREFIX = "patent-counts-claimed"
# A day's hash outlives a week of failed flushes, then Redis drops it by itself.
KEEP_SECONDS = 8 * 24 * 3600
VIEW = "v"
IMPRESSION = "i"
_LOCK_ID = 18_0002  # pg_advisory_xact_lock key: one flush at a time
DETAIL_PATH = re.compile(r"^/api/v1/patents/([0-9]{1,18})/$")
SEARCH_PATH = "/api/v1/search/patents/"

_clients: dict[str, redis.Redis] = {}


def _client() -> redis.Redis:
    url: str = settings.REDIS_URL
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(
            url,
            socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
            socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
            decode_responses=True,
        )
    return _clients[url]


def _day_key(day: date) -> str:
    return f"{PREFIX}:{day.isoformat()}"


def count(kind: str, patent_ids: Iterable[int], day: date | None = None) -> None:
    """Add one view or impression to each patent for the day (default: today); dropped with
    a warning while Redis is away, never an error for the request."""
    fields = [f"{kind}:{patent_id}" for patent_id in patent_ids]
    if not fields:
        return
    key = _day_key(day or timezone.localdate())
    if unreachable.is_down(settings.REDIS_URL):
        return  # a call failed just now: not another timeout for this request
    try:
        pipeline = _client().pipeline(transaction=False)
        for field in fields:
            pipeline.hincrby(key, field, 1)
        pipeline.expire(key, KEEP_SECONDS)
        pipeline.execute()
    except RedisError as error:
        if isinstance(error, redis.ConnectionError | redis.TimeoutError):
            unreachable.mark_down(settings.REDIS_URL)
        logger.warning("patent counts dropped, Redis unreachable: %s", error)


def pending() -> dict[tuple[int, date], list[int]]:
    """What Redis holds and no flush has moved yet: (patent, day) → [views, impressions]."""
    sums: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0])
    client = _client()
    for pattern in (f"{PREFIX}:*", f"{CLAIMED_PREFIX}:*"):
        for key in client.scan_iter(pattern):
            _add(sums, _key_day(str(key)), client.hgetall(key))
    return dict(sums)


def _key_day(key: str) -> date:
    return date.fromisoformat(key.split(":")[1])


def _add(sums: dict[tuple[int, date], list[int]], day: date, fields: Mapping[Any, Any]) -> None:
    for field, value in fields.items():
        kind, _, patent_id = str(field).partition(":")
        if not patent_id.isascii() or not patent_id.isdigit():
            continue
        slot = 0 if kind == VIEW else 1
        sums[(int(patent_id), day)][slot] += int(value)


def _claim_all(client: redis.Redis) -> None:
    for key in list(client.scan_iter(f"{PREFIX}:*")):
        claimed = f"{CLAIMED_PREFIX}:{_key_day(str(key)).isoformat()}:{uuid.uuid4().hex}"
        try:
            client.rename(key, claimed)
        except redis.ResponseError:  # gone meanwhile (another flusher claimed it)
            continue


_UPSERT = """
INSERT INTO marketplace_patentdailycount (patent_id, day, views, search_impressions)
SELECT patent_id, day, views, impressions
FROM unnest(%s::bigint[], %s::date[], %s::integer[], %s::integer[])
    AS counted(patent_id, day, views, impressions)
WHERE EXISTS (SELECT 1 FROM marketplace_patent p WHERE p.id = counted.patent_id)
ON CONFLICT (patent_id, day) DO UPDATE SET
    views = marketplace_patentdailycount.views + EXCLUDED.views,
    search_impressions = marketplace_patentdailycount.search_impressions
        + EXCLUDED.search_impressions
"""


def counters_flush() -> int:
    """Move every count in Redis into PatentDailyCount; returns the (patent, day) rows
    written. A patent deleted meanwhile loses its counts."""
    client = _client()
    _claim_all(client)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_ID])
        sums: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0])
        claims = [str(key) for key in client.scan_iter(f"{CLAIMED_PREFIX}:*")]
        for claim in claims:
            _add(sums, _key_day(claim), client.hgetall(claim))
        if sums:
            keys = sorted(sums)
            with connection.cursor() as cursor:
                cursor.execute(
                    _UPSERT,
                    [
                        [patent_id for patent_id, _ in keys],
                        [day for _, day in keys],
                        [sums[key][0] for key in keys],
                        [sums[key][1] for key in keys],
                    ],
                )
        if claims:
            client.delete(*claims)
    return len(sums)


def _hit_ids(response: HttpResponse) -> list[int]:
    try:
        body = json.loads(response.content)
    except ValueError:
        return []
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list):
        return []
    return [
        hit["id"] for hit in results if isinstance(hit, dict) and isinstance(hit.get("id"), int)
    ]


class PatentCounterMiddleware:
    """Counts a patent page view for each answered GET of /api/v1/patents/{id}/ (200 or 304)
    and an impression for each patent on an answered search page. Listed just before the
    public cache, so answers the cache replays are counted too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if request.method != "GET":
            return response
        path = request.path_info
        detail = DETAIL_PATH.match(path)
        if detail and response.status_code in (200, 304):
            _count_when_sent(response, VIEW, [int(detail.group(1))])
        elif (
            path == SEARCH_PATH
            and response.status_code == 200
            and isinstance(response, HttpResponse)
            and response.get("Content-Type", "").startswith("application/json")
        ):
            # The search view names its hits (an answer the public cache replays does not).
            shown = getattr(response, "shown_patent_ids", None)
            _count_when_sent(response, IMPRESSION, _hit_ids(response) if shown is None else shown)
        return response


def _count_when_sent(response: HttpResponseBase, kind: str, patent_ids: list[int]) -> None:
    """Count when the server closes the response, after its body went out: the Redis round trip
    is no part of the user's wait (the WSGI server, and Django's test client, call close())."""
    response._resource_closers.append(lambda: count(kind, patent_ids))  # type: ignore[attr-defined]
