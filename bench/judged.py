"""The judged evaluation sets (bench/data/judged_*.jsonl): loading, metrics, the BM25 baseline.

Shared by bench/search_judged.py and bench/match_judged.py, and checked by
tests/test_judged_sets.py. Metrics take a ranking (patent ids, best first) and the graded
judgments of one query ({patent id: 0-3}; a patent not judged is 0):

- nDCG@10: gain = grade, discount log2(rank + 1), divided by the ideal ordering's DCG;
- MRR: 1 / rank of the first relevant patent (grade >= RELEVANT), 0 when none is ranked;
- recall@20: relevant patents in the top 20 / all relevant patents (at most 20);
- first hit: the top patent is relevant (1 or 0), for number queries the patent named;
- P@5: relevant patents in the top 5 / 5.

The baseline is Okapi BM25 over character bigrams for Chinese and words for English
(bench/search_quality.py's tokeniser), over each patent's title and abstract.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.search_quality import BM25, bigram_tokens

DATA = Path(__file__).resolve().parent / "data"
PATENTS = DATA / "judged_patents.jsonl"
QUERIES = DATA / "judged_queries.jsonl"
NEEDS = DATA / "judged_needs.jsonl"
RELEVANT = 2  # grades 2 and 3 count as relevant for MRR, recall, first hit and P@5
QUERY_GROUPS = ("zh", "en", "number", "colloquial")
NEED_GROUPS = ("zh_plain", "zh_technical", "en", "two_needs")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def patents() -> list[dict[str, Any]]:
    return read_jsonl(PATENTS)


def queries() -> list[dict[str, Any]]:
    return read_jsonl(QUERIES)


def needs() -> list[dict[str, Any]]:
    return read_jsonl(NEEDS)


def patent_text(patent: Mapping[str, Any]) -> str:
    return f"{patent['title']}\n{patent['abstract']}"


def need_text(need: Mapping[str, Any]) -> str:
    return f"{need['title']}\n{need['description']}\n{' '.join(need['keywords'])}"


# ---- metrics --------------------------------------------------------------------------------


def ndcg_at(ranking: Sequence[str], judgments: Mapping[str, int], depth: int = 10) -> float:
    dcg = sum(
        judgments.get(pid, 0) / math.log2(rank + 2) for rank, pid in enumerate(ranking[:depth])
    )
    ideal_gains = sorted((g for g in judgments.values() if g > 0), reverse=True)[:depth]
    ideal = sum(g / math.log2(rank + 2) for rank, g in enumerate(ideal_gains))
    return dcg / ideal if ideal else 0.0


def relevant_ids(judgments: Mapping[str, int]) -> set[str]:
    return {pid for pid, grade in judgments.items() if grade >= RELEVANT}


def reciprocal_rank(ranking: Sequence[str], judgments: Mapping[str, int]) -> float:
    relevant = relevant_ids(judgments)
    for rank, pid in enumerate(ranking, start=1):
        if pid in relevant:
            return 1.0 / rank
    return 0.0


def recall_at(ranking: Sequence[str], judgments: Mapping[str, int], depth: int = 20) -> float:
    relevant = relevant_ids(judgments)
    if not relevant:
        return 0.0
    return len(relevant & set(ranking[:depth])) / min(depth, len(relevant))


def first_hit(ranking: Sequence[str], judgments: Mapping[str, int]) -> float:
    return 1.0 if ranking and judgments.get(ranking[0], 0) >= RELEVANT else 0.0


def precision_at(ranking: Sequence[str], judgments: Mapping[str, int], depth: int = 5) -> float:
    relevant = relevant_ids(judgments)
    return sum(1 for pid in ranking[:depth] if pid in relevant) / depth


Metric = Callable[[Sequence[str], Mapping[str, int]], float]
METRICS: dict[str, Metric] = {
    "nDCG@10": ndcg_at,
    "MRR": reciprocal_rank,
    "R@20": recall_at,
    "first hit": first_hit,
    "P@5": precision_at,
}


@dataclass(frozen=True)
class Scores:
    """Mean of each metric over the queries of each group and over all queries."""

    by_group: dict[str, dict[str, float]]

    def get(self, group: str, metric: str) -> float:
        return self.by_group[group][metric]


def evaluate(rankings: Mapping[str, Sequence[str]], items: Iterable[Mapping[str, Any]]) -> Scores:
    """`rankings` {query or need id: ranked patent ids}; `items` the judged rows."""
    per_group: dict[str, list[dict[str, float]]] = {}
    for item in items:
        ranking = list(rankings.get(item["id"], []))
        row = {name: metric(ranking, item["judgments"]) for name, metric in METRICS.items()}
        per_group.setdefault(item["group"], []).append(row)
        per_group.setdefault("all", []).append(row)
    return Scores(
        {
            group: {name: sum(r[name] for r in rows) / len(rows) for name in METRICS}
            for group, rows in per_group.items()
        }
    )


# ---- baselines ------------------------------------------------------------------------------


class Bm25Baseline:
    """BM25 on character bigrams (Chinese) and words (English) over title + abstract."""

    def __init__(self, rows: Sequence[Mapping[str, Any]]) -> None:
        import numpy as np

        self.ids = [row["id"] for row in rows]
        self.index = BM25([bigram_tokens(patent_text(row)) for row in rows])
        self._np = np

    def rank(self, text: str, depth: int = 50) -> list[str]:
        scores = self.index.scores(bigram_tokens(text))
        order = self._np.argsort(-scores, kind="stable")[:depth]
        return [self.ids[i] for i in order if scores[i] > 0]


class EmbeddingBaseline:
    """Cosine nearest neighbours of one embedder (documents and queries embedded alike)."""

    def __init__(self, embedder: Any, rows: Sequence[Mapping[str, Any]]) -> None:
        self.embedder = embedder
        self.ids = [row["id"] for row in rows]
        self.vectors = embedder.embed([patent_text(row) for row in rows])

    def rank(self, text: str, depth: int = 50) -> list[str]:
        import numpy as np

        embed_query = getattr(self.embedder, "embed_query", self.embedder.embed)
        scores = self.vectors @ embed_query([text])[0]
        return [self.ids[i] for i in np.argsort(-scores, kind="stable")[:depth]]


def use_embedder() -> Any | None:
    """The multilingual USE v3 embedder when its package is installed, else None."""
    try:
        from matching.embedders import UseMultilingualEmbedder

        return UseMultilingualEmbedder()
    except Exception:
        return None


# ---- output ---------------------------------------------------------------------------------


def table(
    title: str,
    rows: Mapping[str, Scores],
    groups: Sequence[str],
    metric: str = "nDCG@10",
    extra: Sequence[str] = (),
) -> str:
    """A Markdown table: one row per ranker, `metric` per group and overall, then `extra`
    metrics overall."""
    columns = [*groups, "all"]
    head = f"| {title:<28} | " + " | ".join(f"{c:>12}" for c in columns)
    head += "".join(f" | {'all ' + e:>14}" for e in extra) + " |"
    lines = [head, "|" + "|".join("-" * len(cell) for cell in head.split("|")[1:-1]) + "|"]
    for name, scores in rows.items():
        cells = " | ".join(f"{scores.get(c, metric):>12.3f}" for c in columns)
        cells += "".join(f" | {scores.get('all', e):>14.3f}" for e in extra)
        lines.append(f"| {name:<28} | {cells} |")
    return "\n".join(lines)


def per_group_metric(rows: Mapping[str, Scores], groups: Sequence[str], metric: str) -> str:
    """A Markdown table of one metric per group (recall@20, first hit, ...)."""
    return table(metric, rows, groups, metric=metric)


# ---- the bench database -----------------------------------------------------------------------

BENCH_USER = "judged-bench@example.com"
# Terms cycled over the patents so affordability has something to order (CNY).
_TERMS = (
    ("free", None, None, None),
    ("lump_sum", "50000", None, None),
    ("lump_sum", "200000", None, None),
    ("running_royalty", None, None, "3"),
    ("entry_fee_plus_royalty", None, "20000", "2"),
    ("lump_sum", "800000", None, None),
)


def _kind(name: str) -> str:
    if "大学" in name or "University" in name:
        return "university"
    if any(word in name for word in ("研究所", "研究院", "研究中心", "医院")):
        return "research_institute"
    return "enterprise"


def _county(province: str) -> str:
    """The first county of a province (foreign applicants: Beijing, where their agent is)."""
    from marketplace.models import Region

    prefix = (province or "110000")[:2]
    code = (
        Region.objects.filter(level="county", code__startswith=prefix)
        .order_by("code")
        .values_list("code", flat=True)
        .first()
    )
    if code is None:  # e.g. Hong Kong has no counties in GB/T 2260
        code = (
            Region.objects.filter(level="county").order_by("code").values_list("code", flat=True)[0]
        )
    return code


def bench_user() -> Any:
    from marketplace.models import User

    user = User.objects.filter(email=BENCH_USER).first()
    return user or User.objects.create_user(BENCH_USER, None)


def load_patents_into_db(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """The judged patents as listed patents with announced declarations; {judged id: patent pk}.

    Patents go through the application's own cleaning and segmentation (clean_patent: tokens,
    IPC prefixes, expiry) and are listed with patent_set_listing, as licensing lists them on
    announcement. A rerun finds them loaded (same numbers and titles) and keeps them; otherwise
    the judged patents and everything hanging off them are deleted and loaded again.
    """
    from datetime import date
    from decimal import Decimal

    from django.db import connection, transaction

    from licensing.models import Declaration
    from licensing.services.declarations import listing_terms
    from marketplace.models import Organisation, Patent
    from marketplace.patents.cleaning import clean_patent
    from marketplace.services.patents import patent_set_listing

    numbers = {row["application_number"]: row for row in rows}
    existing = dict(
        Patent.objects.filter(application_number__in=list(numbers)).values_list(
            "application_number", "title"
        )
    )
    announced = Declaration.objects.in_force().filter(patent__application_number__in=list(numbers))
    if (
        len(existing) == len(rows)
        and all(existing[n] == numbers[n]["title"] for n in existing)
        and announced.count() == len(rows)
    ):
        # Stored words and bigrams as today's segmentation cuts them (a database loaded by an
        # older cut, or before the bigram migration, would measure that cut).
        from django.core.management import call_command

        call_command("resegment_patents", verbosity=0)
        return {
            numbers[n]["id"]: pk
            for n, pk in Patent.objects.filter(application_number__in=list(numbers)).values_list(
                "application_number", "pk"
            )
        }
    user = bench_user()
    with transaction.atomic():
        ids = list(
            Patent.objects.filter(application_number__in=list(numbers)).values_list("pk", flat=True)
        )
        if ids:
            with connection.cursor() as cursor:
                for statement in (
                    "DELETE FROM matching_match WHERE patent_id = ANY(%s)",
                    "DELETE FROM matching_matchfeedback WHERE declaration_id IN "
                    "(SELECT id FROM licensing_declaration WHERE patent_id = ANY(%s))",
                    "DELETE FROM licensing_declarationevent WHERE declaration_id IN "
                    "(SELECT id FROM licensing_declaration WHERE patent_id = ANY(%s))",
                    "DELETE FROM licensing_declaration WHERE patent_id = ANY(%s)",
                    "DELETE FROM marketplace_patentevent WHERE patent_id = ANY(%s)",
                    "DELETE FROM matching_textvector WHERE kind = 'patent' AND object_id = ANY(%s)",
                    "DELETE FROM marketplace_patent WHERE id = ANY(%s)",
                ):
                    cursor.execute(statement, [ids])
        owners: dict[str, Organisation] = {}
        loaded: dict[str, int] = {}
        for index, row in enumerate(rows):
            name = row["applicant"]
            if name not in owners:
                owners[name] = Organisation.objects.filter(name=name).first() or (
                    Organisation.objects.create(
                        name=name,
                        name_en=name if name.isascii() else "",
                        kind=_kind(name),
                        region_id=_county(row["province"]),
                    )
                )
            values = clean_patent(
                {
                    "application_number": row["application_number"],
                    "title": row["title"],
                    "abstract": row["abstract"],
                    "main_ipc": row["main_ipc"],
                    "filing_date": row["filing_date"],
                    "publication_numbers": row["publication_numbers"],
                }
            )
            patent = Patent.objects.create(owner=owners[name], **values)
            method, lump, entry, rate = _TERMS[index % len(_TERMS)]
            declaration = Declaration.objects.create(
                patent=patent,
                organisation=owners[name],
                number=f"OL2026{index + 1:07d}",
                status="announced",
                payment_method=method,
                royalty_basis="net_sales" if rate else "",
                lump_sum_cny=Decimal(lump) if lump else None,
                entry_fee_cny=Decimal(entry) if entry else None,
                royalty_rate_percent=Decimal(rate) if rate else None,
                contact_name="许可联系人",
                contact_phone="010-12345678",
                contact_email="licensing@example.com",
                undertaking=True,
                calculation_explanation="按行业惯例确定。",
                effective_date=date(2026, 1, 5),
                created_by=user,
            )
            patent_set_listing(
                patent_ids=[patent.pk], is_listed=True, terms=listing_terms(declaration)
            )
            loaded[row["id"]] = patent.pk
    return loaded


def other_listed_patents(judged_pks: Iterable[int]) -> int:
    """Listed patents that are not judged ones (they would distort the figures)."""
    from marketplace.models import Patent

    return Patent.objects.filter(is_listed=True).exclude(pk__in=list(judged_pks)).count()
