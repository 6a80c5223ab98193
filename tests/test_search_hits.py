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
    assert all("search_vector" not in sql.split("FROM")[1] for sql in patent_reads)
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
