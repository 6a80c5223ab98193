"""Re-ranking the best candidates of a search by a stronger embedding of the patents' titles.

The search's index embeds title and abstract with the fast model (settings.SEARCH_EMBEDDER,
multilingual USE v3). A second model (settings.SEARCH_RERANK_EMBEDDER, multilingual-e5-small:
much better on Chinese, tens of times slower) embeds only each patent's title, short enough to
embed the whole corpus on the `index` queue in the time budget (BENCHMARKS.md "Re-ranking by e5
on titles"); the vectors are stored in PostgreSQL (PatentRerankVector), and a search reads those
of its first SEARCH_RERANK_DEPTH candidates by primary key and embeds the query once (cached
per text).

Each of those candidates then scores 1 / (RRF_K + its position) + weight × cosine / RRF_K: the
fused order, nudged by meaning as the stronger model reads it (at the weight 4 in use, a cosine
difference of 0.01 is worth about two and a half places near the top). A candidate without a
current vector (a patent not embedded yet) gets the median cosine of those that have one, so it
keeps about its place; with fewer than two vectors among them, the order is left as it was.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from statistics import median

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils.module_loading import import_string

from marketplace.models import Patent, PatentRerankVector
from marketplace.search.semantic import RRF_K
from marketplace.search.vectors import Embedder

logger = logging.getLogger(__name__)

BATCH = 200  # titles embedded per step (e5: ~20 titles/s per core, so ~10 s a step)


def patent_rerank_text(title: str) -> str:
    """What a patent's re-ranking vector embeds: its title (the cost of e5 grows with the
    text's length; titles alone measured best of the short texts, BENCHMARKS.md)."""
    return title.strip()


@lru_cache(maxsize=4)
def _load(path: str) -> Embedder:
    embedder: Embedder = import_string(path)()
    return embedder


def rerank_embedder() -> Embedder | None:
    """The configured re-ranking embedder, or None when settings.SEARCH_RERANK_EMBEDDER is
    empty (no re-ranking: the fused order is the search's)."""
    path = settings.SEARCH_RERANK_EMBEDDER
    return _load(path) if path else None


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def stale_rerank_patent_ids(patent_ids: Iterable[int] | None = None) -> list[int]:
    """Patents (of `patent_ids`, or all) without a re-ranking vector of the current model and
    title; [] when re-ranking is off."""
    embedder = rerank_embedder()
    if embedder is None:
        return []
    patents = Patent.objects.order_by("pk")
    if patent_ids is not None:
        patents = patents.filter(pk__in=list(patent_ids))
    current = dict(
        PatentRerankVector.objects.filter(model=embedder.name, patent__in=patents).values_list(
            "patent_id", "text_hash"
        )
    )
    return [
        pk
        for pk, title in patents.values_list("pk", "title").iterator(5000)
        if current.get(pk) != _hash(patent_rerank_text(title))
    ]


def patent_rerank_vectors_compute(
    *, patent_ids: list[int] | None, progress: Callable[[int, int], None] | None = None
) -> int:
    """Embed the titles of the given patents (None: all) whose re-ranking vector is missing or
    stale, BATCH at a time; returns how many were written (0 when re-ranking is off). Safe to
    run twice: an up-to-date vector is left alone."""
    embedder = rerank_embedder()
    if embedder is None:
        return 0
    stale = stale_rerank_patent_ids(patent_ids)
    written = 0
    for start in range(0, len(stale), BATCH):
        rows = list(
            Patent.objects.filter(pk__in=stale[start : start + BATCH]).values_list("pk", "title")
        )
        texts = [patent_rerank_text(title) for _, title in rows]
        vectors = embedder.embed(texts).astype(np.float16)
        with transaction.atomic():
            PatentRerankVector.objects.bulk_create(
                [
                    PatentRerankVector(
                        patent_id=pk,
                        model=embedder.name,
                        text_hash=_hash(text),
                        vector=vectors[i].tobytes(),
                    )
                    for i, ((pk, _), text) in enumerate(zip(rows, texts, strict=True))
                ],
                update_conflicts=True,
                unique_fields=["patent"],
                update_fields=["model", "text_hash", "vector", "updated_at"],
            )
        written += len(rows)
        if progress:
            progress(min(start + BATCH, len(stale)), len(stale))
    return written


@lru_cache(maxsize=512)
def _query_vector(path: str, text: str) -> np.ndarray:
    embedder = _load(path)
    embed = getattr(embedder, "embed_query", embedder.embed)  # e5 wants its "query: " prefix
    vector = np.asarray(embed([text])[0], dtype=np.float32)
    vector.setflags(write=False)
    return vector


def rerank_query_vector(text: str) -> np.ndarray | None:
    """The re-ranking embedding of a query (cached per text: the next page embeds nothing)."""
    path = settings.SEARCH_RERANK_EMBEDDER
    return _query_vector(path, text) if path else None


def candidate_similarities(query: str, patent_ids: Sequence[int]) -> dict[int, float]:
    """patent id → cosine of its re-ranking vector with the query's, for the patents of
    `patent_ids` that have a current one (one statement by primary key)."""
    embedder = rerank_embedder()
    text = (query or "").strip()
    if embedder is None or not text or not patent_ids:
        return {}
    rows = list(
        PatentRerankVector.objects.filter(
            RawSQL(
                '"marketplace_patentrerankvector"."patent_id" = ANY(%s)',
                (list(patent_ids),),
                BooleanField(),
            ),
            model=embedder.name,
        ).values_list("patent_id", "vector")
    )
    if not rows:
        return {}
    vector = rerank_query_vector(text)
    assert vector is not None  # configured: rerank_embedder() returned one
    matrix = np.frombuffer(b"".join(bytes(raw) for _, raw in rows), dtype=np.float16).reshape(
        len(rows), -1
    )
    cosines = matrix.astype(np.float32) @ vector
    return {pk: float(cosine) for (pk, _), cosine in zip(rows, cosines, strict=True)}


def reranked(
    ranked: Sequence[tuple[int, float]],
    similarity: Mapping[int, float],
    *,
    depth: int,
    weight: float,
) -> list[tuple[int, float]]:
    """`ranked` (id, score) best first with its first `depth` re-ordered by
    1 / (RRF_K + position) + weight × cosine / RRF_K (a candidate missing from `similarity`
    counts the median cosine of the others); unchanged with fewer than two cosines."""
    head = list(ranked[:depth])
    known = [similarity[pk] for pk, _ in head if pk in similarity]
    if len(known) < 2 or not weight:
        return list(ranked)
    neutral = median(known)
    scored = [
        (pk, 1.0 / (RRF_K + position) + weight * similarity.get(pk, neutral) / RRF_K)
        for position, (pk, _) in enumerate(head, start=1)
    ]
    scored.sort(key=lambda item: (-item[1], -item[0]))
    # The tail keeps its order under the head's scores.
    floor = scored[-1][1] if scored else 0.0
    tail = [(pk, min(score, floor)) for pk, score in ranked[depth:]]
    return scored + tail


def rerank(ranked: Sequence[tuple[int, float]], query: str) -> list[tuple[int, float]]:
    """The search's fused ranking with its first settings.SEARCH_RERANK_DEPTH candidates
    re-ordered by the re-ranking model (unchanged when re-ranking is off or none of them has a
    vector)."""
    depth = settings.SEARCH_RERANK_DEPTH
    if rerank_embedder() is None or len(ranked) < 2 or depth < 2:
        return list(ranked)
    similarity = candidate_similarities(query, [pk for pk, _ in ranked[:depth]])
    return reranked(ranked, similarity, depth=depth, weight=settings.SEARCH_RERANK_WEIGHT)


def warm_up() -> float | None:
    """Load the re-ranking model and embed one query (wsgi.py, beside vectors.warm_up), so no
    user's first search loads it; the seconds it took, None when off or failed (logged: search
    without the re-ranker still works)."""
    began = time.perf_counter()
    try:
        if rerank_query_vector("专利 patent") is None:
            return None
    except Exception:  # start-up must not fail on the optional model
        logger.warning("re-ranker warm-up failed; the first search will load it", exc_info=True)
        return None
    spent = time.perf_counter() - began
    logger.info("re-ranker warm-up: %.2f s", spent)
    return spent
