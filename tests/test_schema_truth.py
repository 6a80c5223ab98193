"""The OpenAPI schema says what the API answers: one pin per fix (issue 15, "the schema lies").

Each test reads the schema as served and, where it matters, the real answer beside it.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from licensing.models import DeclarationStatus
from licensing.services import declarations as declaration_services
from licensing.services import mediation as mediation_services
from licensing.services.mediation import EVIDENCE_CONTENT_TYPES
from marketplace.api.schema import ERROR_SCHEMA
from tests.conftest import World, client_for
from tests.declarations_helpers import declarable_patent, service_terms
from tests.mediation_helpers import licensed, open_case

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ERROR_REF = {"$ref": "#/components/schemas/Error"}


@pytest.fixture(scope="module")
def schema(django_db_setup: None, django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        response = APIClient().get(
            "/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
        )
    assert response.status_code == 200
    return dict(response.json())


def _operation(schema: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return dict(schema["paths"][f"/api/v1/{path}"][method])


def _statuses(schema: dict[str, Any], method: str, path: str) -> list[str]:
    return sorted(_operation(schema, method, path)["responses"])


def _ok_schema(
    schema: dict[str, Any], method: str, path: str, media: str = "application/json"
) -> Any:
    responses = _operation(schema, method, path)["responses"]
    ok = next(code for code in sorted(responses) if code.startswith("2"))
    return responses[ok]["content"][media]["schema"]


# ---- error responses -----------------------------------------------------------------------


def test_every_error_response_uses_the_one_error_component(schema: dict[str, Any]) -> None:
    assert schema["components"]["schemas"]["Error"] == ERROR_SCHEMA
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                if code.startswith("4") or (code == "503" and path != "/healthz"):
                    assert response["content"] == {"application/json": {"schema": ERROR_REF}}, (
                        method,
                        path,
                        code,
                    )


def test_error_statuses_are_documented_only_where_they_can_occur(schema: dict[str, Any]) -> None:
    # A plain list: bad filters or cursor (400), a bad token (401); never 403, 404 or 409.
    assert _statuses(schema, "get", "licenses/") == ["200", "400", "401", "503"]
    # A detail read: a bad token, an id that is not visible; no input to refuse.
    assert _statuses(schema, "get", "licenses/{id}/") == ["200", "401", "404", "503"]
    # A command with a body: everything a command and a body can meet, no throttle.
    assert _statuses(schema, "post", "licenses/{id}/pay/") == [
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "413",
        "415",
        "503",
    ]
    # A command without a body takes no content type, so it cannot be 413 or 415.
    assert _statuses(schema, "post", "declarations/{id}/submit/") == [
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "503",
    ]
    # The login reads no token (no 401) and is throttled (429 with Retry-After).
    login = _operation(schema, "post", "auth/token/")
    assert "401" not in login["responses"]
    assert login["responses"]["429"]["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    # A reviewer-only read can refuse (403); a GET never conflicts.
    assert _statuses(schema, "get", "declarations/review-queue/") == [
        "200",
        "400",
        "401",
        "403",
        "503",
    ]


def test_every_operation_documents_the_503_of_a_lost_database_connection(
    schema: dict[str, Any],
) -> None:
    # Each reads the database; tests/test_faults.py and tests/test_database_outage.py make
    # the real answer. /healthz documents its own 503 (its report of what is down).
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            unavailable = operation["responses"]["503"]
            if path == "/healthz":
                assert unavailable["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Health"
                }
                continue
            assert unavailable["description"].startswith("`database_unavailable`"), (method, path)
            assert unavailable["headers"]["Retry-After"]["schema"] == {"type": "integer"}


def test_a_409_is_documented_where_the_service_raises_it(
    world: World, schema: dict[str, Any]
) -> None:
    assert "409" in _operation(schema, "post", "organisations/{id}/invitations/")["responses"]
    body = {"email": "dup@example.com", "role": "member"}
    client = world.client("org_admin")
    path = f"/api/v1/organisations/{world.university.pk}/invitations/"
    assert client.post(path, body, format="json").status_code == 201
    again = client.post(path, body, format="json")
    assert again.status_code == 409
    assert set(again.json()) == {"code", "detail", "fields"}


@pytest.mark.django_db
def test_anonymous_search_of_my_patents_is_a_documented_401(schema: dict[str, Any]) -> None:
    assert "401" in _operation(schema, "get", "search/patents/")["responses"]
    response = client_for(None).get("/api/v1/search/patents/", {"scope": "mine"})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_commands_that_name_other_objects_in_the_body_document_404(
    world: World, schema: dict[str, Any]
) -> None:
    assert "404" in _operation(schema, "post", "declarations/")["responses"]
    response = world.client("member").post(
        "/api/v1/declarations/", {**service_terms(), "patent": 999_999}, format="json"
    )
    assert response.status_code == 404


# ---- arrays and pages ----------------------------------------------------------------------

ARRAYS = [
    ("declarations/{id}/timeline/", "DeclarationEvent"),
    ("licenses/{id}/timeline/", "LicenseEvent"),
    ("mediation-cases/{id}/timeline/", "Event"),
    ("organisations/{id}/members/", "Membership"),
    ("organisations/{id}/invitations/", "Invitation"),
    ("patents/{patent_id}/declarations/", "Declaration"),
    ("matches/", "Match"),
]


@pytest.mark.parametrize(("path", "item"), ARRAYS)
def test_endpoints_that_answer_a_plain_array_are_documented_as_arrays(
    schema: dict[str, Any], path: str, item: str
) -> None:
    assert _ok_schema(schema, "get", path) == {
        "type": "array",
        "items": {"$ref": f"#/components/schemas/{item}"},
    }
    parameters = {p["name"] for p in _operation(schema, "get", path).get("parameters", [])}
    assert not parameters & {"cursor", "page_size", "status"}  # no list mechanics it ignores


def test_the_array_endpoints_answer_arrays(world: World, tmp_path: Any, settings: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    license = licensed(world)
    case = open_case(world, license)
    mediation_services.case_add_evidence(
        actor=world.sme_admin,
        case_id=case.pk,
        upload=SimpleUploadedFile("a.txt", b"receipt"),
        name="a.txt",
        size=7,
    )
    party = world.client("other_member")  # the SME: licensee and applicant
    admin = world.client("org_admin")
    for client, path in [
        (party, f"/api/v1/declarations/{license.declaration_id}/timeline/"),
        (party, f"/api/v1/licenses/{license.pk}/timeline/"),
        (party, f"/api/v1/mediation-cases/{case.pk}/timeline/"),
        (admin, f"/api/v1/organisations/{world.university.pk}/members/"),
        (admin, f"/api/v1/organisations/{world.university.pk}/invitations/"),
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert isinstance(response.json(), list), path


def test_the_review_queue_is_cursor_paginated(world: World, schema: dict[str, Any]) -> None:
    assert _ok_schema(schema, "get", "declarations/review-queue/") == {
        "$ref": "#/components/schemas/PaginatedDeclarationList"
    }
    names = {
        p["name"] for p in _operation(schema, "get", "declarations/review-queue/")["parameters"]
    }
    assert names == {"cursor", "page_size"}
    submitted = []
    for serial in range(1, 4):
        draft = declaration_services.declaration_create(
            actor=world.university_member,
            patent_id=declarable_patent(world.university, serial).pk,
            terms=service_terms(),
        )
        declaration_services.declaration_submit(
            actor=world.university_member, declaration_id=draft.pk
        )
        submitted.append(draft.pk)
    reviewer = world.client("reviewer")
    first = reviewer.get("/api/v1/declarations/review-queue/", {"page_size": 2}).json()
    assert set(first) == {"next", "previous", "results"}
    assert [item["status"] for item in first["results"]] == [DeclarationStatus.SUBMITTED] * 2
    second = reviewer.get(first["next"]).json()
    assert [
        item["id"] for item in first["results"] + second["results"]
    ] == submitted  # oldest first
    assert second["next"] is None
    bad = reviewer.get("/api/v1/declarations/review-queue/", {"cursor": "garbage"})
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_cursor"


@pytest.mark.django_db
def test_a_cursor_with_a_position_of_the_wrong_type_is_an_invalid_cursor() -> None:
    # The cursor decodes, but its position is no date for the list ordered by creation time.
    import base64

    cursor = base64.b64encode(b"o=0&r=0&p=not-a-date").decode()
    response = client_for(None).get("/api/v1/declarations/", {"cursor": cursor})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"


def test_lists_document_the_filters_and_pages_they_really_take(schema: dict[str, Any]) -> None:
    history = {p["name"] for p in _operation(schema, "get", "patents/{id}/history/")["parameters"]}
    assert history == {"id", "cursor", "page_size"}  # paginated, not filtered like the list
    listed = {p["name"] for p in _operation(schema, "get", "patents/")["parameters"]}
    assert {"cursor", "page_size", "legal_status", "organisation"} <= listed


# ---- request bodies ------------------------------------------------------------------------


def test_strict_request_bodies_refuse_unknown_fields_in_the_schema_too(
    world: World, schema: dict[str, Any]
) -> None:
    components = schema["components"]["schemas"]
    assert components["ReasonRequest"]["additionalProperties"] is False
    assert components["PatchedOrganisationUpdateRequest"]["additionalProperties"] is False
    assert components["ObligationRequest"]["additionalProperties"] is False  # nested
    # The uploads' serializers take what multipart sends along, so they stay open.
    assert "additionalProperties" not in components["EvidenceUploadRequest"]
    response = world.client("org_admin").patch(
        f"/api/v1/organisations/{world.university.pk}/", {"adress": "typo"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["fields"]["adress"][0]["code"] == "unknown_field"


# ---- files ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_import_template_declares_csv_and_xlsx(schema: dict[str, Any]) -> None:
    ok = _operation(schema, "get", "patent-imports/template/")["responses"]["200"]["content"]
    assert set(ok) == {"text/csv", XLSX}
    client = client_for(None)
    xlsx = client.get("/api/v1/patent-imports/template/", {"file_format": "xlsx"})
    assert xlsx.status_code == 200
    assert xlsx["Content-Type"] == XLSX
    assert xlsx.content[:4] == b"PK\x03\x04"
    csv = client.get("/api/v1/patent-imports/template/")
    assert csv["Content-Type"] == "text/csv; charset=utf-8"


def test_evidence_downloads_declare_every_type_they_serve(
    world: World, schema: dict[str, Any], tmp_path: Any, settings: Any
) -> None:
    ok = _operation(schema, "get", "mediation-cases/{id}/evidence/{evidence_id}/download/")
    assert set(ok["responses"]["200"]["content"]) == set(EVIDENCE_CONTENT_TYPES.values())
    settings.MEDIA_ROOT = tmp_path
    case = open_case(world, licensed(world))
    evidence = mediation_services.case_add_evidence(
        actor=world.sme_admin,
        case_id=case.pk,
        upload=SimpleUploadedFile("scan.png", b"\x89PNG\r\n\x1a\n"),
        name="scan.png",
        size=8,
    )
    response = world.client("other_member").get(
        f"/api/v1/mediation-cases/{case.pk}/evidence/{evidence.pk}/download/"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"


@pytest.mark.django_db
def test_the_register_export_declares_csv_and_json(schema: dict[str, Any]) -> None:
    ok = _operation(schema, "get", "register/export/")["responses"]["200"]["content"]
    assert set(ok) == {"text/csv", "application/json"}
    assert ok["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/RegisterEntry"},
    }
    response = client_for(None).get("/api/v1/register/export/", {"file_format": "json"})
    assert response["Content-Type"] == "application/json"
    assert b"".join(response.streaming_content) == b"[]"  # type: ignore[attr-defined]
