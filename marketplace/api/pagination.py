"""Pagination: cursor pagination everywhere a list can grow (no COUNT(*) per request)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, pagination
from rest_framework.request import Request

from marketplace.errors import InvalidInput


def invalid_cursor() -> InvalidInput:
    return InvalidInput(
        "invalid_cursor",
        _("The cursor is not one this list gave out; start again from the first page."),
        fields={"cursor": [_("Not a valid cursor.")]},
    )


class CursorPagination(pagination.CursorPagination):
    """Newest first by default; views with another natural order set `ordering`.

    A cursor the list did not give out is a 400 invalid_cursor (DRF answers 404, which reads
    as "the list does not exist"), also when it decodes but names a position of the wrong type.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-created_at"

    def decode_cursor(self, request: Request) -> Any:
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound as error:
            raise invalid_cursor() from error

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValueError, TypeError, DjangoValidationError) as error:
            # The position is compared with the ordering column before any SQL runs.
            if request.query_params.get(self.cursor_query_param) is None:
                raise
            raise invalid_cursor() from error
