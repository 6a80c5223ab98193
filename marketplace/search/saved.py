"""Saved searches and the search engine: a saved query as search parameters, and whether one
patent is among its hits (what an alert asks when a declaration is announced).

An alert reuses search_patents restricted to that one patent, never a second matcher. It asks
the strict form (every term, its parts or synonyms, and every filter) and leaves out search by
meaning: the nearest neighbours of a query always exist (in a corpus of a few thousand
patents nearly every one passes the similarity floor), so as a yes/no test they would alert on
nearly every announcement; and the shared vector index learns of a new patent only after the
`index` queue embedded it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marketplace.models import Patent
from marketplace.search.numbers import patent_by_number
from marketplace.search.query import SearchParams, search_patents

DECIMAL_KEYS = ("max_upfront_cny", "max_royalty_rate")


def stored_query(values: dict[str, Any]) -> dict[str, Any]:
    """Validated search parameters as JSON (decimals as strings; empty values left out)."""
    stored: dict[str, Any] = {}
    for key, value in values.items():
        if value in (None, "", []):
            continue
        stored[key] = str(value) if isinstance(value, Decimal) else value
    return stored


def search_params(query: dict[str, Any], **overrides: Any) -> SearchParams:
    values = {
        key: value for key, value in query.items() if key in SearchParams.__dataclass_fields__
    }
    for key in DECIMAL_KEYS:
        if values.get(key) is not None:
            values[key] = Decimal(values[key])
    return SearchParams(**{**values, **overrides})


def query_finds_patent(query: dict[str, Any], patent_id: int) -> bool:
    """Whether the saved `query` finds the listed patent `patent_id` (at most two statements)."""
    base = Patent.objects.filter(pk=patent_id, is_listed=True)
    params = search_params(query, by_meaning=False, strict=True)
    lookup = patent_by_number(base=base, text=params.q)
    if lookup is not None:  # a number names one patent: it is this one or not
        return lookup.patent is not None
    result = search_patents(base, params)
    if result.count is not None:
        return result.count > 0
    return bool(len(result.queryset[:1]))
