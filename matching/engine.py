"""The match score: topic first, explainable by its components, one formula both ways.

    topical = w_semantic·semantic + w_industry·industry + w_keywords·keywords
    score   = topical × (1 + w_region·region + w_affordability·affordability)

(weights in settings.MATCHING_WEIGHTS; `combine` below, called by the full run's
score_totals and by the incremental estimate). Region and affordability multiply the topical
score instead of adding to it: a patentee from the SME's province or a patent within budget
moves ahead of candidates whose topical score is within ~20 % of its own, but an off-topic
patent (topical ≈ 0) stays ≈ 0 whatever its province or price, so it never outranks an
on-topic one. Hard filters: the declaration is in force and its patent in force (the supply
loader), the patentee is not the SME, the SME holds no license for it and has not marked it
not relevant. A list keeps only matches of at least settings.MATCHING_MIN_SCORE with at
least one reason; at most MATCHING_PER_PATENTEE patents of one patentee in a list; equal
scores in declaration id order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

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

    def __len__(self) -> int:
        return int(self.ids.shape[0])

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

# Feedback: patents in a subclass the SME marked interesting rise, in one it rejected fall.
FEEDBACK_RAISE = np.float32(0.05)
FEEDBACK_LOWER = np.float32(0.10)


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


def combine(
    semantic: np.ndarray,
    industry: np.ndarray,
    keywords: np.ndarray | float,
    region: np.ndarray,
    affordability: np.ndarray,
) -> np.ndarray:
    """The whole formula on component arrays (broadcast): topical × context factor."""
    return topical(semantic, industry, keywords) * context_factor(region, affordability)


@dataclass
class Demand:
    """One SME: its industry, province, budget, keywords and text vector."""

    organisation_id: int
    industry: str
    province: str
    province_name: str
    budget: Decimal | None
    keywords: list[str]
    vector: np.ndarray
    need_id: int | None = None
    interested_subclasses: set[str] = field(default_factory=set)
    rejected_subclasses: set[str] = field(default_factory=set)
    rejected_declarations: set[int] = field(default_factory=set)


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
        # (IPC label, industry) → the reason in Chinese and English.
        self.reasons: dict[tuple[str, str], tuple[str, str]] = {}

    def row(self, code: str) -> np.ndarray:
        """max over a declaration's industries of weight × relation, per declaration."""
        if code not in self.rows:
            relation = np.array([industry_relation(code, c) for c in self.codes], np.float64)
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
        for industry, weight in self.supply.industries[index].items():
            value = weight * industry_relation(code, industry)
            if value > top:
                top, best = value, industry
        return best


def _keyword_scores(supply: Supply, keywords: Sequence[str]) -> np.ndarray:
    """Share of the SME's keywords found in each declaration's text."""
    counts = np.zeros(len(supply), dtype=np.float64)
    for word in keywords:
        counts[supply.rows_with_token(word)] += 1.0
    return (counts / len(keywords)).astype(np.float32) if keywords else counts.astype(np.float32)


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
    reasons_zh: list[str]
    reasons_en: list[str]


# SMEs scored together: one (block × declarations) float32 matrix per feature step, ~60 MB
# at 59,000 declarations, so the working set stays in memory and numpy runs whole rows.
BLOCK = 256


def score_sme(
    supply: Supply,
    demand: Demand,
    industries: IndustryCache,
    industry_names: dict[str, str],
    *,
    top_k: int | None = None,
    per_patentee: int | None = None,
) -> list[Scored]:
    """The SME's best declarations, highest score first, explained."""
    return score_smes(
        supply, [demand], industries, industry_names, top_k=top_k, per_patentee=per_patentee
    )[0]


def score_smes(
    supply: Supply,
    demands: Sequence[Demand],
    industries: IndustryCache,
    industry_names: dict[str, str],
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
            picked = _top(total[row], candidates)
            # Highest score first; equal scores by supply row (declaration id), so a list
            # never depends on how the partition happened to order ties.
            picked = picked[np.lexsort((picked, -total[row, picked]))]
            results.append(
                _choose(
                    supply,
                    demand,
                    industries,
                    industry_names,
                    picked,
                    total[row],
                    semantic[row],
                    keywords.get(row),
                    top_k,
                    per_patentee,
                )
            )
    return results


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
    """The score (combine()) for a block of SMEs (rows) × every declaration (columns),
    float32; also the semantic matrix and the keyword rows, for the reasons.
    Excluded pairs (own patents, declarations the SME rejected) are -inf."""
    if len(block) > BLOCK:
        raise ValueError(f"score at most {BLOCK} SMEs at a time")
    vectors = np.vstack([demand.vector for demand in block]).astype(np.float32, copy=False)
    # Two (block × declarations) buffers reused from block to block: fresh 60 MB arrays
    # would cost a page fault per 4 KiB each time. The caller reads them before the next call.
    shape = (BLOCK, len(supply))
    if supply._scratch is None or supply._scratch[0].shape != shape:
        supply._scratch = (np.empty(shape, np.float32), np.empty(shape, np.float32))
    semantic = supply._scratch[0][: len(block)]
    total = supply._scratch[1][: len(block)]
    np.matmul(vectors, supply.vectors.T, out=semantic)
    np.clip(semantic, 0.0, 1.0, out=semantic)
    keywords: dict[int, np.ndarray] = {}
    for row, demand in enumerate(block):
        line = total[row]
        if demand.keywords:
            keywords[row] = _keyword_scores(supply, demand.keywords)
        # combine(), with the context factor cached per (budget, province).
        topical(semantic[row], industries.row(demand.industry), keywords.get(row, 0.0), out=line)
        line *= supply.context(demand.budget, demand.province)
        # Feedback: similar patents (same IPC subclass) rise or fall for this SME.
        if demand.interested_subclasses:
            line[supply.subclass_rows(demand.interested_subclasses)] += FEEDBACK_RAISE
        if demand.rejected_subclasses:
            line[supply.subclass_rows(demand.rejected_subclasses)] -= FEEDBACK_LOWER
        line[supply.rows_of_patentee(demand.organisation_id)] = -np.inf  # never one's own
        for declaration_id in demand.rejected_declarations:
            index = supply.row_of(declaration_id)
            if index is not None:
                line[index] = -np.inf
    return total, semantic, keywords


def _choose(
    supply: Supply,
    demand: Demand,
    industries: IndustryCache,
    industry_names: dict[str, str],
    order: np.ndarray,
    total: np.ndarray,
    semantic: np.ndarray,
    keywords: np.ndarray | None,
    top_k: int,
    per_patentee: int,
) -> list[Scored]:
    """Walk the ranked candidates: at most `per_patentee` per patentee, `top_k` in all, none
    under settings.MATCHING_MIN_SCORE or without a reason.

    The hot loop of a full re-match (5.5 million matches): the reasons are those of
    _reasons(), built here from pieces that are the same for the whole list."""
    chosen: list[Scored] = []
    per: dict[int, int] = {}
    # The candidates' values as Python floats at once (numpy scalars cost ~1 µs each).
    totals = total[order].tolist()
    semantics = semantic[order].tolist()
    industry = industries.row(demand.industry)[order].tolist()
    afford = supply.affordability(demand.budget)[order].tolist()
    found = keywords[order].tolist() if keywords is not None else None
    patentees = supply.patentee_ids[order].tolist()
    province = demand.province
    provinces = supply.provinces
    code = demand.industry
    labels = supply.ipc_label
    region_reasons = (f"同省: {demand.province_name}", f"same province: {demand.province_name}")
    has_budget = demand.budget is not None
    industry_reasons = industries.reasons
    minimum = float(settings.MATCHING_MIN_SCORE)
    for position, index in enumerate(order.tolist()):
        value = totals[position]
        if len(chosen) >= top_k or not math.isfinite(value) or value < minimum:
            break
        patentee = patentees[position]
        if per.get(patentee, 0) >= per_patentee:
            continue
        similarity = round(semantics[position], 4)
        relevance = round(industry[position], 4)
        share = round(found[position], 4) if found is not None else 0.0
        region = 1.0 if province and provinces[index] == province else 0.0
        affordable = round(afford[position], 4)
        zh: list[str] = []
        en: list[str] = []
        if similarity >= 0.15:
            zh.append(f"技术内容相似度 {similarity:.2f}")
            en.append(f"similar technical content ({similarity:.2f})")
        if relevance > 0:
            best = industries.best(code, index)
            if best:
                key = (labels[index], best)
                pair = industry_reasons.get(key)
                if pair is None:
                    name = industry_names.get(best, "")
                    pair = industry_reasons[key] = (
                        f"IPC {key[0]} ↔ 行业 {best} {name}".strip(),
                        f"IPC {key[0]} ↔ industry {best}",
                    )
                zh.append(pair[0])
                en.append(pair[1])
        if found is not None and found[position] > 0:
            tokens = supply.tokens[index]
            hits = ", ".join([word for word in demand.keywords if word in tokens])
            zh.append("关键词: " + hits)
            en.append("keywords: " + hits)
        if region > 0:
            zh.append(region_reasons[0])
            en.append(region_reasons[1])
        if has_budget and affordable >= 1.0:
            zh.append("许可费在预算内")
            en.append("royalty within budget")
        if not zh:
            continue  # nothing to tell the SME why: not shown
        per[patentee] = per.get(patentee, 0) + 1
        chosen.append(
            Scored(
                index,
                round(value, 6),
                {
                    "semantic": similarity,
                    "industry": relevance,
                    "keywords": share,
                    "region": region,
                    "affordability": affordable,
                },
                zh,
                en,
            )
        )
    return chosen


def _reasons(
    supply: Supply,
    demand: Demand,
    index: int,
    components: dict[str, float],
    industry: str,
    hits: list[str],
    industry_names: dict[str, str],
) -> tuple[list[str], list[str]]:
    zh: list[str] = []
    en: list[str] = []
    if components["semantic"] >= 0.15:
        zh.append(f"技术内容相似度 {components['semantic']:.2f}")
        en.append(f"similar technical content ({components['semantic']:.2f})")
    if components["industry"] > 0 and industry:
        name = industry_names.get(industry, "")
        zh.append(f"IPC {supply.ipc_label[index]} ↔ 行业 {industry} {name}".strip())
        en.append(f"IPC {supply.ipc_label[index]} ↔ industry {industry}")
    if hits:
        zh.append("关键词: " + ", ".join(hits))
        en.append("keywords: " + ", ".join(hits))
    if components["region"] > 0:
        zh.append(f"同省: {demand.province_name}")
        en.append(f"same province: {demand.province_name}")
    if demand.budget is not None and components["affordability"] >= 1.0:
        zh.append("许可费在预算内")
        en.append("royalty within budget")
    return zh, en


def as_vector(data: bytes | memoryview | None, dim: int) -> np.ndarray:
    if not data:
        return np.zeros(dim, dtype=np.float32)
    return np.frombuffer(bytes(data), dtype=np.float32).copy()
