"""HTTP caching of anonymous public reads: validators, 304s, Cache-Control, the Redis body cache
and its invalidation by announcements, withdrawals and patent edits (marketplace/http_cache.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils.http import http_date
from rest_framework.test import APIClient

from licensing.models import Declaration
from licensing.services import declarations as declaration_services
from marketplace.models import Patent
from marketplace.services import patents as patent_services
from tests.conftest import World, client_for
from tests.declarations_helpers import announced, declarable_patent

PUBLIC = "public, max-age=10, stale-while-revalidate=30"


@pytest.fixture(autouse=True)
def _cache_on(settings: Any) -> None:
    settings.PUBLIC_CACHE_SECONDS = 10
    settings.PUBLIC_CACHE_STALE_SECONDS = 30


@pytest.fixture
def listed(world: World, django_capture_on_commit_callbacks: Any) -> Declaration:
    patent = declarable_patent(world.university, 1)
    with django_capture_on_commit_callbacks(execute=True):
        return announced(patent, world.university_admin, world.reviewer)


def test_anonymous_register_answer_carries_validators_and_public_cache_control(
    listed: Declaration,
) -> None:
    response = APIClient().get("/api/v1/register/")
    assert response.status_code == 200
    assert [entry["number"] for entry in response.json()["results"]] == [listed.number]
    assert response["Cache-Control"] == PUBLIC
    assert response["ETag"].startswith('"') and response["ETag"].endswith('"')
    assert len(response["ETag"]) == 42  # strong: no W/ prefix
    assert response["Last-Modified"].endswith(" GMT")
    assert response["Content-Type"] == "application/json"


def test_matching_if_none_match_is_answered_304_without_a_body(listed: Declaration) -> None:
    first = APIClient().get(f"/api/v1/register/{listed.number}/")
    second = APIClient().get(f"/api/v1/register/{listed.number}/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert second.status_code == 304
    assert second.content == b""
    assert second["ETag"] == first["ETag"]
    assert second["Cache-Control"] == PUBLIC
    weak = APIClient().get(
        f"/api/v1/register/{listed.number}/", HTTP_IF_NONE_MATCH=f'"other", W/{first["ETag"]}'
    )
    assert weak.status_code == 304
    other = APIClient().get(f"/api/v1/register/{listed.number}/", HTTP_IF_NONE_MATCH='"other"')
    assert other.status_code == 200
    assert other.json() == first.json()


def test_if_modified_since_is_answered_304_unless_if_none_match_differs(
    listed: Declaration,
) -> None:
    first = APIClient().get("/api/v1/patents/")
    since = first["Last-Modified"]
    assert APIClient().get("/api/v1/patents/", HTTP_IF_MODIFIED_SINCE=since).status_code == 304
    # If-None-Match takes precedence: a stale tag gets the body even with a current date.
    assert (
        APIClient()
        .get("/api/v1/patents/", HTTP_IF_MODIFIED_SINCE=since, HTTP_IF_NONE_MATCH='"old"')
        .status_code
        == 200
    )
    earlier = http_date(0)
    assert APIClient().get("/api/v1/patents/", HTTP_IF_MODIFIED_SINCE=earlier).status_code == 200


def test_a_repeated_anonymous_read_is_served_from_the_body_cache_without_sql(
    listed: Declaration, django_assert_num_queries: Any
) -> None:
    path = f"/api/v1/patents/{listed.patent_id}/"
    first = APIClient().get(path)
    with django_assert_num_queries(0):
        again = APIClient().get(path)
    assert again.status_code == 200
    assert again.content == first.content
    assert again["ETag"] == first["ETag"]
    assert again["X-Frame-Options"] == "DENY"  # outer middleware still ran


def test_withdrawal_is_never_served_as_open_from_the_cache(
    world: World, listed: Declaration, django_capture_on_commit_callbacks: Any
) -> None:
    detail = f"/api/v1/register/{listed.number}/"
    before = APIClient().get(detail)
    assert before.json()["status"] == "announced"
    listing = APIClient().get("/api/v1/register/?status=announced")
    assert len(listing.json()["results"]) == 1
    patent = APIClient().get(f"/api/v1/patents/{listed.patent_id}/")
    assert patent.status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        declaration_services.declaration_request_withdrawal(
            actor=world.university_admin, declaration_id=listed.pk, reason="调整"
        )
    with django_capture_on_commit_callbacks(execute=True):
        declaration_services.declaration_approve_withdrawal(
            actor=world.reviewer, declaration_id=listed.pk
        )

    after = APIClient().get(detail, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after.json()["status"] == "withdrawn"
    assert APIClient().get("/api/v1/register/?status=announced").json()["results"] == []
    # The patent left public search with its declaration: no longer visible anonymously.
    assert APIClient().get(f"/api/v1/patents/{listed.patent_id}/").status_code == 404


def test_an_announcement_appears_in_the_cached_register_at_once(
    world: World, listed: Declaration, django_capture_on_commit_callbacks: Any
) -> None:
    assert len(APIClient().get("/api/v1/register/").json()["results"]) == 1
    second = declarable_patent(world.university, 2)
    with django_capture_on_commit_callbacks(execute=True):
        new = announced(second, world.university_admin, world.reviewer)
    numbers = [entry["number"] for entry in APIClient().get("/api/v1/register/").json()["results"]]
    assert sorted(numbers) == sorted([str(listed.number), str(new.number)])


def test_a_patent_edit_invalidates_its_cached_detail_and_the_search(
    world: World, listed: Declaration, django_capture_on_commit_callbacks: Any
) -> None:
    path = f"/api/v1/patents/{listed.patent_id}/"
    before = APIClient().get(path)
    search = APIClient().get("/api/v1/search/patents/?q=固态电解质")
    assert search.json()["count"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        patent_services.patent_update(
            actor=world.university_admin,
            patent_id=listed.patent_id,
            data={"title": "一种固态电解质及其制备方法"},
        )
    after = APIClient().get(path, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after.json()["title"] == "一种固态电解质及其制备方法"
    assert after["Last-Modified"] != before["Last-Modified"] or after["ETag"] != before["ETag"]
    assert APIClient().get("/api/v1/search/patents/?q=固态电解质").json()["count"] == 1


def test_uncommitted_change_does_not_invalidate_until_commit(
    world: World, listed: Declaration, django_capture_on_commit_callbacks: Any
) -> None:
    """The generation moves after the commit, never before it (a reader could otherwise cache
    the old rows under the new generation)."""
    path = f"/api/v1/patents/{listed.patent_id}/"
    APIClient().get(path)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        Patent.objects.filter(pk=listed.patent_id).update(title="未提交的标题")
        patent_services.patent_set_listing(patent_ids=[listed.patent_id], is_listed=True)
        assert APIClient().get(path).json()["title"] != "未提交的标题"
    for callback in callbacks:
        callback()
    assert APIClient().get(path).json()["title"] == "未提交的标题"


@pytest.mark.parametrize("role", ["member", "reviewer", "other_member"])
def test_logged_in_reads_are_private_and_never_cached(
    world: World, listed: Declaration, role: str
) -> None:
    unlisted = declarable_patent(world.university, 3)
    path = f"/api/v1/patents/{unlisted.pk}/"
    response = client_for(world.user(role)).get(path)
    expected = 404 if role == "other_member" else 200
    assert response.status_code == expected
    assert response["Cache-Control"] == "private, no-cache"
    assert not response.has_header("ETag")
    # What a member saw is not served to anyone else.
    assert APIClient().get(path).status_code == 404
    register = client_for(world.user(role)).get("/api/v1/register/")
    assert register["Cache-Control"] == "private, no-cache"


def test_errors_and_other_endpoints_are_not_cached(listed: Declaration) -> None:
    missing = APIClient().get("/api/v1/patents/999999/")
    assert missing.status_code == 404
    assert not missing.has_header("ETag")
    assert APIClient().get("/api/v1/register/?status=draft").status_code == 400
    export = APIClient().get("/api/v1/register/export/")
    assert export.status_code == 200
    assert not export.has_header("ETag")


def test_language_is_part_of_the_cache_key(listed: Declaration) -> None:
    english = APIClient(HTTP_ACCEPT_LANGUAGE="en").get("/api/v1/reference/tables/")
    chinese = APIClient(HTTP_ACCEPT_LANGUAGE="zh-hans").get("/api/v1/reference/tables/")
    assert english["Content-Language"] == "en"
    assert chinese["Content-Language"] == "zh-hans"


def test_cache_off_when_public_cache_seconds_is_zero(settings: Any, listed: Declaration) -> None:
    settings.PUBLIC_CACHE_SECONDS = 0
    response = APIClient().get("/api/v1/register/")
    assert response.status_code == 200
    assert not response.has_header("ETag")
    assert not response.has_header("Cache-Control")


def test_openapi_schema_documents_304_and_the_conditional_headers() -> None:
    schema = APIClient().get("/api/v1/schema/?format=json").json()
    for path in (
        "/api/v1/register/",
        "/api/v1/register/{number}/",
        "/api/v1/patents/",
        "/api/v1/patents/{id}/",
        "/api/v1/search/patents/",
        "/api/v1/reference/regions/",
    ):
        operation = schema["paths"][path]["get"]
        assert "304" in operation["responses"], path
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert {"If-None-Match", "If-Modified-Since"} <= headers, path
    assert "304" not in schema["paths"]["/api/v1/me/"]["get"]["responses"]
    assert "304" not in schema["paths"]["/api/v1/register/export/"]["get"]["responses"]
