"""The batched scorer against the formula written out per SME: same lists, scores and reasons."""

from __future__ import annotations

import random
from decimal import Decimal

import numpy as np
import pytest
from django.conf import settings

from matching.engine import (
    Demand,
    IndustryCache,
    Supply,
    _reasons,
    _top,
    industry_relation,
    score_sme,
    score_smes,
)

CODES = ["C3841", "C3849", "C38", "C3974", "C17", "C1751", "I6513", "C27"]
PROVINCES = ["11", "32", "33", "44", ""]
WORDS = ["锂", "正极", "包覆", "显示", "面板", "阻燃", "纤维", "药物", "数据", "电机"]
SUBCLASSES = ["H01M", "H10K", "D06M", "A61K", "G06F"]


def _supply(rng: random.Random, size: int) -> Supply:
    vectors = np.array(
        [[rng.gauss(0, 1) for _ in range(16)] for _ in range(size)], dtype=np.float32
    )
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return Supply(
        ids=np.arange(1000, 1000 + size, dtype=np.int64),
        patent_ids=np.arange(5000, 5000 + size, dtype=np.int64),
        # Few patentees, so the per-patentee cap bites; SME 7 is also a patentee.
        patentee_ids=np.array([rng.choice([7, 101, 102, 103, 104]) for _ in range(size)]),
        provinces=[rng.choice(PROVINCES) for _ in range(size)],
        vectors=vectors,
        industries=[
            {code: rng.choice([0.3, 0.6, 1.0]) for code in rng.sample(CODES, rng.randint(0, 2))}
            for _ in range(size)
        ],
        tokens=[set(rng.sample(WORDS, rng.randint(0, 4))) for _ in range(size)],
        upfront=np.array([rng.choice([0.0, 50_000.0, 300_000.0]) for _ in range(size)]),
        main_subclass=[rng.choice(SUBCLASSES) for _ in range(size)],
        ipc_label=[rng.choice(SUBCLASSES) for _ in range(size)],
    )


def _demands(rng: random.Random, supply: Supply, count: int) -> list[Demand]:
    demands = []
    for number in range(count):
        vector = supply.vectors[rng.randrange(len(supply))] + np.float32(0.3) * np.array(
            [rng.gauss(0, 1) for _ in range(16)], dtype=np.float32
        )
        vector = (vector / np.linalg.norm(vector)).astype(np.float32)
        demands.append(
            Demand(
                organisation_id=7 if number == 0 else 200 + number,
                industry=rng.choice(CODES),
                province=rng.choice(PROVINCES),
                province_name="某省",
                budget=rng.choice([None, Decimal("0"), Decimal("60000"), Decimal("1000000")]),
                keywords=rng.sample(WORDS, rng.randint(0, 3)),
                vector=vector if number % 5 else np.zeros(16, dtype=np.float32),
                need_id=number if number % 2 else None,
                interested_subclasses={"H01M"} if number % 4 == 1 else set(),
                rejected_subclasses={"H10K"} if number % 3 == 1 else set(),
                rejected_declarations={1000 + number} if number % 6 == 2 else set(),
            )
        )
    return demands


def _reference(
    supply: Supply, demand: Demand, names: dict[str, str], top_k: int, per_patentee: int
) -> list[tuple[int, float, dict[str, float], list[str], list[str]]]:
    """The score as it was written before batching: one SME, one loop per declaration."""
    weights = settings.MATCHING_WEIGHTS
    semantic = np.clip(supply.vectors @ demand.vector, 0.0, 1.0)
    industry = np.zeros(len(supply), dtype=np.float32)
    best = [""] * len(supply)
    for index, industries in enumerate(supply.industries):
        top = 0.0
        for code, weight in industries.items():
            value = weight * industry_relation(demand.industry, code)
            if value > top:
                top, best[index] = value, code
        industry[index] = top
    keywords = np.zeros(len(supply), dtype=np.float32)
    hits: list[list[str]] = [[] for _ in range(len(supply))]
    for index, tokens in enumerate(supply.tokens):
        found = [word for word in demand.keywords if word in tokens]
        if found:
            keywords[index] = len(found) / len(demand.keywords)
            hits[index] = found
    region = np.array(
        [1.0 if p and p == demand.province else 0.0 for p in supply.provinces], dtype=np.float32
    )
    if demand.budget is None or demand.budget <= 0:
        afford = np.full(len(supply), 0.5, dtype=np.float32)
    else:
        limit = float(demand.budget)
        afford = np.where(
            supply.upfront <= limit, 1.0, limit / np.maximum(supply.upfront, 1.0)
        ).astype(np.float32)
    # Topic first: region and affordability multiply the topical score.
    total = (
        weights["semantic"] * semantic
        + weights["industry"] * industry
        + weights["keywords"] * keywords
    ) * (1 + weights["region"] * region + weights["affordability"] * afford)
    for index, subclass in enumerate(supply.main_subclass):
        if subclass in demand.interested_subclasses:
            total[index] += 0.05
        if subclass in demand.rejected_subclasses:
            total[index] -= 0.10
    total[supply.patentee_ids == demand.organisation_id] = -np.inf
    for declaration_id in demand.rejected_declarations:
        total[supply.ids == declaration_id] = -np.inf
    order = sorted(range(len(supply)), key=lambda index: -total[index])
    chosen: list[tuple[int, float, dict[str, float], list[str], list[str]]] = []
    per: dict[int, int] = {}
    for index in order:
        if (
            not np.isfinite(total[index])
            or len(chosen) >= top_k
            or total[index] < settings.MATCHING_MIN_SCORE
        ):
            break
        patentee = int(supply.patentee_ids[index])
        if per.get(patentee, 0) >= per_patentee:
            continue
        components = {
            "semantic": round(float(semantic[index]), 4),
            "industry": round(float(industry[index]), 4),
            "keywords": round(float(keywords[index]), 4),
            "region": round(float(region[index]), 4),
            "affordability": round(float(afford[index]), 4),
        }
        zh, en = _reasons(supply, demand, index, components, best[index], hits[index], names)
        if not zh:
            continue  # no reason to show: not listed
        per[patentee] = per.get(patentee, 0) + 1
        chosen.append((index, round(float(total[index]), 6), components, zh, en))
    return chosen


@pytest.mark.parametrize("size", [40, 700])
def test_the_batched_scorer_gives_the_per_sme_formulas_lists_scores_and_reasons(
    size: int,
) -> None:
    rng = random.Random(size)
    supply = _supply(rng, size)
    demands = _demands(rng, supply, 300)  # more than one block of SMEs
    names = {"C3841": "锂离子电池制造"}
    batched = score_smes(supply, demands, IndustryCache(supply), names, top_k=12, per_patentee=3)
    for demand, ranked in zip(demands, batched, strict=True):
        expected = _reference(supply, demand, names, 12, 3)
        assert [s.index for s in ranked] == [e[0] for e in expected]
        assert [s.score for s in ranked] == pytest.approx([e[1] for e in expected], abs=2e-6)
        assert [s.components for s in ranked] == [e[2] for e in expected]
        assert [(s.reasons_zh, s.reasons_en) for s in ranked] == [(e[3], e[4]) for e in expected]
    # One SME alone is scored as in a block.
    alone = score_sme(supply, demands[3], IndustryCache(supply), names, top_k=12, per_patentee=3)
    assert [s.index for s in alone] == [s.index for s in batched[3]]


def test_an_sme_never_gets_its_own_patents_or_a_rejected_declaration() -> None:
    rng = random.Random(3)
    supply = _supply(rng, 60)
    demands = _demands(rng, supply, 3)
    ranked = score_smes(supply, demands, IndustryCache(supply), {}, top_k=60, per_patentee=60)
    assert not any(supply.patentee_ids[s.index] == 7 for s in ranked[0])
    assert all(int(supply.ids[s.index]) != 1002 for s in ranked[2])


def test_the_sampled_threshold_finds_the_same_top_values_as_a_full_partition() -> None:
    rng = np.random.default_rng(5)
    for line in (
        rng.random(60_000, dtype=np.float32),
        np.concatenate([np.full(59_000, -np.inf, np.float32), rng.random(1_000, np.float32)]),
        np.zeros(60_000, dtype=np.float32),  # all equal: falls back to the full partition
    ):
        picked = _top(line, 230)
        assert picked.shape == (230,)
        assert np.sort(line[picked]).tolist() == np.sort(line)[-230:].tolist()
