"""Request parsers with a hard body-size limit (DRF's JSON parser reads bodies of any size)."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from marketplace.api.exceptions import PayloadTooLarge


def _declared_length(parser_context: Mapping[str, Any] | None) -> int | None:
    request = (parser_context or {}).get("request")
    raw = request.META.get("CONTENT_LENGTH") if request is not None else None
    try:
        return int(raw) if raw else None
    except (TypeError, ValueError):
        return None


class LimitedJSONParser(JSONParser):
    """JSON, refused with 413 past API_MAX_BODY_BYTES whether or not Content-Length says so."""

    def parse(
        self,
        stream: IO[Any] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = settings.API_MAX_BODY_BYTES
        declared = _declared_length(parser_context)
        if declared is not None and declared > limit:
            raise PayloadTooLarge(limit)
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise PayloadTooLarge(limit)
        try:
            return super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError as error:  # "[[[[…" thousands deep blows the decoder's stack
            raise ParseError(_("JSON nested too deeply.")) from error
        except ParseError as error:  # DRF's text quotes the decoder's English message
            cause = error.__cause__ or error.__context__
            if isinstance(cause, json.JSONDecodeError):
                raise ParseError(
                    _("The body is not valid JSON (line %(line)d, column %(column)d).")
                    % {"line": cause.lineno, "column": cause.colno}
                ) from error
            raise ParseError(_("The body is not valid JSON.")) from error
