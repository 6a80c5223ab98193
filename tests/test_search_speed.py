"""Search speed work (issue 13 point 9): what got faster must answer exactly as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.db.models import QuerySet
from usearch.index import Index

from marketplace.api.patents import PatentHitSerializer, hit_data
from marketplace.models import Patent
from marketplace.search import vectors
from marketplace.search.hits import as_hits, attach_hits, hit_rows
from marketplace.search.languages import attach_matched
from marketplace.search.semantic import semantic_search
from marketplace.search.vectors import (
    VectorIndex,
    current_index,
    patent_vectors_compute,
    vector_index_publish,
)
from tests.conftest import World
from tests.declarations_helpers import announced, declarable_patent
from tests.factories import make_patent


@pytest.fixture
def page(world: World) -> list[Patent]:
    """Hits of every shape: a declaration with a license, a running royalty, none, no grant."""
    from tests.test_search_hits import _license

    licensed = declarable_patent(world.university, 11, title="一种锂离子电池隔膜的制备方法")
    _license(world, announced(licensed, world.university_admin, world.reviewer))
    royalty = declarable_patent(world.university, 12, title="锂离子电池电解液")
    announced(
        royalty,
        world.university_admin,
        world.reviewer,
        payment_method="running_royalty",
        entry_fee_cny=None,
        royalty_rate_percent="2.5000",
    )
    make_patent(world.university, 13, is_listed=True, title="锂离子电池外壳", grant_date=None)
    return list(Patent.objects.filter(is_listed=True).order_by("pk"))


@pytest.mark.django_db
def test_a_hit_is_built_exactly_as_the_serializer_builds_it(page: list[Patent]) -> None:
    # Given the same page read the old way (every column, summaries by their own statement)
    # and the new way (hit_rows: the hit's columns and its declaration in one statement)
    pks = [patent.pk for patent in page]
    old = list(Patent.objects.select_related("owner").filter(pk__in=pks).order_by("pk"))
    new = list(hit_rows(Patent.objects.filter(pk__in=pks)).order_by("pk"))
    attach_hits(old, ["锂离子", "电池"])
    attach_hits(new, ["锂离子", "电池"])
    for hits in (old, new):  # found by words, the first also by meaning
        attach_matched(hits, mode="and", lexical_ids=frozenset(pks), meaning_ids=frozenset(pks[:1]))
    # Then the direct representation equals DRF's, field for field, for both readings
    expected = PatentHitSerializer(old, many=True).data
    assert [hit_data(patent) for patent in new] == expected
    assert [hit_data(patent) for patent in old] == expected
    assert PatentHitSerializer(new, many=True).data == expected
    assert [[item["value"] for item in hit["matched"]] for hit in expected] == [
        ["zh", "meaning"],
        *[["zh"]] * (len(pks) - 1),
    ]
    assert {hit["declaration"]["licenses_granted"] for hit in expected if hit["declaration"]} == {
        0,
        1,
    }
    assert sum(hit["declaration"] is None for hit in expected) == 1


@pytest.mark.django_db
def test_hits_read_no_claims_and_no_segmented_text(
    page: list[Patent], django_assert_num_queries: Any
) -> None:
    found = as_hits(Patent.objects.filter(is_listed=True))
    assert isinstance(found, QuerySet)
    with django_assert_num_queries(1):  # rows, owners and declarations together
        rows = list(found)
        attach_hits(rows, ["电池"])
    deferred = rows[0].get_deferred_fields()
    assert {"claims", "title_tokens", "body_tokens", "search_vector", "further_ipcs"} <= deferred
    assert "abstract" not in deferred


# ---- the vector step: brute force, or an HNSW graph for a large index ------------------------


def _unit_rows(count: int, dim: int = 64, seed: int = 7) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)
    return np.asarray(rows / np.linalg.norm(rows, axis=1, keepdims=True), dtype=np.float32)


def _generation(directory: Path, generation: int, ids: np.ndarray, rows: np.ndarray) -> None:
    np.save(directory / f"ids-{generation}.npy", ids)
    np.save(directory / f"vectors-{generation}.npy", rows)


def _opened(directory: Path, generation: int) -> VectorIndex:
    ids = np.load(directory / f"ids-{generation}.npy", mmap_mode="r")
    rows = np.load(directory / f"vectors-{generation}.npy", mmap_mode="r")
    graph = Index.restore(str(directory / f"ann-{generation}.usearch"), view=True)
    return VectorIndex(generation, "test", ids, rows, graph)


def test_the_graph_finds_the_brute_force_neighbours_with_their_exact_cosines(
    tmp_path: Path,
) -> None:
    # Given 2,000 vectors (ids with gaps, ascending as published) and their graph
    ids = np.arange(10, 20_010, 10, dtype=np.int64)
    rows = _unit_rows(len(ids), dim=16)
    _generation(tmp_path, 1, ids, rows)
    assert vectors._save_graph(tmp_path, 1, 0, ids, rows) == "built"
    mapped = _opened(tmp_path, 1)
    exact = VectorIndex(1, "test", ids, rows)
    found_total = 0
    for query in _unit_rows(20, dim=16, seed=8):
        found = mapped.nearest(query, 50)
        expected = dict(exact.nearest(query, 50))
        # Then every hit carries its exact float32 cosine, nearest first
        cosines = rows[np.searchsorted(ids, [pk for pk, _ in found])] @ query
        assert np.allclose([score for _, score in found], cosines)
        assert [score for _, score in found] == sorted((s for _, s in found), reverse=True)
        found_total += len(set(dict(found)) & set(expected))
    # And the graph misses at most 2 % of brute force's 50 nearest (approximate search; 0.1 %
    # when measured)
    assert found_total >= 0.98 * 20 * 50
    # And a stored vector finds itself first
    assert mapped.nearest(rows[3], 1) == [(40, pytest.approx(1.0, abs=1e-5))]


def test_a_new_generation_patches_the_graph_when_few_vectors_changed(tmp_path: Path) -> None:
    ids = np.arange(1, 1001, dtype=np.int64)
    rows = _unit_rows(len(ids), dim=16)
    _generation(tmp_path, 1, ids, rows)
    vectors._save_graph(tmp_path, 1, 0, ids, rows)
    # When patent 5 is gone, patent 7's vector changed and patent 2000 is new
    changed = _unit_rows(2, dim=16, seed=9)
    new_ids = np.asarray([pk for pk in ids.tolist() if pk != 5] + [2000], dtype=np.int64)
    new_rows = np.vstack([rows[ids != 5], changed[1:]])
    new_rows[np.searchsorted(new_ids, 7)] = changed[0]
    _generation(tmp_path, 2, new_ids, new_rows)
    assert vectors._save_graph(tmp_path, 2, 1, new_ids, new_rows) == "patched"
    patched = _opened(tmp_path, 2)
    # Then the graph finds the new and the changed vector, and never the one gone
    assert patched.nearest(changed[1], 1)[0][0] == 2000
    assert patched.nearest(changed[0], 1)[0][0] == 7
    assert 5 not in [pk for pk, _ in patched.nearest(rows[4], 1000)]
    assert len(patched.graph or []) == 1000
    # And a generation where most vectors changed builds the graph again
    renewed = _unit_rows(len(new_ids), dim=16, seed=10)
    _generation(tmp_path, 3, new_ids, renewed)
    assert vectors._save_graph(tmp_path, 3, 2, new_ids, renewed) == "built"


def test_the_8_bit_codes_find_exactly_what_brute_force_finds() -> None:
    # Given 5,000 vectors in 64 and 512 dimensions, as float32 rows and as 8-bit codes
    rng = np.random.default_rng(11)
    for dim in (64, 512):
        rows = _unit_rows(5000, dim=dim, seed=int(rng.integers(1000)))
        ids = np.arange(1, 15_001, 3, dtype=np.int64)
        exact = VectorIndex(1, "test", ids, rows)
        coded = VectorIndex(1, "test", ids, rows, codes=vectors._codes(rows))
        assert coded.codes is not None and coded.codes.dtype == np.int8
        for query in _unit_rows(20, dim=dim, seed=int(rng.integers(1000))):
            # Then the 100 nearest by codes + exact re-score are brute force's, cosines and all
            assert coded.nearest(query, 100) == exact.nearest(query, 100)
    # And a pool larger than half the index is brute force itself
    small = VectorIndex(1, "test", ids[:150], rows[:150], codes=vectors._codes(rows[:150]))
    assert small.nearest(rows[0], 100) == VectorIndex(1, "t", ids[:150], rows[:150]).nearest(
        rows[0], 100
    )


@pytest.mark.django_db
def test_an_index_from_the_threshold_on_is_published_with_its_graph_and_searched_by_it(
    world: World, vector_dir: Path, settings: Any
) -> None:
    settings.SEARCH_ANN_MIN_VECTORS = 2
    battery = make_patent(world.university, 1, is_listed=True, title="一种锂离子电池正极材料")
    make_patent(world.university, 2, is_listed=True, title="一种阻燃纺织面料")
    patent_vectors_compute(patent_ids=None)
    vector_index_publish()
    assert sorted(path.name for path in vector_dir.iterdir()) == [
        "CURRENT",
        "ann-1.usearch",
        "codes-1.npy",
        "ids-1.npy",
        "vectors-1.npy",
    ]
    index = current_index()
    assert index is not None and index.graph is not None and len(index.graph) == 2
    assert semantic_search(Patent.objects.all(), "锂离子电池正极材料", 10)[0] == battery.pk
    make_patent(world.university, 3, is_listed=True, title="一种钠离子电池")
    patent_vectors_compute(patent_ids=None)
    vector_index_publish()
    assert sorted(path.name for path in vector_dir.iterdir()) == [
        "CURRENT",
        "ann-2.usearch",
        "codes-2.npy",
        "ids-2.npy",
        "vectors-2.npy",
    ]


# ---- warm-up ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_warm_up_loads_the_model_and_maps_the_index(world: World, vector_dir: Path) -> None:
    make_patent(world.university, 1, is_listed=True)
    patent_vectors_compute(patent_ids=None)
    vector_index_publish()
    vectors.search_embedder.cache_clear()
    vectors._opened_key = None
    spent = vectors.warm_up()
    assert set(spent) == {"model", "embedding", "index"}
    assert vectors.search_embedder.cache_info().currsize == 1
    assert vectors.query_vector.cache_info().currsize == 1
    assert vectors._opened is not None and vectors._opened.generation == 1


_FRESH_PROCESS = """
import json, time
import marketplace.wsgi
from marketplace.search import vectors
loaded = vectors.search_embedder.cache_info().currsize
began = time.perf_counter()
vectors.query_vector("锂离子电池 cathode material")
print(json.dumps({"loaded": loaded, "first_query_s": time.perf_counter() - began}))
"""


@pytest.mark.parametrize(("warm", "loaded"), [("true", 1), ("false", 0)])
def test_a_fresh_web_process_loads_the_real_model_before_its_first_request(
    warm: str, loaded: int
) -> None:
    # A web process is one that imports marketplace.wsgi (gunicorn's workers, runserver).
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "SEARCH_EMBEDDER": "matching.embedders.UseMultilingualEmbedder",
        "SEARCH_WARM_UP": warm,
    }
    done = subprocess.run(
        [sys.executable, "-c", _FRESH_PROCESS],
        cwd=Path(__file__).resolve().parent.parent,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["loaded"] == loaded
