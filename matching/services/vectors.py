"""Vectors: the patents' search vectors as matching reads them, and the vectors of needs and
SME profiles (embedded by parts, stored with the hash of their text)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from marketplace.models import PatentVector, SmeProfile, TechnologyNeed
from marketplace.search.vectors import patent_vectors_compute
from matching.embedders import get_embedder
from matching.engine import as_vector
from matching.models import TextVector

# Patents of a supply without a search vector yet that load_supply embeds itself (one batch of
# the search's own computation); more are left to the `index` queue.
EMBED_MISSING = 500


def patent_vectors(patent_ids: Sequence[int]) -> dict[int, np.ndarray]:
    """The patents' search vectors (marketplace PatentVector, of the current search embedder:
    one vector per patent, shared with search), float32. Up to EMBED_MISSING of them without a
    vector yet (their `index` task has not run: a declaration announced right after its patent
    was created) are embedded now by the search's own function, into PatentVector; beyond that
    a patent has no semantic component until the `index` queue reaches it."""
    found = _stored_patent_vectors(patent_ids)
    missing = [pk for pk in patent_ids if pk not in found]
    if missing and len(missing) <= EMBED_MISSING:
        patent_vectors_compute(patent_ids=missing)
        found.update(_stored_patent_vectors(missing))
    return found


def _stored_patent_vectors(patent_ids: Sequence[int]) -> dict[int, np.ndarray]:
    rows = PatentVector.objects.filter(model=get_embedder().name)
    if len(patent_ids) <= 10_000:  # a whole supply reads every vector instead
        rows = rows.filter(patent_id__in=list(patent_ids))
    wanted = set(patent_ids)
    return {
        pk: np.frombuffer(bytes(raw), dtype=np.float16).astype(np.float32)
        for pk, raw in rows.values_list("patent_id", "vector").iterator(5000)
        if pk in wanted
    }


# What a list's vector embeds: its parts, each embedded on its own, then averaged. A sentence
# encoder reads a colloquial title, a long description and a list of keywords best apart: one
# embedding of all three together let the description's everyday words drown the rest
# (BENCHMARKS.md, "Need vectors by parts": zh_plain nDCG@10 0.837 → 0.875 on the judged set).
# The version joins the hash, so vectors of the whole text are recomputed once.
PARTS_VERSION = "parts-v1"


def need_text(need: TechnologyNeed) -> tuple[str, ...]:
    """A need's parts for its vector: title, description, keywords."""
    return (need.title, need.description[:1000], " ".join(need.keywords))


def sme_text(profile: SmeProfile, industry_names: dict[str, str]) -> tuple[str, ...]:
    """A profile's parts for its vector: its industry's name, its description."""
    return (industry_names.get(profile.industry_id, ""), profile.description[:1000])


def _text_hash(parts: Sequence[str]) -> str:
    return hashlib.sha256("\x1f".join((PARTS_VERSION, *parts)).encode()).hexdigest()


def embed_parts(items: Sequence[Sequence[str]]) -> np.ndarray:
    """One unit vector per item: the mean of its non-empty parts' embeddings (one call to the
    embedder for all parts), normalised; an item without text embeds the empty string."""
    embedder = get_embedder()
    # Each distinct text once: 110,000 profiles share a few hundred industry names.
    texts: dict[str, int] = {}
    owners: list[int] = []
    rows: list[int] = []
    for index, parts in enumerate(items):
        for part in [part for part in parts if part.strip()] or [""]:
            owners.append(index)
            rows.append(texts.setdefault(part, len(texts)))
    if not items:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    vectors = embedder.embed(list(texts)).astype(np.float64)
    sums = np.zeros((len(items), embedder.dim), dtype=np.float64)
    np.add.at(sums, np.array(owners, dtype=np.int64), vectors[np.array(rows, dtype=np.int64)])
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (sums / norms).astype(np.float32)


def vectors_for(kind: str, items: dict[int, tuple[str, ...]]) -> dict[int, np.ndarray]:
    """Vectors for {id: parts} (embed_parts), reusing stored ones whose parts are unchanged."""
    embedder = get_embedder()
    hashes = {pk: _text_hash(parts) for pk, parts in items.items()}
    rows = TextVector.objects.filter(kind=kind, model=embedder.name)
    if len(items) <= 10_000:  # a whole supply reads every vector of the kind instead
        rows = rows.filter(object_id__in=list(items))
    result: dict[int, np.ndarray] = {}
    for pk, text_hash, vector in rows.values_list("object_id", "text_hash", "vector"):
        if pk in hashes and hashes[pk] == text_hash:
            result[pk] = as_vector(vector, embedder.dim)
    missing = [pk for pk in items if pk not in result]
    for start in range(0, len(missing), 2000):
        batch = missing[start : start + 2000]
        vectors = embed_parts([items[pk] for pk in batch])
        TextVector.objects.bulk_create(
            [
                TextVector(
                    kind=kind,
                    object_id=pk,
                    model=embedder.name,
                    text_hash=hashes[pk],
                    vector=vectors[i].tobytes(),
                )
                for i, pk in enumerate(batch)
            ],
            update_conflicts=True,
            unique_fields=["kind", "object_id", "model"],
            update_fields=["text_hash", "vector", "updated_at"],
        )
        for i, pk in enumerate(batch):
            result[pk] = vectors[i]
    return result
