"""Patents through the API: who may create, edit, record facts and read history; refusals."""

from __future__ import annotations

from typing import Any

import pytest

from marketplace.models import (
    OrganisationKind,
    Patent,
    PatentEvent,
    PatentExclusiveLicense,
    PatentPledge,
)
from tests.conftest import ROLES, World
from tests.factories import OrganisationFactory, application_number, make_patent

pytestmark = pytest.mark.django_db

NUMBER = application_number(2021, "1", 123)


def body(world: World, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "organisation": world.university.pk,
        "application_number": NUMBER,
        "title": "一种固态电解质及其制备方法",
        "abstract": "本发明涉及一种硫化物固态电解质。",
        "main_ipc": "H01M 10/0562",
        "further_ipcs": ["H01M 10/0525"],
        "filing_date": "2021-05-10",
        "grant_date": "2023-08-01",
        "publication_numbers": ["CN113123456A", "CN113123456B"],
    }
    data.update(overrides)
    return data


def _snapshot() -> tuple[Any, ...]:
    return (
        list(Patent.objects.order_by("id").values_list("id", "title", "legal_status", "main_ipc")),
        PatentEvent.objects.count(),
        PatentPledge.objects.count(),
        PatentExclusiveLicense.objects.count(),
    )


@pytest.mark.parametrize("role", ROLES)
def test_only_members_of_the_organisation_add_patents(world: World, role: str) -> None:
    before = _snapshot()
    response = world.client(role).post("/api/v1/patents/", body(world), format="json")
    if role in {"member", "org_admin"}:
        assert response.status_code == 201, response.json()
        patent = Patent.objects.get(application_number=NUMBER)
        assert response.json()["patent_number"] == f"ZL{NUMBER}"
        assert (patent.patent_type, patent.expiry_date.isoformat()) == ("invention", "2041-05-09")
        assert PatentEvent.objects.get(patent=patent).verb == "created"
        return
    assert response.status_code == {"anonymous": 401}.get(role, 403)
    assert _snapshot() == before


@pytest.mark.parametrize(
    ("override", "field", "code"),
    [
        (
            {"application_number": "202110123456.1"},
            "application_number",
            "application_number_check_digit",
        ),
        ({"patent_type": "design"}, "patent_type", "patent_type_mismatch"),
        ({"main_ipc": "H01M-10"}, "main_ipc", "invalid_ipc"),
        ({"main_ipc": "H01Z 10/05"}, "main_ipc", "unknown_ipc_subclass"),
        ({"filing_date": "2020-05-10"}, "filing_date", "filing_date_year_mismatch"),
        ({"grant_date": "2021-01-01"}, "grant_date", "grant_before_filing"),
        ({"publication_numbers": ["US123"]}, "publication_numbers", "invalid_publication_number"),
        ({"filing_date": "not a date"}, "filing_date", "invalid"),
        ({"title": "题" * 501}, "title", "max_length"),
        ({"colour": "red"}, "colour", "unknown_field"),
    ],
)
def test_invalid_patent_data_is_refused_with_the_rule_and_nothing_saved(
    world: World, override: dict[str, Any], field: str, code: str
) -> None:
    response = world.client("member").post(
        "/api/v1/patents/", body(world, **override), format="json"
    )
    assert response.status_code == 400, response.json()
    assert response.json()["fields"][field][0]["code"] == code
    assert not Patent.objects.exists()


def test_the_same_patent_cannot_be_added_twice(world: World) -> None:
    make_patent(world.university, 123)
    response = world.client("member").post(
        "/api/v1/patents/", body(world, organisation=world.sme.pk), format="json"
    )
    assert response.status_code == 403  # not a member of the SME
    admin = world.client("other_member").post(
        "/api/v1/patents/", body(world, organisation=world.sme.pk), format="json"
    )
    assert admin.status_code == 409
    assert admin.json()["code"] == "patent_exists"


def test_co_owners_are_recorded_and_listed(world: World) -> None:
    partner = OrganisationFactory.create(
        name="合作研究院", kind=OrganisationKind.RESEARCH_INSTITUTE
    )
    response = world.client("member").post(
        "/api/v1/patents/", body(world, co_owners=[partner.pk]), format="json"
    )
    assert response.status_code == 201
    assert response.json()["co_owners"] == [{"id": partner.pk, "name": "合作研究院"}]
    owner_as_co = world.client("member").post(
        "/api/v1/patents/",
        body(
            world,
            application_number=application_number(2021, "1", 124),
            co_owners=[world.university.pk],
        ),
        format="json",
    )
    assert owner_as_co.status_code == 400
    assert owner_as_co.json()["code"] == "owner_is_co_owner"


@pytest.mark.parametrize("role", ROLES)
def test_unlisted_patents_are_seen_only_by_owners_and_staff(world: World, role: str) -> None:
    hidden = make_patent(world.university, 1)
    listed = make_patent(world.university, 2, is_listed=True)
    response = world.client(role).get("/api/v1/patents/")
    ids = {item["id"] for item in response.json()["results"]}
    if role in {"member", "org_admin", "reviewer", "mediator"}:
        assert ids == {hidden.pk, listed.pk}
    else:
        assert ids == {listed.pk}
    detail = world.client(role).get(f"/api/v1/patents/{hidden.pk}/")
    assert detail.status_code == (
        200 if role in {"member", "org_admin", "reviewer", "mediator"} else 404
    )


@pytest.mark.parametrize("role", ROLES)
def test_only_owners_members_correct_bibliographic_data(world: World, role: str) -> None:
    patent = make_patent(world.university, 1, is_listed=True)
    before = _snapshot()
    response = world.client(role).patch(
        f"/api/v1/patents/{patent.pk}/", {"title": "一种改进的锂电池正极"}, format="json"
    )
    if role in {"member", "org_admin"}:
        assert response.status_code == 200
        event = PatentEvent.objects.get(patent=patent, verb="updated")
        assert event.changes == {
            "title": ["一种锂离子电池正极材料及其制备方法", "一种改进的锂电池正极"]
        }
        return
    assert response.status_code == {"anonymous": 401}.get(role, 403)
    assert _snapshot() == before


def test_application_number_cannot_be_changed(world: World) -> None:
    patent = make_patent(world.university, 1)
    response = world.client("member").patch(
        f"/api/v1/patents/{patent.pk}/", {"application_number": NUMBER}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["fields"]["application_number"][0]["code"] == "unknown_field"


@pytest.mark.parametrize("role", ROLES)
def test_legal_status_facts_by_owners_members_and_reviewers(world: World, role: str) -> None:
    patent = make_patent(world.university, 1, is_listed=True)
    before = _snapshot()
    response = world.client(role).post(
        f"/api/v1/patents/{patent.pk}/legal-status/",
        {"annual_fees_paid_through": 6, "is_under_preservation": True},
        format="json",
    )
    if role in {"member", "org_admin", "reviewer"}:
        assert response.status_code == 200, response.json()
        patent.refresh_from_db()
        assert (patent.annual_fees_paid_through, patent.is_under_preservation) == (6, True)
        event = PatentEvent.objects.get(patent=patent, verb="legal_status")
        assert event.changes == {
            "annual_fees_paid_through": [None, 6],
            "is_under_preservation": [False, True],
        }
        return
    assert response.status_code == {"anonymous": 401}.get(role, 403)
    assert _snapshot() == before


def test_evaluation_report_only_for_utility_models_and_designs(world: World) -> None:
    invention = make_patent(world.university, 1)
    refused = world.client("member").post(
        f"/api/v1/patents/{invention.pk}/legal-status/",
        {"evaluation_report_date": "2024-01-10", "evaluation_report_positive": True},
        format="json",
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == "evaluation_report_not_applicable"
    utility = make_patent(
        world.university,
        2,
        application_number=application_number(2021, "2", 2),
        patent_type="utility_model",
    )
    half = world.client("member").post(
        f"/api/v1/patents/{utility.pk}/legal-status/",
        {"evaluation_report_date": "2024-01-10"},
        format="json",
    )
    assert half.status_code == 400
    assert half.json()["code"] == "evaluation_report_incomplete"
    whole = world.client("member").post(
        f"/api/v1/patents/{utility.pk}/legal-status/",
        {"evaluation_report_date": "2024-01-10", "evaluation_report_positive": False},
        format="json",
    )
    assert whole.status_code == 200
    assert whole.json()["evaluation_report_positive"] is False


def test_pledges_and_exclusive_licenses_are_recorded_released_and_ended(world: World) -> None:
    patent = make_patent(world.university, 1)
    client = world.client("member")
    pledge = client.post(
        f"/api/v1/patents/{patent.pk}/pledges/",
        {"pledgee": "中国银行南京分行", "registered_on": "2024-02-01", "pledgee_consents": False},
        format="json",
    )
    assert pledge.status_code == 201
    early = client.post(
        f"/api/v1/patents/{patent.pk}/pledges/{pledge.json()['id']}/release/",
        {"released_on": "2024-01-01"},
        format="json",
    )
    assert early.status_code == 400
    assert early.json()["code"] == "released_before_registered"
    released = client.post(
        f"/api/v1/patents/{patent.pk}/pledges/{pledge.json()['id']}/release/",
        {"released_on": "2025-02-01"},
        format="json",
    )
    assert released.json()["released_on"] == "2025-02-01"
    again = client.post(
        f"/api/v1/patents/{patent.pk}/pledges/{pledge.json()['id']}/release/",
        {"released_on": "2025-03-01"},
        format="json",
    )
    assert again.status_code == 409
    exclusive = client.post(
        f"/api/v1/patents/{patent.pk}/exclusive-licenses/",
        {"kind": "sole", "licensee": "某公司", "starts_on": "2024-01-01", "ends_on": "2026-12-31"},
        format="json",
    )
    assert exclusive.status_code == 201
    ended = client.post(
        f"/api/v1/patents/{patent.pk}/exclusive-licenses/{exclusive.json()['id']}/end/",
        {"ended_on": "2025-06-30"},
        format="json",
    )
    assert ended.json()["ends_on"] == "2025-06-30"
    verbs = list(
        PatentEvent.objects.filter(patent=patent).order_by("id").values_list("verb", flat=True)
    )
    assert verbs == [
        "pledge_recorded",
        "pledge_released",
        "exclusive_license_recorded",
        "exclusive_license_ended",
    ]


@pytest.mark.parametrize("role", ROLES)
def test_history_is_for_owners_and_reviewers(world: World, role: str) -> None:
    patent = make_patent(world.university, 1, is_listed=True)
    PatentEvent.objects.create(patent=patent, actor=world.university_member, verb="created")
    response = world.client(role).get(f"/api/v1/patents/{patent.pk}/history/")
    if role in {"member", "org_admin", "reviewer"}:
        assert response.status_code == 200
        assert [e["verb"] for e in response.json()["results"]] == ["created"]
        return
    # For anyone else the history does not exist: 404, as for the fee calendar.
    assert response.status_code == {"anonymous": 401}.get(role, 404)


def test_patent_list_query_count_is_constant(
    world: World, django_assert_max_num_queries: Any
) -> None:
    for serial in range(30):
        make_patent(world.university, serial + 1, is_listed=True)
    client = world.client("anonymous")
    with django_assert_max_num_queries(3):
        response = client.get("/api/v1/patents/")
    assert len(response.json()["results"]) == 30


def _codes(answer: dict[str, Any]) -> dict[str, list[str]]:
    return {field: [item["code"] for item in items] for field, items in answer["fields"].items()}


@pytest.mark.parametrize(
    ("language", "future"),
    [("zh-hans", "该日期晚于今天。"), ("en", "This date is in the future.")],
)
def test_a_patent_with_several_faults_hears_of_all_of_them_in_one_answer(
    world: World, language: str, future: str
) -> None:
    # Given a patent already on the platform and a body with faults the serializer finds
    # (a long abstract, an unknown field) and rules find (check digit aside: the number is
    # taken; IPC, dates, publication numbers, a co-owner that does not exist)
    make_patent(world.university, 123)
    before = _snapshot()
    faulty = body(
        world,
        abstract="摘" * 10_001,
        colour="red",
        main_ipc="H01Z 10/05",
        grant_date="2099-01-01",
        publication_numbers=["US123"],
        co_owners=[999_999],
    )

    # When a member sends it
    response = world.client("member", language).post("/api/v1/patents/", faulty, format="json")

    # Then one 400 names every fault on the body's own field, and nothing is stored
    assert response.status_code == 400, response.json()
    answer = response.json()
    assert answer["code"] == "invalid"
    assert _codes(answer) == {
        "abstract": ["max_length"],
        "colour": ["unknown_field"],
        "main_ipc": ["unknown_ipc_subclass"],
        "grant_date": ["date_in_future"],
        "publication_numbers": ["invalid_publication_number"],
        "application_number": ["patent_exists"],
        "co_owners": ["unknown_organisation"],
    }
    assert answer["fields"]["grant_date"][0]["message"] == future
    assert _snapshot() == before


def test_a_well_formed_patent_breaking_several_rules_hears_of_all(world: World) -> None:
    make_patent(world.university, 123)
    before = _snapshot()
    response = world.client("member", "zh-hans").post(
        "/api/v1/patents/",
        body(world, main_ipc="H01M-10", filing_date="2020-05-10", co_owners=[world.university.pk]),
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid"
    assert _codes(response.json()) == {
        "main_ipc": ["invalid_ipc"],
        "filing_date": ["filing_date_year_mismatch"],
        "application_number": ["patent_exists"],
        "co_owners": ["owner_is_co_owner"],
    }
    assert _snapshot() == before


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_a_patent_edit_with_several_faults_hears_of_all_and_changes_nothing(
    world: World, language: str
) -> None:
    patent = make_patent(world.university, 1)
    before = _snapshot()
    response = world.client("member", language).patch(
        f"/api/v1/patents/{patent.pk}/",
        {"title": "题" * 501, "main_ipc": "H01Z 10/05", "grant_date": "1990-01-01"},
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid"
    assert _codes(response.json()) == {
        "title": ["max_length"],
        "main_ipc": ["unknown_ipc_subclass"],
        "grant_date": ["grant_before_filing"],
    }
    assert _snapshot() == before


def test_a_stranger_with_a_faulty_patent_hears_only_of_its_shape(world: World) -> None:
    make_patent(world.university, 123)
    response = world.client("other_member").post(
        "/api/v1/patents/", body(world, abstract="摘" * 10_001, main_ipc="H01Z"), format="json"
    )
    assert response.status_code == 400
    assert _codes(response.json()) == {"abstract": ["max_length"]}
