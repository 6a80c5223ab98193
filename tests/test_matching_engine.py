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
    _top,
    adjustment_hits,
    industry_relation,
    ipc_relation,
    reason_codes,
    score_sme,
    score_smes,
)

CODES = ["C3841", "C3849", "C38", "C3974", "C17", "C1751", "I6513", "C27"]
PROVINCES = ["11", "32", "33", "44", ""]
WORDS = ["锂", "正极", "包覆", "显示", "面板", "阻燃", "纤维", "药物", "数据", "电机"]
SUBCLASSES = ["H01M", "H10K", "D06M", "A61K", "G06F"]
GROUPS = ["H01M4", "H01M10", "H10K59", "D06M11", "A61K31", "G06F16"]
AREAS: list[tuple[tuple[str, ...], ...]] = [
    (),
    (("H01", "H01M"),),
    (("H01", "H01M", "H01M10"),),
    (("G06", "G06F", "G06F16"), ("H10",)),
]


def _supply(rng: random.Random, size: int) -> Supply:
    vectors = np.array(
        [[rng.gauss(0, 1) for _ in range(16)] for _ in range(size)], dtype=np.float32
    )
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    supply = Supply(
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
        ipc_levels=[
            frozenset(
                level
                for group in rng.sample(GROUPS, rng.randint(1, 2))
                for level in (group[:3], group[:4], group)
            )
            for _ in range(size)
        ],
        main_group=[rng.choice(GROUPS) for _ in range(size)],
    )
    supply.main_subclass = [group[:4] for group in supply.main_group]
    return supply


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
                ipc_areas=rng.choice(AREAS),
                adjustments=tuple(
                    rng.sample(
                        [
                            ("subclass", "H01M", 0.05),
                            ("subclass", "H10K", -0.10),
                            ("group", "H01M10", -0.15),
                            ("pricier", 50_000.0, -0.05),
                            ("province", "32", -0.05),
                        ],
                        rng.randint(0, 2),
                    )
                ),
                rejected_declarations={1000 + number} if number % 6 == 2 else set(),
            )
        )
    return demands


def _reference(
    supply: Supply, demand: Demand, top_k: int, per_patentee: int
) -> list[tuple[int, float, dict[str, float], list[dict[str, object]]]]:
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
        industry[index] = max(top, ipc_relation(demand.ipc_areas, supply.ipc_levels[index])[0])
    by_industry = industry.copy()
    for index, industries in enumerate(supply.industries):
        by_industry[index] = max(
            (w * industry_relation(demand.industry, c) for c, w in industries.items()),
            default=0.0,
        )
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
    for index in range(len(supply)):
        for target, key, delta in demand.adjustments:
            if adjustment_hits(supply, index, target, key):
                total[index] += np.float32(delta)
    total[supply.patentee_ids == demand.organisation_id] = -np.inf
    for declaration_id in demand.rejected_declarations:
        total[supply.ids == declaration_id] = -np.inf
    order = sorted(range(len(supply)), key=lambda index: -total[index])
    chosen: list[tuple[int, float, dict[str, float], list[dict[str, object]]]] = []
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
        reasons = reason_codes(
            supply, demand, IndustryCache(supply), index, components, float(by_industry[index])
        )
        if not reasons:
            continue  # no reason to show: not listed
        assert [r["words"] for r in reasons if r["code"] == "keywords"] in ([], [hits[index]])
        per[patentee] = per.get(patentee, 0) + 1
        chosen.append((index, round(float(total[index]), 6), components, reasons))
    return chosen


@pytest.mark.parametrize("size", [40, 700])
def test_the_batched_scorer_gives_the_per_sme_formulas_lists_scores_and_reasons(
    size: int,
) -> None:
    rng = random.Random(size)
    supply = _supply(rng, size)
    demands = _demands(rng, supply, 300)  # more than one block of SMEs
    batched = score_smes(supply, demands, IndustryCache(supply), top_k=12, per_patentee=3)
    for demand, ranked in zip(demands, batched, strict=True):
        expected = _reference(supply, demand, 12, 3)
        assert [s.index for s in ranked] == [e[0] for e in expected]
        assert [s.score for s in ranked] == pytest.approx([e[1] for e in expected], abs=2e-6)
        # (a single vector's dot product may differ from the block's in the last float32 bit,
        # which can move a rounding to 4 places)
        for got, (_index, _score, components, reasons) in zip(ranked, expected, strict=True):
            assert got.components == pytest.approx(components, abs=1.01e-4)
            assert [r["code"] for r in got.reasons] == [r["code"] for r in reasons]
    # One SME alone is scored as in a block.
    alone = score_sme(supply, demands[3], IndustryCache(supply), top_k=12, per_patentee=3)
    assert [s.index for s in alone] == [s.index for s in batched[3]]


def test_an_sme_never_gets_its_own_patents_or_a_rejected_declaration() -> None:
    rng = random.Random(3)
    supply = _supply(rng, 60)
    demands = _demands(rng, supply, 3)
    ranked = score_smes(supply, demands, IndustryCache(supply), top_k=60, per_patentee=60)
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


def test_a_need_keyword_meets_a_patent_by_its_synonym_or_its_parts() -> None:
    """锂电池 meets a patent that says 锂离子电池 (synonyms.tsv), an English keyword its Chinese
    synonym, 缺陷检测 a text with 缺陷 and 检测; a keyword with no form present scores 0."""
    from marketplace.search.segment import segment
    from matching.engine import keyword_found, keyword_scores
    from matching.services import keyword_terms

    texts = [
        "一种锂离子电池正极材料",  # 锂电池 by its synonym
        "有机发光二极管显示面板的缺陷检测方法",  # OLED by its synonym, 缺陷检测 by its parts
        "一种钠离子电池",  # neither
    ]
    tokens = [set(segment(text)) for text in texts]
    words, terms = keyword_terms(["锂电池", "OLED", "缺陷检测", "的"])
    assert words == ["锂电池", "OLED", "缺陷检测"]  # a keyword of stop words only is left out
    assert [[keyword_found(term, t) for term in terms] for t in tokens] == [
        [True, False, False],
        [False, True, True],
        [False, False, False],
    ]
    supply = _supply(random.Random(3), len(texts))
    supply.tokens = tokens
    demand = Demand(
        organisation_id=1,
        industry="",
        province="",
        province_name="",
        budget=None,
        keywords=words,
        keyword_tokens=terms,
        vector=np.zeros(16, dtype=np.float32),
        need_id=9,
    )
    scores = keyword_scores(supply, demand)
    assert scores is not None
    assert [round(float(value), 4) for value in scores] == [0.3333, 0.6667, 0.0]
    reasons = reason_codes(
        supply,
        demand,
        IndustryCache(supply),
        1,
        {"semantic": 0.0, "keywords": 0.6667, "region": 0.0, "affordability": 0.5},
        0.0,
    )
    assert reasons == [{"code": "keywords", "words": ["OLED", "缺陷检测"]}]
