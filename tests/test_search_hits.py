"""Search that finds what a user means: numbers in q, and hits a user can choose from."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace.models import Patent
from tests.conftest import World, client_for
from tests.declarations_helpers import announced, declarable_patent
from tests.factories import application_number, make_patent

pytestmark = pytest.mark.django_db


def search(params: dict[str, Any], user: Any = None, language: str = "en") -> dict[str, Any]:
    response = client_for(user, language).get("/api/v1/search/patents/", params)
    assert response.status_code == 200, response.json()
    return response.json()


def ids(body: dict[str, Any]) -> list[int]:
    return [item["id"] for item in body["results"]]


@pytest.fixture
def numbered(world: World) -> dict[str, Any]:
    target = make_patent(
        world.university,
        123456,
        is_listed=True,
        publication_numbers=["CN112345678A", "CN112345678B"],
    )
    other = make_patent(world.university, 7, is_listed=True, publication_numbers=["CN113000001A"])
    hidden = make_patent(world.university, 8, publication_numbers=["CN113000002A"])
    return {"target": target, "other": other, "hidden": hidden}


@pytest.mark.parametrize(
    "q",
    [
        "202110123456.{check}",
        "20211012345 6.{check}",
        "2021101234 56{check}",
        "CN202110123456.{check}",
        "cn 202110123456.{check}",
        "ZL202110123456.{check}",
        "ZL 2021 1 0123456.{check}",
        "  zl2021101234 56 . {check} ",
        "CN112345678A",
        "CN 112345678 B",
        "cn112345678b",
        "ＣＮ１１２３４５６７８Ａ",
        "ZL\u3000202110123456.{check}",
        "202110123456",
        "ZL 2021 1012 3456",
        "cn202110123456",
    ],
)
def test_a_number_in_any_form_finds_that_patent_alone(numbered: dict[str, Any], q: str) -> None:
    target = numbered["target"]
    assert target.application_number == application_number(2021, "1", 123456)
    check = target.application_number[-1]
    body = search({"q": q.format(check=check)})
    assert ids(body) == [target.pk]
    assert body["count"] == 1
    assert body["query"] == {"tokens": [], "mode": "number"}
    assert body["notice"] is None
    assert body["facets"]["patent_type"] == [
        {"value": "invention", "count": 1, "label": "invention (发明)"}
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("202110123456", ("application", "202110123456.{long}")),
        ("ZL202110123456", ("application", "202110123456.{long}")),
        ("99123456", ("application", "99123456.{short}")),
        # A stem that no importer accepts (year 12) stays as typed: "no such patent".
        ("12345678", ("application", "12345678")),
        # A wrong check digit typed is not corrected.
        ("2021101234560", ("application", "2021101234560")),
    ],
)
def test_a_number_without_its_check_digit_is_completed(
    text: str, expected: tuple[str, str]
) -> None:
    from marketplace.patents.numbers import check_digit
    from marketplace.search.numbers import number_kind

    kind, value = expected
    checks = {"long": check_digit("202110123456"), "short": check_digit("99123456")}
    assert checks == {"long": "7", "short": "1"}
    assert number_kind(text) == (kind, value.format(**checks))


def test_a_declaration_number_finds_its_patent(world: World) -> None:
    patent = declarable_patent(world.university, 42)
    declaration = announced(patent, world.university_admin, world.reviewer)
    make_patent(world.university, 43, is_listed=True)
    assert declaration.number is not None and declaration.number.startswith("OL")
    for q in (
        declaration.number,
        declaration.number.lower(),
        f" {declaration.number[:6]} {declaration.number[6:]}",
    ):
        body = search({"q": q})
        assert ids(body) == [patent.pk]
        assert body["query"]["mode"] == "number"
        assert body["notice"] is None


def test_a_number_lookup_is_one_indexed_equality(numbered: dict[str, Any]) -> None:
    target = numbered["target"]
    with CaptureQueriesContext(connection) as queries:
        body = search({"q": f"ZL{target.application_number}"})
    assert ids(body) == [target.pk]
    patent_reads = [q["sql"] for q in queries.captured_queries if "marketplace_patent" in q["sql"]]
    assert not any("@@" in q["sql"] for q in queries.captured_queries)
    assert any('"application_number" = ' in sql for sql in patent_reads)


def test_publication_lookup_uses_the_gin_index(numbered: dict[str, Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        sql, params = Patent.objects.filter(
            publication_numbers__contains=["CN112345678A"]
        ).query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET enable_seqscan = on")
    assert "patent_publication_numbers" in plan


@pytest.mark.parametrize(
    "q",
    [
        "202110999999.{check}",
        "ZL 2021 1 0999999.{check}",
        "CN119999999A",
        "OL20269999999",
        "202110123456.{wrong}",
    ],
)
def test_a_number_that_names_nothing_says_so(numbered: dict[str, Any], q: str) -> None:
    from marketplace.patents.numbers import check_digit

    check = check_digit("202110999999")
    wrong = "0" if numbered["target"].application_number[-1] != "0" else "1"
    body = search({"q": q.format(check=check, wrong=wrong)})
    assert ids(body) == []
    assert body["notice"]["code"] == "no_such_patent"
    assert body["notice"]["detail"].startswith("No patent has the number ")


def test_a_listed_search_does_not_find_an_unlisted_patent_by_number(
    numbered: dict[str, Any],
) -> None:
    hidden = numbered["hidden"]
    body = search({"q": hidden.application_number})
    assert ids(body) == []
    assert body["notice"]["code"] == "no_such_patent"
    body = search({"q": "CN113000002A"})
    assert ids(body) == []


def test_the_notice_is_translated(numbered: dict[str, Any]) -> None:
    body = search({"q": "CN119999999A"}, language="zh-hans")
    assert body["notice"] == {
        "code": "no_such_patent",
        "detail": "没有编号为 CN119999999A 的专利。",
    }


def test_words_are_no_number_and_carry_no_notice(numbered: dict[str, Any]) -> None:
    body = search({"q": "锂离子电池"})
    assert set(ids(body)) == {numbered["target"].pk, numbered["other"].pk}
    assert body["notice"] is None
    assert body["query"]["mode"] == "and"


def _license(world: World, declaration: Any, amount: str = "50000.00") -> Any:
    from decimal import Decimal

    from django.utils import timezone

    from licensing.services import licenses as license_services

    return license_services.license_accept(
        actor=world.sme_admin,
        declaration_id=declaration.pk,
        licensee_id=world.sme.pk,
        notice_text="通知",
        payment={"amount_cny": Decimal(amount), "reference": "R", "paid_on": timezone.localdate()},
    )


@pytest.fixture
def offered(world: World) -> dict[str, Any]:
    licensed = declarable_patent(world.university, 11, title="一种锂离子电池隔膜的制备方法")
    declaration = announced(licensed, world.university_admin, world.reviewer)
    _license(world, declaration)
    royalty = declarable_patent(world.university, 12, title="锂离子电池电解液")
    royalty_declaration = announced(
        royalty,
        world.university_admin,
        world.reviewer,
        payment_method="running_royalty",
        entry_fee_cny=None,
        royalty_rate_percent="2.5000",
    )
    bare = make_patent(world.university, 13, is_listed=True, title="锂离子电池外壳")
    return {
        "licensed": licensed,
        "declaration": declaration,
        "royalty": royalty,
        "royalty_declaration": royalty_declaration,
        "bare": bare,
    }


def test_a_hit_carries_the_patentee_and_the_declaration_in_force(
    world: World, offered: dict[str, Any]
) -> None:
    body = search({"q": "锂离子电池", "sort": "newest"})
    hits = {item["id"]: item for item in body["results"]}
    assert set(hits) == {offered["licensed"].pk, offered["royalty"].pk, offered["bare"].pk}
    licensed = hits[offered["licensed"].pk]
    assert licensed["owner"]["id"] == world.university.pk
    assert licensed["owner"]["name"] == world.university.name
    assert licensed["declaration"] == {
        "declaration_id": offered["declaration"].pk,
        "number": offered["declaration"].number,
        "payment_method": "entry_fee_plus_royalty",
        "lump_sum_cny": None,
        "entry_fee_cny": "50000.00",
        "royalty_rate_percent": "3.5000",
        "upfront_due_cny": "50000.00",
        "licenses_granted": 1,
    }
    assert hits[offered["royalty"].pk]["declaration"] == {
        "declaration_id": offered["royalty_declaration"].pk,
        "number": offered["royalty_declaration"].number,
        "payment_method": "running_royalty",
        "lump_sum_cny": None,
        "entry_fee_cny": None,
        "royalty_rate_percent": "2.5000",
        "upfront_due_cny": "0.00",
        "licenses_granted": 0,
    }
    assert hits[offered["bare"].pk]["declaration"] is None


def test_a_hit_by_number_carries_its_declaration(offered: dict[str, Any]) -> None:
    body = search({"q": offered["declaration"].number})
    assert ids(body) == [offered["licensed"].pk]
    assert body["results"][0]["declaration"]["licenses_granted"] == 1


def test_a_page_of_hits_costs_the_same_statements_whatever_its_size(
    world: World, offered: dict[str, Any], django_assert_num_queries: Any
) -> None:
    search({"q": "锂离子电池"})  # the facet labels are read once per process
    # The candidates, the bigram candidates (fewer than a page of them: search widens), and the
    # page's rows with their declaration summaries.
    with django_assert_num_queries(3):
        one = search({"q": "锂离子电池", "limit": 1})
    with django_assert_num_queries(3):
        three = search({"q": "锂离子电池", "limit": 3})
    assert len(one["results"]) == 1
    assert len(three["results"]) == 3


def test_the_snippet_marks_the_query_words_and_escapes_the_rest(world: World) -> None:
    abstract = "背景" * 40 + "本发明公开了一种<b>锂离子</b>电池正极材料 & 包覆层" + "尾" * 200
    patent = make_patent(
        world.university, 21, is_listed=True, title="锂离子电池<script>", abstract=abstract
    )
    body = search({"q": "锂离子电池"})
    assert ids(body) == [patent.pk]
    snippet = body["results"][0]["snippet"]
    assert snippet["title"] == "<mark>锂离子电池</mark>&lt;script&gt;"
    start = abstract.index("锂离子") - 30
    window = abstract[start : start + 120]
    expected = (
        "…"
        + window.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("锂离子", "<mark>锂离子</mark>")
        .replace("电池", "<mark>电池</mark>")
        + "…"
    )
    assert snippet["abstract"] == expected
    assert "<b>" not in snippet["abstract"]


def test_the_snippet_marks_english_words_whatever_their_case(world: World) -> None:
    patent = make_patent(
        world.university,
        22,
        is_listed=True,
        title="Flame retardant textile",
        abstract="A FLAME retardant finish.",
    )
    body = search({"q": "flame"})
    assert ids(body) == [patent.pk]
    assert body["results"][0]["snippet"] == {
        "title": "<mark>Flame</mark> retardant textile",
        "abstract": "A <mark>FLAME</mark> retardant finish.",
    }


def test_the_schema_describes_hits_and_the_notice() -> None:
    response = client_for(None).get(
        "/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    schema = response.json()
    ok = schema["paths"]["/api/v1/search/patents/"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PatentSearchResponse"
    }
    components = schema["components"]["schemas"]
    page = components["PatentSearchResponse"]["properties"]
    assert set(page) == {"count", "next", "previous", "results", "query", "facets", "notice"}
    hit = components["PatentHit"]["properties"]
    assert {"owner", "declaration", "snippet"} <= set(hit)
    assert set(components["DeclarationSummary"]["properties"]) == {
        "declaration_id",
        "number",
        "payment_method",
        "lump_sum_cny",
        "entry_fee_cny",
        "royalty_rate_percent",
        "upfront_due_cny",
        "licenses_granted",
    }
    assert set(components["SearchNotice"]["properties"]) == {"code", "detail"}


def test_a_hit_by_number_costs_two_statements(
    offered: dict[str, Any], django_assert_num_queries: Any
) -> None:
    search({"q": "锂离子电池"})  # the facet labels are read once per process
    # The equality lookup and the page's declaration summaries: no full-text candidates.
    with django_assert_num_queries(2):
        body = search({"q": offered["licensed"].application_number})
    assert ids(body) == [offered["licensed"].pk]
