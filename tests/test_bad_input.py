"""Bad ids and lenient inputs (issue #15): never a 500, never a silent coercion, no oracle."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from licensing.bars import bars_for
from licensing.models import Declaration, DeclarationStatus, MediationCase
from marketplace.api.ids import ID_REGEX
from marketplace.models import (
    Membership,
    Notification,
    PatentExclusiveLicense,
    PatentHindrance,
    PatentPledge,
)
from tests.conftest import World, client_for
from tests.declarations_helpers import announced, declarable_patent
from tests.factories import MembershipFactory, OrganisationFactory, application_number, make_patent
from tests.mediation_helpers import licensed

pytestmark = pytest.mark.django_db

BAD_IDS = ["²", "١", "abc", "1e3", "%20", "null", "-1", "1.0", "١٢", "9" * 25]

# Every route that takes an id in its path; {id} is the bad id, {org} the caller's organisation.
PATH_ROUTES = [
    ("get", "/api/v1/organisations/{id}/"),
    ("patch", "/api/v1/organisations/{id}/"),
    ("get", "/api/v1/organisations/{id}/members/"),
    ("get", "/api/v1/organisations/{id}/events/"),
    ("get", "/api/v1/organisations/{id}/invitations/"),
    ("post", "/api/v1/organisations/{id}/invitations/"),
    ("get", "/api/v1/organisations/{id}/sme-profile/"),
    ("put", "/api/v1/organisations/{id}/sme-profile/"),
    ("post", "/api/v1/organisations/{id}/leave/"),
    ("post", "/api/v1/organisations/{org}/members/{id}/remove/"),
    ("post", "/api/v1/organisations/{org}/members/{id}/role/"),
    ("post", "/api/v1/organisations/{org}/invitations/{id}/revoke/"),
    ("get", "/api/v1/organisations/{id}/royalty-ledger/"),
    ("get", "/api/v1/organisations/{id}/fee-totals/"),
    ("post", "/api/v1/notifications/{id}/read/"),
    ("get", "/api/v1/notifications/{id}/"),
    ("get", "/api/v1/patents/{id}/"),
    ("patch", "/api/v1/patents/{id}/"),
    ("get", "/api/v1/patents/{id}/history/"),
    ("post", "/api/v1/patents/{id}/pledges/"),
    ("get", "/api/v1/patents/{id}/declarations/"),
    ("get", "/api/v1/patents/{id}/fee-calendar/"),
    ("get", "/api/v1/needs/{id}/"),
    ("get", "/api/v1/patent-imports/{id}/"),
    ("get", "/api/v1/declarations/{id}/"),
    ("post", "/api/v1/declarations/{id}/submit/"),
    ("get", "/api/v1/declarations/{id}/candidates/"),
    ("get", "/api/v1/licenses/{id}/"),
    ("get", "/api/v1/mediation-cases/{id}/"),
    ("post", "/api/v1/mediation-cases/{id}/withdraw/"),
]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_bad_id_in_any_path_is_a_404_never_a_500(world: World, bad: str) -> None:
    client = world.client("org_admin")
    members_before = Membership.objects.count()
    for method, template in PATH_ROUTES:
        url = template.format(id=bad, org=world.university.pk)
        response = getattr(client, method)(url, {}, format="json")
        assert (url, method, response.status_code) == (url, method, 404)
        assert response.json()["code"] == "not_found", url
    assert Membership.objects.count() == members_before


def test_arabic_indic_digits_do_not_name_a_patent(world: World) -> None:
    patent = make_patent(world.university, 1, is_listed=True)
    arabic = "".join(chr(0x0660 + int(d)) for d in str(patent.pk))
    client = client_for(None)
    assert client.get(f"/api/v1/patents/{patent.pk}/").status_code == 200
    response = client.get(f"/api/v1/patents/{arabic}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_marking_a_notification_read_with_a_bad_id_changes_nothing(world: World) -> None:
    user = world.university_admin
    notification = Notification.objects.create(user=user, kind="test", title="t", body="b")
    for bad in ("abc", "null", "1e3", "%20", "²"):
        response = client_for(user).post(f"/api/v1/notifications/{bad}/read/")
        assert response.status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


def _walk(patterns: list[Any], prefix: str = "") -> list[str]:
    found: list[str] = []
    for pattern in patterns:
        regex = prefix + str(pattern.pattern.regex.pattern).lstrip("^").rstrip("$")
        if isinstance(pattern, URLResolver):
            found.extend(_walk(pattern.url_patterns, regex))
        elif isinstance(pattern, URLPattern):
            found.append(regex)
    return found


def test_every_route_takes_ids_as_ascii_digits_only() -> None:
    """No route lets a path id through with DRF's default [^/.]+ (or \\d, which is Unicode)."""
    routes = [route for route in _walk(get_resolver().url_patterns) if route.startswith("api/")]
    assert any(f"(?P<pk>{ID_REGEX})" in route for route in routes)
    for route in routes:
        assert "[^/.]+" not in route and "\\d" not in route, route
        for name, group in re.findall(r"\(\?P<(\w+)>([^)]*)\)", route):
            if (name == "pk" and "/reference/" not in route) or name.endswith("_id"):
                assert group == ID_REGEX == "[0-9]{1,18}", (route, name)


@pytest.mark.parametrize("bad", ["²", "١", "abc", "1e3", " ", "null", "1.5"])
@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v1/matches/", "sme"),
        ("/api/v1/matches/", "need"),
        ("/api/v1/patents/", "organisation"),
        ("/api/v1/declarations/", "patent"),
        ("/api/v1/declarations/", "organisation"),
    ],
)
def test_a_bad_id_in_a_query_string_is_a_400_invalid_id(
    world: World, path: str, name: str, bad: str
) -> None:
    response = client_for(world.sme_admin).get(path, {name: bad})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_id"
    assert [item["code"] for item in body["fields"][name]] == ["invalid_id"]


def test_a_good_id_in_a_query_string_still_filters(world: World) -> None:
    patent = make_patent(world.university, 1, is_listed=True)
    make_patent(OrganisationFactory.create(), 2, is_listed=True)
    response = client_for(None).get("/api/v1/patents/", {"organisation": world.university.pk})
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [patent.pk]


# ---- leaks and inconsistencies -------------------------------------------------------------


def test_an_outsider_cannot_tell_a_license_that_exists_from_one_that_does_not(
    world: World,
) -> None:
    license = licensed(world)
    outsider_org = OrganisationFactory.create(name="无关机构")
    outsider = MembershipFactory.create(organisation=outsider_org, role="admin").user
    answers = []
    for license_id in (license.pk, 999_999):
        response = client_for(outsider).post(
            "/api/v1/mediation-cases/",
            {
                "applicant": outsider_org.pk,
                "respondent": world.university.pk,
                "declaration": license.declaration_id,
                "license": license_id,
                "cause": "payment",
                "summary": "x",
                "matters": "y",
            },
            format="json",
        )
        answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 400
    assert answers[0][1]["code"] == "license_not_under_declaration"
    assert not MediationCase.objects.exists()


def test_searching_my_patents_anonymously_is_a_401_like_everywhere() -> None:
    response = client_for(None).get("/api/v1/search/patents/", {"scope": "mine"})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert "WWW-Authenticate" in response.headers


@pytest.mark.parametrize("reason", [0, 12.5, True, ["x"], {"a": "b"}])
def test_a_reason_that_is_not_a_string_is_refused(world: World, reason: Any) -> None:
    patent = make_patent(world.university, 1)
    response = client_for(world.reviewer).post(
        f"/api/v1/patents/{patent.pk}/hindrances/", {"reason": reason}, format="json"
    )
    assert response.status_code == 400
    assert [item["code"] for item in response.json()["fields"]["reason"]] == ["not_a_string"]
    assert not PatentHindrance.objects.exists()


def test_text_fields_refuse_numbers_everywhere(world: World) -> None:
    """The strict text rule holds for every input serializer, nested ones included."""
    response = client_for(None).post(
        "/api/v1/auth/register/",
        {
            "name": 12345,
            "kind": "sme",
            "region": "320505",
            "admin": {"email": "a@b.example.com", "password": 12345678, "full_name": 7},
        },
        format="json",
    )
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert fields["name"][0]["code"] == "not_a_string"
    assert fields["admin.password"][0]["code"] == "not_a_string"
    assert fields["admin.full_name"][0]["code"] == "not_a_string"


def test_a_multipart_pledge_without_pledgee_consents_is_refused(world: World) -> None:
    patent = make_patent(world.university, 1)
    response = client_for(world.university_admin).post(
        f"/api/v1/patents/{patent.pk}/pledges/",
        {"pledgee": "某银行", "registered_on": "2024-01-10"},
        format="multipart",
    )
    assert response.status_code == 400
    assert [item["code"] for item in response.json()["fields"]["pledgee_consents"]] == ["required"]
    assert not PatentPledge.objects.exists()


def test_a_multipart_pledge_with_pledgee_consents_is_recorded(world: World) -> None:
    patent = make_patent(world.university, 1)
    response = client_for(world.university_admin).post(
        f"/api/v1/patents/{patent.pk}/pledges/",
        {"pledgee": "某银行", "registered_on": "2024-01-10", "pledgee_consents": "false"},
        format="multipart",
    )
    assert response.status_code == 201
    assert PatentPledge.objects.get().pledgee_consents is False


@pytest.mark.parametrize(
    ("starts_on", "ends_on", "code"),
    [
        ("2000-01-01", "2000-01-01", "empty_license_period"),
        ("2000-01-02", "2000-01-01", "ends_before_start"),
    ],
)
def test_an_exclusive_license_needs_a_period(
    world: World, starts_on: str, ends_on: str, code: str
) -> None:
    patent = make_patent(world.university, 1)
    response = client_for(world.university_admin).post(
        f"/api/v1/patents/{patent.pk}/exclusive-licenses/",
        {"kind": "exclusive", "licensee": "某公司", "starts_on": starts_on, "ends_on": ends_on},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert not PatentExclusiveLicense.objects.exists()


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_blank_withdrawal_reason_has_its_own_code(world: World, reason: str) -> None:
    declaration = announced(
        declarable_patent(world.university), world.university_member, world.reviewer
    )
    response = client_for(world.university_admin).post(
        f"/api/v1/declarations/{declaration.pk}/request-withdrawal/",
        {"reason": reason},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "withdrawal_reason_required"
    assert Declaration.objects.get(pk=declaration.pk).status == DeclarationStatus.ANNOUNCED


def test_a_blank_refusal_reason_is_reason_required(world: World) -> None:
    patent = declarable_patent(world.university)
    client = client_for(world.university_admin)
    created = client.post(
        "/api/v1/declarations/",
        {**_terms(), "patent": patent.pk},
        format="json",
    )
    assert created.status_code == 201, created.json()
    declaration_id = created.json()["id"]
    assert client.post(f"/api/v1/declarations/{declaration_id}/submit/").status_code == 200
    response = client_for(world.reviewer).post(
        f"/api/v1/declarations/{declaration_id}/refuse/", {"reason": " "}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "reason_required"
    assert Declaration.objects.get(pk=declaration_id).status == DeclarationStatus.SUBMITTED


def _terms() -> dict[str, Any]:
    from tests.declarations_helpers import terms

    return terms()


def test_an_expired_patent_is_barred_as_expired_only(world: World) -> None:
    patent = make_patent(
        world.university,
        1,
        application_number=application_number(2004, "1", 1),
        filing_date="2004-03-15",
        grant_date="2006-06-20",
        annual_fees_paid_through=20,
    )
    assert patent.expiry_date < timezone.localdate()
    assert [bar.code for bar in bars_for(patent, timezone.localdate())] == [
        "bar_terminated_or_expired"
    ]


def test_an_in_force_patent_with_unpaid_fees_is_still_barred_for_fees(world: World) -> None:
    patent = make_patent(world.university, 1, annual_fees_paid_through=None)
    assert [bar.code for bar in bars_for(patent, date(2025, 6, 1))] == ["bar_annual_fees_unpaid"]


@pytest.mark.parametrize("value", ["١", "²", "1٢", "１"])
def test_an_id_in_a_body_takes_ascii_digits_only(world: World, value: str) -> None:
    license = licensed(world)
    response = client_for(world.sme_admin).post(
        "/api/v1/mediation-cases/",
        {
            "applicant": value,
            "respondent": world.university.pk,
            "declaration": license.declaration_id,
            "license": license.pk,
            "cause": "payment",
            "summary": "x",
            "matters": "y",
        },
        format="json",
    )
    assert response.status_code == 400
    assert [item["code"] for item in response.json()["fields"]["applicant"]] == ["invalid"]
    assert not MediationCase.objects.exists()


def test_a_bad_query_id_is_explained_in_chinese(world: World) -> None:
    response = client_for(world.sme_admin, "zh-hans").get("/api/v1/matches/", {"sme": "²"})
    assert response.status_code == 400
    assert response.json()["detail"] == "sme 必须是编号（数字 0-9）。"
