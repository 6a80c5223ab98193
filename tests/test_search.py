"""Patent search: Chinese and English words, AND then OR, filters, sorting, facets, scope."""

from __future__ import annotations

from typing import Any

import pytest

from marketplace.models import OrganisationKind, Region
from tests.conftest import World, client_for
from tests.factories import OrganisationFactory, application_number, make_patent

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpus(world: World) -> dict[str, Any]:
    institute = OrganisationFactory.create(
        name="深圳显示研究院",
        kind=OrganisationKind.RESEARCH_INSTITUTE,
        region=Region.objects.get(code="440305"),
    )
    battery = make_patent(world.university, 1, is_listed=True)
    display = make_patent(
        institute,
        2,
        is_listed=True,
        title="一种柔性OLED显示面板及其驱动方法",
        abstract="本发明涉及一种柔性有机发光二极管显示面板，降低功耗。",
        main_ipc="H10K 59/12",
        further_ipcs=[],
    )
    textile = make_patent(
        world.university,
        3,
        is_listed=True,
        title="一种阻燃纺织面料的整理工艺",
        abstract="A flame retardant finishing process for cotton textile fabric.",
        main_ipc="D06M 11/00",
        further_ipcs=[],
        filing_date="2021-01-05",
        grant_date="2022-01-05",
    )
    utility = make_patent(
        world.university,
        4,
        is_listed=True,
        application_number=application_number(2021, "2", 4),
        title="一种电池包散热结构",
        abstract="一种用于锂离子电池包的散热结构。",
        main_ipc="H01M 10/613",
        further_ipcs=[],
    )
    unlisted = make_patent(world.university, 5, title="一种未公开的锂离子电池隔膜")
    return {
        "battery": battery,
        "display": display,
        "textile": textile,
        "utility": utility,
        "unlisted": unlisted,
    }


def search(params: dict[str, Any], user: Any = None) -> dict[str, Any]:
    response = client_for(user).get("/api/v1/search/patents/", params)
    assert response.status_code == 200, response.json()
    return response.json()


def ids(body: dict[str, Any]) -> list[int]:
    return [item["id"] for item in body["results"]]


def test_chinese_keywords_find_listed_patents_only(corpus: dict[str, Any]) -> None:
    body = search({"q": "锂离子电池"})
    assert set(ids(body)) == {corpus["battery"].pk, corpus["utility"].pk}
    # The word, its parts and its synonyms (synonyms.tsv) all meet it.
    assert body["query"] == {
        "tokens": ["锂离子电池", "锂离子", "电池", "锂电池", "锂二次电池", "lithium-ion battery"],
        "mode": "and",
    }


def test_title_matches_rank_above_abstract_matches(corpus: dict[str, Any]) -> None:
    body = search({"q": "正极材料"})
    assert ids(body)[0] == corpus["battery"].pk


def test_ranked_pages_follow_the_ranking_with_the_count_of_all_ranked(
    corpus: dict[str, Any],
) -> None:
    everything = ids(search({"q": "电池"}))
    assert len(everything) == 2  # battery (title, abstract) and utility (title, abstract)
    first = search({"q": "电池", "limit": 1})
    second = search({"q": "电池", "limit": 1, "offset": 1})
    assert (first["count"], second["count"]) == (2, 2)
    assert ids(first) + ids(second) == everything
    assert search({"q": "电池", "limit": 1, "offset": 2})["results"] == []
    by_term = ids(search({"q": "电池", "sort": "remaining_term"}))
    assert by_term == [corpus["battery"].pk, corpus["utility"].pk]


def test_english_words_are_found(corpus: dict[str, Any]) -> None:
    assert ids(search({"q": "flame retardant textile"})) == [corpus["textile"].pk]


def test_no_match_for_all_words_falls_back_to_any_word(corpus: dict[str, Any]) -> None:
    body = search({"q": "电池 纺织"})
    assert body["query"]["mode"] == "or"
    assert set(ids(body)) == {corpus["battery"].pk, corpus["utility"].pk, corpus["textile"].pk}


def test_generic_words_alone_match_nothing_special(corpus: dict[str, Any]) -> None:
    body = search({"q": "一种方法"})
    assert body["query"] == {"tokens": [], "mode": "none"}
    assert len(ids(body)) == 4  # no words left: every listed patent, newest first


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"ipc": "H01M"}, {"battery", "utility"}),
        ({"ipc": "H01M 10"}, {"battery", "utility"}),
        ({"ipc": "H01M 4/525"}, {"battery"}),
        ({"ipc": "H"}, {"battery", "utility", "display"}),
        ({"patent_type": "utility_model"}, {"utility"}),
        ({"owner_kind": "research_institute"}, {"display"}),
        ({"region": "440000"}, {"display"}),
        ({"region": "320000"}, {"battery", "utility", "textile"}),
        ({"region": "440300"}, {"display"}),
        ({"region": "440305"}, {"display"}),
        ({"region": "440304"}, set()),
        ({"region": "320100", "ipc": "D"}, {"textile"}),
        ({"patent_type": ["invention", "utility_model"], "ipc": "H01M"}, {"battery", "utility"}),
        ({"patent_type": "invention", "region": "320000", "ipc": "H"}, {"battery"}),
        ({"min_remaining_years": 12}, {"battery", "display", "textile"}),
        ({"q": "电池", "ipc": "H01M 10/613"}, {"utility"}),
    ],
)
def test_filters(corpus: dict[str, Any], params: dict[str, Any], expected: set[str]) -> None:
    assert set(ids(search(params))) == {corpus[name].pk for name in expected}


def test_the_region_filter_follows_the_owners_region(corpus: dict[str, Any]) -> None:
    """The owner's region is copied onto its patents (by triggers): moving follows at once."""
    institute = corpus["display"].owner
    institute.region = Region.objects.get(code="320505")
    institute.save()
    assert set(ids(search({"region": "440000"}))) == set()
    assert set(ids(search({"region": "320500"}))) == {corpus["display"].pk}
    assert search({"q": "显示"})["facets"]["region"][0]["value"] == "320000"
    # A patent given to another owner takes that owner's region.
    textile = corpus["textile"]
    textile.owner = institute
    textile.save()
    assert set(ids(search({"region": "320505"}))) == {corpus["display"].pk, textile.pk}


def test_sorting_by_remaining_term_and_newest(corpus: dict[str, Any]) -> None:
    by_term = ids(search({"sort": "remaining_term", "ipc": "H01M"}))
    assert by_term == [corpus["battery"].pk, corpus["utility"].pk]  # 20 years vs 10
    newest = ids(search({"sort": "newest"}))
    assert newest[-1] == corpus["textile"].pk  # granted 2022, the others 2023


def test_facets_count_type_section_and_region(corpus: dict[str, Any]) -> None:
    facets = search({"q": "电池"})["facets"]
    assert {f["value"]: f["count"] for f in facets["patent_type"]} == {
        "invention": 1,
        "utility_model": 1,
    }
    assert [(f["value"], f["count"]) for f in facets["ipc_section"]] == [("H", 2)]
    assert facets["ipc_section"][0]["label"] in {"电学", "ELECTRICITY", "Electricity"}
    assert [(f["value"], f["label"], f["count"]) for f in facets["region"]] == [
        ("320000", "江苏省", 2)
    ]


def test_owners_search_their_unlisted_patents(world: World, corpus: dict[str, Any]) -> None:
    mine = search({"q": "隔膜", "scope": "mine"}, world.university_member)
    assert ids(mine) == [corpus["unlisted"].pk]
    assert ids(search({"q": "隔膜"})) == []
    anonymous = client_for(None).get("/api/v1/search/patents/", {"scope": "mine"})
    assert anonymous.status_code == 401
    other = search({"q": "隔膜", "scope": "mine"}, world.sme_admin)
    assert ids(other) == []


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"q": "电" * 201}, "q", "max_length"),
        ({"ipc": "battery"}, "ipc", "invalid_ipc"),
        ({"patent_type": "plant"}, "patent_type", "invalid_choice"),
        ({"region": "32"}, "region", "invalid"),
        ({"min_remaining_years": "-1"}, "min_remaining_years", "min_value"),
        ({"sort": "cheapest"}, "sort", "invalid_choice"),
        ({"payment_method": "barter"}, "payment_method", "invalid_choice"),
        ({"max_upfront_cny": "-5"}, "max_upfront_cny", "min_value"),
    ],
)
def test_bad_search_parameters_are_refused(
    corpus: dict[str, Any], params: dict[str, Any], field: str, code: str
) -> None:
    response = client_for(None).get("/api/v1/search/patents/", params)
    assert response.status_code == 400
    fields = response.json()["fields"]
    key = next(name for name in fields if name.split(".")[0] == field)
    assert fields[key][0]["code"] == code


def test_search_runs_a_fixed_number_of_queries(
    world: World, corpus: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    for serial in range(30, 55):  # a full page of results, from several owners
        owner = OrganisationFactory.create() if serial % 2 else world.university
        make_patent(owner, serial, is_listed=True)
    with django_assert_max_num_queries(4):
        search({"q": "锂离子电池", "ipc": "H01M"})


def test_filters_and_sorting_on_the_declared_terms(world: World) -> None:
    from tests.declarations_helpers import announced, declarable_patent

    cheap = announced(
        declarable_patent(world.university, 11),
        world.university_member,
        world.reviewer,
        entry_fee_cny="10000",
        royalty_rate_percent="2.0",
    )
    dear = announced(
        declarable_patent(world.university, 12),
        world.university_member,
        world.reviewer,
        payment_method="lump_sum",
        royalty_basis="",
        entry_fee_cny=None,
        royalty_rate_percent=None,
        lump_sum_cny="800000",
    )
    body = search({"q": "锂离子电池", "sort": "royalty"})
    assert ids(body) == [cheap.patent_id, dear.patent_id]
    assert ids(search({"payment_method": "lump_sum"})) == [dear.patent_id]
    assert ids(search({"max_upfront_cny": "50000"})) == [cheap.patent_id]
    assert set(ids(search({"max_royalty_rate": "1.5"}))) == {dear.patent_id}
    facets = {f["value"]: f["count"] for f in body["facets"]["payment_method"]}
    assert facets == {"entry_fee_plus_royalty": 1, "lump_sum": 1}


def test_industry_filter_goes_through_the_ipc_concordance(corpus: dict[str, Any]) -> None:
    from matching.models import IpcIndustry

    IpcIndustry.objects.all().delete()  # a table of our own, whatever the shipped one says
    IpcIndustry.objects.create(ipc_prefix="H01M", industry_code="C3841", weight=1, source="test")
    IpcIndustry.objects.create(ipc_prefix="D06", industry_code="C17", weight=1, source="test")
    assert set(ids(search({"industry": "C3841"}))) == {corpus["battery"].pk, corpus["utility"].pk}
    assert set(ids(search({"industry": "C38"}))) == {corpus["battery"].pk, corpus["utility"].pk}
    assert ids(search({"industry": "C17"})) == [corpus["textile"].pk]
    assert ids(search({"industry": "A01"})) == []
    bad = client_for(None).get("/api/v1/search/patents/", {"industry": "Z9"})
    assert bad.json()["fields"]["industry"][0]["code"] == "invalid"
