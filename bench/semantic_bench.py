"""The semantic step of search at 59,000 patents: query embedding, brute-force nearest
neighbours over the shared memory-mapped index file, and the two together (p50/p95), beside
the same product over an in-memory float32 array and over float16 (why the file holds float32).

Vectors are random unit vectors of USE-m3's 512 dimensions (a brute-force product costs the same
whatever the vectors hold); the query embeddings are real (USE-m3 on 100 patent-like queries).

    python bench/semantic_bench.py                # 59,000 patents, 200 queries
    python bench/semantic_bench.py --patents 1000000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERIES = [
    "lithium ion battery cathode",
    "锂电池正极材料",
    "可降解塑料薄膜",
    "flexible OLED display panel",
    "污水处理 膜生物反应器",
    "PLC 控制 系统",
    "中药 提取 工艺",
    "无人机 避障",
    "solar cell efficiency",
    "阻燃 纺织 面料",
]


def percentiles(values: list[float]) -> tuple[float, float]:
    import numpy as np

    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patents", type=int, default=59_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import django
    import numpy as np

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    django.setup()
    from marketplace.search.vectors import VectorIndex
    from matching.embedders import UseMultilingualEmbedder

    rng = np.random.default_rng(20261207)
    vectors = rng.standard_normal((args.patents, 512), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(1, args.patents + 1, dtype=np.int64)
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        np.save(Path(directory) / "vectors.npy", vectors)
        np.save(Path(directory) / "ids.npy", ids)
        write_s = time.perf_counter() - started
        mapped = VectorIndex(
            1,
            "bench",
            np.load(Path(directory) / "ids.npy", mmap_mode="r"),
            np.load(Path(directory) / "vectors.npy", mmap_mode="r"),
        )
        in_memory = VectorIndex(1, "bench", ids, vectors)
        half = VectorIndex(1, "bench", ids, vectors.astype(np.float16))
        embedder = UseMultilingualEmbedder(threads=args.threads)
        embedder.embed(["warm up"])
        texts = [QUERIES[i % len(QUERIES)] + f" {i}" for i in range(args.queries)]
        embed_ms, mapped_ms, memory_ms, total_ms = [], [], [], []
        query_vectors = []
        for text in texts:
            started = time.perf_counter()
            vector = embedder.embed([text])[0]
            embed_ms.append((time.perf_counter() - started) * 1000)
            query_vectors.append(vector)
        for vector, embedded in zip(query_vectors, embed_ms, strict=True):
            started = time.perf_counter()
            mapped.nearest(vector, 1000)
            mapped_ms.append((time.perf_counter() - started) * 1000)
            total_ms.append(mapped_ms[-1] + embedded)
            started = time.perf_counter()
            in_memory.nearest(vector, 1000)
            memory_ms.append((time.perf_counter() - started) * 1000)
        half_ms = []
        for vector in query_vectors[:20]:
            started = time.perf_counter()
            half.nearest(vector, 1000)
            half_ms.append((time.perf_counter() - started) * 1000)
    print(
        f"{args.patents} patents × 512 float32 ({vectors.nbytes / 2**20:.0f} MiB, written in "
        f"{write_s:.2f} s); {args.queries} queries; threads={args.threads}; top 1,000"
    )
    print("| step | p50 ms | p95 ms |")
    print("|---|---|---|")
    rows = [
        ("query embedding (USE-m3)", embed_ms),
        ("nearest, memory-mapped file (product)", mapped_ms),
        ("nearest, in-memory float32 (baseline)", memory_ms),
        ("nearest, in-memory float16 (20 queries)", half_ms),
        ("semantic step (embedding + nearest, mapped)", total_ms),
    ]
    for label, values in rows:
        p50, p95 = percentiles(values)
        print(f"| {label} | {p50:.1f} | {p95:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
