"""Search quality on the judged set (issue 13): the real search API beside BM25, per query group.

1. The 158 judged patents (bench/data/judged_patents.jsonl) are loaded into the bench database
   through the application's own cleaning and segmentation, each with an announced declaration
   and listed (bench/judged.py); a rerun reuses them. The database must hold no other listed
   patents (they would be noise the judgments never saw).
2. Each of the 40 judged queries is sent, as a user types it, to GET /api/v1/search/patents/
   (Django's test client, in process, anonymous, limit=100): today's search end to end, number
   lookup and all.
3. In the same run, over the same titles and abstracts: BM25 on character bigrams (Chinese) and
   words (English); the cosine of the configured matching embedder (settings.MATCHING_EMBEDDER);
   multilingual USE v3 alone when its package is installed; and
   marketplace.search.semantic.semantic_search when that function exists.

Printed: nDCG@10 per group (zh, en, number, colloquial) and overall, then recall@20, MRR and the
first-hit rate per group. Grades are 0-3; relevant means grade >= 2 (see bench/judged.py).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_judged \\
    REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python bench/search_judged.py
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common, judged  # noqa: E402

SEARCH_PATH = "/api/v1/search/patents/"
DEPTH = 100  # the API's largest page


def api_ranker(pk_to_id: dict[int, str]) -> Callable[[str], list[str]]:
    """Today's search: the public API, anonymous, first page of DEPTH hits."""
    from django.test import Client

    client = Client(HTTP_HOST="localhost")

    def rank(text: str) -> list[str]:
        response = client.get(SEARCH_PATH, {"q": text, "limit": str(DEPTH)})
        if response.status_code != 200:
            raise SystemExit(
                f"search failed for {text!r}: {response.status_code} {response.content!r}"
            )
        return [pk_to_id[hit["id"]] for hit in response.json()["results"] if hit["id"] in pk_to_id]

    return rank


def semantic_ranker(pk_to_id: dict[int, str]) -> Callable[[str], list[str]] | None:
    """marketplace.search.semantic.semantic_search, when another change has added it.

    Its signature is not fixed yet: the call passes what the function names among a base
    queryset (base/queryset), the text (q/query/text) and a depth (limit/k/top_k), and reads
    patents, primary keys or (primary key, score) pairs back.
    """
    try:
        from marketplace.search import semantic  # type: ignore[attr-defined]
    except ImportError:
        return None
    function = getattr(semantic, "semantic_search", None)
    if function is None:
        return None
    from marketplace.models import Patent

    parameters = inspect.signature(function).parameters

    def rank(text: str) -> list[str]:
        kwargs: dict[str, Any] = {}
        for name in ("base", "queryset"):
            if name in parameters:
                kwargs[name] = Patent.objects.filter(is_listed=True)
        for name in ("q", "query", "text"):
            if name in parameters:
                kwargs[name] = text
        for name in ("limit", "k", "top_k"):
            if name in parameters:
                kwargs[name] = DEPTH
        found = function(**kwargs) if kwargs else function(text)
        ranked = []
        for item in found:
            pk = getattr(item, "pk", None)
            if pk is None:
                pk = item[0] if isinstance(item, tuple | list) else item
            if int(pk) in pk_to_id:
                ranked.append(pk_to_id[int(pk)])
        return ranked

    return rank


def run(
    rankers: dict[str, Callable[[str], list[str]]], queries: Sequence[dict[str, Any]]
) -> dict[str, judged.Scores]:
    return {
        name: judged.evaluate({q["id"]: rank(q["query"]) for q in queries}, queries)
        for name, rank in rankers.items()
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-use", action="store_true", help="skip the USE v3 baseline")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_judged")
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

    rankers: dict[str, Callable[[str], list[str]]] = {"search API (today)": api_ranker(pk_to_id)}
    semantic = semantic_ranker(pk_to_id)
    if semantic is not None:
        rankers["semantic_search"] = semantic
    rankers["BM25 bigram (baseline)"] = judged.Bm25Baseline(patents).rank
    embedder = get_embedder()
    rankers[f"embedding {embedder.name}"] = judged.EmbeddingBaseline(embedder, patents).rank
    use = None if args.no_use else judged.use_embedder()
    if use is not None:
        rankers["embedding USE-m3 only"] = judged.EmbeddingBaseline(use, patents).rank

    scores = run(rankers, queries)
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
