"""Pagination: cursor pagination everywhere a list can grow (no COUNT(*) per request)."""

from __future__ import annotations

from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """Newest first by default; views with another natural order set `ordering`."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-created_at"
