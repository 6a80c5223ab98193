"""HTTP caching of anonymous public reads (register, search, patent detail, reference data,
statistics): a strong ETag and Last-Modified with conditional requests answered 304, a short
shared-cache lifetime with stale-while-revalidate, and a server-side body cache in Redis.

Invalidation is by generation: every cached body is stored under the generation current when it
was rendered, and any write to public data (an announcement, a withdrawal, a patent edit, an
import) bumps the generation once its transaction commits, so the next request renders afresh.
The bump waits for the commit: a request that read the new generation before the commit could
otherwise render the old rows and store them as new. A request that rendered before the bump
stores under the old generation, which nobody reads any more.

Logged-in users (a token, or a session) are never served from or stored in the body cache; their
responses say `private`, since what they see depends on who they are."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseNotModified
from django.utils.http import http_date, parse_http_date_safe
from redis.exceptions import RedisError

# The anonymous reads this caches (the register's CSV/JSON export streams and is not cached).
PUBLIC_PATHS = re.compile(
    r"^/api/v1/(?:"
    r"register/(?:OL[0-9]{11}/)?"
    r"|search/patents/"
    r"|patents/(?:[0-9]+/(?:declarations/)?)?"
    r"|organisations/(?:[0-9]+/)?"
    r"|reference/[a-z-]+/(?:[^/]+/)?"
    r"|statistics/(?:[a-z0-9/-]*)"
    r")$"
)
GENERATION_KEY = "public-cache:generation"
CHANGED_KEY = "public-cache:changed"
# Response headers a cached body is replayed with (the outer middleware add the rest).
KEPT_HEADERS = ("Content-Type", "Content-Language", "Vary", "Allow")


def is_public_path(path: str) -> bool:
    return PUBLIC_PATHS.match(path) is not None


def _cache_control(seconds: int) -> str:
    return (
        f"public, max-age={seconds}, stale-while-revalidate={settings.PUBLIC_CACHE_STALE_SECONDS}"
    )


def _bump() -> None:
    try:
        try:
            cache.incr(GENERATION_KEY)
        except ValueError:  # no counter yet (or evicted): any new value invalidates
            cache.set(GENERATION_KEY, time.time_ns(), timeout=None)
        # Last-Modified has one-second resolution: two changes in the same second must still
        # give the second one a later date, or If-Modified-Since would hide it.
        previous = cache.get(CHANGED_KEY) or 0
        cache.set(CHANGED_KEY, max(int(time.time()), int(previous) + 1), timeout=None)
    except RedisError:
        # The body cache is unusable without Redis; requests pass through while it is down.
        pass


def public_cache_invalidate() -> None:
    """Public data changed: bump the generation once the current transaction commits."""
    transaction.on_commit(_bump)


def _on_change(sender: type[models.Model], **kwargs: Any) -> None:
    public_cache_invalidate()


def invalidate_on_change(*watched: type[models.Model]) -> None:
    """Any save or delete of these models invalidates the public cache (apps' ready())."""
    for model in watched:
        uid = f"public-cache:{model._meta.label}"
        post_save.connect(_on_change, sender=model, dispatch_uid=f"{uid}:save")
        post_delete.connect(_on_change, sender=model, dispatch_uid=f"{uid}:delete")


def _is_anonymous(request: HttpRequest) -> bool:
    # A token is authenticated by DRF inside the view; its header alone marks the caller.
    if "HTTP_AUTHORIZATION" in request.META:
        return False
    return not request.user.is_authenticated


def _etag_matches(header: str, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2)."""
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def _key(request: HttpRequest, generation: Any) -> str:
    language = getattr(request, "LANGUAGE_CODE", "")
    accept = request.META.get("HTTP_ACCEPT", "")
    digest = hashlib.sha256(
        "\n".join([request.get_full_path(), accept, language]).encode()
    ).hexdigest()
    return f"public-cache:{generation}:{digest}"


def _entry(response: HttpResponse, last_modified: int) -> dict[str, Any]:
    body = response.content
    return {
        "body": body,
        "etag": '"' + hashlib.sha256(body).hexdigest()[:40] + '"',
        "last_modified": last_modified,
        "headers": {name: response[name] for name in KEPT_HEADERS if response.has_header(name)},
    }


def _not_modified(request: HttpRequest, entry: dict[str, Any]) -> bool:
    if_none_match = request.META.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None:  # takes precedence over If-Modified-Since
        return _etag_matches(if_none_match, entry["etag"])
    since = parse_http_date_safe(request.META.get("HTTP_IF_MODIFIED_SINCE", ""))
    return since is not None and entry["last_modified"] <= since


def _respond(request: HttpRequest, entry: dict[str, Any], seconds: int) -> HttpResponse:
    response: HttpResponse
    if _not_modified(request, entry):
        response = HttpResponseNotModified()
        if "Vary" in entry["headers"]:
            response["Vary"] = entry["headers"]["Vary"]
    else:
        response = HttpResponse(entry["body"])
        for name, value in entry["headers"].items():
            response[name] = value
    response["ETag"] = entry["etag"]
    response["Last-Modified"] = http_date(entry["last_modified"])
    response["Cache-Control"] = _cache_control(seconds)
    return response


def _cacheable(response: HttpResponseBase) -> bool:
    return (
        isinstance(response, HttpResponse)
        and response.status_code == 200
        and not response.cookies
        and response.get("Content-Type", "").startswith("application/json")
    )


class PublicCacheMiddleware:
    """Serves anonymous GETs of PUBLIC_PATHS from the body cache, with validators and 304s.

    Listed last in MIDDLEWARE, so every other middleware (security headers, language, frame
    options) still runs for a cached answer. PUBLIC_CACHE_SECONDS=0 turns it off."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        seconds: int = settings.PUBLIC_CACHE_SECONDS
        if (
            not seconds
            or request.method not in ("GET", "HEAD")
            or not is_public_path(request.path_info)
        ):
            return self.get_response(request)
        if not _is_anonymous(request):
            response = self.get_response(request)
            response["Cache-Control"] = "private, no-cache"
            return response
        try:
            return self._cached(request, seconds)
        except RedisError:
            return self.get_response(request)

    def _cached(self, request: HttpRequest, seconds: int) -> HttpResponseBase:
        state = cache.get_many([GENERATION_KEY, CHANGED_KEY])
        key = _key(request, state.get(GENERATION_KEY, 0))
        entry = cache.get(key)
        if entry is None:
            response = self.get_response(request)
            if not _cacheable(response):
                return response
            assert isinstance(response, HttpResponse)
            entry = _entry(response, state.get(CHANGED_KEY) or int(time.time()))
            cache.set(key, entry, timeout=settings.PUBLIC_CACHE_SERVER_SECONDS)
        return _respond(request, entry, seconds)


def document_not_modified(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the cached public reads may answer 304, and accept
    If-None-Match / If-Modified-Since."""
    conditional: Iterable[dict[str, Any]] = (
        {
            "name": "If-None-Match",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "An ETag from an earlier answer: 304 when it still matches.",
        },
        {
            "name": "If-Modified-Since",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "An HTTP date: 304 when nothing changed since (without If-None-Match).",
        },
    )
    for path, operations in result.get("paths", {}).items():
        if not is_public_path(_example_path(path)):
            continue
        operation = operations.get("get")
        if operation is None:
            continue
        operation.setdefault("parameters", [])
        known = {(p.get("name"), p.get("in")) for p in operation["parameters"]}
        operation["parameters"] += [p for p in conditional if (p["name"], "header") not in known]
        operation.setdefault("responses", {})["304"] = {
            "description": "Not modified: the cached copy named by If-None-Match or "
            "If-Modified-Since is current (anonymous requests only)."
        }
    return result


def _example_path(template: str) -> str:
    """A concrete path for a schema path template: /api/v1/patents/{id}/ → /api/v1/patents/1/."""
    return re.sub(
        r"\{([^}]+)\}",
        lambda match: "OL00000000000" if match.group(1) == "number" else "1",
        template,
    )
