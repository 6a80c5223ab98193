"""What a search hit shows so a user can choose: the open declaration's terms and a snippet.

`marketplace` must not import `licensing`, so the declaration summary is read through the
relations licensing declares on Patent (`declarations`, their `licenses`). A page of search hits
reads it in the same statement as its rows (`hit_rows`: a LEFT JOIN on the one declaration in
force, the licenses granted counted by a correlated subquery), and only the columns a hit shows;
hits from elsewhere (a number lookup) get it from one grouped statement per page.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from functools import lru_cache
from typing import Any

from django.db.models import (
    Count,
    F,
    FilteredRelation,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils.html import escape

from marketplace.models import Patent
from marketplace.search.query import RankedPage

# Licenses that took effect (a declaration in force is PatentQuerySet.with_declaration_in_force).
GRANTED_LICENSE_STATUSES = ("effective", "ended")
SNIPPET_CHARS = 120
# Characters of context kept before the first match.
SNIPPET_LEAD = 30
# What a hit shows (PatentHitSerializer, the snippet, the export): a page reads no claims, no
# segmented text, no search vector.
HIT_COLUMNS = (
    "id",
    "application_number",
    "patent_type",
    "title",
    "abstract",
    "main_ipc",
    "filing_date",
    "grant_date",
    "expiry_date",
    "legal_status",
    "is_listed",
    "listed_upfront_cny",
    "owner__id",
    "owner__name",
    "owner__kind",
    "owner__region",
)
# The declaration summary's values as hit_rows annotates them, by summary key.
_SUMMARY_ANNOTATIONS = {
    "declaration_id": "hit_declaration_id",
    "number": "hit_number",
    "payment_method": "hit_payment_method",
    "lump_sum_cny": "hit_lump_sum_cny",
    "entry_fee_cny": "hit_entry_fee_cny",
    "royalty_rate_percent": "hit_royalty_rate_percent",
    "licenses_granted": "hit_licenses_granted",
}


def hit_rows(rows: QuerySet[Patent]) -> QuerySet[Patent]:
    """`rows` as search hits: the columns a hit shows, its owner, and its declaration in force
    in the same statement (at most one per patent: the declaration_one_in_force_per_patent
    constraint), so a page costs one statement however many hits it has."""
    declarations = Patent._meta.get_field("declarations").related_model
    licenses = declarations._meta.get_field("licenses").related_model  # type: ignore[union-attr]
    granted = (
        licenses._default_manager.filter(  # type: ignore[union-attr]
            declaration_id=OuterRef("hit_declaration_id"),
            status__in=GRANTED_LICENSE_STATUSES,
        )
        .order_by()
        .values("declaration_id")
        .annotate(granted=Count("pk"))
        .values("granted")
    )
    return (
        rows.select_related("owner")
        .only(*HIT_COLUMNS)
        .annotate(
            in_force=FilteredRelation(
                "declarations",
                # licensing's in-force statuses, through the relation (marketplace does not
                # import licensing), as PatentQuerySet.with_declaration_in_force reads them
                condition=Q(declarations__status__in=Patent.objects.in_force_statuses()),
            ),
            hit_declaration_id=F("in_force__id"),
            hit_number=F("in_force__number"),
            hit_payment_method=F("in_force__payment_method"),
            hit_lump_sum_cny=F("in_force__lump_sum_cny"),
            hit_entry_fee_cny=F("in_force__entry_fee_cny"),
            hit_royalty_rate_percent=F("in_force__royalty_rate_percent"),
            hit_licenses_granted=Coalesce(Subquery(granted, output_field=IntegerField()), Value(0)),
        )
    )


def declaration_summaries(patent_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """patent id → its declaration in force (id, number, payment terms, licenses granted)."""
    if not patent_ids:
        return {}
    rows = (
        Patent.objects.filter(pk__in=list(patent_ids))
        .with_declaration_in_force()
        .order_by()
        .values(
            "id",
            "listed_upfront_cny",
            declaration_id=F("declarations__id"),
            number=F("declarations__number"),
            payment_method=F("declarations__payment_method"),
            lump_sum_cny=F("declarations__lump_sum_cny"),
            entry_fee_cny=F("declarations__entry_fee_cny"),
            royalty_rate_percent=F("declarations__royalty_rate_percent"),
        )
        .annotate(
            licenses_granted=Count(
                "declarations__licenses",
                filter=Q(declarations__licenses__status__in=GRANTED_LICENSE_STATUSES),
            )
        )
    )
    summaries: dict[int, dict[str, Any]] = {}
    for row in rows:
        patent_id = row.pop("id")
        row["upfront_due_cny"] = row.pop("listed_upfront_cny")
        summaries[patent_id] = row
    return summaries


@lru_cache(maxsize=256)
def _pattern(tokens: frozenset[str]) -> re.Pattern[str] | None:
    """The tokens as one case-insensitive alternation, longest first (compiled once per query,
    not once per hit)."""
    words = sorted((token for token in tokens if token), key=lambda word: (-len(word), word))
    if not words:
        return None
    return re.compile("|".join(re.escape(word) for word in words), re.IGNORECASE)


def _spans(text: str, tokens: Iterable[str]) -> list[tuple[int, int]]:
    """Merged (start, end) spans of the tokens in text, case-insensitive."""
    pattern = _pattern(frozenset(tokens))
    if not text or pattern is None:
        return []
    spans: list[tuple[int, int]] = []
    for match in pattern.finditer(text):
        start, end = match.span()
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def _marked(text: str, spans: list[tuple[int, int]], start: int, end: int) -> str:
    parts: list[str] = []
    at = start
    for span_start, span_end in spans:
        span_start, span_end = max(span_start, start), min(span_end, end)
        if span_end <= span_start:
            continue
        parts.append(escape(text[at:span_start]))
        parts.append(f"<mark>{escape(text[span_start:span_end])}</mark>")
        at = span_end
    parts.append(escape(text[at:end]))
    return "".join(parts)


def highlight(text: str, tokens: Iterable[str], width: int | None = SNIPPET_CHARS) -> str:
    """HTML: `text` escaped, the query words in <mark>; with a width, a window of that many
    characters around the first match (… where cut)."""
    text = text or ""
    spans = _spans(text, tokens)
    if width is None or len(text) <= width:
        return _marked(text, spans, 0, len(text))
    first = spans[0][0] if spans else 0
    start = max(0, min(first - SNIPPET_LEAD, len(text) - width))
    end = start + width
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    return prefix + _marked(text, spans, start, end) + suffix


def as_hits(
    found: QuerySet[Patent] | RankedPage | list[Patent],
) -> QuerySet[Patent] | RankedPage | list[Patent]:
    """A search result's rows (a queryset, a ranked page, or a number lookup's list) read as
    hits (hit_rows); a list is already read."""
    if isinstance(found, RankedPage):
        return RankedPage(hit_rows(found.rows), found.ranked)
    if isinstance(found, QuerySet):
        return hit_rows(found)
    return found


def _annotated_summary(patent: Patent) -> dict[str, Any] | None:
    """The declaration summary hit_rows read with the patent (None: no declaration in force)."""
    if patent.hit_declaration_id is None:  # type: ignore[attr-defined]
        return None
    summary = {key: getattr(patent, name) for key, name in _SUMMARY_ANNOTATIONS.items()}
    summary["upfront_due_cny"] = patent.listed_upfront_cny
    return summary


def attach_hits(
    patents: Iterable[Patent],
    tokens: Sequence[str],
    grams: Sequence[str] = (),
    gram_ids: Collection[int] = frozenset(),
) -> None:
    """Give each patent of a page its declaration summary and snippet (no statement for rows
    read by hit_rows; one for any others). A hit of `gram_ids` (found by the bigram channel
    alone) has the query's `grams` marked too: they are what met the query."""
    page = list(patents)
    missing = [patent.pk for patent in page if not hasattr(patent, "hit_declaration_id")]
    summaries = declaration_summaries(missing)
    for patent in page:
        patent.hit_declaration = (  # type: ignore[attr-defined]
            _annotated_summary(patent)
            if hasattr(patent, "hit_declaration_id")
            else summaries.get(patent.pk)
        )
        marks = [*tokens, *grams] if patent.pk in gram_ids else tokens
        patent.snippet = {  # type: ignore[attr-defined]
            "title": highlight(patent.title, marks, width=None),
            "abstract": highlight(patent.abstract, marks),
        }
