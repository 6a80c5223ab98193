"""Patent vectors for search by meaning: computed in batches, stored in PostgreSQL, published
as one memory-mapped index file that every web worker on the host shares.

The index is a generation of two .npy files (`ids-<g>.npy`: int64 patent ids, `vectors-<g>.npy`:
float32 rows, L2-normalised) and a `CURRENT` file naming the generation, model and size. A new
generation is written under new names and then named in CURRENT with an atomic rename, so a
reader sees the old files or the new ones, never half of either; a worker reopens its maps when
CURRENT changes. Older generations are deleted: a worker still mapping one keeps reading it
(an unlinked file lives on while mapped). float32 and not float16 in the file: numpy has no BLAS
kernel for float16 and a 59,000 × 512 float16 product took 266 ms against 17 ms (BENCHMARKS.md).

Beside the float32 rows each generation has `codes-<g>.npy`: the same rows in 8 bits (one scale for
the whole matrix). A search scores every code with numkong's int8 kernel (a quarter of the bytes
of float32, and SIMD integer dot products), keeps the CODES_OVERSAMPLE × pool best, and ranks
those by their exact float32 cosine: the answer is brute force's unless 8-bit rounding pushes one
of its neighbours below the oversampled cut (the bench counts how often: BENCHMARKS.md).

From settings.SEARCH_ANN_MIN_VECTORS vectors on (past the measured range), a generation also has
`ann-<g>.usearch`: an HNSW graph (usearch, 8-bit vectors) that each worker memory-maps as well
(`view`: the pages are shared, not copied), whose candidates are then re-scored instead. A new
generation patches the previous graph (removes the patents whose vectors changed or went, adds the
changed and new ones) while that is a small share of the index, else builds it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numkong
import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils.module_loading import import_string
from usearch.index import Index

from marketplace.models import Patent, PatentVector

logger = logging.getLogger(__name__)

BATCH = 500  # patents embedded per step (USE-m3: ~3 s a batch on one core)
# Keys one advisory lock: two index tasks publishing at once would pick the same generation.
_PUBLISH_LOCK = 0x5EA7C4
# The HNSW graph: links per node and the candidate list while building (usearch's defaults are
# 16 and 128). A search asks the graph for ANN_OVERSAMPLE times the pool wanted (its 8-bit
# cosines misorder neighbours near the pool's edge) and keeps the best by exact cosine; the
# candidate list while searching is that many (recall measured in BENCHMARKS.md).
ANN_CONNECTIVITY = 16
ANN_EXPANSION_ADD = 128
ANN_OVERSAMPLE = 2
# A new generation patches the previous graph while at most this share of its vectors changed.
ANN_PATCH_MAX_SHARE = 0.2
# The 8-bit codes: how many times the pool asked for is re-scored exactly, and the share of
# components the codes' scale keeps unclipped (the rest saturate at ±127).
CODES_OVERSAMPLE = 2
CODES_QUANTILE = 0.9999


def _codes(rows: np.ndarray) -> np.ndarray:
    """Rows as int8 with one scale for the matrix (ranking by their dot product needs no scale
    back: the candidates are re-scored in float32)."""
    if not len(rows):
        return np.zeros(rows.shape, dtype=np.int8)
    top = float(np.quantile(np.abs(rows[: min(len(rows), 20_000)]), CODES_QUANTILE)) or 1.0
    codes = np.empty(rows.shape, dtype=np.int8)
    for start in range(0, len(rows), 100_000):  # a float32 temporary of 200 MB at most
        block = rows[start : start + 100_000] * np.float32(127.0 / top)
        codes[start : start + 100_000] = np.clip(np.rint(block), -127, 127)
    return codes


def _query_code(query: np.ndarray) -> np.ndarray:
    top = float(np.abs(query).max()) or 1.0
    return np.asarray(np.rint(query * (127.0 / top)), dtype=np.int8)


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


@lru_cache(maxsize=1)
def search_embedder() -> Embedder:
    """The configured sentence embedder (settings.SEARCH_EMBEDDER, a dotted class path: the
    classes live with the matching engine's, and marketplace names them only in settings)."""
    embedder: Embedder = import_string(settings.SEARCH_EMBEDDER)()
    return embedder


def patent_search_text(title: str, abstract: str) -> str:
    """What a patent's search vector embeds."""
    return f"{title}\n{abstract[:1000]}"


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def stale_patent_ids(patent_ids: Iterable[int] | None = None) -> list[int]:
    """Patents (of `patent_ids`, or all) without a vector of the current model and text."""
    embedder = search_embedder()
    patents = Patent.objects.order_by("pk")
    if patent_ids is not None:
        patents = patents.filter(pk__in=list(patent_ids))
    current = dict(
        PatentVector.objects.filter(model=embedder.name, patent__in=patents).values_list(
            "patent_id", "text_hash"
        )
    )
    stale = []
    for pk, title, abstract in patents.values_list("pk", "title", "abstract").iterator(5000):
        if current.get(pk) != _hash(patent_search_text(title, abstract)):
            stale.append(pk)
    return stale


def patent_vectors_compute(
    *, patent_ids: list[int] | None, progress: Callable[[int, int], None] | None = None
) -> int:
    """Embed the given patents (None: all) whose vector is missing or stale, BATCH at a time;
    returns how many were written. Safe to run twice: an up-to-date vector is left alone."""
    embedder = search_embedder()
    stale = stale_patent_ids(patent_ids)
    written = 0
    for start in range(0, len(stale), BATCH):
        batch = stale[start : start + BATCH]
        rows = list(Patent.objects.filter(pk__in=batch).values_list("pk", "title", "abstract"))
        texts = [patent_search_text(title, abstract) for _, title, abstract in rows]
        vectors = embedder.embed(texts).astype(np.float16)
        with transaction.atomic():
            PatentVector.objects.bulk_create(
                [
                    PatentVector(
                        patent_id=pk,
                        model=embedder.name,
                        text_hash=_hash(text),
                        vector=vectors[i].tobytes(),
                    )
                    for i, ((pk, _, _), text) in enumerate(zip(rows, texts, strict=True))
                ],
                update_conflicts=True,
                unique_fields=["patent"],
                update_fields=["model", "text_hash", "vector", "updated_at"],
            )
        written += len(rows)
        if progress:
            progress(min(start + BATCH, len(stale)), len(stale))
    return written


# ---- the shared index file -----------------------------------------------------------------


def _directory() -> Path:
    return Path(settings.SEARCH_VECTOR_DIR)


def _read_current(directory: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads((directory / "CURRENT").read_text()))
    except (FileNotFoundError, ValueError):
        return None


def _save_atomically(path: Path, array: np.ndarray) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as handle:
        np.save(handle, array)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def vector_index_publish() -> dict[str, Any]:
    """Write a new generation of the index file from every stored vector of the current model,
    and name it in CURRENT. Returns the new CURRENT contents."""
    embedder = search_embedder()
    directory = _directory()
    directory.mkdir(parents=True, exist_ok=True)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PUBLISH_LOCK])
        rows = (
            PatentVector.objects.filter(model=embedder.name)
            .order_by("patent_id")
            .values_list("patent_id", "vector")
        )
        id_list: list[int] = []
        chunks: list[bytes] = []
        for pk, raw in rows.iterator(5000):  # one statement: ids and rows from one snapshot
            id_list.append(pk)
            chunks.append(bytes(raw))
        ids = np.asarray(id_list, dtype=np.int64)
        vectors = (
            np.frombuffer(b"".join(chunks), dtype=np.float16)
            .reshape(len(ids), embedder.dim)
            .astype(np.float32)
        )
        previous = _read_current(directory) or {"generation": 0}
        generation = int(previous["generation"]) + 1
        _save_atomically(directory / f"ids-{generation}.npy", ids)
        _save_atomically(directory / f"vectors-{generation}.npy", vectors)
        _save_atomically(directory / f"codes-{generation}.npy", _codes(vectors))
        if len(ids) >= settings.SEARCH_ANN_MIN_VECTORS:
            _save_graph(directory, generation, int(previous["generation"]), ids, vectors)
        current = {
            "generation": generation,
            "model": embedder.name,
            "dim": embedder.dim,
            "count": len(ids),
        }
        temporary = directory / f".CURRENT.{os.getpid()}.tmp"
        temporary.write_text(json.dumps(current))
        os.replace(temporary, directory / "CURRENT")
        for old in [*directory.glob("*-*.npy"), *directory.glob("ann-*.usearch")]:
            if old.stem.rsplit("-", 1)[-1] != str(generation):
                old.unlink(missing_ok=True)
    return current


def _new_graph(dim: int) -> Index:
    return Index(
        ndim=dim,
        metric="cos",
        dtype="i8",
        connectivity=ANN_CONNECTIVITY,
        expansion_add=ANN_EXPANSION_ADD,
    )


def _save_graph(
    directory: Path, generation: int, previous: int, ids: np.ndarray, vectors: np.ndarray
) -> str:
    """Write `ann-<generation>.usearch` for these rows (keys: patent ids), patched from the
    previous generation's graph when few vectors changed; returns "patched" or "built"."""
    graph, how = None, "built"
    old_graph = directory / f"ann-{previous}.usearch"
    try:
        old_ids = np.load(directory / f"ids-{previous}.npy", mmap_mode="r")
        old_vectors = np.load(directory / f"vectors-{previous}.npy", mmap_mode="r")
    except (FileNotFoundError, ValueError):
        old_ids = old_vectors = None
    if old_ids is not None and old_vectors is not None and old_graph.exists():
        _, new_rows, old_rows = np.intersect1d(
            ids, old_ids, assume_unique=True, return_indices=True
        )
        same = np.all(vectors[new_rows] == old_vectors[old_rows], axis=1)
        kept = np.zeros(len(ids), dtype=bool)
        kept[new_rows[same]] = True
        still = np.zeros(len(old_ids), dtype=bool)
        still[old_rows[same]] = True
        changes = int((~kept).sum() + (~still).sum())
        if changes <= ANN_PATCH_MAX_SHARE * len(ids):
            graph = Index.restore(str(old_graph))  # a copy in memory, to change
            if graph is not None:
                gone = np.asarray(old_ids[~still], dtype=np.int64)
                if len(gone):
                    graph.remove(gone)
                if (~kept).any():
                    graph.add(ids[~kept], vectors[~kept], threads=0)
                how = "patched"
    if graph is None:
        graph = _new_graph(vectors.shape[1])
        graph.add(ids, vectors, threads=0)
    temporary = directory / f".ann-{generation}.{os.getpid()}.tmp"
    graph.save(str(temporary))
    os.replace(temporary, directory / f"ann-{generation}.usearch")
    logger.info("search vectors: graph of generation %s %s (%s vectors)", generation, how, len(ids))
    return how


@dataclass(frozen=True)
class VectorIndex:
    """One generation of the index file, memory-mapped read-only (ids ascending), with its
    8-bit codes and its HNSW graph when it has them (also mapped)."""

    generation: int
    model: str
    ids: np.ndarray
    vectors: np.ndarray
    graph: Index | None = None
    codes: np.ndarray | None = None

    def nearest(self, query: np.ndarray, count: int) -> list[tuple[int, float]]:
        """(patent id, cosine) of the `count` nearest patents, nearest first: the graph's
        candidates, or the codes' best, re-scored by exact cosine (a true neighbour the graph
        misses, or the codes rank below the cut, is left out; BENCHMARKS.md has the recall),
        else brute force."""
        if not len(self.ids) or count < 1:
            return []
        query = np.asarray(query, dtype=np.float32)
        rows: np.ndarray | None = None
        if self.graph is not None:
            wanted = max(count * ANN_OVERSAMPLE, 64)
            if self.graph.expansion_search != wanted:  # usearch has a setter; its stub not
                self.graph.expansion_search = wanted  # type: ignore[misc]
            keys = np.asarray(self.graph.search(query, wanted).keys, dtype=np.int64)
            # Sorted rows: the gather reads the mapped file front to back.
            rows = np.sort(np.searchsorted(self.ids, keys))
            scores = self.vectors[rows] @ query
        elif self.codes is not None and len(self.codes) > count * CODES_OVERSAMPLE:
            wanted = count * CODES_OVERSAMPLE
            rough = np.asarray(
                numkong.cdist(_query_code(query)[None, :], self.codes, metric="dot", threads=1)
            )[0]
            rows = np.sort(np.argpartition(-rough, wanted - 1)[:wanted])
            scores = self.vectors[rows] @ query
        else:
            scores = self.vectors @ query
        count = min(count, len(scores))
        top = np.argpartition(-scores, count - 1)[:count]
        top = top[np.argsort(-scores[top], kind="stable")]
        chosen = top if rows is None else rows[top]
        return list(zip(self.ids[chosen].tolist(), scores[top].tolist(), strict=True))


_opened: VectorIndex | None = None
_opened_key: tuple[str, int] | None = None
_open_lock = threading.Lock()


def current_index() -> VectorIndex | None:
    """This process's map of the current generation, reopened when CURRENT names a new one;
    None before any index was published (search then runs on words alone)."""
    global _opened, _opened_key
    directory = _directory()
    current = _read_current(directory)
    if current is None:
        return None
    key = (str(directory), int(current["generation"]))
    if key == _opened_key:
        return _opened
    with _open_lock:
        generation = key[1]
        try:
            ids = np.load(directory / f"ids-{generation}.npy", mmap_mode="r")
            vectors = np.load(directory / f"vectors-{generation}.npy", mmap_mode="r")
            graph_path = directory / f"ann-{generation}.usearch"
            graph = Index.restore(str(graph_path), view=True) if graph_path.exists() else None
            codes_path = directory / f"codes-{generation}.npy"
            codes = np.load(codes_path, mmap_mode="r") if codes_path.exists() else None
        except FileNotFoundError:  # replaced between reading CURRENT and opening: next time
            return _opened
        _opened = VectorIndex(generation, str(current["model"]), ids, vectors, graph, codes)
        _opened_key = key
    return _opened


@lru_cache(maxsize=512)
def query_vector(text: str) -> np.ndarray:
    """The embedding of a query (cached: the next page of a search embeds nothing)."""
    vector = search_embedder().embed([text])[0]
    vector.setflags(write=False)
    return vector


def warm_up() -> dict[str, float]:
    """Load the embedding model, embed one query and map the current index with one nearest
    search, so a fresh web process's first search pays none of it (marketplace/wsgi.py calls
    this at start when settings.SEARCH_WARM_UP). Returns the seconds each step took; a failure
    is logged, never raised: a server without its model still serves words-only search."""
    spent: dict[str, float] = {}
    began = time.perf_counter()
    try:
        search_embedder()
        spent["model"] = time.perf_counter() - began
        vector = query_vector("专利 patent")
        spent["embedding"] = time.perf_counter() - began - spent["model"]
        index = current_index()
        if index is not None and index.model == search_embedder().name:
            index.nearest(vector, 1)
        spent["index"] = time.perf_counter() - began - spent["model"] - spent["embedding"]
    except Exception:  # start-up must not fail on the optional model
        logger.warning("search warm-up failed; the first search will load the model", exc_info=True)
        return spent
    logger.info("search warm-up: %s", ", ".join(f"{k} {v:.2f} s" for k, v in spent.items()))
    return spent
