"""Search by meaning and words segmented alike: patent vectors computed by a real worker, the
shared index file, fusion with the lexical ranking, synonyms, function characters, widening."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from marketplace.celery import app as celery_app
from marketplace.models import Patent, PatentVector
from marketplace.search import vectors
from marketplace.search.segment import query_terms, segment
from marketplace.search.semantic import reciprocal_rank_fusion, score_fusion, semantic_search
from marketplace.search.vectors import (
    current_index,
    patent_vectors_compute,
    search_embedder,
    vector_index_publish,
)
from tests.conftest import World
from tests.factories import OrganisationFactory, make_patent
from tests.live import SmtpSink, start_worker, stop_worker
from tests.search_helpers import PLASTIC, VALVE, ids, listed_patents, publish_vectors, search

USE = "matching.embedders.UseMultilingualEmbedder"


def _reset_caches() -> None:
    search_embedder.cache_clear()
    vectors.query_vector.cache_clear()


def _wait(predicate: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _generation(directory: Path) -> int:
    try:
        return int(json.loads((directory / "CURRENT").read_text())["generation"])
    except FileNotFoundError:
        return 0


# ---- the real worker and the real model ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_worker_embeds_new_and_changed_patents_and_an_english_query_finds_a_chinese_one(
    smtp_sink: SmtpSink, tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.apps import apps

    from marketplace.reference import load_reference_tables

    load_reference_tables(lambda name: apps.get_model("marketplace", name))  # flushed before
    directory = tmp_path / "vectors"
    monkeypatch.setenv("SEARCH_EMBEDDER", USE)
    monkeypatch.setenv("SEARCH_VECTOR_DIR", str(directory))
    settings.SEARCH_EMBEDDER = USE
    settings.SEARCH_VECTOR_DIR = str(directory)
    _reset_caches()
    celery_app.control.purge()
    worker = start_worker(tmp_path / "worker.log", smtp_sink.port, queues="index")
    try:
        university = OrganisationFactory.create(name="向量大学")
        battery = make_patent(
            university,
            1,
            is_listed=True,
            title="一种锂离子电池正极材料及其制备方法",
            abstract="本发明公开了一种高镍三元锂离子电池正极材料，提高了电池的循环寿命和容量。",
        )
        textile = make_patent(
            university,
            2,
            is_listed=True,
            title="一种阻燃纺织面料的整理工艺",
            abstract="本发明涉及棉织物的阻燃整理，使面料具有耐洗的阻燃性能。",
            main_ipc="D06M 11/00",
            further_ipcs=[],
        )
        unlisted = make_patent(university, 3, title="一种锂离子电池的电解液", abstract="电解液。")
        # Each save sent a task to the `index` queue after commit; each publishes a generation.
        _wait(
            lambda: PatentVector.objects.filter(model="usem3-512-v1").count() == 3,
            120,
            "three vectors",
        )
        _wait(lambda: _indexed() == 3, 60, "an index of three")

        body = search({"q": "lithium ion battery cathode"})
        assert ids(body)[0] == battery.pk
        assert unlisted.pk not in ids(body)  # the index holds every patent; search, the listed
        # "cathode" also meets 正极 through the synonym table: one term of four, widened.
        assert body["query"]["mode"] == "or"
        # (lithium would meet 锂离子 through the term list: lithium ↔ 锂, IPC C01D)
        by_meaning = search({"q": "rechargeable cell with a long cycle life"})
        assert ids(by_meaning)[0] == battery.pk
        assert by_meaning["query"]["mode"] == "meaning"  # no word of it is in any patent

        # A changed abstract is embedded again and a new generation published.
        before = bytes(PatentVector.objects.get(pk=textile.pk).vector)
        generation = _generation(directory)
        Patent.objects.filter(pk=textile.pk).update(abstract="一种用于锂电池的正极浆料。")
        Patent.objects.get(pk=textile.pk).save()
        _wait(lambda: _generation(directory) > generation, 60, "a new generation")
        assert bytes(PatentVector.objects.get(pk=textile.pk).vector) != before
    finally:
        stop_worker(worker)
        celery_app.control.purge()
        _reset_caches()


def _indexed() -> int:
    index = current_index()
    return 0 if index is None else int(index.ids.size)


# ---- the index file --------------------------------------------------------------------------


@pytest.mark.django_db
def test_vectors_are_computed_once_and_again_when_the_text_changes(
    world: World, vector_dir: Path
) -> None:
    first = make_patent(world.university, 1, is_listed=True)
    make_patent(world.university, 2, is_listed=True, title="一种阻燃纺织面料")
    assert patent_vectors_compute(patent_ids=None) == 2
    assert patent_vectors_compute(patent_ids=None) == 0
    Patent.objects.filter(pk=first.pk).update(title="一种钠离子电池")
    assert patent_vectors_compute(patent_ids=[first.pk]) == 1
    row = PatentVector.objects.get(pk=first.pk)
    assert (row.model, len(bytes(row.vector))) == ("hash-char13-256-v1", 256 * 2)  # float16


@pytest.mark.django_db
def test_a_worker_reopens_the_index_when_a_new_generation_is_published(
    world: World, vector_dir: Path
) -> None:
    assert current_index() is None  # nothing published: search runs on words alone
    patent = make_patent(world.university, 1, is_listed=True)
    patent_vectors_compute(patent_ids=None)
    assert vector_index_publish() == {
        "generation": 1,
        "model": "hash-char13-256-v1",
        "dim": 256,
        "count": 1,
    }
    first = current_index()
    assert first is not None and first.generation == 1
    assert first.ids.tolist() == [patent.pk]
    assert current_index() is first  # unchanged CURRENT: the same maps
    second_patent = make_patent(world.university, 2, is_listed=True)
    publish_vectors()
    second = current_index()
    assert second is not None and second.generation == 2
    assert sorted(second.ids.tolist()) == [patent.pk, second_patent.pk]
    assert sorted(p.name for p in vector_dir.iterdir()) == [
        "CURRENT",
        "codes-2.npy",
        "ids-2.npy",
        "vectors-2.npy",
    ]
    assert first.ids.tolist() == [patent.pk]  # an old map stays readable after the unlink


@pytest.mark.django_db
def test_semantic_search_returns_only_patents_of_the_base_queryset(
    world: World, vector_dir: Path
) -> None:
    listed = make_patent(world.university, 1, is_listed=True, title="一种锂离子电池正极材料")
    unlisted = make_patent(world.university, 2, title="一种锂离子电池正极材料的制备")
    publish_vectors()
    assert semantic_search(Patent.objects.all(), "锂离子电池正极材料", 10)[:2] in (
        [listed.pk, unlisted.pk],
        [unlisted.pk, listed.pk],
    )
    assert semantic_search(Patent.objects.filter(is_listed=True), "锂离子电池正极材料", 10) == [
        listed.pk
    ]


def test_reciprocal_rank_fusion_and_score_fusion() -> None:
    assert reciprocal_rank_fusion([1, 2, 3], [3, 4]) == [
        (3, 1 / 63 + 1 / 61),
        (1, 1 / 61),
        (4, 1 / 62),  # a tie: the newer (higher) id first
        (2, 1 / 62),
    ]
    # A scale weighs a whole ranking, on top of the per-document weights.
    assert reciprocal_rank_fusion([1, 2], [2, 3], weights=[{1: 0.5}], scales=[1.0, 2.0]) == [
        (2, 1 / 62 + 2 / 61),
        (3, 2 / 62),
        (1, 0.5 / 61),
    ]
    assert score_fusion([(1, 0.2), (2, 0.1)], [(2, 0.8), (3, 0.4)]) == [
        (2, 0.25 + 0.5),
        (1, 0.5),
        (3, 0.25),
    ]


@pytest.mark.django_db
def test_a_pasted_number_goes_to_the_number_lookup_even_with_an_index(
    world: World, vector_dir: Path
) -> None:
    patent = make_patent(world.university, 1, is_listed=True)
    publish_vectors()
    body = search({"q": f"ZL{patent.application_number}"})
    assert (ids(body), body["query"]["mode"]) == ([patent.pk], "number")


# ---- words segmented alike ---------------------------------------------------------------------


@pytest.fixture
def words(world: World) -> dict[str, Patent]:
    return listed_patents(
        world.university,
        {
            "lithium": {"title": "一种锂离子电池正极材料", "abstract": "正极材料。"},
            "plastic": PLASTIC,
            "reliable": VALVE,
            "film": {
                "title": "一种包装薄膜",
                "abstract": "薄膜。",
                "main_ipc": "B65D 65/00",
                "further_ipcs": [],
            },
        },
    )


def test_query_and_index_are_cut_by_the_same_function() -> None:
    # The index cut of 可降解塑料 holds 降解 and 塑料; the query word 降解塑料 meets those parts.
    assert {"降解", "塑料"} <= set(segment("可降解塑料"))
    [term] = query_terms("降解塑料")
    assert (term.word, term.parts) == ("降解塑料", ("降解", "塑料"))
    assert "锂离子电池" in query_terms("锂电池")[0].synonyms


def test_function_characters_are_no_terms() -> None:
    assert query_terms("可") == []
    assert [term.word for term in query_terms("可 阀门")] == ["阀门"]


@pytest.mark.django_db
def test_lithium_battery_meets_lithium_ion_battery(words: dict[str, Patent]) -> None:
    assert ids(search({"q": "锂电池"})) == [words["lithium"].pk]


@pytest.mark.django_db
def test_a_query_word_meets_the_index_cut_of_a_longer_word(words: dict[str, Patent]) -> None:
    assert ids(search({"q": "降解塑料"})) == [words["plastic"].pk]


@pytest.mark.django_db
def test_a_function_character_alone_matches_nothing(words: dict[str, Patent]) -> None:
    body = search({"q": "可"})
    assert body["query"] == {"tokens": [], "mode": "none"}  # no text query: every listed one


@pytest.mark.django_db
def test_fewer_strict_hits_than_a_page_widen_and_more_terms_rank_first(
    words: dict[str, Patent],
) -> None:
    body = search({"q": "塑料薄膜 包装"})
    # Strict: only the plastic film matches 塑料薄膜 (or 塑料 & 薄膜) but not 包装; widened: the
    # packaging film matches 包装 and 薄膜... each matches one term, so the ranking is by rank.
    assert body["query"]["mode"] == "or"
    assert set(ids(body)) == {words["plastic"].pk, words["film"].pk}
    strict = search({"q": "可降解 薄膜 塑料"})
    assert strict["query"]["mode"] == "or"
    assert ids(strict)[0] == words["plastic"].pk  # all three terms, before one of three
    assert set(ids(strict)) == {words["plastic"].pk, words["film"].pk}


@pytest.mark.django_db
def test_the_backfill_command_embeds_every_patent_and_publishes(
    world: World, vector_dir: Path
) -> None:
    from io import StringIO

    from django.core.management import call_command

    make_patent(world.university, 1, is_listed=True)
    make_patent(world.university, 2, is_listed=True, title="一种阻燃纺织面料")
    out = StringIO()
    call_command("index_patent_vectors", verbosity=0, stdout=out)
    assert out.getvalue().strip() == (
        "2 vectors computed; index generation 1: 2 patents (hash-char13-256-v1)"
    )
    call_command("index_patent_vectors", verbosity=0, stdout=out)
    assert out.getvalue().strip().splitlines()[-1] == (
        "0 vectors computed; index generation 2: 2 patents (hash-char13-256-v1)"
    )


@pytest.mark.django_db
def test_resegmenting_brings_stored_words_to_todays_cut(world: World) -> None:
    from io import StringIO

    from django.core.management import call_command

    patent = make_patent(world.university, 1, is_listed=True, title="一种可降解塑料")
    Patent.objects.filter(pk=patent.pk).update(title_tokens="可 降解塑料")  # an older cut
    out = StringIO()
    call_command("resegment_patents", verbosity=0, stdout=out)
    assert out.getvalue().strip() == "1 patents re-segmented"
    patent.refresh_from_db()
    assert patent.title_tokens == " ".join(segment("一种可降解塑料"))
    call_command("resegment_patents", verbosity=0, stdout=out)
    assert out.getvalue().strip().splitlines()[-1] == "0 patents re-segmented"
