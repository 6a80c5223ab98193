"""Search by meaning: the nearest patents to a query's sentence embedding, and their fusion with
the lexical ranking.

Fusion is reciprocal-rank fusion (k = 60) with the lexical ranks weighted by the share of the
query's terms a document matches, chosen by measurement on CSL (bench/search_quality.py,
BENCHMARKS.md "Hybrid search"): plain RRF and normalised score fusion were measured beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.db.models import QuerySet

from marketplace.models import Patent
from marketplace.search.vectors import current_index, query_vector, search_embedder

# Nearest neighbours read from the index before the caller's filters; of them, at most
# SEMANTIC_LIMIT that pass the filters and MIN_SIMILARITY join the lexical candidates.
SEMANTIC_POOL = 1000
SEMANTIC_LIMIT = 200
# Cosine under which a neighbour is left out. Measured on CSL (BENCHMARKS.md "Hybrid search"):
# 0.25 cut English -> Chinese recall@20 from 0.44 to 0.17 (cross-lingual cosines run lower);
# 0.15 keeps it and gives the best discipline P@10; 0.0 lets in noise.
MIN_SIMILARITY = 0.15
RRF_K = 60
# The weight of the semantic ranking in the fusion (the lexical one weighs 1 times the share of
# the query's terms a document matches). Chosen on CSL (bench/search_quality.py) and confirmed
# on the judged set (bench/search_judged.py); BENCHMARKS.md "Hybrid search" has the sweep.
SEMANTIC_WEIGHT = 1.0


def nearest_patents(query: str, pool: int = SEMANTIC_POOL) -> list[tuple[int, float]]:
    """(patent id, cosine) of the `pool` nearest patents over the whole index, nearest first,
    above MIN_SIMILARITY; [] without an index of the current model."""
    text = (query or "").strip()
    index = current_index()
    if not text or index is None or index.model != search_embedder().name:
        return []
    return [hit for hit in index.nearest(query_vector(text), pool) if hit[1] >= MIN_SIMILARITY]


def semantic_search(
    base_queryset: QuerySet[Patent], query: str, limit: int = SEMANTIC_LIMIT
) -> list[int]:
    """Ids of the patents of `base_queryset` nearest in meaning to `query`, nearest first."""
    hits = nearest_patents(query, max(SEMANTIC_POOL, limit))
    allowed = set(
        base_queryset.order_by().filter(pk__in=[pk for pk, _ in hits]).values_list("pk", flat=True)
    )
    return [pk for pk, _ in hits if pk in allowed][:limit]


def reciprocal_rank_fusion(
    *rankings: Sequence[int],
    k: int = RRF_K,
    weights: Sequence[Mapping[int, float]] = (),
    scales: Sequence[float] = (),
) -> list[tuple[int, float]]:
    """(id, fused score) best first: the sum of scale * weight / (k + rank) over the rankings an
    id is in (weights[i][id], default 1: the lexical ranking weighs a document by the share of
    the query's terms it matches; scales[i], default 1: the weight of ranking i as a whole);
    ties by id, newest first."""
    fused: dict[int, float] = {}
    for index, ranking in enumerate(rankings):
        weight = weights[index] if index < len(weights) else {}
        scale = scales[index] if index < len(scales) else 1.0
        for position, pk in enumerate(ranking, start=1):
            fused[pk] = fused.get(pk, 0.0) + scale * weight.get(pk, 1.0) / (k + position)
    return sorted(fused.items(), key=lambda item: (-item[1], -item[0]))


def score_fusion(
    lexical: Sequence[tuple[int, float]],
    semantic: Sequence[tuple[int, float]],
    lexical_weight: float = 0.5,
) -> list[tuple[int, float]]:
    """(id, fused score) best first: each list's scores scaled to 0–1 by its best, weighted."""
    fused: dict[int, float] = {}
    for weight, scored in ((lexical_weight, lexical), (1 - lexical_weight, semantic)):
        top = max((score for _, score in scored), default=0.0) or 1.0
        for pk, score in scored:
            fused[pk] = fused.get(pk, 0.0) + weight * score / top
    return sorted(fused.items(), key=lambda item: (-item[1], -item[0]))
