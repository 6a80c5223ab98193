"""Search vocabulary as reference data (issue 13, points 3 and 4): synonym groups and the
bilingual term list in the database, used at query time, changed without a restart; and each hit
saying which language it matched by."""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client

from marketplace.models import ReferenceTable, SynonymGroup, TermTranslation
from marketplace.search import vectors, vocabulary
from marketplace.search.segment import query_terms
from marketplace.search.vectors import (
    patent_vectors_compute,
    search_embedder,
    vector_index_publish,
)
from tests.conftest import World, client_for
from tests.factories import UserFactory, make_patent

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parent.parent / "marketplace" / "reference_data"


@pytest.fixture(autouse=True)
def _fresh_vocabulary() -> Iterator[None]:
    # A test's rows are rolled back after it: no process copy may outlive them.
    vocabulary.vocabulary_reset()
    yield
    vocabulary.vocabulary_reset()


def search(params: dict[str, Any], language: str = "en") -> dict[str, Any]:
    response = client_for(None, language).get("/api/v1/search/patents/", params)
    assert response.status_code == 200, response.json()
    return dict(response.json())


def hits(body: dict[str, Any]) -> dict[int, list[str]]:
    """patent id → the values of its `matched`."""
    return {hit["id"]: [item["value"] for item in hit["matched"]] for hit in body["results"]}


def test_migration_loads_the_shipped_vocabulary_with_its_sources() -> None:
    # Given the migrated database, then both tables hold the shipped files, row for row
    groups = [
        line.split("\t")
        for line in (Path(vocabulary.SYNONYMS_FILE)).read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert SynonymGroup.objects.count() == len(groups) == 32
    lithium = SynonymGroup.objects.get(key="锂电池")
    assert lithium.terms == ["锂电池", "锂离子电池", "锂二次电池", "lithium-ion battery"]
    assert lithium.source == "synonyms.tsv"
    with (DATA / "search_terms.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert TermTranslation.objects.count() == len(rows) == 770
    assert TermTranslation.objects.get(term_en="battery", term_zh="电池").sources == "IPC H01M"
    # and each table is listed with its source, in both languages
    tables = {table.key: table for table in ReferenceTable.objects.all()}
    assert tables["synonyms"].row_count == 32
    assert tables["search_terms"].row_count == 770
    assert tables["search_terms"].title_zh == "检索中英文术语对照表"
    assert tables["search_terms"].notes_zh.count("\n") == tables["search_terms"].notes.count("\n")


def test_every_pair_of_the_term_list_is_held_by_the_shipped_rows_it_cites() -> None:
    # Given the shipped IPC titles and industry names
    titles: dict[str, tuple[str, str]] = {}
    with (DATA / "ipc.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            titles[f"IPC {row['symbol']}"] = (row["title_en"], row["title_zh"])
    with (DATA / "gbt4754_2017.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            titles[f"GB/T 4754 {row['code']}"] = (row["name_en"], row["name_zh"])
    with (DATA / "search_terms.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    # Then each pair's rows hold the English term as words and the Chinese term
    for row in rows:
        cited = row["sources"].split("; ")
        assert cited, row
        for citation in cited:
            title_en, title_zh = titles[citation]
            words = " ".join(vocabulary.english_key(title_en).split())
            assert f" {vocabulary.english_key(row['term_en'])} " in f" {words} ", (row, citation)
            assert row["term_zh"].lower() in title_zh.lower(), (row, citation)


def test_an_english_query_finds_a_chinese_only_patent_through_the_term_list(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    # Given a patent in Chinese only, and no vector index (words alone)
    patent = make_patent(
        world.university,
        1,
        is_listed=True,
        title="一种农村生活污水处理装置",
        abstract="本发明公开了一种污水处理装置，包括格栅池和沉淀池。",
    )
    # When an English user searches, then the term list's 污水 and 处理 find it
    body = search({"q": "sewage treatment"})
    assert hits(body) == {patent.pk: ["zh"]}
    assert "污水" in body["query"]["tokens"]
    assert body["results"][0]["snippet"]["title"] == "一种农村生活<mark>污水处理</mark>装置"
    assert hits(search({"q": "sewage"})) == {patent.pk: ["zh"]}
    # and without the pair for sewage nothing in Chinese meets that word any more
    with django_capture_on_commit_callbacks(execute=True):
        TermTranslation.objects.get(term_en="sewage", term_zh="污水").delete()
    assert hits(search({"q": "sewage"})) == {}


def test_a_one_character_chinese_term_meets_the_words_that_begin_with_it(world: World) -> None:
    # Given a steel patent: jieba keeps 钢板 as one word, so 钢 alone is no word of the index
    patent = make_patent(
        world.university, 8, is_listed=True, title="一种热轧钢板", abstract="一种钢板的轧制。"
    )
    make_patent(world.university, 9, is_listed=True, title="一种木材干燥窑", abstract="木材。")
    # When an English user searches for steel (steel ↔ 钢, IPC C21C), then 钢板 meets it
    assert query_terms("steel")[0].translations == ("钢",)
    assert hits(search({"q": "steel"})) == {patent.pk: ["zh"]}


def test_a_chinese_query_finds_an_english_patent_through_the_term_list(world: World) -> None:
    # Given a patent in English only
    patent = make_patent(
        world.university,
        2,
        is_listed=True,
        title="Sewage treatment plant with a membrane tank",
        abstract="A plant for the treatment of municipal sewage.",
    )
    # When a Chinese user searches 污水处理, its parts' terms (sewage, treatment) find it
    assert [term.translations for term in query_terms("污水处理")] == [("sewage treatment",)]
    assert hits(search({"q": "污水处理"})) == {patent.pk: ["en"]}


def test_english_words_that_make_a_synonym_meet_its_chinese_terms(world: World) -> None:
    # Given a Chinese lithium-ion battery patent
    patent = make_patent(
        world.university, 3, is_listed=True, title="一种锂离子电池", abstract="一种电池。"
    )
    # "lithium ion battery" is the synonym table's "lithium-ion battery": one term, not three
    terms = query_terms("lithium ion battery")
    assert [term.word for term in terms] == ["lithium ion battery"]
    assert "锂离子电池" in terms[0].synonyms
    assert hits(search({"q": "lithium ion battery"})) == {patent.pk: ["zh"]}


def test_editing_a_synonym_in_the_admin_changes_the_next_search_without_a_restart(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    # Given a patent that says 有机发光二极管, found for OLED through the synonym table
    patent = make_patent(
        world.university, 4, is_listed=True, title="一种有机发光二极管显示面板", abstract="面板。"
    )
    assert hits(search({"q": "OLED"})) == {patent.pk: ["zh"]}
    group = SynonymGroup.objects.get(key="oled")
    # When staff remove 有机发光二极管 from the group in the admin
    admin = UserFactory.create(email="staff@example.com", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/marketplace/synonymgroup/{group.pk}/change/",
            {"terms": "OLED,有机电致发光", "source": "staff", "note": ""},
        )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert SynonymGroup.objects.get(pk=group.pk).terms == ["OLED", "有机电致发光"]
    # Then the very next search no longer finds the patent by that synonym
    assert hits(search({"q": "OLED"})) == {}
    # and adding it back finds it again
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/marketplace/synonymgroup/{group.pk}/change/",
            {"terms": "OLED,有机电致发光,有机发光二极管", "source": "staff", "note": ""},
        )
    assert response.status_code == 302
    assert hits(search({"q": "OLED"})) == {patent.pk: ["zh"]}


def test_a_change_made_by_another_process_is_read_once_its_generation_moves(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given this process's copy of the vocabulary, read once
    monkeypatch.setattr(vocabulary, "CHECK_SECONDS", 0.0)
    assert "正极" in query_terms("cathode")[0].synonyms
    # When another process changes the table (no signal here) and bumps the generation
    SynonymGroup.objects.filter(key="正极").update(terms=["正极", "正极片"])
    assert "正极" in query_terms("cathode")[0].synonyms  # the generation has not moved yet
    cache.set(vocabulary.GENERATION_KEY, time.time_ns(), timeout=None)
    # Then the next query reads the change
    assert query_terms("cathode")[0].synonyms == ()
    assert query_terms("正极")[0].synonyms == ("正极片",)


def test_the_copy_is_checked_against_the_generation_at_most_once_a_check_interval() -> None:
    # Given a copy just read
    first = vocabulary.vocabulary()
    cache.set(vocabulary.GENERATION_KEY, time.time_ns(), timeout=None)
    # Then within CHECK_SECONDS the same copy serves (no Redis round trip per query)
    assert vocabulary.vocabulary() is first


def test_each_hit_says_which_language_matched_with_labels_in_both_languages(
    world: World, settings: Any, tmp_path: Path
) -> None:
    # Given patents in Chinese and English and a vector index of the hashing embedder
    settings.SEARCH_VECTOR_DIR = str(tmp_path / "vectors")
    settings.SEARCH_EMBEDDER = "matching.embedders.HashingNgramEmbedder"
    search_embedder.cache_clear()
    vectors.query_vector.cache_clear()
    both = make_patent(
        world.university,
        5,
        is_listed=True,
        title="一种柔性OLED显示面板",
        abstract="一种有机发光二极管显示面板。",
    )
    english = make_patent(
        world.university, 6, is_listed=True, title="OLED display", abstract="A display panel."
    )
    patent_vectors_compute(patent_ids=None)
    vector_index_publish()
    try:
        body = search({"q": "OLED"})
        found = hits(body)
        # Then the Chinese patent matched by the abbreviation (Latin) and its Chinese synonym,
        # the English one by the abbreviation, and the meaning step brought both
        assert found[both.pk][:2] == ["zh", "en"]
        assert found[english.pk][:1] == ["en"]
        assert set(found[both.pk]) <= {"zh", "en", "meaning"}
        labels = {i["value"]: i["label"] for hit in body["results"] for i in hit["matched"]}
        assert labels["zh"] == "Chinese words"
        assert labels["en"] == "English words"
        chinese = search({"q": "OLED"}, language="zh-hans")
        labels_zh = {i["value"]: i["label"] for h in chinese["results"] for i in h["matched"]}
        assert labels_zh["zh"] == "中文词语"
        assert labels_zh["en"] == "英文词语"
        if "meaning" in labels_zh:
            assert labels_zh["meaning"] == "意思相近"
    finally:
        search_embedder.cache_clear()
        vectors.query_vector.cache_clear()


def test_a_hit_found_only_by_meaning_says_meaning(
    world: World, settings: Any, tmp_path: Path
) -> None:
    # Given a vector index of the character-hashing embedder and a patent whose words no
    # query word meets (阳能电 is no word of the index: 太阳 太阳能 电池 太阳能电池 板)
    settings.SEARCH_VECTOR_DIR = str(tmp_path / "vectors")
    settings.SEARCH_EMBEDDER = "matching.embedders.HashingNgramEmbedder"
    search_embedder.cache_clear()
    vectors.query_vector.cache_clear()
    patent = make_patent(
        world.university, 7, is_listed=True, title="太阳能电池板", abstract="太阳能电池板。"
    )
    patent_vectors_compute(patent_ids=None)
    vector_index_publish()
    try:
        body = search({"q": "阳能电"})
        # Then it is found by meaning alone, and says so
        assert body["query"]["mode"] == "meaning"
        assert hits(body) == {patent.pk: ["meaning"]}
    finally:
        search_embedder.cache_clear()
        vectors.query_vector.cache_clear()


def test_a_hit_by_number_says_number(world: World) -> None:
    patent = make_patent(world.university, 123, is_listed=True)
    body = search({"q": patent.application_number})
    assert hits(body) == {patent.pk: ["number"]}
    assert body["results"][0]["matched"][0]["label"] == "patent or declaration number"


def test_the_vocabulary_is_public_reference_data() -> None:
    client = client_for(None)
    synonyms = client.get("/api/v1/reference/synonyms/").json()
    assert len(synonyms) == 32
    assert synonyms[0].keys() == {"key", "terms", "source", "note", "updated_at"}
    terms = client.get("/api/v1/reference/search-terms/").json()
    assert len(terms) == 770
    assert {"term_en": "battery", "term_zh": "电池", "sources": "IPC H01M"} in [
        {key: row[key] for key in ("term_en", "term_zh", "sources")} for row in terms
    ]
    keys = {table["key"] for table in client.get("/api/v1/reference/tables/").json()}
    assert {"synonyms", "search_terms"} <= keys


def test_importing_a_synonyms_file_replaces_the_groups_and_searches_use_it(
    world: World, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    # Given a file of two groups, one new
    path = tmp_path / "synonyms.tsv"
    path.write_text("# ours\n钠电池\t钠离子电池\nOLED\t有机发光二极管\n", encoding="utf-8")
    # When it is imported with --replace
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_search_terms", synonyms=path, replace=True, source="ours")
    # Then the table is the file
    assert sorted(SynonymGroup.objects.values_list("key", "terms", "source")) == [
        ("oled", ["OLED", "有机发光二极管"], "ours"),
        ("钠电池", ["钠电池", "钠离子电池"], "ours"),
    ]
    assert query_terms("锂电池")[0].synonyms == ()
    assert query_terms("钠电池")[0].synonyms == ("钠离子电池",)
    # and reloading the shipped files restores them
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_search_terms")
    assert SynonymGroup.objects.count() == 32
    assert "锂离子电池" in query_terms("锂电池")[0].synonyms


def test_a_bad_import_file_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    before = list(TermTranslation.objects.order_by("pk").values_list("term_en", "term_zh"))
    wrong_columns = tmp_path / "terms.csv"
    wrong_columns.write_text("english,chinese\nbattery,电池\n", encoding="utf-8")
    with pytest.raises(CommandError, match=re.escape("columns ('english', 'chinese')")):
        call_command("import_search_terms", terms=wrong_columns, replace=True)
    missing = tmp_path / "terms2.csv"
    missing.write_text("term_en,term_zh,sources\nbattery,,IPC H01M\n", encoding="utf-8")
    with pytest.raises(CommandError, match="a row needs both terms"):
        call_command("import_search_terms", terms=missing, replace=True)
    with pytest.raises(CommandError, match="No file at"):
        call_command("import_search_terms", synonyms=tmp_path / "none.tsv")
    after = list(TermTranslation.objects.order_by("pk").values_list("term_en", "term_zh"))
    assert after == before


@pytest.mark.parametrize(
    ("text", "tsquery"),
    [
        ("锂离子", "'锂离子':A"),
        ("锂离子电池 正极", "('锂离子电池':A | ('锂离子':A & '电池':A)) & '正极':A"),
        ("Lithium battery", "'lithium':A & 'battery':A"),
        ("可", ""),  # a single function character: no word the index keeps
        ("一种", ""),  # a stop word
    ],
)
def test_title_words_are_the_literal_words_the_index_holds_for_titles(
    text: str, tsquery: str
) -> None:
    """The register's ?q= narrows by these through the word index: no synonyms, no
    translations (锂电池's synonym 锂离子电池 would widen a literal filter)."""
    from marketplace.search.segment import title_words_tsquery

    assert title_words_tsquery(text) == tsquery
