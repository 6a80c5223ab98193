"""Which short text the e5 re-ranker should embed, and how to fuse it (issue 13): measured on
the judged set before the product's re-ranker was written.

For each text (title; title + first clause of the abstract; title + first 60 characters; title +
abstract) it prints e5's embedding speed (one thread) and e5 alone over the judged patents, then
the API's own ranking (with SEARCH_RERANK_EMBEDDER off) re-ranked at several depths and weights,
two ways: "rrf" adds weight / (60 + e5 rank within the head), "cos" adds weight × cosine / 60
(what marketplace/search/rerank.py does). Also the e5 title neighbours as a recall channel.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_judged \\
    REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python bench/search_rerank_variants.py
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common, judged  # noqa: E402


def main() -> int:
    os.environ["PUBLIC_CACHE_SECONDS"] = "0"
    os.environ["SEARCH_VECTOR_DIR"] = tempfile.mkdtemp(prefix="rerank-variants-")
    os.environ["SEARCH_RERANK_EMBEDDER"] = ""  # the fused order before any re-ranking
    common.setup_django()
    common.ensure_schema()
    import numpy as np

    from bench.search_judged import api_ranker
    from marketplace.search.vectors import patent_vectors_compute, vector_index_publish
    from matching.embedders import MultilingualE5Embedder

    patents, queries = judged.patents(), judged.queries()
    loaded = judged.load_patents_into_db(patents)
    pk_to_id = {pk: pid for pid, pk in loaded.items()}
    patent_vectors_compute(patent_ids=list(loaded.values()))
    vector_index_publish()
    api = api_ranker(pk_to_id)
    rank_api = {q["id"]: api(q["query"]) for q in queries}
    e5 = MultilingualE5Embedder(threads=1)
    e5.embed(["预热"])
    by_id = {p["id"]: p for p in patents}
    ids = [p["id"] for p in patents]
    numbers = {q["id"] for q in queries if q["group"] == "number"}

    def clause(text: str) -> str:
        return re.split(r"[，。；：,;:]", text, maxsplit=1)[0]

    variants: dict[str, Callable[[dict[str, Any]], str]] = {
        "title": lambda p: p["title"],
        "title+clause": lambda p: p["title"] + "\n" + clause(p["abstract"]),
        "title+60": lambda p: p["title"] + "\n" + p["abstract"][:60],
        "full": lambda p: p["title"] + "\n" + p["abstract"][:1000],
    }
    matrices = {}
    for name, text_of in variants.items():
        texts = [text_of(by_id[i]) for i in ids]
        began, cpu = time.perf_counter(), time.process_time()
        matrices[name] = e5.embed(texts)
        wall, spent = time.perf_counter() - began, time.process_time() - cpu
        print(
            f"{name}: mean {np.mean([len(t) for t in texts]):.0f} chars, {len(texts) / wall:.1f} "
            f"texts/s wall, {len(texts) / spent:.1f} per CPU-second (one thread)",
            flush=True,
        )
    print(os.popen("uptime").read().strip())
    query_vectors = {q["id"]: e5.embed_query([q["query"]])[0] for q in queries}

    def report(name: str, rankings: dict[str, list[str]]) -> None:
        scores = judged.evaluate(rankings, queries)
        cells = " ".join(
            f"{g} {scores.get(g, 'nDCG@10'):.3f}/{scores.get(g, 'R@20'):.3f}"
            for g in (*judged.QUERY_GROUPS, "all")
        )
        print(f"{name:<36} {cells}", flush=True)

    report("API without re-ranker", rank_api)
    bm25 = judged.Bm25Baseline(patents)
    report("BM25", {q["id"]: bm25.rank(q["query"]) for q in queries})
    for name, matrix in matrices.items():
        report(
            f"e5 alone {name}",
            {
                q["id"]: [ids[i] for i in np.argsort(-(matrix @ query_vectors[q["id"]]))[:50]]
                for q in queries
            },
        )
    for name, matrix in matrices.items():
        cosine_of = {
            q["id"]: dict(zip(ids, matrix @ query_vectors[q["id"]], strict=True)) for q in queries
        }
        for depth in (30, 100):
            for mode, weights in (("rrf", (0.5, 1.0, 2.0)), ("cos", (0.5, 1.0, 2.0, 4.0))):
                for weight in weights:
                    out = {}
                    for q in queries:
                        base, cosines = rank_api[q["id"]], cosine_of[q["id"]]
                        head = base[:depth]
                        by_e5 = {
                            i: n for n, i in enumerate(sorted(head, key=lambda i: -cosines[i]), 1)
                        }
                        score = {
                            i: 1 / (60 + n)
                            + (
                                weight / (60 + by_e5[i])
                                if mode == "rrf"
                                else weight * cosines[i] / 60
                            )
                            for n, i in enumerate(head, 1)
                        }
                        out[q["id"]] = sorted(head, key=lambda i: -score[i]) + base[depth:]
                    report(f"{name} d{depth} {mode} w{weight}", out)
    # The e5 title neighbours as a recall channel: a query with fewer than a page of hits gets
    # them fused in (RRF), or every query does (weight 0.5).
    titles = matrices["title"]
    for label, few_only, weight in (("few-hit", True, 1.0), ("always", False, 0.5)):
        out = {}
        for q in queries:
            base = rank_api[q["id"]]
            if q["id"] in numbers or (few_only and len(base) >= 20):
                out[q["id"]] = base
                continue
            order = [ids[i] for i in np.argsort(-(titles @ query_vectors[q["id"]]))[:20]]
            fused: dict[str, float] = {}
            for n, i in enumerate(base, 1):
                fused[i] = 1 / (60 + n)
            for n, i in enumerate(order, 1):
                fused[i] = fused.get(i, 0.0) + weight / (60 + n)
            out[q["id"]] = sorted(fused, key=lambda i: -fused[i])
        report(f"e5 title channel {label} top20 w{weight}", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
