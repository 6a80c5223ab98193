"""Patent search: segmented full text (AND first, OR as fallback), filters, ranking, facets.

Measured pitfalls (architecture.md): ranking every hit of a broad OR query costs ~1 s at 1M
documents, so at most RANK_CAP matching rows are ranked; generic words are dropped at
segmentation. Filters are indexed columns (IPC prefixes in a GIN-indexed array).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Substr
from django.utils import timezone

from marketplace.models import Patent
from marketplace.search.segment import query_tokens

RANK_CAP = 2000

# industry code → IPC prefixes; registered by the matching app, which owns the IPC↔GB/T 4754
# concordance (marketplace must not import it). None until registered: no industry filter.
IndustryResolver = Callable[[str], list[str]]
_industry_resolver: IndustryResolver | None = None


def register_industry_resolver(resolver: IndustryResolver) -> None:
    global _industry_resolver
    _industry_resolver = resolver


def ipc_prefixes_for_industry(code: str) -> list[str] | None:
    return _industry_resolver(code) if _industry_resolver else None


FACET_CAP = 20_000


@dataclass
class SearchParams:
    q: str = ""
    ipc: list[str] = field(default_factory=list)
    patent_type: list[str] = field(default_factory=list)
    owner_kind: list[str] = field(default_factory=list)
    region: str = ""
    min_remaining_years: int | None = None
    payment_method: list[str] = field(default_factory=list)
    industry: str = ""
    max_upfront_cny: Decimal | None = None
    max_royalty_rate: Decimal | None = None
    sort: str = "relevance"


@dataclass
class SearchResult:
    queryset: QuerySet[Patent]
    tokens: list[str]
    mode: str  # "and", "or", or "none" (no text query)
    facets: dict[str, list[dict[str, Any]]]


def _filtered(base: QuerySet[Patent], params: SearchParams, today: date) -> QuerySet[Patent]:
    queryset = base
    for prefix in params.ipc:
        queryset = queryset.filter(ipc_prefixes__contains=[prefix])
    if params.patent_type:
        queryset = queryset.filter(patent_type__in=params.patent_type)
    if params.owner_kind:
        queryset = queryset.filter(owner__kind__in=params.owner_kind)
    if params.region:
        code = params.region
        if code.endswith("0000"):
            queryset = queryset.filter(owner__region__code__startswith=code[:2])
        elif code.endswith("00"):
            queryset = queryset.filter(owner__region__code__startswith=code[:4])
        else:
            queryset = queryset.filter(owner__region__code=code)
    if params.industry:
        prefixes = ipc_prefixes_for_industry(params.industry) or []
        queryset = queryset.filter(ipc_prefixes__overlap=prefixes) if prefixes else queryset.none()
    if params.payment_method:
        queryset = queryset.filter(listed_payment_method__in=params.payment_method)
    if params.max_upfront_cny is not None:
        queryset = queryset.filter(listed_upfront_cny__lte=params.max_upfront_cny)
    if params.max_royalty_rate is not None:
        # A declaration without a running royalty has no rate: it passes this filter.
        queryset = queryset.filter(
            Q(listed_royalty_rate__isnull=True)
            | Q(listed_royalty_rate__lte=params.max_royalty_rate)
        )
    if params.min_remaining_years is not None:
        queryset = queryset.filter(
            expiry_date__gte=today + relativedelta(years=params.min_remaining_years)
        )
    return queryset


def search_patents(base: QuerySet[Patent], params: SearchParams) -> SearchResult:
    """Search within `base` (already restricted to what the caller may see).

    The text search runs once: it fetches the ids of at most RANK_CAP matches (a bitmap scan
    of the GIN index, no sort), and ranking, the page, the count and the facets all work on
    those ids. Measured at 1M patents, re-running the match for each of them cost seconds.
    """
    today = timezone.localdate()
    filtered = _filtered(base, params, today)
    tokens = query_tokens(params.q)
    if not tokens:
        ordered = _order(filtered, params.sort, ranked=False)
        return SearchResult(ordered, tokens, "none", _facets(filtered))
    mode = "and"
    query = SearchQuery(" ".join(tokens), config="simple", search_type="plain")
    ids = _candidate_ids(filtered, query)
    if not ids and len(tokens) > 1:
        mode = "or"
        or_text = " | ".join(_quote(token) for token in tokens)
        query = SearchQuery(or_text, config="simple", search_type="raw")
        ids = _candidate_ids(filtered, query)
    # A fresh queryset: keep the owner join the serialiser needs (else one query per row).
    candidates = Patent.objects.select_related("owner").filter(id__in=ids)
    ranked = candidates.annotate(rank=SearchRank(F("search_vector"), query, cover_density=False))
    return SearchResult(
        _order(ranked, params.sort, ranked=True), tokens, mode, _facets(candidates, sample=False)
    )


def _candidate_ids(filtered: QuerySet[Patent], query: SearchQuery) -> list[int]:
    return list(filtered.filter(search_vector=query).values_list("id", flat=True)[:RANK_CAP])


def _quote(token: str) -> str:
    # A lexeme in single quotes, with quotes and backslashes escaped, is never an operator.
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def _order(queryset: QuerySet[Patent], sort: str, *, ranked: bool) -> QuerySet[Patent]:
    if sort == "newest":
        return queryset.order_by(F("grant_date").desc(nulls_last=True), "-id")
    if sort == "remaining_term":
        return queryset.order_by("-expiry_date", "-id")
    if sort == "royalty":
        return queryset.order_by(
            F("listed_upfront_cny").asc(nulls_last=True),
            F("listed_royalty_rate").asc(nulls_first=True),
            "-id",
        )
    if ranked:
        return queryset.order_by("-rank", "-id")
    return queryset.order_by("-id")


def _facets(queryset: QuerySet[Patent], *, sample: bool = True) -> dict[str, list[dict[str, Any]]]:
    """Counts by type, IPC section, owner province and payment method over the matches (for
    a search without words: over the newest FACET_CAP of them)."""
    if sample:
        queryset = Patent.objects.filter(id__in=queryset.order_by("-id").values("id")[:FACET_CAP])
    sample_set = queryset
    by_type = sample_set.values("patent_type").annotate(count=Count("id")).order_by("-count")
    by_section = (
        sample_set.annotate(section=Substr("main_ipc", 1, 1))
        .values("section")
        .annotate(count=Count("id"))
        .order_by("section")
    )
    by_payment = (
        sample_set.exclude(listed_payment_method="")
        .values("listed_payment_method")
        .annotate(count=Count("id"))
        .order_by("-count", "listed_payment_method")
    )
    by_province = (
        sample_set.annotate(province=Substr("owner__region_id", 1, 2))
        .values("province")
        .annotate(count=Count("id"))
        .order_by("-count", "province")
    )
    return {
        "patent_type": [{"value": row["patent_type"], "count": row["count"]} for row in by_type],
        "ipc_section": [{"value": row["section"], "count": row["count"]} for row in by_section],
        "region": [
            {"value": f"{row['province']}0000", "count": row["count"]} for row in by_province
        ],
        "payment_method": [
            {"value": row["listed_payment_method"], "count": row["count"]} for row in by_payment
        ],
    }
