"""The search's re-ranker: the first candidates re-ordered by multilingual-e5-small's reading of
their titles (real model, real database), and what happens when some patents have no vector."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from marketplace.models import Patent, PatentRerankVector
from marketplace.search import vectors
from marketplace.search.rerank import (
    patent_rerank_vectors_compute,
    reranked,
    stale_rerank_patent_ids,
)
from tests.conftest import World, client_for
from tests.factories import make_patent

E5 = "matching.embedders.MultilingualE5Embedder"


def search(params: dict[str, Any]) -> dict[str, Any]:
    response = client_for(None).get("/api/v1/search/patents/", params)
    assert response.status_code == 200, response.json()
    return dict(response.json())


def ids(body: dict[str, Any]) -> list[int]:
    return [item["id"] for item in body["results"]]


@pytest.fixture
def rerank_on(settings: Any, tmp_path: Path) -> Iterator[None]:
    """The e5 re-ranker on (the real model), words-only search otherwise (no vector index)."""
    settings.SEARCH_VECTOR_DIR = str(tmp_path / "vectors")
    settings.SEARCH_EMBEDDER = "matching.embedders.HashingNgramEmbedder"
    settings.SEARCH_RERANK_EMBEDDER = E5
    settings.SEARCH_RERANK_DEPTH = 30
    settings.SEARCH_RERANK_WEIGHT = 2.0
    vectors.search_embedder.cache_clear()
    yield
    vectors.search_embedder.cache_clear()


@pytest.fixture
def supplements(world: World) -> dict[str, Patent]:
    owner = world.university
    return {
        # Holds the query's word 保健品, and nothing of what the user wants.
        "box": make_patent(
            owner,
            1,
            is_listed=True,
            title="一种保健品包装盒",
            abstract="盒体与盒盖铰接，内设保健品分隔槽。",
            main_ipc="B65D 5/00",
            further_ipcs=[],
        ),
        # What the user means (降血糖), in other words: 降低血糖, no 保健品.
        "herbal": make_patent(
            owner,
            2,
            is_listed=True,
            title="一种辅助降低血糖的中药组合物",
            abstract="由黄芪、葛根和桑叶制成，长期服用有助于控制餐后血糖。",
            main_ipc="A61K 36/00",
            further_ipcs=[],
        ),
    }


@pytest.mark.django_db
def test_the_reranker_lifts_a_colloquial_querys_meaning_only_match(
    rerank_on: None, supplements: dict[str, Patent], settings: Any
) -> None:
    # Given the fused order without the re-ranker: the word match 保健品 first
    settings.SEARCH_RERANK_EMBEDDER = ""
    before = ids(search({"q": "降血糖的保健品"}))
    assert before == [supplements["box"].pk, supplements["herbal"].pk]

    # When the index queue's step embeds the titles with e5 (what index_patent_vectors runs)
    settings.SEARCH_RERANK_EMBEDDER = E5
    assert patent_rerank_vectors_compute(patent_ids=None) == 2
    assert stale_rerank_patent_ids() == []
    assert PatentRerankVector.objects.filter(model="e5-small-q4-384-v1").count() == 2

    # Then the patent that means what the user asked for comes first
    body = search({"q": "降血糖的保健品", "limit": 10})
    assert ids(body) == [supplements["herbal"].pk, supplements["box"].pk]
    # And running the step again embeds nothing
    assert patent_rerank_vectors_compute(patent_ids=None) == 0


@pytest.mark.django_db
def test_with_vectors_missing_the_search_keeps_the_fused_order(
    rerank_on: None, supplements: dict[str, Patent]
) -> None:
    # Given the re-ranker on, but only one of the two candidates embedded yet
    assert patent_rerank_vectors_compute(patent_ids=[supplements["herbal"].pk]) == 1
    assert stale_rerank_patent_ids() == [supplements["box"].pk]

    # Then the search answers, in the order words and meaning gave (nothing to compare with)
    assert ids(search({"q": "降血糖的保健品"})) == [
        supplements["box"].pk,
        supplements["herbal"].pk,
    ]

    # And with no vector at all, likewise
    PatentRerankVector.objects.all().delete()
    assert ids(search({"q": "降血糖的保健品", "limit": 5})) == [
        supplements["box"].pk,
        supplements["herbal"].pk,
    ]


def test_a_candidate_without_a_vector_counts_the_median_cosine_and_keeps_about_its_place() -> None:
    # Given five candidates in fused order, the third not embedded yet
    ranked = [(1, 0.5), (2, 0.4), (3, 0.3), (4, 0.2), (5, 0.1)]
    similarity = {1: 0.85, 2: 0.90, 4: 0.75, 5: 0.70}

    # When the first four are re-ranked at weight 1
    result = reranked(ranked, similarity, depth=4, weight=1.0)

    # Then 3 scores 1/63 + median(0.85, 0.90, 0.75)/60 and stays third; 2 passes 1 by meaning;
    # the fifth, past the depth, keeps its place
    assert [pk for pk, _ in result] == [2, 1, 3, 4, 5]
    assert result[2][1] == pytest.approx(1 / 63 + 0.85 / 60)
    # And with one cosine only, or weight 0, the order is the fused one
    assert reranked(ranked, {1: 0.9}, depth=4, weight=1.0) == ranked
    assert reranked(ranked, similarity, depth=4, weight=0.0) == ranked
