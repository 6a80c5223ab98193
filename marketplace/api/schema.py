"""The OpenAPI schema: an AutoSchema that documents what each operation really answers, and
token authentication first in Swagger UI's Authorize dialog."""

from __future__ import annotations

import builtins
from typing import Any

from drf_spectacular import openapi
from drf_spectacular.plumbing import ResolvedComponent, force_instance

TOKEN_DESCRIPTION = (
    "Get a key with POST /api/v1/auth/token/ (e-mail and password), then paste "
    "`Token <key>` here: the word Token, one space, the key "
    "(e.g. `Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b`). "
    "Swagger UI sends the value as the Authorization header exactly as typed."
)
COOKIE_DESCRIPTION = (
    "The session cookie of a browser logged in at /login/ (or the admin); "
    "Swagger UI cannot set it, log in in the same browser instead."
)


def token_auth_first(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Put tokenAuth before cookieAuth (spectacular sorts them by name) and explain both."""
    schemes = result.get("components", {}).get("securitySchemes")
    if schemes:
        ordered = {name: schemes[name] for name in ("tokenAuth", "cookieAuth") if name in schemes}
        ordered.update({k: v for k, v in schemes.items() if k not in ordered})
        if "tokenAuth" in ordered:
            ordered["tokenAuth"]["description"] = TOKEN_DESCRIPTION
        if "cookieAuth" in ordered:
            ordered["cookieAuth"]["description"] = COOKIE_DESCRIPTION
        result["components"]["securitySchemes"] = ordered
    return result


# ---- responses as the API gives them -------------------------------------------------------

ERROR_COMPONENT = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "Every 4xx answer, and the 503 `database_unavailable`: a stable code, a message in the "
        "request's language and, for input errors, the fields at fault (dotted paths for "
        "nested input) with their own codes."
    ),
    "properties": {
        "code": {"type": "string", "example": "invalid"},
        "detail": {"type": "string", "example": "The input is not valid; see the fields."},
        "fields": {
            "type": "object",
            "additionalProperties": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                    "required": ["code", "message"],
                },
            },
            "example": {"email": [{"code": "required", "message": "This field is required."}]},
        },
    },
    "required": ["code", "detail", "fields"],
}
ERROR_DESCRIPTIONS = {
    400: "Invalid input, or a business rule refuses it (see `code` and `fields`)",
    401: "Not logged in, or the token is unknown or revoked",
    403: "Logged in but not allowed to do this (or a cookie request without its CSRF token)",
    404: "Does not exist, or is not visible to you",
    409: "Conflicts with the current state (someone else changed it, or it already exists)",
    413: "The request body is larger than the limit",
    415: "The request body's content type is not one this operation accepts",
    429: "Too many requests; retry after the Retry-After header's seconds",
}
ERROR_STATUSES = frozenset(ERROR_DESCRIPTIONS)
# Every operation reads the database (a token, a queryset, reference data): a connection lost
# mid-request (terminated, failed over, restarted) answers this, rolled back and safe to retry
# (marketplace/api/errors.py). An operation that documents a 503 of its own keeps it (/healthz).
DATABASE_UNAVAILABLE_STATUS = 503
DATABASE_UNAVAILABLE_DESCRIPTION = (
    "`database_unavailable`: the database connection was lost during the request (what it had "
    "not committed was rolled back); send it again after the Retry-After header's seconds"
)
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Permission classes that never refuse a logged-in user (anything else may answer 403).
_LENIENT_PERMISSIONS = frozenset({"AllowAny", "IsAuthenticated", "IsAuthenticatedOrReadOnly"})
# The view helpers looked into: ours, not DRF's (get_object filters and checks, but a detail
# route neither paginates nor takes the list's filters), and never a builtin like list().
_PROJECT_PACKAGES = frozenset({"marketplace", "licensing", "matching"})
_BUILTINS = frozenset(dir(builtins))


def _code_names(function: Any) -> frozenset[str]:
    code = getattr(getattr(function, "__func__", function), "__code__", None)
    return frozenset(code.co_names) if code is not None else frozenset()


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, made to tell the truth about each operation:

    - error responses (one shared `Error` component) only where the API can answer them
      (and 503 `database_unavailable` on every operation: each reads the database): 400
      with input (a body, query parameters) or a command; 401 wherever a token is read; 403 for
      commands, permission classes that can refuse and handlers that raise PermissionDenied;
      404 with a path id or a handler that raises NotFound; 409 for commands; 413 and 415 with
      a body; 429 with throttles. What a view declares for these codes is replaced.
    - a list is paginated in the schema only where its handler paginates, and takes filter
      parameters only where it filters; other `many=True` answers are plain arrays.
    - request bodies of strict input serializers (unknown fields refused) say
      `additionalProperties: false`.
    """

    def _handler(self) -> Any:
        name = getattr(self.view, "action", None) or self.method.lower()
        return getattr(self.view, name, None)

    def _handler_names(self) -> frozenset[str]:
        """Names the handler uses, and those of the view's own methods it calls (one level)."""
        names = _code_names(self._handler())
        for name in names - _BUILTINS:
            method = getattr(type(self.view), name, None)
            module = getattr(method, "__module__", None) or ""
            if callable(method) and module.partition(".")[0] in _PROJECT_PACKAGES:
                names |= _code_names(method)
        return names

    def _get_paginator(self) -> Any:
        if "paginate_queryset" not in self._handler_names():
            return None
        return super()._get_paginator()

    def get_filter_backends(self) -> list[Any]:
        if "filter_queryset" not in self._handler_names():
            return []
        return list(super().get_filter_backends())

    def _map_serializer(
        self, serializer: Any, direction: Any, bypass_extensions: bool = False
    ) -> Any:
        from marketplace.api.serializers import StrictInputSerializer

        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(force_instance(serializer), StrictInputSerializer):
            schema["additionalProperties"] = False
        return schema

    def get_operation(self, *args: Any, **kwargs: Any) -> Any:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = {
            code: response
            for code, response in operation["responses"].items()
            if int(code) not in ERROR_STATUSES
        }
        for status_code in sorted(self.error_statuses(operation)):
            responses[str(status_code)] = self._error_response(status_code)
        responses.setdefault(
            str(DATABASE_UNAVAILABLE_STATUS), self._error_response(DATABASE_UNAVAILABLE_STATUS)
        )
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def error_statuses(self, operation: dict[str, Any]) -> set[int]:
        """The error statuses this operation can answer."""
        names = self._handler_names()
        parameters = operation.get("parameters", [])
        has_body = "requestBody" in operation
        is_command = self.method in UNSAFE
        authenticators = self.view.get_authenticators()
        statuses: set[int] = set()
        if has_body or is_command or any(p["in"] == "query" for p in parameters):
            statuses.add(400)
        if authenticators:
            statuses.add(401)
        permissions = {type(p).__name__ for p in self.view.get_permissions()}
        if (
            is_command
            or permissions - _LENIENT_PERMISSIONS
            or "PermissionDenied" in names
            or ("NotAuthenticated" in names and not authenticators)
        ):
            statuses.add(403)
        if (
            is_command
            or any(p["in"] == "path" for p in parameters)
            or names
            & {
                "NotFound",
                "get_object",
                "get_object_or_404",
            }
        ):
            statuses.add(404)
        if is_command:
            statuses.add(409)
        if has_body:
            statuses |= {413, 415}
        if self.view.get_throttles():
            statuses.add(429)
        return statuses

    def _error_response(self, status_code: int) -> dict[str, Any]:
        component = ResolvedComponent(
            name=ERROR_COMPONENT,
            type=ResolvedComponent.SCHEMA,
            schema=ERROR_SCHEMA,
            object=ERROR_COMPONENT,
        )
        self.registry.register_on_missing(component)
        description = (
            DATABASE_UNAVAILABLE_DESCRIPTION
            if status_code == DATABASE_UNAVAILABLE_STATUS
            else ERROR_DESCRIPTIONS[status_code]
        )
        response: dict[str, Any] = {
            "description": description,
            "content": {"application/json": {"schema": component.ref}},
        }
        if status_code in (429, DATABASE_UNAVAILABLE_STATUS):
            response["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}
            }
        return response
