"""Variants of the matching score on the judged set, beside BM25, in one run (issue 14 (a)).

What each variant changes, all else the engine as configured (matching.engine.score_smes on
the judged supply and demand, in process, weights of settings.MATCHING_WEIGHTS):

- "need vector: whole text" — a need embedded as one text (title, description and keywords
  joined), as before "need vectors by parts";
- "need vector: parts (now)" — what matching does now (matching.services.embed_parts:
  title, description and keywords embedded apart and averaged);
- "… + text words max a.3 / a.5" — the keyword component mixed with a lexical
  score of the need's whole text: each search-mode word of it (marketplace.search.segment,
  with its synonyms) weighted by its BM25 inverse document frequency over the supply, summed
  over the words a patent's tokens hold, divided by the list's best; keywords = a·text +
  (1−a)·keyword share;
- "parts + text words top5 a.5" — the same divided by the weight of the need's five
  rarest words (independent of the supply's best);
- "parts + PRF (Rocchio)" — pseudo-relevance feedback: the need's vector moved towards the
  mean vector of its first three patents (Rocchio, beta 0.6), then scored again.

The judged patents and needs are loaded as bench/match_judged.py loads them (rerun-safe).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_judged \\
    REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python bench/match_judged_variants.py
"""

from __future__ import annotations

import math
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common, judged, match_judged  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_judged")
    common.setup_django()
    note = common.ensure_schema()

    import numpy as np

    from marketplace.models import TechnologyNeed
    from marketplace.search.segment import segment, synonym_groups
    from marketplace.search.vectors import patent_vectors_compute
    from matching import engine
    from matching.embedders import get_embedder
    from matching.engine import Demand, IndustryCache, Supply
    from matching.models import IpcIndustry
    from matching.services import concordance_load_shipped, load_demand, load_supply, sme_ids
    from matching.services import need_text as _need_text

    if not IpcIndustry.objects.exists():
        concordance_load_shipped()
    patents, needs = judged.patents(), judged.needs()
    loaded = judged.load_patents_into_db(patents)
    if judged.other_listed_patents(loaded.values()):
        raise SystemExit("the bench database lists other patents: use a database of its own")
    patent_vectors_compute(patent_ids=list(loaded.values()))
    need_pks = match_judged.load_smes(needs)
    judged_of = {pk: need_id for need_id, pk in need_pks.items()}
    pk_to_id = {pk: pid for pid, pk in loaded.items()}
    supply = load_supply()
    demands = load_demand(sme_ids())
    rows = {n.pk: n for n in TechnologyNeed.objects.filter(pk__in=list(need_pks.values()))}
    embedder = get_embedder()
    original_keywords = engine.keyword_scores

    def ranked(
        vectors: dict[int, np.ndarray] | None = None,
        text: dict[int, np.ndarray] | None = None,
        share: float = 0.5,
    ) -> dict[str, list[str]]:
        """Each judged need's list with these need vectors and this text score mixed in."""
        kept = {d.need_id: d.vector for d in demands if d.need_id is not None}

        def keyword_scores(supply: Supply, demand: Demand) -> np.ndarray | None:
            found = original_keywords(supply, demand)
            if text is None or demand.need_id is None:
                return found
            words = text[demand.need_id].astype(np.float32)
            if found is None:
                return words
            return (share * words + (1 - share) * found).astype(np.float32)

        if vectors is not None:
            for demand in demands:
                if demand.need_id in vectors:
                    demand.vector = vectors[demand.need_id]
        engine.keyword_scores = keyword_scores
        try:
            lists = engine.score_smes(supply, demands, IndustryCache(supply))
        finally:
            engine.keyword_scores = original_keywords
            for demand in demands:
                if demand.need_id in kept:
                    demand.vector = kept[demand.need_id]
        return {
            judged_of[d.need_id]: [pk_to_id[int(supply.patent_ids[s.index])] for s in scored]
            for d, scored in zip(demands, lists, strict=True)
            if d.need_id in judged_of
        }

    # The need's whole text as words against the supply's tokens (IDF-weighted presence).
    synonyms = synonym_groups()
    count = len(supply)

    def text_scores(normalise: Callable[[np.ndarray, list[float]], float]) -> dict[int, Any]:
        scores: dict[int, np.ndarray] = {}
        for pk, need in rows.items():
            line = np.zeros(count)
            weights: list[float] = []
            for word, times in Counter(segment("\n".join(_need_text(need)))).items():
                forms = [word, *(s for s in synonyms.get(word, ()) if " " not in s)]
                hits = np.unique(np.concatenate([supply.rows_with_token(f) for f in forms]))
                idf = math.log(1 + (count - hits.size + 0.5) / (hits.size + 0.5))
                weights.append(idf * min(times, 3))
                line[hits] += weights[-1]
            scores[pk] = np.minimum(line / (normalise(line, weights) or 1.0), 1.0)
        return scores

    by_max = text_scores(lambda line, weights: float(line.max()))
    by_top5 = text_scores(lambda line, weights: sum(sorted(weights, reverse=True)[:5]))
    texts = ["\n".join(_need_text(need)) for need in rows.values()]
    whole = dict(zip(rows, embedder.embed(texts), strict=True))
    lists: dict[str, dict[str, list[str]]] = {
        "need vector: whole text": ranked(whole),
        "need vector: parts (now)": ranked(),
        "whole + text words max a.5": ranked(whole, by_max, 0.5),
        "parts + text words max a.3": ranked(None, by_max, 0.3),
        "parts + text words max a.5": ranked(None, by_max, 0.5),
        "parts + text words top5 a.5": ranked(None, by_top5, 0.5),
    }
    # Rocchio: the vector moved towards the mean of the configured list's first three.
    first = lists["need vector: parts (now)"]
    id_to_row = {pid: row for row, pid in enumerate(pk_to_id[int(p)] for p in supply.patent_ids)}
    moved = {}
    for pk in rows:
        demand = next(d for d in demands if d.need_id == pk)
        top = [id_to_row[pid] for pid in first[judged_of[pk]][:3]]
        vector = demand.vector.astype(np.float64)
        if top:
            centre = supply.vectors[top].mean(axis=0)
            vector = vector + 0.6 * centre / (np.linalg.norm(centre) or 1.0)
        moved[pk] = (vector / (np.linalg.norm(vector) or 1.0)).astype(np.float32)
    lists["parts + PRF (Rocchio)"] = ranked(moved)
    bm25 = judged.Bm25Baseline(patents)
    lists["BM25 bigram (baseline)"] = {row["id"]: bm25.rank(judged.need_text(row)) for row in needs}
    scores = {name: judged.evaluate(ranking, needs) for name, ranking in lists.items()}
    groups = judged.NEED_GROUPS
    print(
        f"Judged matching set, variants in process: {len(patents)} patents, {len(needs)} needs; "
        f"embedder {embedder.name}; {note}"
    )
    print()
    print(judged.table("nDCG@10", scores, groups, extra=("P@5",)))
    base = scores["BM25 bigram (baseline)"]
    print()
    for name, score in scores.items():
        ratios = ", ".join(
            f"{g} {score.get(g, 'nDCG@10') / base.get(g, 'nDCG@10'):.2f}" for g in (*groups, "all")
        )
        print(f"{name} / BM25: {ratios}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
