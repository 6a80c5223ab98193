"""Search quality on the judged set (issue 13): the real search API beside BM25, per query group.

1. The 158 judged patents (bench/data/judged_patents.jsonl) are loaded into the bench database
   through the application's own cleaning and segmentation, each with an announced declaration
   and listed (bench/judged.py); a rerun reuses them. The database must hold no other listed
   patents (they would be noise the judgments never saw).
2. Each of the 40 judged queries is sent, as a user types it, to GET /api/v1/search/patents/
   (Django's test client, in process, anonymous, limit=100): today's search end to end, number
   lookup and all.
3. In the same run, over the same titles and abstracts: BM25 on character bigrams (Chinese) and
   words (English); the cosine of the configured search embedder (settings.SEARCH_EMBEDDER);
   multilingual USE v3 alone when its package is installed; and
   marketplace.search.semantic.semantic_search alone. The run embeds its patents and publishes a
   vector index of its own first (what the `index` queue does), unless --words-only, and the
   re-ranker's title vectors (settings.SEARCH_RERANK_EMBEDDER), unless --no-rerank. "API without
   term list" is the same API with marketplace.search.vocabulary.ACROSS_LANGUAGES off; "API
   without re-ranker" the same API with SEARCH_RERANK_EMBEDDER empty. Also printed: the titles
   embedded per second and the re-ranker's added latency per query (uncached).

Printed: nDCG@10 per group (zh, en, number, colloquial) and overall, then recall@20, MRR and the
first-hit rate per group. Grades are 0-3; relevant means grade >= 2 (see bench/judged.py).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_judged \\
    REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python bench/search_judged.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common, judged  # noqa: E402

SEARCH_PATH = "/api/v1/search/patents/"
DEPTH = 100  # the API's largest page


def api_ranker(
    pk_to_id: dict[int, str],
    overrides: dict[str, Any] | None = None,
    module: Any = None,
    settings_overrides: dict[str, Any] | None = None,
) -> Callable[[str], list[str]]:
    """Today's search: the public API, anonymous, first page of DEPTH hits; `overrides` set
    constants of `module` (marketplace.search.query unless given) for the request (a variant
    of the ranking), `settings_overrides` Django settings (the re-ranker's)."""
    from django.test import Client, override_settings

    from marketplace.search import query as default_module

    query = module or default_module

    client = Client(HTTP_HOST="localhost")

    def rank(text: str) -> list[str]:
        saved = {name: getattr(query, name) for name in overrides or {}}
        for name, value in (overrides or {}).items():
            setattr(query, name, value)
        try:
            with override_settings(**(settings_overrides or {})):
                response = client.get(SEARCH_PATH, {"q": text, "limit": str(DEPTH)})
        finally:
            for name, value in saved.items():
                setattr(query, name, value)
        if response.status_code != 200:
            raise SystemExit(
                f"search failed for {text!r}: {response.status_code} {response.content!r}"
            )
        return [pk_to_id[hit["id"]] for hit in response.json()["results"] if hit["id"] in pk_to_id]

    return rank


def semantic_ranker(pk_to_id: dict[int, str]) -> Callable[[str], list[str]]:
    """The meaning step alone: marketplace.search.semantic.semantic_search over listed patents."""
    from marketplace.models import Patent
    from marketplace.search.semantic import semantic_search

    def rank(text: str) -> list[str]:
        found = semantic_search(Patent.objects.filter(is_listed=True), text, DEPTH)
        return [pk_to_id[pk] for pk in found if pk in pk_to_id]

    return rank


def embed_rerank_vectors(patent_ids: list[int]) -> tuple[float, float]:
    """What the `index` queue does after the index: the re-ranker's title vectors; returns the
    titles embedded per second of wall time and per CPU-second (one thread, the setting's
    embedder; the CPU figure is the one a loaded machine does not distort)."""
    import time

    from marketplace.models import PatentRerankVector
    from marketplace.search.rerank import patent_rerank_vectors_compute, rerank_embedder

    embedder = rerank_embedder()
    if embedder is None:
        return 0.0, 0.0
    # From scratch each run, so the figure is the embedding's own.
    PatentRerankVector.objects.filter(patent_id__in=patent_ids).delete()
    embedder.embed(["预热"])  # the model's first call loads it
    began, cpu = time.perf_counter(), time.process_time()
    written = patent_rerank_vectors_compute(patent_ids=patent_ids)
    return written / (time.perf_counter() - began), written / (time.process_time() - cpu)


def rerank_cost(queries: Sequence[dict[str, Any]]) -> str:
    """The re-ranker's added latency per query, uncached: the query embedded by e5 and the
    candidates' vectors read (p50/p95 over the queries, the first 30 candidates of the
    API's own fused order)."""
    import time

    import numpy as np

    from marketplace.models import Patent
    from marketplace.search import rerank
    from marketplace.search.query import SearchParams, search_patents

    spent = []
    for item in queries:
        with override_rerank_off():
            result = search_patents(
                Patent.objects.filter(is_listed=True), SearchParams(q=item["query"])
            )
        ranked = getattr(result.queryset, "ranked", [])
        rerank._query_vector.cache_clear()
        began = time.perf_counter()
        rerank.rerank(ranked, item["query"])
        spent.append((time.perf_counter() - began) * 1000)
    return (
        f"added latency per query, uncached: p50 {np.percentile(spent, 50):.1f} ms, "
        f"p95 {np.percentile(spent, 95):.1f} ms over {len(spent)} queries"
    )


def override_rerank_off() -> Any:
    from django.test import override_settings

    return override_settings(SEARCH_RERANK_EMBEDDER="")


def run(
    rankers: dict[str, Callable[[str], list[str]]], queries: Sequence[dict[str, Any]]
) -> dict[str, judged.Scores]:
    return {
        name: judged.evaluate({q["id"]: rank(q["query"]) for q in queries}, queries)
        for name, rank in rankers.items()
    }


def per_query_report(
    rankers: dict[str, Callable[[str], list[str]]], queries: Sequence[dict[str, Any]]
) -> str:
    """Each zh / colloquial / en query: the API's and BM25's nDCG@10 and top 10 (id:grade)."""
    api, bm25 = rankers["search API (today)"], rankers["BM25 bigram (baseline)"]
    lines = []
    for item in queries:
        if item["group"] == "number":
            continue
        grades = item["judgments"]
        lines.append(f"{item['id']} {item['group']} {item['query']}")
        for name, rank in (("API", api), ("BM25", bm25)):
            ranking = rank(item["query"])
            top = " ".join(f"{pid}:{grades.get(pid, 0)}" for pid in ranking[:10])
            lines.append(f"  {name:<4} {judged.ndcg_at(ranking, grades):.3f} {top}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-use", action="store_true", help="skip the USE v3 baseline")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--words-only", action="store_true", help="publish no vector index: search by words alone"
    )
    parser.add_argument(
        "--per-query",
        action="store_true",
        help="also each query's nDCG@10 for the API and BM25, and both top 10s with grades",
    )
    parser.add_argument(
        "--sweep", action="store_true", help="also the API with other fusion and rank settings"
    )
    parser.add_argument(
        "--rerank-sweep", action="store_true", help="also the re-ranker's other weights and depths"
    )
    parser.add_argument(
        "--no-rerank", action="store_true", help="embed no titles for the re-ranker"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_judged")
    # Rankings, not the public response cache: a cached answer of an earlier run or of another
    # variant would be scored in place of this code's.
    os.environ["PUBLIC_CACHE_SECONDS"] = "0"
    # A vector index of this run's own, so the run measures exactly the patents it loaded.
    os.environ["SEARCH_VECTOR_DIR"] = tempfile.mkdtemp(prefix="judged-vectors-")
    common.setup_django()
    note = common.ensure_schema()

    from matching.embedders import get_embedder

    patents = judged.patents()
    queries = judged.queries()
    loaded = judged.load_patents_into_db(patents)
    others = judged.other_listed_patents(loaded.values())
    if others:
        raise SystemExit(
            f"the bench database lists {others} patents besides the judged ones: use a database "
            "of its own (e.g. bench_judged)"
        )
    pk_to_id = {pk: pid for pid, pk in loaded.items()}
    rerank_throughput = (0.0, 0.0)
    if not args.words_only:
        # What the `index` queue does for new patents: embed them, publish the shared index.
        from marketplace.search.vectors import patent_vectors_compute, vector_index_publish

        patent_vectors_compute(patent_ids=list(loaded.values()))
        vector_index_publish()
        if not args.no_rerank:
            rerank_throughput = embed_rerank_vectors(list(loaded.values()))

    from marketplace.search import vocabulary

    rankers: dict[str, Callable[[str], list[str]]] = {"search API (today)": api_ranker(pk_to_id)}
    # The same API without the e5 re-ranker of titles (search before it).
    no_rerank = {"SEARCH_RERANK_EMBEDDER": ""}
    rankers["API without re-ranker"] = api_ranker(pk_to_id, settings_overrides=no_rerank)
    if args.sweep or args.rerank_sweep:
        from django.conf import settings

        for weight in (0.5, 1.0, 2.0, 3.0, 4.0):
            for depth in (30, 100):
                if (weight, depth) != (settings.SEARCH_RERANK_WEIGHT, settings.SEARCH_RERANK_DEPTH):
                    rankers[f"API re-rank w{weight} depth {depth}"] = api_ranker(
                        pk_to_id,
                        settings_overrides={
                            "SEARCH_RERANK_WEIGHT": weight,
                            "SEARCH_RERANK_DEPTH": depth,
                        },
                    )
    # The same API without the bigram channel and the own-words rank (search before them).
    rankers["API without bigrams"] = api_ranker(
        pk_to_id, {"GRAM_FUSION": "none", "EXACT_BOOST": 0.0}
    )
    # The same API without the term list and English phrases (search before issue 13.3).
    rankers["API without term list"] = api_ranker(pk_to_id, {"ACROSS_LANGUAGES": False}, vocabulary)
    if args.sweep:
        # Variants of the product's ranking, through the same API (BENCHMARKS.md has the choice).
        from marketplace.search import query

        for weight in (0.5, 1.0, 1.5, 2.0):
            if weight != query.SEMANTIC_WEIGHT and not args.words_only:
                rankers[f"API semantic weight {weight}"] = api_ranker(
                    pk_to_id, {"SEMANTIC_WEIGHT": weight}
                )
        for gram_weight in (0.25, 0.5, 1.0):
            rankers[f"API bigrams in the RRF x{gram_weight}"] = api_ranker(
                pk_to_id, {"GRAM_FUSION": "rrf", "GRAM_WEIGHT": gram_weight}
            )
        rankers["API no bigram channel"] = api_ranker(pk_to_id, {"GRAM_FUSION": "none"})
        for boost in (0.0, 0.5, 2.0):
            rankers[f"API own words x{boost} in the rank"] = api_ranker(
                pk_to_id, {"EXACT_BOOST": boost}
            )
        for normalization in (0, 1, 2):
            if normalization != query.RANK_NORMALIZATION:
                rankers[f"API ts_rank norm {normalization}"] = api_ranker(
                    pk_to_id, {"RANK_NORMALIZATION": normalization}
                )
    if not args.words_only:
        rankers["semantic_search alone"] = semantic_ranker(pk_to_id)
    rankers["BM25 bigram (baseline)"] = judged.Bm25Baseline(patents).rank
    embedder = get_embedder()
    rankers[f"embedding {embedder.name}"] = judged.EmbeddingBaseline(embedder, patents).rank
    use = None if args.no_use else judged.use_embedder()
    if use is not None:
        rankers["embedding USE-m3 only"] = judged.EmbeddingBaseline(use, patents).rank

    scores = run(rankers, queries)
    rerank_line = "" if args.words_only or args.no_rerank else rerank_cost(queries)
    if args.per_query:
        print(per_query_report(rankers, queries))
    groups = judged.QUERY_GROUPS
    sizes = ", ".join(f"{g} {sum(q['group'] == g for q in queries)}" for g in groups)
    print(
        f"Judged search set: {len(patents)} patents, {len(queries)} queries ({sizes}); "
        f"grades 0-3, relevant >= {judged.RELEVANT}; {note}"
    )
    print()
    print(judged.table("nDCG@10", scores, groups, extra=("R@20", "MRR")))
    for metric in ("R@20", "MRR", "first hit"):
        print()
        print(judged.per_group_metric(scores, groups, metric))
    api, bm25 = scores["search API (today)"], scores["BM25 bigram (baseline)"]
    print()
    if rerank_line:
        wall, cpu = rerank_throughput
        print(
            f"re-ranker: titles {wall:.1f}/s on one thread ({cpu:.1f} per CPU-second: 59,000 "
            f"in {59_000 / cpu / 60:.1f} CPU-minutes); {rerank_line}"
        )
        print()
    for group in (*groups, "all"):
        base = bm25.get(group, "nDCG@10")
        ratio = f"{api.get(group, 'nDCG@10') / base:.2f}" if base else "n/a (BM25 0)"
        print(f"search API / BM25 nDCG@10, {group}: {ratio} (goal >= 1.15)")
    if args.json:
        args.json.write_text(
            json.dumps({name: s.by_group for name, s in scores.items()}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
