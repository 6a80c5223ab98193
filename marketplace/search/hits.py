"""What a search hit shows so a user can choose: the open declaration's terms and a snippet.

`marketplace` must not import `licensing`, so the declaration summary is read through the
relations licensing declares on Patent (`declarations`, their `licenses`): one grouped
statement for the whole page, whatever its size.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import Count, F, Q
from django.utils.html import escape

from marketplace.models import Patent

# Licenses that took effect (a declaration in force is PatentQuerySet.with_declaration_in_force).
GRANTED_LICENSE_STATUSES = ("effective", "ended")
SNIPPET_CHARS = 120
# Characters of context kept before the first match.
SNIPPET_LEAD = 30


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


def _spans(text: str, tokens: Iterable[str]) -> list[tuple[int, int]]:
    """Merged (start, end) spans of the tokens in text, case-insensitive."""
    words = sorted({token for token in tokens if token}, key=len, reverse=True)
    if not text or not words:
        return []
    pattern = re.compile("|".join(re.escape(word) for word in words), re.IGNORECASE)
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


def attach_hits(patents: Iterable[Patent], tokens: Sequence[str]) -> None:
    """Give each patent of a page its declaration summary and snippet (one statement)."""
    page = list(patents)
    summaries = declaration_summaries([patent.pk for patent in page])
    for patent in page:
        patent.hit_declaration = summaries.get(patent.pk)  # type: ignore[attr-defined]
        patent.snippet = {  # type: ignore[attr-defined]
            "title": highlight(patent.title, tokens, width=None),
            "abstract": highlight(patent.abstract, tokens),
        }
