"""Search quality on real Chinese text (CSL dev, 1,000 abstracts): lexical against by-meaning.

Tasks (no hand labels, see /work/shared/data/csl/README.md):
- title -> its own abstract: MRR and recall@10;
- keywords (space-joined) -> its own abstract: MRR and recall@10;
- discipline name (e.g. 纺织科学与工程) -> abstracts of that discipline: P@10 and nDCG@10
  (binary gain), over the disciplines with at least 5 papers;
- English -> Chinese: a SMALL HAND-WRITTEN set of English queries, each with one relevant
  discipline; recall@20 = relevant abstracts in the top 20 / min(20, papers of the discipline).

Rankers: BM25 on character bigrams (Chinese) and words (English); BM25 on the jieba words of
today's lexical search (marketplace/search/segment.py); cosine of each embedder
(HashingNgramEmbedder, multilingual USE v3, multilingual-e5-small 4-bit); reciprocal-rank
fusion (k=60) of pairs. Speed: abstracts embedded per second (one process, --threads BLAS /
OpenMP threads) and the latency of one query embedding (p50/p95 over 100 titles).

    python bench/search_quality.py                 # full run, ~6 min on one core
    python bench/search_quality.py --limit 200     # quick look on the first 200 papers
    python bench/search_quality.py --skip e5-small-q4 --rerank   # + the e5 re-ranker of titles
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("CSL_DEV", "/work/shared/data/csl/csl-dev.jsonl"))

# English -> the Chinese discipline it is about (hand-written; topics checked against the set).
ENGLISH_QUERIES: list[tuple[str, str]] = [
    ("textile fibre and fabric dyeing", "纺织科学与工程"),
    ("traditional Chinese medicine herbal formula", "中医学/中药学"),
    ("food processing and preservation", "食品科学与工程"),
    ("fish and shrimp aquaculture", "水产"),
    ("fruit tree and vegetable cultivation", "园艺学"),
    ("oil and gas reservoir drilling", "石油与天然气工程"),
    ("road traffic and railway transport", "交通运输工程"),
    ("power grid and electric motor", "电气工程"),
    ("criminal law and legal liability", "法学"),
    ("deep learning image recognition algorithm", "计算机科学与技术"),
    ("wastewater treatment and pollution control", "环境科学与工程"),
    ("sports training of athletes", "体育学"),
]

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_LATIN = re.compile(r"[0-9a-z]+")


def bigram_tokens(text: str) -> list[str]:
    """Chinese runs as character bigrams (a lone character as itself); Latin as words."""
    text = text.lower()
    tokens: list[str] = []
    for run in _CJK.findall(text):
        tokens.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
    tokens.extend(_LATIN.findall(text))
    return tokens


class BM25:
    """Okapi BM25 (k1=1.2, b=0.75) over a scipy sparse term-document matrix."""

    def __init__(self, docs: list[list[str]], k1: float = 1.2, b: float = 0.75) -> None:
        import numpy as np
        from scipy.sparse import csc_matrix

        self.vocab: dict[str, int] = {}
        rows, cols, vals = [], [], []
        lengths = np.zeros(len(docs), dtype=np.float64)
        for j, doc in enumerate(docs):
            lengths[j] = len(doc)
            for term, tf in Counter(doc).items():
                rows.append(self.vocab.setdefault(term, len(self.vocab)))
                cols.append(j)
                vals.append(tf)
        tf = csc_matrix((vals, (rows, cols)), shape=(len(self.vocab), len(docs)), dtype=float)
        df = np.diff(tf.tocsr().indptr)
        self.idf = np.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
        norm = k1 * (1 - b + b * lengths / max(lengths.mean(), 1.0))
        tf = tf.tocoo()
        weight = tf.data * (k1 + 1) / (tf.data + norm[tf.col])
        self.matrix = csc_matrix((weight, (tf.row, tf.col)), shape=tf.shape).tocsr()
        self.n_docs = len(docs)

    def scores(self, query: list[str]):
        import numpy as np

        ids = [self.vocab[t] for t in dict.fromkeys(query) if t in self.vocab]
        if not ids:
            return np.zeros(self.n_docs)
        return np.asarray(self.idf[ids] @ self.matrix[ids].toarray()).ravel()


def rrf(*rankings, k: int = 60):
    """Reciprocal-rank fusion of full rankings (arrays of doc indices, best first)."""
    import numpy as np

    fused = np.zeros(len(rankings[0]))
    for ranking in rankings:
        fused[ranking] += 1.0 / (k + 1 + np.arange(len(ranking)))
    return np.argsort(-fused, kind="stable")


def rank(scores):
    import numpy as np

    return np.argsort(-scores, kind="stable")


def known_item(rankings: list, targets: list[int]) -> tuple[float, float]:
    import numpy as np

    mrr, hits = 0.0, 0
    for ranking, target in zip(rankings, targets, strict=True):
        position = int(np.where(ranking == target)[0][0]) + 1
        mrr += 1.0 / position
        hits += position <= 10
    return mrr / len(targets), hits / len(targets)


def topical(rankings: list, relevant: list[set[int]], depth: int = 10) -> tuple[float, float]:
    p, ndcg = 0.0, 0.0
    if not relevant:
        return float("nan"), float("nan")
    for ranking, rel in zip(rankings, relevant, strict=True):
        gains = [1.0 if int(d) in rel else 0.0 for d in ranking[:depth]]
        p += sum(gains) / depth
        dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
        ideal = sum(1 / math.log2(i + 2) for i in range(min(depth, len(rel))))
        ndcg += dcg / ideal
    return p / len(relevant), ndcg / len(relevant)


def recall_at(rankings: list, relevant: list[set[int]], depth: int = 20) -> float:
    total = 0.0
    for ranking, rel in zip(rankings, relevant, strict=True):
        total += len(rel & {int(d) for d in ranking[:depth]}) / min(depth, len(rel))
    return total / len(relevant)


def hybrid_rankings(
    queries: dict[str, list[str]], abstracts: list[str], use_scores: dict[str, list]
) -> dict[str, dict[str, list]]:
    """Search as the product runs it (marketplace/search/query.py and semantic.py): the lexical
    candidates are the documents matching every query term (a term by its word, all its parts
    or a synonym), widened to any term below a page, ranked by terms matched then BM25 over the
    terms' forms; the semantic candidates are at most SEMANTIC_LIMIT neighbours above
    MIN_SIMILARITY; then fused. Documents in neither list follow in corpus order."""
    import django
    import numpy as np

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    django.setup()
    from marketplace.search import query as product
    from marketplace.search import vocabulary
    from marketplace.search.languages import term_forms
    from marketplace.search.query import PAGE_SIZE, fused_ranking, gram_scores
    from marketplace.search.segment import (
        QueryTerm,
        grams,
        index_tokens,
        query_grams,
        query_terms,
        segment,
    )
    from marketplace.search.semantic import (
        MIN_SIMILARITY,
        RRF_K,
        SEMANTIC_LIMIT,
        SEMANTIC_WEIGHT,
    )

    # The semantic ranking's weight in the fusion, beside the product's SEMANTIC_WEIGHT.
    SWEEP = [w for w in (0.5, 1.5, 2.0) if w != SEMANTIC_WEIGHT]

    n = len(abstracts)
    docs = [set(index_tokens(a).split()) for a in abstracts]
    bm25 = BM25([index_tokens(a).split() for a in abstracts])
    doc_grams = [set(grams(a)) for a in abstracts]

    @cache
    def synonym_words(term: QueryTerm) -> list[list[str]]:
        return [segment(synonym) for synonym in term.synonyms]

    @cache
    def translation_forms(term: QueryTerm) -> list[tuple[str, ...]]:
        return [form for text in term.translations for form in term_forms(text)]

    def meets(term: QueryTerm, doc: set[str]) -> bool:
        if term.word in doc or (term.parts and all(part in doc for part in term.parts)):
            return True
        for form in translation_forms(term):
            if len(form) == 1 and len(form[0]) == 1 and not form[0].isascii():
                # One Chinese character meets the words that begin with it (languages._option).
                if any(token.startswith(form[0]) for token in doc):
                    return True
            elif all(word in doc for word in form):
                return True
        return any(
            synonym in doc or all(word in doc for word in words)
            for synonym, words in zip(term.synonyms, synonym_words(term), strict=True)
        )

    def lexical(query: str, across: bool = True) -> tuple[list[int], dict[int, float], np.ndarray]:
        order, coverage, scores, _ = lexical_with_grams(query, own_words=0.0, across=across)
        return order, coverage, scores

    @cache
    def lexical_with_grams(
        query: str, own_words: float, across: bool = True
    ) -> tuple[list[int], dict[int, float], np.ndarray, list[tuple[int, float]]]:
        """The word matches (ranked), their coverage, their scores (BM25 over the terms'
        forms, plus `own_words` x BM25 over the query's own words, as query.py adds ts_rank
        of them), and the bigram channel's (doc, score) best first when the query widens
        (product_ranking drops them where query.py would not run the channel). across=False:
        without the term list and English phrases (vocabulary.ACROSS_LANGUAGES)."""
        vocabulary.ACROSS_LANGUAGES = across
        try:
            terms = query_terms(query)
        finally:
            vocabulary.ACROSS_LANGUAGES = True
        if not terms:
            return [], {}, np.zeros(n), []
        scores = bm25.scores(list(dict.fromkeys(x for t in terms for x in t.lexemes())))
        if own_words:
            scores = scores + own_words * bm25.scores([t.word for t in terms])
        matched = np.array([sum(meets(term, doc) for term in terms) for doc in docs])
        found = [int(d) for d in np.where(matched == len(terms))[0]]
        widened = len(found) < PAGE_SIZE
        if widened and len(terms) > 1:
            found += [int(d) for d in np.where((matched > 0) & (matched < len(terms)))[0]]
        order = sorted(found, key=lambda d: (-matched[d], -scores[d]))
        gram_rows: list[tuple[int, float]] = []
        wanted = query_grams(query) if widened else []
        if wanted:
            hits = [d for d in range(n) if doc_grams[d] & set(wanted)]
            flags = [[int(g in doc_grams[d]) for g in wanted] for d in hits]
            gram_rows = sorted(
                zip(hits, gram_scores(flags, n), strict=True), key=lambda row: (-row[1], -row[0])
            )
        return order, {d: matched[d] / len(terms) for d in order}, scores, gram_rows

    def product_ranking(
        text: str, cosine: np.ndarray, fusion: str, own_words: float, gram_weight: float = 0.25
    ) -> np.ndarray:
        """query.fused_ranking itself, with the given bigram fusion and own-words weight."""
        order, coverage, scores, gram_rows = lexical_with_grams(text, own_words)
        semantic = neighbours(cosine, MIN_SIMILARITY)
        if fusion == "append" and len(set(order) | set(semantic)) >= PAGE_SIZE:
            gram_rows = []  # query.py runs the channel only below a page of other matches
        saved = product.GRAM_FUSION, product.GRAM_WEIGHT
        product.GRAM_FUSION, product.GRAM_WEIGHT = fusion, gram_weight
        try:
            ranked = fused_ranking(
                [(d, float(scores[d]), coverage[d]) for d in order],
                gram_rows if fusion != "none" else [],
                semantic,
            )
        finally:
            product.GRAM_FUSION, product.GRAM_WEIGHT = saved
        return complete([d for d, _ in ranked])

    def complete(order: list[int]) -> np.ndarray:
        seen = set(order)
        return np.array(order + [d for d in range(n) if d not in seen])

    def neighbours(cosine: np.ndarray, floor: float) -> list[int]:
        return [int(d) for d in rank(cosine)[:SEMANTIC_LIMIT] if cosine[d] >= floor]

    def fuse_ranks(lex, coverage, sem, weighted: bool, semantic_weight: float = 1.0) -> np.ndarray:
        fused: dict[int, float] = {}
        for position, d in enumerate(lex, start=1):
            fused[d] = (coverage[d] if weighted else 1.0) / (RRF_K + position)
        for position, d in enumerate(sem, start=1):
            fused[d] = fused.get(d, 0.0) + semantic_weight / (RRF_K + position)
        return complete(sorted(fused, key=lambda d: -fused[d]))

    def fuse_scores(lex, coverage, scores, sem, cosine, weight: float) -> np.ndarray:
        top_lex = max((scores[d] for d in lex), default=1.0) or 1.0
        top_sem = max((cosine[d] for d in sem), default=1.0) or 1.0
        fused = {d: weight * coverage[d] * scores[d] / top_lex for d in lex}
        for d in sem:
            fused[d] = fused.get(d, 0.0) + (1 - weight) * cosine[d] / top_sem
        return complete(sorted(fused, key=lambda d: -fused[d]))

    out: dict[str, dict[str, list]] = {
        name: {t: [] for t in queries}
        for name in (
            "lexical (product)",
            "hybrid RRF floor .25",
            "hybrid RRF",
            "hybrid RRF+coverage (before)",
            "+ bigrams, own words *",
            "+ bigrams only",
            "+ own words only",
            "+ bigrams in RRF x0.25",
            "lexical, no term list",
            "hybrid RRF+coverage, no term list",
            *(f"RRF+coverage sem x{w}" for w in SWEEP),
            "RRF+coverage, lexical cosines",
            "hybrid score w=0.3",
            "hybrid score w=0.5",
            "hybrid score w=0.7",
        )
    }
    for t, texts in queries.items():
        for text, cosine in zip(texts, use_scores[t], strict=True):
            lex, coverage, scores = lexical(text)
            sem = neighbours(cosine, MIN_SIMILARITY)
            out["lexical (product)"][t].append(complete(lex))
            high = neighbours(cosine, 0.25)
            out["hybrid RRF floor .25"][t].append(fuse_ranks(lex, coverage, high, True))
            out["hybrid RRF"][t].append(fuse_ranks(lex, coverage, sem, False))
            out["hybrid RRF+coverage (before)"][t].append(
                fuse_ranks(lex, coverage, sem, True, SEMANTIC_WEIGHT)
            )
            own = product.EXACT_BOOST
            out["+ bigrams, own words *"][t].append(
                product_ranking(text, cosine, product.GRAM_FUSION, own)
            )
            out["+ bigrams only"][t].append(product_ranking(text, cosine, "append", 0.0))
            out["+ own words only"][t].append(product_ranking(text, cosine, "none", own))
            out["+ bigrams in RRF x0.25"][t].append(product_ranking(text, cosine, "rrf", own))
            plain, plain_coverage, _ = lexical(text, across=False)
            out["lexical, no term list"][t].append(complete(plain))
            out["hybrid RRF+coverage, no term list"][t].append(
                fuse_ranks(plain, plain_coverage, sem, True, SEMANTIC_WEIGHT)
            )
            for w in SWEEP:
                out[f"RRF+coverage sem x{w}"][t].append(fuse_ranks(lex, coverage, sem, True, w))
            # Measured, not in the product: every lexical candidate gets its cosine too (not
            # only the SEMANTIC_LIMIT nearest), so the semantic ranking re-ranks all of them.
            pool = set(sem) | {d for d in lex if cosine[d] >= MIN_SIMILARITY}
            everyone = sorted(pool, key=lambda d: (-cosine[d], d))
            out["RRF+coverage, lexical cosines"][t].append(
                fuse_ranks(lex, coverage, everyone, True, SEMANTIC_WEIGHT)
            )
            for weight in (0.3, 0.5, 0.7):
                out[f"hybrid score w={weight}"][t].append(
                    fuse_scores(lex, coverage, scores, sem, cosine, weight)
                )
    return out


def rerank_rankings(
    base: dict[str, list], titles: list[str], queries: dict[str, list[str]], threads: int
) -> tuple[dict[str, dict[str, list]], float]:
    """The product's re-ranker (marketplace/search/rerank.py) over `base` (the product's
    ranking, per task): the first SEARCH_RERANK_DEPTH (and 100) documents re-ordered by the
    e5 cosine of their TITLE with the query, at several weights. The title task is left as
    `base`: a title query against title vectors would find itself. Returns the rankings and
    the titles embedded per second."""
    import numpy as np
    from django.conf import settings

    from marketplace.search.rerank import patent_rerank_text, reranked
    from matching.embedders import MultilingualE5Embedder

    embedder = MultilingualE5Embedder(threads=threads)
    embedder.embed(["预热"])
    started = time.perf_counter()
    title_vectors = embedder.embed([patent_rerank_text(title) for title in titles])
    titles_per_s = len(titles) / (time.perf_counter() - started)
    query_vectors = {t: embedder.embed_query(qs) for t, qs in queries.items() if t != "title"}
    product_depth, product_weight = settings.SEARCH_RERANK_DEPTH, settings.SEARCH_RERANK_WEIGHT
    variants = [(product_depth, w) for w in (1.0, 2.0, 3.0, 4.0)] + [(100, product_weight)]
    out: dict[str, dict[str, list]] = {}
    for depth, weight in variants:
        name = f"+ e5 title re-rank w{weight} d{depth}"
        out[name] = {"title": base["title"]}
        for task, vectors in query_vectors.items():
            out[name][task] = []
            for order, vector in zip(base[task], vectors, strict=True):
                head = [int(d) for d in order[:depth]]
                cosines = title_vectors[head] @ vector
                similarity = dict(zip(head, map(float, cosines), strict=True))
                ranked = reranked([(d, 0.0) for d in head], similarity, depth=depth, weight=weight)
                out[name][task].append(np.array([d for d, _ in ranked] + list(order[depth:])))
    return out, titles_per_s


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=0, help="first N papers only")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads")
    parser.add_argument("--skip", default="", help="comma-separated embedders to skip")
    parser.add_argument(
        "--rerank", action="store_true", help="also the product's e5 re-ranker of titles"
    )
    args = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import numpy as np

    from marketplace.search.segment import index_tokens, query_tokens
    from matching.embedders import (
        HashingNgramEmbedder,
        MultilingualE5Embedder,
        UseMultilingualEmbedder,
    )

    papers = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    if args.limit:
        papers = papers[: args.limit]
    abstracts = [p["abstract"] for p in papers]
    n = len(papers)
    by_discipline: dict[str, set[int]] = {}
    for i, p in enumerate(papers):
        by_discipline.setdefault(p["discipline"], set()).add(i)
    disciplines = sorted(d for d, rel in by_discipline.items() if len(rel) >= 5)
    english = [(q, d) for q, d in ENGLISH_QUERIES if d in by_discipline]

    queries = {
        "title": [p["title"] for p in papers],
        "keywords": [" ".join(p["keywords"]) for p in papers],
        "discipline": disciplines,
        "english": [q for q, _ in english],
    }
    # rankings[ranker][task] = list of rankings (doc indices, best first)
    rankings: dict[str, dict[str, list]] = {}
    speed: dict[str, tuple[float, float, float]] = {}

    bigram = BM25([bigram_tokens(a) for a in abstracts])
    rankings["BM25 bigram"] = {
        t: [rank(bigram.scores(bigram_tokens(q))) for q in qs] for t, qs in queries.items()
    }
    jieba = BM25([index_tokens(a).split() for a in abstracts])
    jieba_scores = {t: [jieba.scores(query_tokens(q)) for q in qs] for t, qs in queries.items()}
    rankings["BM25 jieba"] = {t: [rank(s) for s in scores] for t, scores in jieba_scores.items()}
    use_scores: dict[str, list] = {}

    embedders: list[tuple[str, Callable[[], object]]] = [
        ("hash-ngram", HashingNgramEmbedder),
        ("USE-m3", lambda: UseMultilingualEmbedder(threads=args.threads)),
        ("e5-small-q4", lambda: MultilingualE5Embedder(threads=args.threads)),
    ]
    skip = set(filter(None, args.skip.split(",")))
    for label, factory in embedders:
        if label in skip:
            continue
        embedder = factory()
        embed_docs = embedder.embed  # type: ignore[attr-defined]
        embed_query = getattr(embedder, "embed_query", embed_docs)
        embed_docs(abstracts[:2])  # warm up (lazy weights)
        started = time.perf_counter()
        doc_vectors = embed_docs(abstracts)
        docs_per_s = n / (time.perf_counter() - started)
        latencies = []
        for title in queries["title"][:100]:
            started = time.perf_counter()
            embed_query([title])
            latencies.append((time.perf_counter() - started) * 1000)
        speed[label] = (
            docs_per_s,
            float(np.percentile(latencies, 50)),
            float(np.percentile(latencies, 95)),
        )
        scored = {t: [doc_vectors @ v for v in embed_query(qs)] for t, qs in queries.items()}
        if label == "USE-m3":
            use_scores = scored
        rankings[label] = {t: [rank(s) for s in scores] for t, scores in scored.items()}
        print(f"  {label}: {docs_per_s:.1f} abstracts/s", file=sys.stderr, flush=True)

    fast = [name for name in ("USE-m3", "hash-ngram") if name in rankings]
    if fast:
        best = max(fast, key=lambda name: known_item(rankings[name]["title"], list(range(n)))[0])
        jieba_runs = rankings["BM25 jieba"]
        rankings[f"RRF jieba+{best}"] = {
            t: [rrf(a, b) for a, b in zip(jieba_runs[t], rankings[best][t], strict=True)]
            for t in queries
        }
    if "e5-small-q4" in rankings:
        for lexical in ("BM25 bigram", "BM25 jieba"):
            rankings[f"RRF {lexical.split()[1]}+e5"] = {
                t: [
                    rrf(a, b)
                    for a, b in zip(rankings[lexical][t], rankings["e5-small-q4"][t], strict=True)
                ]
                for t in queries
            }

    if use_scores:
        rankings.update(hybrid_rankings(queries, abstracts, use_scores))
    if args.rerank and use_scores:
        extra, titles_per_s = rerank_rankings(
            rankings["+ bigrams, own words *"], [p["title"] for p in papers], queries, args.threads
        )
        rankings.update(extra)
        print(f"  e5 titles: {titles_per_s:.1f} titles/s", file=sys.stderr, flush=True)

    targets = list(range(n))
    rel_disc = [by_discipline[d] for d in disciplines]
    rel_en = [by_discipline[d] for _, d in english]
    print(
        f"CSL dev: {n} abstracts; {len(disciplines)} disciplines with >= 5 papers; "
        f"{len(english)} hand-written English queries (a small set: read as indicative only); "
        f"threads={args.threads}"
    )
    header = (
        f"| {'ranker':<20} | title MRR | title R@10 | kw MRR | kw R@10 | disc P@10 "
        f"| disc nDCG@10 | en->zh R@20 | abstracts/s | query p50 ms | query p95 ms |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for name, by_task in rankings.items():
        t_mrr, t_r10 = known_item(by_task["title"], targets)
        k_mrr, k_r10 = known_item(by_task["keywords"], targets)
        d_p10, d_ndcg = topical(by_task["discipline"], rel_disc)
        en_r20 = recall_at(by_task["english"], rel_en) if english else float("nan")
        dps, p50, p95 = speed.get(name, (float("nan"),) * 3)
        speed_cells = (
            f"{dps:>11.1f} | {p50:>12.1f} | {p95:>12.1f}"
            if name in speed
            else f"{'-':>11} | {'-':>12} | {'-':>12}"
        )
        print(
            f"| {name:<20} | {t_mrr:>9.3f} | {t_r10:>10.3f} | {k_mrr:>6.3f} | {k_r10:>7.3f} "
            f"| {d_p10:>9.3f} | {d_ndcg:>12.3f} | {en_r20:>11.3f} | {speed_cells} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
