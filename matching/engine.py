"""The match score: topic first, explainable by its components, one formula everywhere.

    topical  = w_semantic·semantic + w_industry·industry + w_keywords·keywords
    score    = topical × (1 + w_region·region + w_affordability·affordability) + feedback

(weights in settings.MATCHING_WEIGHTS; `formula` below, called by the full run's
score_totals, by the incremental estimate and so by every trigger). A list is one SME's
profile (need None) or one of its open needs: the need's keywords (tokenised like search)
against the patent's title, abstract and claims tokens, and its IPC areas against the
patent's IPC symbols (`ipc_relation`; the industry component is the larger of that and the
SME's or need's industry via the concordance). Region and affordability multiply the topical
score instead of adding to it: a patentee from the SME's province or a patent within budget
moves ahead of candidates whose topical score is within ~20 % of its own, but an off-topic
patent (topical ≈ 0) stays ≈ 0 whatever its province or price. Feedback moves similar
declarations for that SME by FEEDBACK_EFFECTS (one table). Hard filters: the declaration is
in force and its patent in force (the supply loader), the patentee is not the SME, the SME
holds no license for it and has not marked it not relevant. A list keeps only matches of at
least settings.MATCHING_MIN_SCORE with at least one reason (codes, see matching.reasons);
at most MATCHING_PER_PATENTEE patents of one patentee in a list; equal scores in
declaration id order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from django.conf import settings


@dataclass
class Supply:
    """Announced declarations in force, as arrays (row i describes declaration ids[i])."""

    ids: np.ndarray  # declaration ids
    patent_ids: np.ndarray
    patentee_ids: np.ndarray
    provinces: list[str]
    vectors: np.ndarray  # (n, dim)
    industries: list[dict[str, float]]  # industry code → weight, from the concordance
    tokens: list[set[str]]
    upfront: np.ndarray  # CNY due at acceptance (0 when free or royalty only)
    main_subclass: list[str]
    ipc_label: list[str]
    titles: list[str] = field(default_factory=list)
    # IPC levels of every symbol of the patent (class H01, subclass H01M, main group H01M10).
    ipc_levels: list[frozenset[str]] = field(default_factory=list)
    main_group: list[str] = field(default_factory=list)
    # Derived lookups, built on first use and kept for every SME scored against this supply.
    _province_codes: np.ndarray | None = field(default=None, repr=False)
    _subclass_codes: dict[str, np.ndarray] | None = field(default=None, repr=False)
    _postings: dict[str, np.ndarray] | None = field(default=None, repr=False)
    _by_patentee: dict[int, np.ndarray] | None = field(default=None, repr=False)
    _by_id: dict[int, int] | None = field(default=None, repr=False)
    _affordability: dict[float | None, np.ndarray] = field(default_factory=dict, repr=False)
    _context: dict[tuple[float | None, str], np.ndarray] = field(default_factory=dict, repr=False)
    _province_rows: dict[int, np.ndarray] | None = field(default=None, repr=False)
    _scratch: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    _ipc_postings: dict[str, np.ndarray] | None = field(default=None, repr=False)
    _ipc_rows: dict[tuple[tuple[str, ...], ...], np.ndarray] = field(
        default_factory=dict, repr=False
    )
    _group_rows: dict[str, np.ndarray] | None = field(default=None, repr=False)
    # rows_with_keyword's recent answers (a list's keywords are met once for its scores and
    # again for its reasons), bounded by their total rows; dropped when the supply grows.
    _keyword_rows: dict[Keyword, np.ndarray] = field(default_factory=dict, repr=False)
    _keyword_rows_size: int = field(default=0, repr=False)
    # Rows of declarations that left the supply since it was read (scored -inf), and the
    # vectors' storage with room for declarations announced since (`vectors` is a view of it).
    _retired: list[int] = field(default_factory=list, repr=False)
    _vector_store: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def retired_rows(self) -> np.ndarray:
        return np.array(self._retired, dtype=np.int64) if self._retired else _NO_ROWS

    def retire(self, declaration_id: int) -> bool:
        """The declaration leaves the supply (withdrawn, ended): its row is never scored again.
        The row stays in place, so every cached array keeps its alignment."""
        index = self.row_of(declaration_id)
        if index is None:
            return False
        self._retired.append(index)
        assert self._by_id is not None
        del self._by_id[declaration_id]
        return True

    def extend(self, new: Supply) -> None:
        """Append the rows of `new` (declarations announced since this supply was read) and
        bring every cached lookup built so far up to date, instead of reading 59,000
        declarations and rebuilding the postings again (seconds) for one announcement."""
        count = len(new)
        if not count:
            return
        self._keyword_rows.clear()  # its rows would miss the new declarations
        self._keyword_rows_size = 0
        start = len(self)
        rows = np.arange(start, start + count, dtype=np.int64)
        store = self._vector_store if self._vector_store is not None else self.vectors
        if store.shape[0] < start + count or not store.flags.writeable:
            grown = np.empty(
                (max(start + count, int(start * 1.05) + 64), store.shape[1]), np.float32
            )
            grown[:start] = self.vectors
            store = grown
        store[start : start + count] = new.vectors
        self._vector_store = store
        self.vectors = store[: start + count]
        self.ids = np.concatenate([self.ids, new.ids])
        self.patent_ids = np.concatenate([self.patent_ids, new.patent_ids])
        self.patentee_ids = np.concatenate([self.patentee_ids, new.patentee_ids])
        self.upfront = np.concatenate([self.upfront, new.upfront])
        for name in (
            "provinces",
            "industries",
            "tokens",
            "main_subclass",
            "ipc_label",
            "titles",
            "ipc_levels",
            "main_group",
        ):
            getattr(self, name).extend(getattr(new, name))
        if self._province_codes is not None:
            self._province_codes = np.concatenate([self._province_codes, new.province_codes()])
        if self._by_id is not None:
            for row, pk in zip(rows.tolist(), new.ids.tolist(), strict=True):
                self._by_id[pk] = row
        keyed: tuple[tuple[dict[Any, np.ndarray] | None, list[list[Any]]], ...] = (
            (
                self._province_rows,
                [[int(p) if p.isdigit() else -1] for p in new.provinces],
            ),
            (self._subclass_codes, [[subclass] for subclass in new.main_subclass]),
            (self._postings, [list(tokens) for tokens in new.tokens]),
            (self._by_patentee, [[patentee] for patentee in new.patentee_ids.tolist()]),
            (self._ipc_postings, [list(levels) for levels in new.ipc_levels]),
            (self._group_rows, [[group] for group in new.main_group]),
        )
        for index, keys_of_row in keyed:
            if index is None:
                continue
            for row, keys in zip(rows.tolist(), keys_of_row, strict=True):
                for key in keys:
                    found = index.get(key)
                    index[key] = (
                        np.array([row], np.int64) if found is None else np.append(found, row)
                    )
        for budget, values in self._affordability.items():
            self._affordability[budget] = np.concatenate(
                [values, new.affordability(None if budget is None else Decimal(str(budget)))]
            )
        for (budget, province), values in self._context.items():
            key_budget = None if budget is None else Decimal(str(budget))
            self._context[(budget, province)] = np.concatenate(
                [values, new.context(key_budget, province)]
            )
        for areas, values in self._ipc_rows.items():
            self._ipc_rows[areas] = np.concatenate([values, new.ipc_row(areas)])

    def province_codes(self) -> np.ndarray:
        """Provinces as integers (-1 when unknown, which matches no SME)."""
        if self._province_codes is None:
            self._province_codes = np.array(
                [int(p) if p.isdigit() else -1 for p in self.provinces], dtype=np.int32
            )
        return self._province_codes

    def province_rows(self, province: str) -> np.ndarray:
        """Rows whose patentee is in the province (two-digit code)."""
        if self._province_rows is None:
            groups: dict[int, list[int]] = {}
            for index, code in enumerate(self.province_codes().tolist()):
                groups.setdefault(code, []).append(index)
            self._province_rows = {k: np.array(v, dtype=np.int64) for k, v in groups.items()}
        if not province.isdigit():
            return _NO_ROWS
        return self._province_rows.get(int(province), _NO_ROWS)

    def subclass_rows(self, subclasses: set[str]) -> np.ndarray:
        """Rows whose main IPC subclass is one of `subclasses`."""
        if self._subclass_codes is None:
            groups: dict[str, list[int]] = {}
            for index, subclass in enumerate(self.main_subclass):
                groups.setdefault(subclass, []).append(index)
            self._subclass_codes = {k: np.array(v, dtype=np.int64) for k, v in groups.items()}
        found = [self._subclass_codes[s] for s in subclasses if s in self._subclass_codes]
        return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)

    def rows_with_token(self, word: str) -> np.ndarray:
        """Rows whose patent text has the word (an inverted index over the tokens)."""
        if self._postings is None:
            lists: dict[str, list[int]] = {}
            for index, tokens in enumerate(self.tokens):
                for token in tokens:
                    lists.setdefault(token, []).append(index)
            self._postings = {k: np.array(v, dtype=np.int64) for k, v in lists.items()}
        return self._postings.get(word, _NO_ROWS)

    def rows_with_tokens(self, tokens: Sequence[str]) -> np.ndarray:
        """Rows whose patent text has every one of the tokens."""
        rows: np.ndarray | None = None
        for token in tokens:
            found = self.rows_with_token(token)
            rows = found if rows is None else np.intersect1d(rows, found, assume_unique=True)
            if not rows.size:
                break
        return _NO_ROWS if rows is None else rows

    def rows_with_keyword(self, keyword: Keyword) -> np.ndarray:
        """Rows whose patent text has the keyword: each of its terms by one of its forms
        (keyword_found, on arrays)."""
        found = self._keyword_rows.get(keyword)
        if found is None:
            found = self._rows_with_keyword(keyword)
            if self._keyword_rows_size + found.size > KEYWORD_ROWS_KEPT:
                self._keyword_rows.clear()
                self._keyword_rows_size = 0
            self._keyword_rows[keyword] = found
            self._keyword_rows_size += found.size
        return found

    def _rows_with_keyword(self, keyword: Keyword) -> np.ndarray:
        rows: np.ndarray | None = None
        for forms in keyword:
            found = [self.rows_with_tokens(form) for form in forms]
            either = np.unique(np.concatenate(found)) if len(found) > 1 else found[0]
            rows = either if rows is None else np.intersect1d(rows, either, assume_unique=True)
            if not rows.size:
                break
        return _NO_ROWS if rows is None else rows

    def rows_with_ipc(self, level: str) -> np.ndarray:
        """Rows with a symbol at this IPC level (class, subclass or main group)."""
        if self._ipc_postings is None:
            lists: dict[str, list[int]] = {}
            for index, levels in enumerate(self.ipc_levels):
                for prefix in levels:
                    lists.setdefault(prefix, []).append(index)
            self._ipc_postings = {k: np.array(v, dtype=np.int64) for k, v in lists.items()}
        return self._ipc_postings.get(level, _NO_ROWS)

    def ipc_row(self, areas: tuple[tuple[str, ...], ...]) -> np.ndarray:
        """ipc_relation() of every row to a need's IPC areas (cached per set of areas)."""
        if areas not in self._ipc_rows:
            values = np.zeros(len(self), dtype=np.float32)
            for levels in areas:
                for depth in range(len(levels), 0, -1):
                    weight = IPC_RELATION.get((len(levels), depth), 0.0)
                    rows = self.rows_with_ipc(levels[depth - 1])
                    if weight and rows.size:
                        values[rows] = np.maximum(values[rows], np.float32(weight))
            self._ipc_rows[areas] = values
        return self._ipc_rows[areas]

    def rows_in_group(self, group: str) -> np.ndarray:
        if self._group_rows is None:
            groups: dict[str, list[int]] = {}
            for index, main in enumerate(self.main_group):
                groups.setdefault(main, []).append(index)
            self._group_rows = {k: np.array(v, dtype=np.int64) for k, v in groups.items()}
        return self._group_rows.get(group, _NO_ROWS)

    def rows_of_patentee(self, organisation_id: int) -> np.ndarray:
        if self._by_patentee is None:
            groups: dict[int, list[int]] = {}
            for index, patentee in enumerate(self.patentee_ids.tolist()):
                groups.setdefault(patentee, []).append(index)
            self._by_patentee = {k: np.array(v, dtype=np.int64) for k, v in groups.items()}
        return self._by_patentee.get(organisation_id, _NO_ROWS)

    def row_of(self, declaration_id: int) -> int | None:
        if self._by_id is None:
            self._by_id = {pk: index for index, pk in enumerate(self.ids.tolist())}
        return self._by_id.get(declaration_id)

    def affordability(self, budget: Decimal | None) -> np.ndarray:
        """The affordability of every row at one budget (few distinct budgets: cached)."""
        key = None if budget is None or budget <= 0 else float(budget)
        if key not in self._affordability:
            self._affordability[key] = _affordability(self, budget)
        return self._affordability[key]

    def context(self, budget: Decimal | None, province: str) -> np.ndarray:
        """The formula's context factor of every row for an SME of this budget and province
        (few distinct pairs: cached)."""
        key = (None if budget is None or budget <= 0 else float(budget), province)
        if key not in self._context:
            region = np.zeros(len(self), dtype=np.float32)
            region[self.province_rows(province)] = 1.0
            self._context[key] = context_factor(region, self.affordability(budget))
        return self._context[key]


_NO_ROWS = np.zeros(0, dtype=np.int64)
# Rows kept by Supply.rows_with_keyword in all (8 bytes each: 32 MB).
KEYWORD_ROWS_KEPT = 4_000_000

# A need's keyword as search matches a query word (marketplace.search.segment.query_terms): its
# terms, each met by one of its forms — the word, all its parts together, or a synonym of
# marketplace/search/synonyms.tsv — and a form is the index tokens it needs, all of them.
# 锂电池 → (((锂电池,), (锂离子电池,), (lithium, ion, battery), ...),).
Keyword = tuple[tuple[tuple[str, ...], ...], ...]


def keyword_found(keyword: Keyword, tokens: set[str] | frozenset[str]) -> bool:
    """Whether a patent's tokens hold the keyword (the scalar side of rows_with_keyword)."""
    return bool(keyword) and all(
        any(all(token in tokens for token in form) for form in forms) for forms in keyword
    )


# Feedback: what a verdict (and its reason code) does to the declarations *similar* to the one
# it was given on, for that SME ("the same subclass", "at least as expensive", ...), added to
# the score. The declaration itself leaves the list on any "not relevant". Keyed by (verdict,
# reason); an interested verdict's reason does not matter ("*").
FEEDBACK_EFFECTS: dict[tuple[str, str], tuple[tuple[str, float], ...]] = {
    ("interested", "*"): (("subclass", 0.05),),
    ("not_relevant", "wrong_field"): (("subclass", -0.10),),
    ("not_relevant", "already_have"): (("group", -0.15),),
    ("not_relevant", "too_expensive"): (("pricier", -0.05),),
    ("not_relevant", "too_far"): (("province", -0.05),),
    ("not_relevant", "too_early"): (("group", -0.05),),
    ("not_relevant", "benefit_unclear"): (("group", -0.03),),
    ("not_relevant", "other"): (),
    ("not_relevant", ""): (),
}


def feedback_effects(verdict: str, reason: str) -> tuple[tuple[str, float], ...]:
    return FEEDBACK_EFFECTS.get((verdict, "*"), FEEDBACK_EFFECTS.get((verdict, reason), ()))


# An adjustment: (target, key, delta), e.g. ("subclass", "H10K", -0.1), ("pricier", 300000.0,
# -0.05); the key is taken from the declaration the feedback was given on.
Adjustment = tuple[str, Any, float]


def adjustment_rows(supply: Supply, target: str, key: Any) -> np.ndarray:
    """The supply rows an adjustment moves (the vector side of `adjustment_hits`)."""
    if target == "subclass":
        return supply.subclass_rows({key})
    if target == "group":
        return supply.rows_in_group(key)
    if target == "province":
        return supply.province_rows(key)
    if target == "pricier":
        return np.flatnonzero((supply.upfront >= float(key)) & (supply.upfront > 0))
    raise ValueError(target)


def adjustment_hits(supply: Supply, index: int, target: str, key: Any) -> bool:
    """Whether an adjustment moves one supply row (the scalar side of `adjustment_rows`)."""
    if target == "subclass":
        return bool(supply.main_subclass[index] == key)
    if target == "group":
        return bool(supply.main_group[index] == key)
    if target == "province":
        return bool(supply.provinces[index] == key and str(key).isdigit())
    if target == "pricier":
        upfront = float(supply.upfront[index])
        return upfront > 0 and upfront >= float(key)
    raise ValueError(target)


# How a patent's IPC relates to a need's IPC area: (depth of the need's area, depth of the
# deepest level they share) → value; depth 1 = class (G06), 2 = subclass (G06T),
# 3 = main group (G06T7). An area given as a subclass is matched fully by its subclass.
IPC_RELATION: dict[tuple[int, int], float] = {
    (3, 3): 1.0,
    (3, 2): 0.7,
    (3, 1): 0.3,
    (2, 2): 1.0,
    (2, 1): 0.3,
    (1, 1): 0.6,
}


def ipc_relation(areas: Sequence[Sequence[str]], levels: frozenset[str]) -> tuple[float, str]:
    """The best relation of a patent's IPC levels to any of a need's areas, and the level
    they share (for the reason); the scalar side of Supply.ipc_row."""
    best, shared = 0.0, ""
    for area in areas:
        for depth in range(len(area), 0, -1):
            if area[depth - 1] in levels:
                value = IPC_RELATION.get((len(area), depth), 0.0)
                if value > best:
                    best, shared = value, area[depth - 1]
                break
    return best, shared


def topical(
    semantic: np.ndarray,
    industry: np.ndarray,
    keywords: np.ndarray | float,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The topical part of the formula, float32 (into `out` when given)."""
    weights = settings.MATCHING_WEIGHTS
    total = np.multiply(semantic, np.float32(weights["semantic"]), out=out, dtype=np.float32)
    total += np.float32(weights["industry"]) * industry
    if not (np.isscalar(keywords) and keywords == 0):
        total += np.float32(weights["keywords"]) * np.asarray(keywords, dtype=np.float32)
    return total


def context_factor(region: np.ndarray, affordability: np.ndarray) -> np.ndarray:
    """The multiplier region and affordability apply to the topical score, float32."""
    weights = settings.MATCHING_WEIGHTS
    factor = np.float32(weights["region"]) * region.astype(np.float32, copy=False)
    factor += np.float32(weights["affordability"]) * affordability.astype(np.float32, copy=False)
    factor += np.float32(1.0)
    return factor


def formula(
    semantic: np.ndarray,
    industry: np.ndarray,
    keywords: np.ndarray | float,
    region: np.ndarray,
    affordability: np.ndarray,
) -> np.ndarray:
    """The whole formula on component arrays (broadcast): topical × context factor (feedback
    adjustments are added after, by the same table on both paths)."""
    return topical(semantic, industry, keywords) * context_factor(region, affordability)


@dataclass
class Demand:
    """One list: an SME's profile (need_id None) or one of its open needs — industry,
    province, budget, keywords (each as its search tokens), IPC areas and text vector."""

    organisation_id: int
    industry: str
    province: str
    province_name: str
    budget: Decimal | None
    keywords: list[str]
    vector: np.ndarray
    need_id: int | None = None
    # Each keyword as search matches it (Keyword), aligned with keywords; empty: the keyword
    # itself, lower-cased, as one token.
    keyword_tokens: list[Keyword] = field(default_factory=list)
    # The need's IPC areas as their levels (("G06", "G06T"), ("H01", "H01M", "H01M10")).
    ipc_areas: tuple[tuple[str, ...], ...] = ()
    adjustments: tuple[Adjustment, ...] = ()
    rejected_declarations: set[int] = field(default_factory=set)

    @property
    def key(self) -> tuple[int, int | None]:
        return (self.organisation_id, self.need_id)

    def keyword_terms(self) -> list[Keyword]:
        if self.keyword_tokens:
            return self.keyword_tokens
        return [(((word.lower(),),),) for word in self.keywords]


def industry_relation(sme_code: str, patent_code: str) -> float:
    """1 when one code contains the other; 0.6 within one division; 0.25 within a section."""
    if not sme_code or not patent_code:
        return 0.0
    if sme_code.startswith(patent_code) or patent_code.startswith(sme_code):
        return 1.0
    if sme_code[:3] == patent_code[:3]:
        return 0.6
    if sme_code[0] == patent_code[0]:
        return 0.25
    return 0.0


class IndustryCache:
    """Industry relevance of every declaration for one SME industry code, computed once per
    code: the relation is worked out per distinct concordance code (hundreds), then spread
    over the (declaration, code, weight) pairs with numpy."""

    def __init__(self, supply: Supply) -> None:
        self.supply = supply
        codes: dict[str, int] = {}
        rows: list[int] = []
        columns: list[int] = []
        weights: list[float] = []
        for index, industries in enumerate(supply.industries):
            for code, weight in industries.items():
                rows.append(index)
                columns.append(codes.setdefault(code, len(codes)))
                weights.append(weight)
        self.codes = list(codes)
        self.pair_rows = np.array(rows, dtype=np.int64)
        self.pair_codes = np.array(columns, dtype=np.int64)
        self.pair_weights = np.array(weights, dtype=np.float64)
        self.row_ids, self.row_starts = np.unique(self.pair_rows, return_index=True)
        self.rows: dict[str, np.ndarray] = {}
        # industry_relation(code, concordance code) per SME code: `best` runs for every match
        # of a full re-match (millions), and the relation alone was a fifth of a chunk's time.
        self.relations: dict[str, dict[str, float]] = {}

    def relation(self, code: str) -> dict[str, float]:
        """industry_relation(code, c) for every concordance code c seen so far (cached)."""
        found = self.relations.get(code)
        if found is None:
            found = self.relations[code] = {c: industry_relation(code, c) for c in self.codes}
        return found

    def extend(self, start: int) -> None:
        """The supply grew from `start` rows (Supply.extend): add the new rows' pairs and
        their value to every code's row computed so far (pairs stay in row order)."""
        codes = {code: number for number, code in enumerate(self.codes)}
        rows: list[int] = []
        columns: list[int] = []
        weights: list[float] = []
        for index in range(start, len(self.supply)):
            for code, weight in self.supply.industries[index].items():
                rows.append(index)
                columns.append(codes.setdefault(code, len(codes)))
                weights.append(weight)
        self.codes = list(codes)
        self.pair_rows = np.concatenate([self.pair_rows, np.array(rows, dtype=np.int64)])
        self.pair_codes = np.concatenate([self.pair_codes, np.array(columns, dtype=np.int64)])
        self.pair_weights = np.concatenate([self.pair_weights, np.array(weights, np.float64)])
        self.row_ids, self.row_starts = np.unique(self.pair_rows, return_index=True)
        for code, values in self.rows.items():
            added = np.array(
                [
                    max(
                        (
                            w * industry_relation(code, c)
                            for c, w in self.supply.industries[index].items()
                        ),
                        default=0.0,
                    )
                    for index in range(start, len(self.supply))
                ],
                dtype=np.float32,
            )
            self.rows[code] = np.concatenate([values, added])

    def row(self, code: str) -> np.ndarray:
        """max over a declaration's industries of weight × relation, per declaration."""
        if code not in self.rows:
            known = self.relation(code)
            relation = np.array(
                [
                    known[c] if c in known else known.setdefault(c, industry_relation(code, c))
                    for c in self.codes
                ],
                np.float64,
            )
            values = np.zeros(len(self.supply), dtype=np.float64)
            if self.pair_rows.size:
                # Pairs are in row order: the maximum per row is a reduceat over row starts.
                pairs = self.pair_weights * relation[self.pair_codes]
                values[self.row_ids] = np.maximum.reduceat(pairs, self.row_starts)
            self.rows[code] = values.astype(np.float32)
        return self.rows[code]

    def best(self, code: str, index: int) -> str:
        """The declaration's industry that gave the value (the first of equals), for reasons."""
        top, best = 0.0, ""
        known = self.relation(code)
        for industry, weight in self.supply.industries[index].items():
            relation = known.get(industry)
            if relation is None:  # a code the supply gained since (extend)
                relation = known[industry] = industry_relation(code, industry)
            value = weight * relation
            if value > top:
                top, best = value, industry
        return best


def keyword_scores(supply: Supply, demand: Demand) -> np.ndarray | None:
    """Share of the list's keywords whose every token is in each declaration's text (None
    when the list has no keywords)."""
    terms = demand.keyword_terms()
    if not terms:
        return None
    counts = np.zeros(len(supply), dtype=np.float64)
    for keyword in terms:
        counts[supply.rows_with_keyword(keyword)] += 1.0
    return (counts / len(terms)).astype(np.float32)


def industry_component(supply: Supply, demand: Demand, industries: IndustryCache) -> np.ndarray:
    """The larger of the industry relation (concordance) and the need's IPC relation."""
    row = industries.row(demand.industry)
    if demand.ipc_areas:
        return np.maximum(row, supply.ipc_row(demand.ipc_areas))
    return row


def _affordability(supply: Supply, budget: Decimal | None) -> np.ndarray:
    if budget is None or budget <= 0:
        return np.full(len(supply), 0.5, dtype=np.float32)  # unknown: neutral
    limit = float(budget)
    upfront = supply.upfront
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(upfront <= limit, 1.0, limit / np.maximum(upfront, 1.0))
    return ratio.astype(np.float32)


@dataclass(slots=True)
class Scored:
    index: int
    score: float
    components: dict[str, float]
    reasons: list[dict[str, Any]]  # codes with parameters (matching.reasons renders them)


# SMEs scored together: one (block × declarations) float32 matrix per feature step, ~60 MB
# at 59,000 declarations, so the working set stays in memory and numpy runs whole rows.
BLOCK = 256


def score_sme(
    supply: Supply,
    demand: Demand,
    industries: IndustryCache,
    *,
    top_k: int | None = None,
    per_patentee: int | None = None,
) -> list[Scored]:
    """The list's best declarations, highest score first, explained."""
    return score_smes(supply, [demand], industries, top_k=top_k, per_patentee=per_patentee)[0]


def score_smes(
    supply: Supply,
    demands: Sequence[Demand],
    industries: IndustryCache,
    *,
    top_k: int | None = None,
    per_patentee: int | None = None,
) -> list[list[Scored]]:
    """Each SME's best declarations, highest score first, explained; SMEs are scored a block
    at a time as matrices (one matrix product for the semantic part, then whole-row sums)."""
    top_k = top_k or settings.MATCHING_TOP_K
    per_patentee = per_patentee or settings.MATCHING_PER_PATENTEE
    if len(supply) == 0:
        return [[] for _ in demands]
    results: list[list[Scored]] = []
    candidates = min(len(supply), top_k * 4 + per_patentee * 10)
    for start in range(0, len(demands), BLOCK):
        block = demands[start : start + BLOCK]
        total, semantic, keywords = score_totals(supply, block, industries)
        for row, demand in enumerate(block):
            picked = _ties_by_row(total[row], _top(total[row], candidates))
            # Highest score first; equal scores by supply row (declaration id), so a list
            # never depends on how the partition happened to order ties.
            picked = picked[np.lexsort((picked, -total[row, picked]))]
            results.append(
                _choose(
                    supply,
                    demand,
                    industries,
                    picked,
                    total[row],
                    semantic[row],
                    keywords.get(row),
                    top_k,
                    per_patentee,
                )
            )
    return results


def _ties_by_row(line: np.ndarray, picked: np.ndarray) -> np.ndarray:
    """The partition keeps an arbitrary few of the values equal to its lowest kept value;
    keep the first rows (declaration ids) among them instead, so equal scores are
    ordered deterministically even when more of them tie than are kept."""
    if not picked.size:
        return picked
    lowest = line[picked].min()
    if not np.isfinite(lowest):
        return picked
    above = picked[line[picked] > lowest]
    tied = np.flatnonzero(line == lowest)[: picked.size - above.size]
    return np.concatenate([above, tied])


_SAMPLE = 2048  # columns sampled to guess a threshold that keeps a few hundred candidates


def _top(line: np.ndarray, count: int) -> np.ndarray:
    """Indices of the `count` highest values (unordered). A full argpartition of 59,000 values
    per SME costs ~0.8 ms; instead a threshold from a fixed sample of columns keeps a few
    hundred values, which are partitioned. Exact: when fewer than `count` values pass the
    threshold, the whole row is partitioned."""
    size = line.shape[0]
    if size > 8 * _SAMPLE:
        step = size // _SAMPLE
        sample = line[::step]
        keep = max(2, (2 * count * sample.shape[0]) // size + 1)
        threshold = np.partition(sample, sample.shape[0] - keep)[sample.shape[0] - keep]
        if np.isfinite(threshold):
            passed = np.flatnonzero(line >= threshold)
            if passed.shape[0] >= count:
                if passed.shape[0] == count:
                    return passed
                chosen = np.argpartition(-line[passed], count - 1)[:count]
                return passed[chosen]
    return np.argpartition(-line, count - 1)[:count]


def score_totals(
    supply: Supply, block: Sequence[Demand], industries: IndustryCache
) -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]:
    """The score (formula() plus feedback) for a block of lists (rows) × every declaration
    (columns), float32; also the semantic matrix and the keyword rows, for the reasons.
    Excluded pairs (own patents, declarations the SME rejected or licenses) are -inf."""
    if len(block) > BLOCK:
        raise ValueError(f"score at most {BLOCK} SMEs at a time")
    vectors = np.vstack([demand.vector for demand in block]).astype(np.float32, copy=False)
    # Two (block × declarations) buffers reused from block to block: fresh 60 MB arrays
    # would cost a page fault per 4 KiB each time. The caller reads them before the next call.
    # Flat, with room to spare: a supply grown by an announcement reuses them.
    size = BLOCK * len(supply)
    if supply._scratch is None or supply._scratch[0].shape[0] < size:
        room = size + BLOCK * 256
        supply._scratch = (np.empty(room, np.float32), np.empty(room, np.float32))
    semantic = supply._scratch[0][:size].reshape(BLOCK, len(supply))[: len(block)]
    total = supply._scratch[1][:size].reshape(BLOCK, len(supply))[: len(block)]
    np.matmul(vectors, supply.vectors.T, out=semantic)
    np.clip(semantic, 0.0, 1.0, out=semantic)
    keywords: dict[int, np.ndarray] = {}
    for row, demand in enumerate(block):
        line = total[row]
        found = keyword_scores(supply, demand)
        if found is not None:
            keywords[row] = found
        # formula(), with the context factor cached per (budget, province).
        topical(
            semantic[row],
            industry_component(supply, demand, industries),
            found if found is not None else 0.0,
            out=line,
        )
        line *= supply.context(demand.budget, demand.province)
        for target, key, delta in demand.adjustments:
            line[adjustment_rows(supply, target, key)] += np.float32(delta)
        line[supply.rows_of_patentee(demand.organisation_id)] = -np.inf  # never one's own
        line[supply.retired_rows()] = -np.inf
        for declaration_id in demand.rejected_declarations:
            index = supply.row_of(declaration_id)
            if index is not None:
                line[index] = -np.inf
    return total, semantic, keywords


def _choose(
    supply: Supply,
    demand: Demand,
    industries: IndustryCache,
    order: np.ndarray,
    total: np.ndarray,
    semantic: np.ndarray,
    keywords: np.ndarray | None,
    top_k: int,
    per_patentee: int,
) -> list[Scored]:
    """Walk the ranked candidates: at most `per_patentee` per patentee, `top_k` in all, none
    under settings.MATCHING_MIN_SCORE or without a reason.

    The hot loop of a full re-match (millions of matches): the values are read as Python
    floats at once; the reasons are reason_codes()."""
    chosen: list[Scored] = []
    per: dict[int, int] = {}
    # The candidates' values as Python floats at once (numpy scalars cost ~1 µs each).
    totals = total[order].tolist()
    semantics = semantic[order].tolist()
    by_industry = industries.row(demand.industry)[order].tolist()
    by_ipc = (
        supply.ipc_row(demand.ipc_areas)[order].tolist() if demand.ipc_areas else [0.0] * len(order)
    )
    afford = supply.affordability(demand.budget)[order].tolist()
    found = keywords[order].tolist() if keywords is not None else None
    # Which of the list's keywords each candidate's text holds, for its reasons: the rows
    # keyword_scores met them in, looked up at once (keyword_found per match and keyword was
    # a tenth of a full re-match).
    hits = (
        [
            np.isin(order, supply.rows_with_keyword(terms)).tolist()
            for terms in demand.keyword_terms()
        ]
        if keywords is not None
        else []
    )
    patentees = supply.patentee_ids[order].tolist()
    province = demand.province
    provinces = supply.provinces
    minimum = float(settings.MATCHING_MIN_SCORE)
    for position, index in enumerate(order.tolist()):
        value = totals[position]
        if len(chosen) >= top_k or not math.isfinite(value) or value < minimum:
            break
        patentee = patentees[position]
        if per.get(patentee, 0) >= per_patentee:
            continue
        components = {
            "semantic": round(semantics[position], 4),
            "industry": round(max(by_industry[position], by_ipc[position]), 4),
            "keywords": round(found[position], 4) if found is not None else 0.0,
            "region": 1.0 if province and provinces[index] == province else 0.0,
            "affordability": round(afford[position], 4),
        }
        words = [word for word, hit in zip(demand.keywords, hits, strict=False) if hit[position]]
        reasons = reason_codes(
            supply, demand, industries, index, components, by_industry[position], words=words
        )
        if not reasons:
            continue  # nothing to tell the SME why: not shown
        per[patentee] = per.get(patentee, 0) + 1
        chosen.append(Scored(index, round(value, 6), components, reasons))
    return chosen


SIMILAR_CONTENT = 0.15  # the semantic similarity worth a reason


def reason_codes(
    supply: Supply,
    demand: Demand,
    industries: IndustryCache,
    index: int,
    components: dict[str, float],
    industry_value: float,
    *,
    words: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Why a declaration is in a list, as codes with parameters (the one place reasons are
    made; matching.reasons renders them). `words`: the list's keywords the declaration's text
    holds, when the caller found them already (on arrays); else they are found here."""
    reasons: list[dict[str, Any]] = []
    if components["semantic"] >= SIMILAR_CONTENT:
        reasons.append({"code": "similar_content", "similarity": components["semantic"]})
    if demand.ipc_areas:
        value, shared = ipc_relation(demand.ipc_areas, supply.ipc_levels[index])
        if value > 0:
            reasons.append({"code": "same_ipc", "ipc": shared})
    if industry_value > 0:
        best = industries.best(demand.industry, index)
        if best:
            reasons.append(
                {"code": "ipc_industry", "ipc": supply.ipc_label[index], "industry": best}
            )
    if components["keywords"] > 0:
        if words is None:
            tokens = supply.tokens[index]
            words = [
                word
                for word, terms in zip(demand.keywords, demand.keyword_terms(), strict=False)
                if keyword_found(terms, tokens)
            ]
        reasons.append({"code": "keywords", "words": words})
    if components["region"] > 0:
        reasons.append({"code": "same_province", "province": demand.province})
    if demand.budget is not None and components["affordability"] >= 1.0:
        reasons.append({"code": "within_budget"})
    return reasons


def as_vector(data: bytes | memoryview | None, dim: int) -> np.ndarray:
    if not data:
        return np.zeros(dim, dtype=np.float32)
    return np.frombuffer(bytes(data), dtype=np.float32).copy()
