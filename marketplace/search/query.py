"""Patent search: segmented full text fused with search by meaning, filters, ranking, facets.

Words: every query term must match (a term matches by its word, all its parts, or a synonym;
marketplace/search/segment.py); when fewer than a page (PAGE_SIZE) match them all, the query is
widened to any term, and documents matching more terms rank first. Meaning: the nearest patents
to the query's sentence embedding (marketplace/search/semantic.py) join the candidates, and the
two rankings are fused (reciprocal-rank fusion, chosen by measurement: BENCHMARKS.md), and the
first candidates are re-ordered by a stronger model's reading of the titles
(marketplace/search/rerank.py). Bigrams:
when the words find fewer than a page, the patents holding any of the query's character bigrams
(their own GIN index) that neither ranking has follow the fused ranking, by BM25 over the
bigrams; a recall channel for words jieba cuts differently (BENCHMARKS.md "Bigram channel").

Measured pitfalls (architecture.md): ranking every hit of a broad OR query costs ~1 s at 1M
documents, so at most RANK_CAP matching rows are ranked; generic words are dropped at
segmentation. Filters are tags in one GIN-indexed array (search_tags: IPC prefixes, type, region).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Substr
from django.utils import timezone

from marketplace.models import Patent
from marketplace.search.languages import matched_annotations, translation_options
from marketplace.search.rerank import rerank
from marketplace.search.segment import QueryTerm, query_grams, query_terms
from marketplace.search.semantic import (
    SEMANTIC_LIMIT,
    SEMANTIC_WEIGHT,
    nearest_patents,
    reciprocal_rank_fusion,
)

RANK_CAP = 2000
# ts_rank's length normalisation (PostgreSQL's bit flags; 0: none, 1: divide by 1 + log(length),
# 2: by length), the lexical counterpart of BM25's b. Measured on the judged set, BENCHMARKS.md.
RANK_NORMALIZATION = 0
# Fewer strict matches than this (a page of results) widens the query to any of its terms.
PAGE_SIZE = 20
_WORDS = re.compile(r"[0-9a-z]+|[\u3400-\u9fff\uf900-\ufaff]+")

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
    # False for a query that is a number (one that named no patent): no search by meaning.
    by_meaning: bool = True
    # True: every term must match, never widened to any term (a saved search's alert asks
    # whether one patent matches; alone it is always "fewer than a page").
    strict: bool = False


@dataclass
class SearchResult:
    queryset: QuerySet[Patent] | RankedPage
    tokens: list[str]
    mode: str  # "and", "or", "meaning" (no word matched), or "none" (no text query)
    facets: dict[str, list[dict[str, Any]]]
    count: int | None = None  # known without a COUNT(*): the ranked candidates
    # Which candidates the words met and which the meaning brought (a hit's `matched`).
    lexical_ids: frozenset[int] = frozenset()
    meaning_ids: frozenset[int] = frozenset()
    # The query's bigrams and the hits the bigram channel alone found: what those hits hold of
    # the query, marked in their snippets beside the words (hits.attach_hits).
    grams: tuple[str, ...] = ()
    gram_ids: frozenset[int] = frozenset()


def _region_tag(code: str) -> str:
    if code.endswith("0000"):
        return f"prov:{code[:2]}"
    if code.endswith("00"):
        return f"city:{code[:4]}"
    return f"region:{code}"


def _filtered(base: QuerySet[Patent], params: SearchParams, today: date) -> QuerySet[Patent]:
    # IPC prefixes, one patent type and the owner's region go into one `@>` on the
    # GIN-indexed search_tags, so the index alone finds the patents that pass them all.
    tags = list(params.ipc)
    queryset = base
    if len(params.patent_type) == 1:
        tags.append(f"type:{params.patent_type[0]}")
    elif params.patent_type:
        queryset = queryset.filter(
            search_tags__overlap=[f"type:{kind}" for kind in params.patent_type]
        )
    if params.region:
        tags.append(_region_tag(params.region))
    if tags:
        queryset = queryset.filter(search_tags__contains=tags)
    if params.owner_kind:
        queryset = queryset.filter(owner__kind__in=params.owner_kind)
    if params.industry:
        prefixes = ipc_prefixes_for_industry(params.industry) or []
        queryset = queryset.filter(search_tags__overlap=prefixes) if prefixes else queryset.none()
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


class RankedPage:
    """The ranked matches of a text search in relevance order, fetched a page at a time.

    The candidate statement already ranked them, so a page is one fetch of its own rows by
    primary key (20 rows), not a second read and ts_rank of every candidate (at 1M patents
    that second read of up to 2,000 rows was the slower half of the search).
    """

    def __init__(self, rows: QuerySet[Patent], ranked: list[tuple[int, float]]) -> None:
        self.rows = rows
        self.ranked = ranked

    def __len__(self) -> int:
        return len(self.ranked)

    def __getitem__(self, window: slice) -> list[Patent]:
        chosen = self.ranked[window]
        found = {patent.pk: patent for patent in self.rows.filter(pk__in=[pk for pk, _ in chosen])}
        page = []
        for pk, rank in chosen:
            if pk in found:
                patent = found[pk]
                patent.rank = rank  # type: ignore[attr-defined]
                page.append(patent)
        return page


def search_patents(base: QuerySet[Patent], params: SearchParams) -> SearchResult:
    """Search within `base` (already restricted to what the caller may see).

    The text search runs once: one statement fetches at most RANK_CAP matches (one scan of
    the multicolumn GIN index on words and filter tags; no sort) with their rank and the
    four facet values, and the page, the count and the facets all come from those rows. At
    1M patents, re-running the match for each of them cost seconds.
    """
    today = timezone.localdate()
    filtered = _filtered(base, params, today)
    terms = query_terms(params.q)
    if not terms:
        return SearchResult(_order(filtered, params.sort), [], "none", _facets(filtered))
    tokens = list(dict.fromkeys(lexeme for term in terms for lexeme in term.lexemes()))
    groups = [_term_query(term) for term in terms]
    exact = " | ".join(_quote(term.word) for term in terms)
    rows = _candidates(filtered, " & ".join(groups), len(groups), exact)
    mode = "and"
    widened = not params.strict and len(rows) < PAGE_SIZE
    if widened and len(groups) > 1:
        # Widened: any term; the strict matches stay (an OR scan capped at RANK_CAP might not
        # reach them) and rank first, then by how many terms a document matches.
        mode = "or"
        strict = {row[0] for row in rows}
        rows += [
            row
            for row in _candidates(filtered, " | ".join(groups), groups, exact)
            if row[0] not in strict
        ]
    neighbours = nearest_patents(params.q) if params.by_meaning else []
    semantic = _semantic_candidates(filtered, neighbours)
    # Widened further: the bigram channel. Its patents follow every word and meaning match, so
    # it runs only while those are fewer than a page (a strict search never runs it, and a
    # common query costs what it did).
    found = len({row[0] for row in rows} | {row[0] for row in semantic})
    runs_grams = widened and (
        GRAM_FUSION == "rrf" or (GRAM_FUSION == "append" and found < PAGE_SIZE)
    )
    wanted_grams = query_grams(params.q) if runs_grams else []
    gram_rows = _gram_candidates(filtered, wanted_grams) if wanted_grams else []
    if gram_rows and not rows:
        mode = "or"
    if semantic and not rows and not gram_rows:
        mode = "meaning"
    lexical_ids = {row[0] for row in rows}
    every = rows + [row for row in gram_rows if row[0] not in lexical_ids]
    gram_ids = {row[0] for row in gram_rows} - lexical_ids
    lexical_ids |= gram_ids
    every += [row for row in semantic if row[0] not in lexical_ids]
    facets = _count_facets(
        (kind, section, province, payment, 1) for _, _, kind, section, province, payment, _ in every
    )
    # A fresh queryset: keep the owner join the serialiser needs (else one query per row).
    page_rows = Patent.objects.select_related("owner").annotate(**matched_annotations(terms))
    ordered: QuerySet[Patent] | RankedPage
    if params.sort == "relevance":
        ranked = fused_ranking(
            [(row[0], row[1], row[6] / len(groups)) for row in rows],
            [(row[0], row[1]) for row in gram_rows],
            [row[0] for row in semantic],
        )
        if params.by_meaning and not params.strict:
            # A strict search (an alert) asks only whether a patent matches: no order to refine.
            ranked = rerank(ranked, params.q)
        ordered = RankedPage(page_rows, ranked)
    else:
        ordered = _order(page_rows.filter(id__in=[row[0] for row in every]), params.sort)
    return SearchResult(
        ordered,
        tokens,
        mode,
        facets,
        count=len(every),
        lexical_ids=frozenset(lexical_ids),
        meaning_ids=frozenset(row[0] for row in semantic),
        grams=tuple(wanted_grams) if gram_ids else (),
        gram_ids=frozenset(gram_ids),
    )


# How the bigram channel joins (measured on both sets, BENCHMARKS.md "Bigram channel"):
# "append": the patents found only by bigrams follow the fused word and meaning ranking, best
# bigram score first (recall without reordering what words and meaning found); "rrf": the
# bigram ranking is a third ranking in the fusion, weighted by GRAM_WEIGHT and each patent's
# bigram score relative to the best; "none": no bigram channel (what search was before).
GRAM_FUSION = "append"
GRAM_WEIGHT = 0.25
# ts_rank of the query's own words (not their parts or synonyms) added, times this, to the
# rank of the word matches (0: off).
EXACT_BOOST = 1.0


def fused_ranking(
    words: Sequence[tuple[int, float, float]],
    grams: Sequence[tuple[int, float]],
    semantic: Sequence[int],
) -> list[tuple[int, float]]:
    """(id, score) best first from the word matches (id, ts_rank, share of terms matched), the
    bigram channel's (id, score), best first, and the nearest patents' ids, nearest first.

    The word ranking is by share of terms matched, then ts_rank; it and the semantic ranking
    are fused by weighted reciprocal-rank fusion (semantic.reciprocal_rank_fusion)."""
    order = sorted(words, key=lambda row: (-row[2], -row[1], -row[0]))
    lexical = [pk for pk, _, _ in order]
    coverage = {pk: share for pk, _, share in words}
    if GRAM_FUSION == "rrf":
        best = max((score for _, score in grams), default=0.0) or 1.0
        return reciprocal_rank_fusion(
            lexical,
            semantic,
            [pk for pk, _ in grams],
            weights=[coverage, {}, {pk: score / best for pk, score in grams}],
            scales=[1.0, SEMANTIC_WEIGHT, GRAM_WEIGHT],
        )
    ranked = reciprocal_rank_fusion(
        lexical, semantic, weights=[coverage], scales=[1.0, SEMANTIC_WEIGHT]
    )
    found = {pk for pk, _ in ranked}
    return ranked + [(pk, 0.0) for pk, _ in grams if pk not in found]


def _alternative(text: str) -> str:
    words = _WORDS.findall(text.lower())
    if len(words) > 1:  # a synonym of several words ("lithium-ion battery"): all of them
        return "(" + " & ".join(_quote(word) for word in words) + ")"
    return _quote(text)


def _term_query(term: QueryTerm) -> str:
    """A term as a tsquery: its word, or all its parts, or one of its synonyms or
    translations."""
    options = [_quote(term.word)]
    if term.parts:
        options.append("(" + " & ".join(_quote(part) for part in term.parts) + ")")
    options += [_alternative(synonym) for synonym in term.synonyms]
    options += translation_options(term)
    return "(" + " | ".join(options) + ")" if len(options) > 1 else options[0]


def _candidates(
    filtered: QuerySet[Patent], tsquery: str, groups: int | list[str], exact: str = ""
) -> list[tuple[Any, ...]]:
    """(id, rank, type, IPC section, owner province, payment method, terms matched) of at most
    RANK_CAP matches of `tsquery`; `groups` is the number of terms (each match has them all)
    or the terms' queries, to count how many each match has.

    No ORDER BY (Patent.Meta.ordering would add one): the scan stops at RANK_CAP matches
    instead of reading and sorting every match (1M patents: up to 10,536 of them). A query
    with more matches ranks the first RANK_CAP the index yields, and its count says RANK_CAP.
    """
    query = SearchQuery(tsquery, config="simple", search_type="raw")
    matched: Any = Value(groups) if isinstance(groups, int) else Value(0)
    if not isinstance(groups, int):
        for group in groups:
            term = SearchQuery(group, config="simple", search_type="raw")
            matched = matched + Cast(
                ExpressionWrapper(Q(search_vector=term), output_field=BooleanField()),
                IntegerField(),
            )
    rank: Any = SearchRank(
        F("search_vector"), query, cover_density=False, normalization=Value(RANK_NORMALIZATION)
    )
    if exact and EXACT_BOOST:
        # The query's own words count again: a patent saying 锂电池 ranks before one saying
        # only its synonym 锂离子电池, or only the parts of a word.
        rank = rank + Value(EXACT_BOOST) * SearchRank(
            F("search_vector"),
            SearchQuery(exact, config="simple", search_type="raw"),
            cover_density=False,
            normalization=Value(RANK_NORMALIZATION),
        )
    matches = (
        filtered.filter(search_vector=query)
        .order_by()
        .annotate(
            rank=rank,
            section=Substr("main_ipc", 1, 1),
            province=Substr("owner_region", 1, 2),
            matched=matched,
        )
        .values_list(
            "id", "rank", "patent_type", "section", "province", "listed_payment_method", "matched"
        )
    )
    return list(matches[:RANK_CAP])


def gram_scores(flags: Sequence[Sequence[int]], corpus: int) -> list[float]:
    """BM25 of each candidate over the query's bigrams, with a term frequency of 1 (the
    vector keeps no counts) and no length normalisation: the sum of the inverse document
    frequencies of the bigrams it holds. `flags[d][g]` is 1 when candidate d holds bigram g;
    document frequencies are counted over the candidates (every patent holding a bigram is
    one, unless RANK_CAP cut them short), `corpus` is the number of documents (at least the
    candidates)."""
    if not flags:
        return []
    total = max(corpus, len(flags))
    frequencies = [sum(column) for column in zip(*flags, strict=True)]
    idf = [math.log(1 + (total - df + 0.5) / (df + 0.5)) for df in frequencies]
    return [sum(w for w, flag in zip(idf, row, strict=True) if flag) for row in flags]


def _gram_candidates(filtered: QuerySet[Patent], grams: list[str]) -> list[tuple[Any, ...]]:
    """The bigram channel: (id, score, type, IPC section, owner province, payment method, 0) of
    at most RANK_CAP patents holding any of the query's bigrams, best first (gram_scores); one
    statement on the bigram GIN index. [] for a query without bigrams (a lone character, Latin
    words only)."""
    if not grams:
        return []
    query = SearchQuery(
        " | ".join(_quote(gram) for gram in grams), config="simple", search_type="raw"
    )
    # Which bigrams each candidate holds, read off its stored bigrams here: one `@@` per bigram
    # in SQL detoasted the vector once per bigram (59,000 patents: 2-3x the statement's time).
    rows = list(
        filtered.filter(gram_vector=query)
        .order_by()
        .annotate(
            section=Substr("main_ipc", 1, 1),
            province=Substr("owner_region", 1, 2),
            # Patents in the table as ANALYZE last counted them (-1 or 0 before one), for the
            # inverse document frequencies: read once by the statement, no scan.
            corpus=RawSQL(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [Patent._meta.db_table],
                output_field=IntegerField(),
            ),
        )
        .values_list(
            "id",
            "patent_type",
            "section",
            "province",
            "listed_payment_method",
            "gram_tokens",
            "corpus",
        )[:RANK_CAP]
    )
    flags = []
    for row in rows:
        held = set(row[5].split())
        flags.append([int(gram in held) for gram in grams])
    scores = gram_scores(flags, rows[0][6] if rows else 0)
    found = [(row[0], score, *row[1:5], 0) for row, score in zip(rows, scores, strict=True)]
    found.sort(key=lambda row: (-row[1], -row[0]))
    return found


def _semantic_candidates(
    filtered: QuerySet[Patent], neighbours: list[tuple[int, float]]
) -> list[tuple[Any, ...]]:
    """The nearest patents that pass the filters, nearest first, as candidate rows (the
    similarity in place of the rank), at most SEMANTIC_LIMIT; one statement."""
    if not neighbours:
        return []
    similarity = dict(neighbours)
    rows = (
        # One array parameter, not IN with up to SEMANTIC_POOL placeholders: Django compiles
        # and the client cursor quotes each of those (4 of 9 ms at 59,000 patents).
        filtered.filter(
            RawSQL('"marketplace_patent"."id" = ANY(%s)', (list(similarity),), BooleanField())
        )
        .order_by()
        .annotate(
            section=Substr("main_ipc", 1, 1),
            province=Substr("owner_region", 1, 2),
        )
        .values_list("id", "patent_type", "section", "province", "listed_payment_method")
    )
    found = [
        (pk, similarity[pk], kind, section, province, payment, 0)
        for pk, kind, section, province, payment in rows
    ]
    found.sort(key=lambda row: (-row[1], -row[0]))
    return found[:SEMANTIC_LIMIT]


def _quote(token: str) -> str:
    # A lexeme in single quotes, with quotes and backslashes escaped, is never an operator.
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def _order(queryset: QuerySet[Patent], sort: str) -> QuerySet[Patent]:
    """Every order but relevance (RankedPage orders by rank); relevance without words: newest
    registered first."""
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
    return queryset.order_by("-id")


def _facets(queryset: QuerySet[Patent]) -> dict[str, list[dict[str, Any]]]:
    """Counts by type, IPC section, owner province and payment method over the matches of a
    search without words (over the newest FACET_CAP of them).

    One GROUP BY over the four values together (at most a few thousand groups), summed here:
    four separate statements each re-read every match.
    """
    sample = Patent.objects.filter(id__in=queryset.order_by("-id").values("id")[:FACET_CAP])
    groups = (
        sample.order_by()
        .annotate(section=Substr("main_ipc", 1, 1), province=Substr("owner_region", 1, 2))
        .values_list("patent_type", "section", "province", "listed_payment_method")
        .annotate(count=Count("id"))
    )
    return _count_facets(groups)


def _count_facets(
    groups: Iterable[tuple[str, str, str, str, int]],
) -> dict[str, list[dict[str, Any]]]:
    """Facet counts from (type, section, province, payment method, count) groups."""
    by_type: Counter[str] = Counter()
    by_section: Counter[str] = Counter()
    by_province: Counter[str] = Counter()
    by_payment: Counter[str] = Counter()
    for patent_type, section, province, payment, count in groups:
        by_type[patent_type] += count
        by_section[section] += count
        by_province[province] += count
        if payment:
            by_payment[payment] += count

    def most_common(
        counter: Counter[str], value: Callable[[str], str] = str
    ) -> list[dict[str, Any]]:
        ordered = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
        return [{"value": value(key), "count": count} for key, count in ordered]

    return {
        "patent_type": most_common(by_type),
        "ipc_section": [{"value": key, "count": by_section[key]} for key in sorted(by_section)],
        "region": most_common(by_province, lambda province: f"{province}0000"),
        "payment_method": most_common(by_payment),
    }
