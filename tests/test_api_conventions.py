"""API conventions: one error format, translated messages, no 500 on bad input, docs, paging."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from marketplace.models import Organisation, OrganisationEvent
from tests.conftest import World, client_for

pytestmark = pytest.mark.django_db


def _assert_error_shape(body: dict[str, Any]) -> None:
    assert set(body) == {"code", "detail", "fields"}
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["fields"], dict)


def test_malformed_json_is_a_400_with_code_and_changes_nothing(world: World) -> None:
    response = world.client("org_admin").generic(
        "PATCH",
        f"/api/v1/organisations/{world.university.pk}/",
        '{"address": "half',
        content_type="application/json",
    )
    assert response.status_code == 400
    _assert_error_shape(response.json())
    assert response.json()["code"] == "malformed_request"
    assert not OrganisationEvent.objects.exists()


def test_json_that_is_not_an_object_is_refused() -> None:
    response = client_for(None).post(
        "/api/v1/auth/register/", "[1, 2, 3]", content_type="application/json"
    )
    assert response.status_code == 400
    _assert_error_shape(response.json())
    assert response.json()["fields"]["non_field_errors"][0]["code"] == "invalid"
    assert not Organisation.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"name": 12, "kind": ["sme"], "region": {"a": 1}, "admin": None},
        {"name": None},
        {"name": "x" * 10_000, "kind": "sme", "region": 320505, "admin": {"email": "nope"}},
        {"name": "\x00", "kind": "sme", "region": "320505", "admin": {"email": 5}},
    ],
)
def test_wrong_types_get_400_in_the_error_format(payload: dict[str, Any]) -> None:
    response = client_for(None).post("/api/v1/auth/register/", payload, format="json")
    assert response.status_code == 400
    _assert_error_shape(response.json())
    assert response.json()["fields"]
    assert not Organisation.objects.exists()


def test_oversized_body_gets_413_and_changes_nothing(world: World) -> None:
    with override_settings(API_MAX_BODY_BYTES=2048):
        response = world.client("org_admin").patch(
            f"/api/v1/organisations/{world.university.pk}/",
            {"address": "地" * 5000},
            format="json",
        )
    assert response.status_code == 413
    _assert_error_shape(response.json())
    assert response.json()["code"] == "request_too_large"
    assert not OrganisationEvent.objects.exists()


def test_unsupported_media_type_is_415() -> None:
    response = client_for(None).post(
        "/api/v1/auth/token/", "<xml/>", content_type="application/xml"
    )
    assert response.status_code == 415
    _assert_error_shape(response.json())
    assert response.json()["code"] == "unsupported_media_type"


def test_wrong_method_is_405_in_the_error_format() -> None:
    response = client_for(None).delete("/api/v1/auth/token/")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_unknown_api_url_is_404_in_the_error_format() -> None:
    response = client_for(None).get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    _assert_error_shape(response.json())
    assert response.json()["code"] == "not_found"


def test_non_numeric_id_is_404_not_500(world: World) -> None:
    response = world.client("org_admin").get("/api/v1/organisations/abc/members/")
    assert response.status_code == 404


def test_bad_token_is_401_authentication_failed() -> None:
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert response["WWW-Authenticate"] == "Token"


def test_messages_follow_accept_language() -> None:
    english = client_for(None, "en").get("/api/v1/me/")
    chinese = client_for(None, "zh-CN,zh;q=0.9").get("/api/v1/me/")
    assert english.json()["detail"] == "Authentication credentials were not provided."
    assert chinese.json()["detail"] == "身份认证信息未提供。"
    assert english.json()["code"] == chinese.json()["code"] == "not_authenticated"


def test_domain_error_messages_are_translated(world: World) -> None:
    admin = world.university_admin
    from marketplace.models import Membership

    membership = Membership.objects.get(user=admin)
    english = client_for(admin, "en").post(
        f"/api/v1/organisations/{world.university.pk}/members/{membership.pk}/remove/"
    )
    chinese = client_for(admin, "zh-hans").post(
        f"/api/v1/organisations/{world.university.pk}/members/{membership.pk}/remove/"
    )
    assert english.json()["code"] == chinese.json()["code"] == "last_admin"
    assert english.json()["detail"].startswith("An organisation must keep at least one admin")
    assert chinese.json()["detail"] == "机构必须至少保留一名管理员：请先任命另一名管理员。"


def test_field_messages_are_translated() -> None:
    response = client_for(None, "zh-hans").post(
        "/api/v1/auth/register/", {"region": "999999"}, format="json"
    )
    body = response.json()
    assert body["detail"] == "输入无效；详见各字段说明。"
    assert body["fields"]["region"][0]["message"] == "不存在代码为 999999 的 GB/T 2260 行政区划。"
    assert body["fields"]["name"][0]["code"] == "required"


def test_openapi_schema_lists_every_route_with_error_responses() -> None:
    response = client_for(None).get(
        "/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    for path in [
        "/api/v1/auth/register/",
        "/api/v1/auth/token/",
        "/api/v1/me/",
        "/api/v1/organisations/{id}/invitations/",
        "/api/v1/organisations/{id}/members/{membership_id}/remove/",
        "/api/v1/organisations/{id}/sme-profile/",
        "/api/v1/reference/industries/",
        "/api/v1/reference/regions/",
    ]:
        assert path in paths, path
    assert "409" in paths["/api/v1/organisations/{id}/invitations/"]["post"]["responses"]


def test_interactive_docs_page_is_served_with_local_assets() -> None:
    response = client_for(None).get("/api/v1/docs/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page


def test_cursor_pagination_walks_the_whole_list(world: World) -> None:
    client = world.client("anonymous")
    seen: list[str] = []
    url: str | None = "/api/v1/reference/regions/?level=province&page_size=10"
    while url:
        body = client.get(url).json()
        seen.extend(item["code"] for item in body["results"])
        url = body["next"]
    assert len(seen) == 34
    assert seen == sorted(seen)
    assert len(set(seen)) == 34


def test_invalid_cursor_is_a_400_with_its_own_code() -> None:
    response = client_for(None).get("/api/v1/reference/regions/", {"cursor": "garbage"})
    assert response.status_code == 400
    _assert_error_shape(response.json())
    assert response.json()["code"] == "invalid_cursor"
    assert response.json()["fields"] == {
        "cursor": [{"code": "invalid_cursor", "message": "Not a valid cursor."}]
    }


def test_api_root_lists_the_endpoints_to_anyone() -> None:
    response = client_for(None).get("/api/v1/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert list(response.json()) == [
        "auth/logout",
        "auth/password-reset",
        "auth/password-reset/confirm",
        "auth/register",
        "auth/resend-verification",
        "auth/token",
        "auth/verify-email",
        "declarations",
        "declarations/review-queue",
        "docs",
        "invitations/accept",
        "licenses",
        "matches",
        "matches/feedback",
        "me",
        "mediation-cases",
        "needs",
        "notifications",
        "ordinary-licenses",
        "organisations",
        "patent-imports",
        "patent-imports/template",
        "patents",
        "redoc",
        "reference/industries",
        "reference/ipc",
        "reference/regions",
        "reference/search-terms",
        "reference/synonyms",
        "reference/tables",
        "register",
        "register/export",
        "saved-searches",
        "schema",
        "search/patents",
        "statistics",
    ]
