"""Matching quality: precision@10 and recall@50 of the full score and of each single feature.

A labelled set with known ground truth is generated (eight technical fields, each with its
IPC subclass, GB/T 4754 industry and vocabulary; patents and SME needs drawn from a field's
vocabulary with noise from neighbouring fields, some SMEs with a wrong industry code or no
need at all), plus hand-written Chinese cases (a battery maker's need against battery,
display and textile patents). The engine runs in process on these arrays (no database).

    python bench/match_quality.py            # prints the table; exits 1 if the full score
                                             # does not beat every single feature
"""

from __future__ import annotations

import os
import random
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from django.test import override_settings  # noqa: E402

from marketplace.search.segment import index_tokens, query_tokens  # noqa: E402
from matching.embedders import get_embedder  # noqa: E402
from matching.engine import Demand, IndustryCache, Supply, score_sme  # noqa: E402


@dataclass(frozen=True)
class Field:
    name: str
    subclass: str
    industry: str
    words: tuple[str, ...]


FIELDS = (
    Field(
        "battery",
        "H01M",
        "C3841",
        (
            "锂离子",
            "正极",
            "负极",
            "电解液",
            "隔膜",
            "电池",
            "包覆",
            "三元材料",
            "磷酸铁锂",
            "循环寿命",
            "极片",
            "动力电池",
        ),
    ),
    Field(
        "display",
        "H10K",
        "C3974",
        (
            "显示",
            "面板",
            "有机发光",
            "像素",
            "驱动电路",
            "柔性",
            "薄膜封装",
            "亮度",
            "基板",
            "发光层",
        ),
    ),
    Field(
        "textile",
        "D06M",
        "C17",
        ("纺织", "面料", "阻燃", "整理剂", "纤维", "棉织物", "染色", "耐水洗", "织造", "纱线"),
    ),
    Field(
        "pharma",
        "A61K",
        "C27",
        ("药物", "制剂", "化合物", "片剂", "抗肿瘤", "口服", "辅料", "溶出", "药代", "注射液"),
    ),
    Field(
        "software",
        "G06F",
        "I6513",
        ("数据", "算法", "服务器", "数据库", "检索", "模型", "接口", "分布式", "缓存", "日志"),
    ),
    Field(
        "ev",
        "B60L",
        "C3612",
        (
            "电动汽车",
            "充电桩",
            "电机",
            "整车",
            "控制器",
            "续航",
            "能量回收",
            "车载",
            "换电",
            "充电",
        ),
    ),
    Field(
        "farm",
        "A01B",
        "C3572",
        ("播种", "耕作", "农机", "收割", "土壤", "旋耕", "开沟", "作物", "田间", "秸秆"),
    ),
    Field(
        "chips",
        "H01L",
        "C3972",
        ("晶圆", "芯片", "刻蚀", "封装", "半导体", "光刻", "掺杂", "外延", "栅极", "沟槽"),
    ),
)
NEIGHBOUR = {0: 5, 5: 0, 1: 7, 7: 1, 2: 6, 6: 2, 3: 4, 4: 3}  # fields that share some words
GENERIC = ("提高", "降低", "成本", "效率", "稳定", "结构", "简单", "性能")
PROVINCES = [f"{code:02d}" for code in (11, 31, 32, 33, 44, 51)]


def _text(rng: random.Random, field: Field, neighbour: Field, size: int, noise: float) -> str:
    words = [
        rng.choice(neighbour.words) if rng.random() < noise else rng.choice(field.words)
        for _ in range(size)
    ]
    words += rng.sample(GENERIC, 3)
    rng.shuffle(words)
    return "，".join(words) + "。"


def build(
    seed: int = 7, per_field_patents: int = 40, per_field_smes: int = 30
) -> tuple[Supply, list[Demand], dict[int, int]]:
    rng = random.Random(seed)
    embedder = get_embedder()
    titles, texts, fields, subclasses, provinces, upfront = [], [], [], [], [], []
    for index, field in enumerate(FIELDS):
        neighbour = FIELDS[NEIGHBOUR[index]]
        for _ in range(per_field_patents):
            text = _text(rng, field, neighbour, 14, 0.3)
            titles.append(text[:20])
            texts.append(text)
            fields.append(index)
            # 15 % carry a neighbouring field's subclass (classification is never perfect).
            subclasses.append(neighbour.subclass if rng.random() < 0.15 else field.subclass)
            provinces.append(rng.choice(PROVINCES))
            upfront.append(rng.choice([0.0, 50_000.0, 200_000.0, 1_000_000.0]))
    count = len(texts)
    supply = Supply(
        ids=np.arange(1, count + 1, dtype=np.int64),
        patent_ids=np.arange(1, count + 1, dtype=np.int64),
        patentee_ids=np.arange(100_001, 100_001 + count, dtype=np.int64),  # no cap effect
        provinces=provinces,
        vectors=embedder.embed(texts),
        industries=[
            {FIELDS[[f.subclass for f in FIELDS].index(s)].industry: 1.0} for s in subclasses
        ],
        tokens=[set(index_tokens(text).split()) for text in texts],
        upfront=np.array(upfront),
        main_subclass=subclasses,
        ipc_label=subclasses,
        titles=titles,
    )
    demands, truth = [], {}
    sme = 1
    for index, field in enumerate(FIELDS):
        neighbour = FIELDS[NEIGHBOUR[index]]
        for _ in range(per_field_smes):
            has_need = rng.random() < 0.75
            text = _text(rng, field, neighbour, rng.choice([3, 5, 8]), 0.35) if has_need else ""
            industry = neighbour.industry if rng.random() < 0.2 else field.industry
            vector = (
                embedder.embed([text or field.name])[0]
                if has_need
                else np.zeros(embedder.dim, np.float32)
            )
            demands.append(
                Demand(
                    organisation_id=sme,
                    industry=industry,
                    province=rng.choice(PROVINCES),
                    province_name="",
                    budget=Decimal(rng.choice([60_000, 300_000, 2_000_000])),
                    keywords=query_tokens(text)[:4] if has_need else [],
                    vector=vector,
                )
            )
            truth[sme] = index
            sme += 1
    return (
        supply,
        demands,
        {i + 1: f for i, f in enumerate(fields)} | {-sme_id: f for sme_id, f in truth.items()},
    )


def evaluate(weights: dict[str, float]) -> tuple[float, float]:
    supply, demands, labels = build()
    industries = IndustryCache(supply)
    precisions, recalls = [], []
    with override_settings(MATCHING_WEIGHTS=weights):
        for demand in demands:
            field = labels[-demand.organisation_id]
            relevant = {pid for pid in supply.ids.tolist() if labels[pid] == field}
            ranked = [
                int(supply.ids[s.index])
                for s in score_sme(supply, demand, industries, top_k=50, per_patentee=50)
            ]
            precisions.append(sum(1 for pid in ranked[:10] if pid in relevant) / 10)
            recalls.append(sum(1 for pid in ranked[:50] if pid in relevant) / len(relevant))
    return float(np.mean(precisions)), float(np.mean(recalls))


def battery_case() -> list[str]:
    """A battery maker's need against a battery, a display and a textile patent."""
    embedder = get_embedder()
    texts = [
        "一种高镍三元锂离子电池正极材料的包覆改性方法，提高循环寿命和热稳定性。",
        "一种柔性有机发光显示面板及其薄膜封装结构，提高弯折寿命。",
        "一种棉织物磷氮阻燃整理工艺，耐水洗，适用于纺织面料。",
    ]
    supply = Supply(
        ids=np.array([1, 2, 3]),
        patent_ids=np.array([1, 2, 3]),
        patentee_ids=np.array([11, 12, 13]),
        provinces=["32", "44", "33"],
        vectors=embedder.embed(texts),
        industries=[{"C3841": 1.0}, {"C3974": 1.0}, {"C17": 1.0}],
        tokens=[set(index_tokens(t).split()) for t in texts],
        upfront=np.array([50_000.0, 50_000.0, 0.0]),
        main_subclass=["H01M", "H10K", "D06M"],
        ipc_label=["H01M", "H10K", "D06M"],
        titles=texts,
    )
    need = "寻求动力电池正极材料包覆技术，提升三元电池循环寿命"
    demand = Demand(
        organisation_id=1,
        industry="C3841",
        province="32",
        province_name="江苏省",
        budget=Decimal("100000"),
        keywords=query_tokens(need)[:4],
        vector=embedder.embed([need])[0],
    )
    ranked = score_sme(supply, demand, IndustryCache(supply), top_k=3)
    return [supply.titles[s.index][:12] for s in ranked]


def main() -> int:
    features = list(settings.MATCHING_WEIGHTS)
    rows = [("full score", evaluate(dict(settings.MATCHING_WEIGHTS)))]
    for feature in features:
        rows.append(
            (f"{feature} only", evaluate({f: (1.0 if f == feature else 0.0) for f in features}))
        )
    print(f"{'ranking':<22}{'precision@10':>14}{'recall@50':>12}")
    for name, (precision, recall) in rows:
        print(f"{name:<22}{precision:>14.3f}{recall:>12.3f}")
    order = battery_case()
    print("battery maker's need ranks:", " > ".join(order))
    full = rows[0][1]
    beaten = all(full[0] > single[0] and full[1] > single[1] for _name, single in rows[1:])
    print("full score beats every single feature:", beaten)
    return 0 if beaten and order[0].startswith("一种高镍三元") else 1


if __name__ == "__main__":
    raise SystemExit(main())
