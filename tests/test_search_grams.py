"""The search's bigram channel: character bigrams of the title and abstract in their own GIN
index, cut by the same function as the query's; found only when the words find less than a
page, after what the words and the meaning found; never for a saved search's alert."""

from __future__ import annotations

import math
from io import StringIO

import pytest
from django.core.management import call_command

from marketplace.models import Patent
from marketplace.search import query
from marketplace.search.query import gram_scores
from marketplace.search.saved import query_finds_patent
from marketplace.search.segment import grams, index_grams, query_grams
from tests.conftest import World
from tests.factories import make_patent
from tests.search_helpers import PLASTIC, VALVE, ids, listed_patents, search


@pytest.fixture
def patents(world: World) -> dict[str, Patent]:
    return listed_patents(
        world.university,
        {
            "plastic": PLASTIC,
            # 降解 without 塑料: the words of 降解塑料 (all its parts) do not meet it.
            "film": {
                "title": "一种全生物降解薄膜",
                "abstract": "以聚乳酸为原料吹膜，用后在堆肥中分解。",
                "main_ipc": "C08L 67/04",
                "further_ipcs": [],
            },
            # jieba cuts 锂电 隔膜 here and 锂电池 (锂电 + 电池) in the query.
            "separator": {
                "title": "一种锂电隔膜",
                "abstract": "聚乙烯微孔膜，涂覆陶瓷层。",
                "main_ipc": "H01M 50/40",
                "further_ipcs": [],
            },
            # 破洞 is one word here; the query 查破洞 is cut 查破 洞.
            "cloth": {
                "title": "一种布匹瑕疵检测方法",
                "abstract": "验布时发现破洞和油污。",
                "main_ipc": "G06T 7/00",
                "further_ipcs": [],
            },
            "valve": VALVE,
        },
    )


# ---- the cut -----------------------------------------------------------------------------------


def test_bigrams_follow_the_chinese_runs_between_stop_words_and_punctuation() -> None:
    assert grams("验布机 查破洞") == ["验布", "布机", "查破", "破洞"]
    # 一种, 及其, 方法 are stop words: no bigram spans them.
    assert grams("一种可降解农用地膜及其制备方法") == [
        "可降",
        "降解",
        "解农",
        "农用",
        "用地",
        "地膜",
    ]
    assert grams("能自己烂掉的塑料袋") == ["烂掉", "塑料", "料袋"]  # 能, 自己, 的: no bigram
    assert grams("锂电池 锂电池") == ["锂电", "电池"]  # each once, in order
    assert index_grams("一种锂电隔膜\n聚乙烯微孔膜") == "锂电 电隔 隔膜 聚乙 乙烯 烯微 微孔 孔膜"


def test_a_lone_character_function_characters_and_latin_make_no_bigram() -> None:
    assert grams("可") == []
    assert grams("的") == []
    assert grams("可的") == []
    assert grams("洞") == []
    assert grams("OLED display") == []
    assert grams("PLC控制") == ["控制"]
    assert query_grams("塑料可") == ["塑料"]
    assert query_grams("锂" * 40 + "电池") == ["锂锂", "锂电", "电池"]  # distinct bigrams
    assert len(query_grams("".join(chr(0x4E00 + 7 * n) for n in range(40)))) == 24


@pytest.mark.django_db
def test_a_patent_stores_the_bigrams_of_its_title_and_abstract_not_its_claims(
    world: World,
) -> None:
    patent = make_patent(
        world.university,
        1,
        title="一种锂电隔膜",
        abstract="陶瓷涂层。",
        claims="1. 一种隔膜，其特征在于聚丙烯基材。",
    )
    patent.refresh_from_db()
    assert patent.gram_tokens == "锂电 电隔 隔膜 陶瓷 瓷涂 涂层"
    assert Patent.objects.filter(pk=patent.pk, gram_vector="瓷涂").exists()
    assert not Patent.objects.filter(pk=patent.pk, gram_vector="丙烯").exists()


def test_bm25_of_the_bigrams_held_sums_their_inverse_document_frequencies() -> None:
    # Three candidates in a corpus of 10: bigram 0 in all three, bigram 1 in the first only.
    scores = gram_scores([[1, 1], [1, 0], [1, 0]], corpus=10)
    common, rare = math.log(1 + 7.5 / 3.5), math.log(1 + 9.5 / 1.5)
    assert scores == pytest.approx([common + rare, common, common])
    assert gram_scores([], corpus=10) == []
    # A corpus size below the candidates (before ANALYZE counted the table): the candidates,
    # here 2 (idf of a bigram in one of them: log(1 + 1.5 / 1.5)).
    assert gram_scores([[1], [0]], corpus=-1) == pytest.approx([math.log(2), 0.0])


# ---- search ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_lithium_battery_finds_a_lithium_cell_separator_only_through_its_bigrams(
    patents: dict[str, Patent], monkeypatch: pytest.MonkeyPatch
) -> None:
    body = search({"q": "锂电池"})
    assert ids(body) == [patents["separator"].pk]
    assert body["query"]["mode"] == "or"  # no word of the query matched: widened to bigrams
    monkeypatch.setattr(query, "GRAM_FUSION", "none")
    assert ids(search({"q": "锂电池"})) == []


@pytest.mark.django_db
def test_a_query_jieba_cuts_differently_meets_the_patent_by_a_bigram(
    patents: dict[str, Patent], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ids(search({"q": "查破洞"})) == [patents["cloth"].pk]  # 破洞
    monkeypatch.setattr(query, "GRAM_FUSION", "none")
    assert ids(search({"q": "查破洞"})) == []


@pytest.mark.django_db
def test_patents_found_by_bigrams_follow_the_word_matches(patents: dict[str, Patent]) -> None:
    body = search({"q": "降解塑料"})
    # 降解塑料 by its words (降解 & 塑料), then 降解 alone (a bigram): the valve holds neither.
    assert ids(body) == [patents["plastic"].pk, patents["film"].pk]
    assert body["query"] == {
        "tokens": ["降解塑料", "降解", "塑料", "可降解塑料", "生物降解塑料", "可生物降解塑料"],
        "mode": "and",  # one term, matched strictly by one patent: widened by bigrams alone
    }
    assert body["count"] == 2
    assert [(f["value"], f["count"]) for f in body["facets"]["ipc_section"]] == [("C", 2)]


@pytest.mark.django_db
def test_single_and_function_characters_still_match_nothing_by_bigrams(
    patents: dict[str, Patent],
) -> None:
    # 洞 is a word of no patent and makes no bigram; 可 (in 可降解, 可靠, 可以) is no term.
    assert ids(search({"q": "洞"})) == []
    assert search({"q": "可的"})["query"] == {"tokens": [], "mode": "none"}
    # 塑料可: 塑料 only, the valve's 可 matches nothing.
    assert ids(search({"q": "塑料可"})) == [patents["plastic"].pk]


@pytest.mark.django_db
def test_a_full_page_of_strict_matches_skips_the_bigram_channel(
    patents: dict[str, Patent], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(query, "PAGE_SIZE", 1)  # one strict match fills the page
    body = search({"q": "降解塑料"})
    assert ids(body) == [patents["plastic"].pk]
    assert body["count"] == 1


@pytest.mark.django_db
def test_a_saved_search_alert_never_matches_through_bigrams(patents: dict[str, Patent]) -> None:
    assert query_finds_patent({"q": "降解塑料"}, patents["plastic"].pk) is True
    assert query_finds_patent({"q": "降解塑料"}, patents["film"].pk) is False
    assert query_finds_patent({"q": "锂电池"}, patents["separator"].pk) is False


@pytest.mark.django_db
def test_the_query_word_itself_ranks_before_its_synonym(world: World) -> None:
    synonym = make_patent(
        world.university,
        1,
        is_listed=True,
        title="一种锂离子电池",
        abstract="锂离子电池的外壳。",
    )
    own = make_patent(world.university, 2, is_listed=True, title="一种锂电池", abstract="外壳。")
    assert ids(search({"q": "锂电池"}))[:2] == [own.pk, synonym.pk]


@pytest.mark.django_db
def test_resegmenting_fills_the_bigrams_of_a_patent_stored_before_them(
    patents: dict[str, Patent],
) -> None:
    Patent.objects.filter(pk=patents["separator"].pk).update(gram_tokens="")  # before 0023
    assert ids(search({"q": "锂电池"})) == []
    out = StringIO()
    call_command("resegment_patents", verbosity=0, stdout=out)
    assert out.getvalue().strip() == "1 patents re-segmented"
    assert Patent.objects.get(pk=patents["separator"].pk).gram_tokens == (
        "锂电 电隔 隔膜 聚乙 乙烯 烯微 微孔 孔膜 涂覆 覆陶 陶瓷 瓷层"
    )
    assert ids(search({"q": "锂电池"})) == [patents["separator"].pk]


@pytest.mark.django_db
def test_a_hit_found_only_by_bigrams_has_them_marked_in_its_snippet(
    patents: dict[str, Patent],
) -> None:
    # Given a query whose words the patent does not hold (jieba cuts 查破 洞, the patent 破洞)
    body = search({"q": "查破洞"})
    (hit,) = body["results"]
    assert hit["id"] == patents["cloth"].pk
    # Then the bigram that met it is marked, as a word match is
    assert hit["snippet"] == {
        "title": "一种布匹瑕疵检测方法",
        "abstract": "验布时发现<mark>破洞</mark>和油污。",
    }
