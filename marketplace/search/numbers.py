"""Search by number: an application, patent, publication or declaration number in `q`.

A number names one patent, so it is found by an indexed equality lookup (the unique
application number, the GIN index on publication numbers, the unique declaration number),
never by the full-text scan. The application-number forms are the importer's own
(marketplace.patents.numbers.parse_application_number: CN/ZL prefixes, spaces, the dot,
a lower-case x), so search accepts what an import accepts; and, as a user often types it, the
number without its check digit (12 digits, or 8 before October 2003): the check digit is
computed (marketplace.patents.numbers.check_digit), so the stem names the same patent.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.db.models import QuerySet

from marketplace.errors import InvalidInput
from marketplace.models import Patent
from marketplace.patents.cleaning import PUBLICATION_RE
from marketplace.patents.numbers import check_digit, parse_application_number
from marketplace.search.query import SearchResult, _count_facets

# Declaration numbers are built by licensing as OL + year + 7-digit serial.
DECLARATION_RE = re.compile(r"^OL[0-9]{11}$")
# What looks like a number to a user: an optional CN/ZL/OL prefix, digits, at most a dot and
# a check digit or a publication kind code (after spaces are removed).
_NUMBER_SHAPED = re.compile(r"^(CN|ZL|OL)*[0-9]{7,13}(\.?[0-9X])?([A-Z][0-9]?)?$")


@dataclass(frozen=True)
class NumberLookup:
    kind: str  # "application", "publication" or "declaration"
    value: str  # the normalised number looked up
    patent: Patent | None


def number_kind(text: str) -> tuple[str, str] | None:
    """(kind, normalised number) when `text` is number-shaped, else None."""
    # NFKC first: a Chinese input method types full-width digits and letters (２０２１, ＣＮ).
    compact = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "")).upper()
    if not compact or not _NUMBER_SHAPED.match(compact):
        return None
    if DECLARATION_RE.match(compact):
        return "declaration", compact
    if PUBLICATION_RE.match(compact):
        return "publication", compact
    stem = re.sub(r"^(CN|ZL)+", "", compact)
    # No check digit typed: complete it (a stem has exactly one).
    complete = (
        f"{stem}.{check_digit(stem)}" if re.fullmatch(r"[0-9]{12}|[0-9]{8}", stem) else compact
    )
    try:
        number = parse_application_number(complete)
    except InvalidInput:
        # Number-shaped, yet no number the importer accepts (e.g. a wrong check digit).
        return "application", compact
    return "application", number.canonical


def patent_by_number(*, base: QuerySet[Patent], text: str) -> NumberLookup | None:
    """The patent within `base` that `text` names by number; None when `text` is no number."""
    found = number_kind(text)
    if found is None:
        return None
    kind, value = found
    if kind == "declaration":
        matches = base.filter(declarations__number=value)
    elif kind == "publication":
        matches = base.filter(publication_numbers__contains=[value])
    else:
        matches = base.filter(application_number=value)
    return NumberLookup(kind, value, matches.order_by().first())


def number_result(lookup: NumberLookup) -> SearchResult:
    """The search result of a number that named a patent: that patent alone (mode "number")."""
    patent = lookup.patent
    assert patent is not None
    facets = _count_facets(
        [
            (
                patent.patent_type,
                patent.main_ipc[:1],
                patent.owner_region[:2],
                patent.listed_payment_method,
                1,
            )
        ]
    )
    return SearchResult([patent], [], "number", facets, count=1)  # type: ignore[arg-type]
