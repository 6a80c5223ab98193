"""The match score: an explainable weighted sum, the same formula both ways.

score = Σ weight·component over semantic similarity, IPC↔industry relevance, keyword overlap,
region and affordability (weights in settings.MATCHING_WEIGHTS). Hard filters: the
declaration is in force and its patent in force (the supply loader), the patentee is not the
SME. At most MATCHING_PER_PATENTEE patents of one patentee in a list.
"""

from __future__ import annotations

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

    def __len__(self) -> int:
        return int(self.ids.shape[0])


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
    """Industry relevance of every declaration for one SME industry code, computed once."""

    def __init__(self, supply: Supply) -> None:
        self.supply = supply
        self.rows: dict[str, tuple[np.ndarray, list[str]]] = {}

    def row(self, code: str) -> tuple[np.ndarray, list[str]]:
        if code not in self.rows:
            values = np.zeros(len(self.supply), dtype=np.float32)
            best: list[str] = [""] * len(self.supply)
            for index, industries in enumerate(self.supply.industries):
                top = 0.0
                for industry, weight in industries.items():
                    value = weight * industry_relation(code, industry)
                    if value > top:
                        top, best[index] = value, industry
                values[index] = top
            self.rows[code] = (values, best)
        return self.rows[code]


def _keyword_scores(supply: Supply, keywords: Sequence[str]) -> tuple[np.ndarray, list[list[str]]]:
    scores = np.zeros(len(supply), dtype=np.float32)
    hits: list[list[str]] = [[] for _ in range(len(supply))]
    if not keywords:
        return scores, hits
    for index, tokens in enumerate(supply.tokens):
        found = [word for word in keywords if word in tokens]
        if found:
            scores[index] = len(found) / len(keywords)
            hits[index] = found
    return scores, hits


def _affordability(supply: Supply, budget: Decimal | None) -> np.ndarray:
    if budget is None or budget <= 0:
        return np.full(len(supply), 0.5, dtype=np.float32)  # unknown: neutral
    limit = float(budget)
    upfront = supply.upfront
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(upfront <= limit, 1.0, limit / np.maximum(upfront, 1.0))
    return ratio.astype(np.float32)


@dataclass
class Scored:
    index: int
    score: float
    components: dict[str, float]
    reasons_zh: list[str]
    reasons_en: list[str]


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
    weights = settings.MATCHING_WEIGHTS
    top_k = top_k or settings.MATCHING_TOP_K
    per_patentee = per_patentee or settings.MATCHING_PER_PATENTEE
    if len(supply) == 0:
        return []
    semantic = np.clip(supply.vectors @ demand.vector, 0.0, 1.0)
    industry, best_industry = industries.row(demand.industry)
    keywords, hits = _keyword_scores(supply, demand.keywords)
    region = np.array(
        [1.0 if p and p == demand.province else 0.0 for p in supply.provinces], dtype=np.float32
    )
    afford = _affordability(supply, demand.budget)
    total = (
        weights["semantic"] * semantic
        + weights["industry"] * industry
        + weights["keywords"] * keywords
        + weights["region"] * region
        + weights["affordability"] * afford
    )
    # Feedback: similar patents (same IPC subclass) rise or fall for this SME.
    if demand.interested_subclasses or demand.rejected_subclasses:
        for index, subclass in enumerate(supply.main_subclass):
            if subclass in demand.interested_subclasses:
                total[index] += 0.05
            if subclass in demand.rejected_subclasses:
                total[index] -= 0.10
    total[supply.patentee_ids == demand.organisation_id] = -np.inf  # never one's own patents
    for declaration_id in demand.rejected_declarations:
        total[supply.ids == declaration_id] = -np.inf
    candidates = min(len(supply), top_k * 4 + per_patentee * 10)
    order = np.argpartition(-total, candidates - 1)[:candidates]
    order = order[np.argsort(-total[order], kind="stable")]
    chosen: list[Scored] = []
    per: dict[int, int] = {}
    for index in order.tolist():
        if not np.isfinite(total[index]) or len(chosen) >= top_k:
            break
        patentee = int(supply.patentee_ids[index])
        if per.get(patentee, 0) >= per_patentee:
            continue
        per[patentee] = per.get(patentee, 0) + 1
        components = {
            "semantic": round(float(semantic[index]), 4),
            "industry": round(float(industry[index]), 4),
            "keywords": round(float(keywords[index]), 4),
            "region": round(float(region[index]), 4),
            "affordability": round(float(afford[index]), 4),
        }
        chosen.append(
            Scored(
                index,
                round(float(total[index]), 6),
                components,
                *_reasons(
                    supply,
                    demand,
                    index,
                    components,
                    best_industry[index],
                    hits[index],
                    industry_names,
                ),
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
