"""The one exception handler: every 4xx is {"code", "detail", "fields"}, translated."""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error

from marketplace.api.exceptions import PayloadTooLarge
from marketplace.errors import DomainError, Problem, problems_error

logger = logging.getLogger(__name__)

# DRF's own exceptions keep their codes, renamed where DRF's word is unclear to clients.
CODE_RENAMES = {
    "parse_error": "malformed_request",
    "not_authenticated": "not_authenticated",
    "authentication_failed": "authentication_failed",
    "permission_denied": "permission_denied",
    "not_found": "not_found",
    "method_not_allowed": "method_not_allowed",
    "not_acceptable": "not_acceptable",
    "unsupported_media_type": "unsupported_media_type",
    "throttled": "throttled",
}


def error_body(code: str, detail: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "detail": detail, "fields": fields or {}}


def flatten_errors(errors: Any, prefix: str = "") -> dict[str, list[dict[str, str]]]:
    """Turn DRF's nested error detail into {"a.b.0.c": [{"code", "message"}]}."""
    flat: dict[str, list[dict[str, str]]] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            flat.update(flatten_errors(value, path))
    elif isinstance(errors, list) and errors and not isinstance(errors[0], exceptions.ErrorDetail):
        for index, value in enumerate(errors):
            if value:
                flat.update(flatten_errors(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        items = errors if isinstance(errors, list) else [errors]
        flat[prefix or "non_field_errors"] = [
            {"code": getattr(item, "code", "invalid") or "invalid", "message": str(item)}
            for item in items
        ]
    return flat


def accepted_values(
    serializer: serializers.Serializer[Any], raw: Any, refused: set[str]
) -> dict[str, Any]:
    """The values of the fields a serializer accepted, each validated on its own."""
    values: dict[str, Any] = {}
    if not isinstance(raw, Mapping):  # a body that is not an object has no fields to keep
        return values
    for name, field in serializer.fields.items():
        if name in refused or field.read_only:
            continue
        try:
            values[name] = field.run_validation(raw.get(name, serializers.empty))
        except (serializers.ValidationError, serializers.SkipField):
            continue
    return values


def refuse_all_at_once(
    serializer: serializers.Serializer[Any],
    raw: Any,
    rules: Callable[[dict[str, Any], set[str]], Sequence[Problem]],
) -> NoReturn:
    """Raise a refused body's serializer errors together with the business rules the fields
    it accepted break, in one 400, so a user fixes everything in one round.

    `rules(values, refused)` gets the accepted fields' values and the refused top-level
    names; its problems on refused fields are dropped (those are reported already)."""
    if not isinstance(raw, Mapping):
        serializer.is_valid(raise_exception=True)
    errors = flatten_errors(serializer.errors)
    refused = {path.split(".")[0] for path in errors}
    problems = [
        problem
        for problem in rules(accepted_values(serializer, raw, refused), refused)
        if problem[0].split(".")[0] not in refused
    ]
    if not problems:
        serializer.is_valid(raise_exception=True)
    raise problems_error(
        problems,
        fields={
            path: [(item["code"], item["message"]) for item in items]
            for path, items in errors.items()
        },
    )


def _validation_response(detail: Any) -> Response:
    fields = flatten_errors(detail)
    non_field = fields.get("non_field_errors")
    if non_field and len(fields) == 1:
        first = non_field[0]
        return Response(
            error_body(first["code"], first["message"], fields), status=status.HTTP_400_BAD_REQUEST
        )
    return Response(
        error_body("invalid", _("The input is not valid; see the fields for details."), fields),
        status=status.HTTP_400_BAD_REQUEST,
    )


def _filled(message: Any, params: dict[str, Any]) -> str:
    """A field message with the error's %(name)s parameters filled in, as the detail has."""
    text = str(message)
    if params and "%(" in text:
        try:
            return text % params
        except (KeyError, ValueError, TypeError):
            return text
    return text


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map every exception a view raises to the error format; unknown errors stay 500s."""
    if isinstance(exc, DomainError):
        fields = {
            name: [
                {"code": item[0], "message": _filled(item[1], exc.params)}
                if isinstance(item, tuple)
                else {"code": exc.code, "message": _filled(item, exc.params)}
                for item in messages
            ]
            for name, messages in exc.fields.items()
        }
        return Response(error_body(exc.code, exc.render_message(), fields), status=exc.status_code)
    if isinstance(exc, exceptions.ValidationError):
        return _validation_response(exc.detail)
    if isinstance(exc, DjangoValidationError):
        return _validation_response(as_serializer_error(exc))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        # Django's own limit (DATA_UPLOAD_MAX_MEMORY_SIZE, set to API_MAX_BODY_BYTES), in MB
        # like the JSON parser's.
        return Response(
            error_body(
                "request_too_large",
                str(PayloadTooLarge(settings.DATA_UPLOAD_MAX_MEMORY_SIZE).detail),
            ),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    elif isinstance(exc, SuspiciousOperation):
        return Response(
            error_body("malformed_request", _("The request could not be understood.")),
            status=status.HTTP_400_BAD_REQUEST,
        )
    elif isinstance(exc, IntegrityError):
        # Services catch the races they expect; this is the net for one they did not.
        logger.warning("integrity error reached the API: %s", exc)
        return Response(
            error_body("conflict", _("The request conflicts with the current data; try again.")),
            status=status.HTTP_409_CONFLICT,
        )
    elif isinstance(exc, OperationalError | InterfaceError):
        return database_unavailable_response(exc)
    if not isinstance(exc, exceptions.APIException):
        return None
    headers: dict[str, str] = {}
    wait = getattr(exc, "wait", None) if isinstance(exc, exceptions.Throttled) else None
    if wait is not None:
        headers["Retry-After"] = str(int(wait) + 1)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        request = context.get("request")
        view = context.get("view")
        authenticate_header = view.get_authenticate_header(request) if view and request else None
        if authenticate_header:
            headers["WWW-Authenticate"] = authenticate_header
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    code = CODE_RENAMES.get(code, code)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.default_detail)
    if isinstance(exc, exceptions.Throttled):
        seconds = int(wait or 0) + 1
        # An hourly limit waits up to an hour: a person reads that in minutes, not 3392 seconds.
        if seconds > 120:
            detail = _("Too many requests; try again in %(minutes)d minutes.") % {
                "minutes": math.ceil((wait or 0) / 60)
            }
        else:
            detail = _("Too many requests; try again in %(seconds)d seconds.") % {
                "seconds": seconds
            }
    return Response(error_body(code, str(detail)), status=exc.status_code, headers=headers)


DATABASE_RETRY_AFTER_SECONDS = 5


def database_unavailable_body() -> dict[str, Any]:
    return error_body(
        "database_unavailable",
        # Exact whether the connection was lost before the commit or after it (a later read,
        # the answer): the schema's 503 says the same (marketplace/api/schema.py).
        _(
            "The database connection was lost during the request; what it had not committed "
            "was rolled back. Try again shortly."
        ),
    )


def database_unavailable_response(exc: Exception) -> Response:
    """A connection lost mid-request (terminated, failed over, restarted): the transaction in
    progress was rolled back by the server; one committed before the loss stays (a retry with
    the same Idempotency-Key replays an acceptance's first answer)."""
    logger.warning("database unavailable during a request: %s", exc)
    return Response(
        database_unavailable_body(),
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


class DatabaseUnavailableMiddleware:
    """The same 503 for a lost database connection outside the API (pages, admin)."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> JsonResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        return _database_unavailable_json(exception)


def _database_unavailable_json(exception: BaseException) -> JsonResponse:
    logger.warning("database unavailable during a request: %s", exception)
    response = JsonResponse(database_unavailable_body(), status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Django's 404 for URLs no view matched, in the API's error format."""
    return JsonResponse(error_body("not_found", _("Not found.")), status=404)


def json_server_error(request: HttpRequest) -> JsonResponse:
    """Django's 500 for what nothing else handled. A database connection lost outside any view
    (the session and its user are read by middleware, before the view and its handlers) is
    the same 503 as inside one: Django calls this while the exception is being handled."""
    error = sys.exc_info()[1]
    if isinstance(error, OperationalError | InterfaceError):
        return _database_unavailable_json(error)
    return JsonResponse(
        error_body("server_error", _("Something went wrong on our side; it has been logged.")),
        status=500,
    )


def json_bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(
        error_body("malformed_request", _("The request could not be understood.")), status=400
    )
