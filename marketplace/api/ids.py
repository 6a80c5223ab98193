"""Ids in paths and query strings: one converter, ASCII digits only.

`int()` takes "²"-free Unicode digits ("١" is 1) and `str.isdigit()` takes "²" that `int()`
refuses, so neither is applied to raw input anywhere: routes match ids with ID_REGEX, views read
path ids with path_id and query ids with query_id. A bad path id is a 404, a bad query id a 400
with the code invalid_id. Routes take at most 18 digits, so every id that routes fits a bigint.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.urls import register_converter
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from rest_framework.routers import SimpleRouter

from marketplace.errors import InvalidInput, NotFound

# [0-9] in a str pattern is the ASCII range only (\d would take every Unicode digit).
ID_REGEX = "[0-9]{1,18}"
_ID = re.compile(ID_REGEX)
MAX_ID = 2**63 - 1  # PostgreSQL bigint


def parse_id(value: object) -> int | None:
    """The id written in `value` (ASCII digits, within bigint), or None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_ID else None
    if not isinstance(value, str) or not _ID.fullmatch(value):
        return None
    number = int(value)
    return number if number <= MAX_ID else None


def path_id(value: object) -> int:
    """An id from the URL path; anything else is a 404 like an id that does not exist."""
    number = parse_id(value)
    if number is None:
        raise NotFound()
    return number


def query_id(params: Mapping[str, Any], name: str) -> int | None:
    """An optional id from the query string: None when absent or empty, 400 when not an id."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    number = parse_id(raw)
    if number is None:
        raise InvalidInput(
            "invalid_id",
            _("%(name)s must be an id (digits 0-9)."),
            fields={name: [_("Not an id.")]},
            params={"name": name},
        )
    return number


class IdFilter(filters.CharFilter):
    """A django-filter filter on an id column, taking ASCII digits only (400 invalid_id)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("strip", False)  # " " is not an id, not an absent filter
        super().__init__(*args, **kwargs)

    def filter(self, qs: Any, value: Any) -> Any:
        if value in (None, ""):
            return qs
        names = [name for name, each in getattr(self.parent, "filters", {}).items() if each is self]
        name = names[0] if names else str(self.field_name)
        return super().filter(qs, query_id({name: value}, name))


class IdConverter:
    """The <id:name> path converter: ID_REGEX, read as an int."""

    regex = ID_REGEX

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int | str) -> str:
        return str(value)


register_converter(IdConverter, "id")


class IdRouterMixin:
    """A router whose detail routes take ASCII-digit ids unless the viewset says otherwise
    (DRF's default lookup [^/.]+ lets "١", "²" and "abc" reach the view)."""

    def get_lookup_regex(self, viewset: Any, lookup_prefix: str = "") -> str:
        lookup_field = getattr(viewset, "lookup_field", "pk")
        lookup_url_kwarg = getattr(viewset, "lookup_url_kwarg", None) or lookup_field
        lookup_value = getattr(viewset, "lookup_value_regex", ID_REGEX)
        return f"(?P<{lookup_prefix}{lookup_url_kwarg}>{lookup_value})"


class IdRouter(IdRouterMixin, SimpleRouter):
    """SimpleRouter with ASCII-digit ids."""
