"""Registration with e-mail verification, log-in by token, throttling, log-out, me."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache
from rest_framework.authtoken.models import Token

from marketplace.api.throttles import LoginEmailThrottle
from marketplace.models import (
    Membership,
    Organisation,
    OrganisationEvent,
    OutboundEmail,
    SmeProfile,
    User,
)
from marketplace.services import accounts
from marketplace.validators import credit_code_check_character
from tests.conftest import ROLES, World, broker_messages, client_for
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _code(first17: str) -> str:
    return first17 + credit_code_check_character(first17)


def registration(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "苏州示范科技有限公司",
        "kind": "sme",
        "credit_code": _code("91320505MA1234567"),
        "region": "320505",
        "admin": {
            "email": "Founder@Example.com",
            "password": "a-long-and-unusual-passphrase",
            "full_name": "张三",
            "preferred_language": "en",
        },
        "sme_profile": {"industry": "3841", "region": "320505", "size": "small"},
    }
    body.update(overrides)
    return body


def _counts() -> tuple[int, int, int, int]:
    return (
        User.objects.count(),
        Organisation.objects.count(),
        Membership.objects.count(),
        SmeProfile.objects.count(),
    )


def _token_from_mail(body: str) -> str:
    match = re.search(r"token=(\S+)", body)
    assert match, body
    return match.group(1)


def test_registration_creates_organisation_admin_and_profile_and_mails_a_token(
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = client_for(None)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post("/api/v1/auth/register/", registration(), format="json")
    assert response.status_code == 201, response.json()
    organisation = Organisation.objects.get(name="苏州示范科技有限公司")
    assert response.json()["id"] == organisation.pk
    assert response.json()["credit_code"] == _code("91320505MA1234567")
    user = User.objects.get(email="founder@example.com")
    assert user.email_verified_at is None
    assert Membership.objects.get(organisation=organisation).user == user
    assert Membership.objects.get(organisation=organisation).role == "admin"
    profile = SmeProfile.objects.get(organisation=organisation)
    assert (profile.industry_id, profile.region_id, profile.size) == ("C3841", "320505", "small")
    assert list(OrganisationEvent.objects.values_list("verb", flat=True)) == ["registered"]
    queued = OutboundEmail.objects.get()
    assert (queued.kind, queued.to_email, queued.status) == (
        "email_verification",
        "founder@example.com",
        "queued",
    )
    # Enqueued only after commit: the send task, and the profile's text vector (index queue).
    assert len(broker_messages(callbacks)) == 2


def test_unverified_admin_cannot_log_in_until_the_mailed_token_is_used() -> None:
    client = client_for(None)
    assert client.post("/api/v1/auth/register/", registration(), format="json").status_code == 201
    credentials = {"email": "founder@example.com", "password": "a-long-and-unusual-passphrase"}

    refused = client.post("/api/v1/auth/token/", credentials, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "email_not_verified"
    assert not Token.objects.exists()

    token = _token_from_mail(OutboundEmail.objects.get().body)
    verified = client.post("/api/v1/auth/verify-email/", {"token": token}, format="json")
    assert verified.status_code == 200
    assert verified.json()["email"] == "founder@example.com"

    logged_in = client.post("/api/v1/auth/token/", credentials, format="json")
    assert logged_in.status_code == 200
    key = logged_in.json()["token"]
    assert Token.objects.get(user__email="founder@example.com").key == key

    me = client_for(None)
    me.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    body = me.get("/api/v1/me/").json()
    assert body["email"] == "founder@example.com"
    assert [m["organisation"]["name"] for m in body["memberships"]] == ["苏州示范科技有限公司"]
    assert body["platform_roles"] == []


def test_verification_token_that_was_tampered_with_is_refused() -> None:
    user = UserFactory.create(email_verified_at=None)
    token = accounts.email_verification_token(user)
    response = client_for(None).post(
        "/api/v1/auth/verify-email/", {"token": token[:-2] + "xx"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "verification_token_invalid"
    user.refresh_from_db()
    assert user.email_verified_at is None


def test_verification_token_expires(settings: Any) -> None:
    user = UserFactory.create(email_verified_at=None)
    token = accounts.email_verification_token(user)
    settings.EMAIL_VERIFICATION_TIMEOUT_HOURS = -1
    response = client_for(None).post("/api/v1/auth/verify-email/", {"token": token}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "verification_token_expired"
    user.refresh_from_db()
    assert user.email_verified_at is None


def test_registration_with_taken_email_is_refused_and_creates_nothing() -> None:
    UserFactory.create(email="founder@example.com")
    before = _counts()
    response = client_for(None).post("/api/v1/auth/register/", registration(), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"
    assert "admin.email" in response.json()["fields"]
    assert _counts() == before
    assert not OutboundEmail.objects.exists()


def test_registration_with_wrong_credit_check_character_names_the_expected_one() -> None:
    good = _code("91320505MA1234567")
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    before = _counts()
    response = client_for(None).post(
        "/api/v1/auth/register/", registration(credit_code=wrong), format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["fields"]["credit_code"][0]["code"] == "invalid_credit_code"
    assert f"should be {good[-1]}" in body["fields"]["credit_code"][0]["message"]
    assert _counts() == before


@pytest.mark.parametrize(
    ("override", "field", "code"),
    [
        ({"region": "999999"}, "region", "unknown_region"),
        ({"region": "32"}, "region", "invalid"),
        ({"kind": "pirate"}, "kind", "invalid_choice"),
        ({"name": "名" * 201}, "name", "max_length"),
        ({"credit_code": ""}, "credit_code", "credit_code_required"),
        (
            {"sme_profile": {"industry": "Z999", "region": "320505", "size": "small"}},
            "sme_profile.industry",
            "invalid",
        ),
        (
            {"sme_profile": {"industry": "C3800", "region": "320505", "size": "small"}},
            "sme_profile.industry",
            "unknown_industry",
        ),
        (
            {"sme_profile": {"industry": "C", "region": "320505", "size": "small"}},
            "sme_profile.industry",
            "too_broad",
        ),
        (
            {"sme_profile": {"industry": "C3841", "region": "320505", "size": "huge"}},
            "sme_profile.size",
            "invalid_choice",
        ),
        ({"admin": "not an object"}, "admin.non_field_errors", "invalid"),
    ],
)
def test_registration_refuses_bad_fields_with_their_codes(
    override: dict[str, Any], field: str, code: str
) -> None:
    before = _counts()
    response = client_for(None).post(
        "/api/v1/auth/register/", registration(**override), format="json"
    )
    assert response.status_code == 400, response.json()
    body = response.json()
    assert [error["code"] for error in body["fields"][field]] == [code], body
    assert _counts() == before


def test_registration_refuses_a_weak_password() -> None:
    body = registration()
    body["admin"]["password"] = "12345678"
    response = client_for(None).post("/api/v1/auth/register/", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "weak_password"
    assert response.json()["fields"]["admin.password"]
    assert _counts() == (0, 0, 0, 0)


def test_sme_profile_is_refused_for_a_university() -> None:
    response = client_for(None).post(
        "/api/v1/auth/register/",
        registration(kind="university", credit_code=_code("12320000466000009")),
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "not_an_sme"
    assert _counts() == (0, 0, 0, 0)


def test_wrong_password_gets_the_same_answer_as_an_unknown_account() -> None:
    UserFactory.create(email="known@example.com")
    client = client_for(None)
    wrong = client.post(
        "/api/v1/auth/token/", {"email": "known@example.com", "password": "nope"}, format="json"
    )
    unknown = client.post(
        "/api/v1/auth/token/", {"email": "ghost@example.com", "password": "nope"}, format="json"
    )
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json() == unknown.json()
    assert wrong.json()["code"] == "invalid_credentials"


def test_log_in_is_case_insensitive_in_the_email() -> None:
    UserFactory.create(email="case@example.com")
    response = client_for(None).post(
        "/api/v1/auth/token/", {"email": "CASE@Example.com", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200


def test_log_in_attempts_are_throttled_per_account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LoginEmailThrottle, "rate", "3/min", raising=False)
    UserFactory.create(email="target@example.com")
    answers = []
    for number in range(4):
        client = client_for(None)
        # A different client address each time: the per-account limit still applies.
        answers.append(
            client.post(
                "/api/v1/auth/token/",
                {"email": "target@example.com", "password": f"guess-{number}"},
                format="json",
                REMOTE_ADDR=f"10.0.0.{number + 1}",
            )
        )
    assert [answer.status_code for answer in answers] == [400, 400, 400, 429]
    assert answers[-1].json()["code"] == "throttled"
    assert int(answers[-1]["Retry-After"]) >= 1
    cache.clear()


def test_log_out_revokes_the_token(world: World) -> None:
    client = world.client("member")
    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert not Token.objects.filter(user=world.university_member).exists()
    assert client.get("/api/v1/me/").status_code == 401


@pytest.mark.parametrize("role", ROLES)
def test_me_answers_every_logged_in_role_and_refuses_anonymous(world: World, role: str) -> None:
    response = world.client(role).get("/api/v1/me/")
    if role == "anonymous":
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
        return
    assert response.status_code == 200
    expected_roles = {"reviewer": ["reviewer"], "mediator": ["mediator"]}.get(role, [])
    assert response.json()["platform_roles"] == expected_roles
    assert response.json()["email"] == world.user(role).email  # type: ignore[union-attr]


def test_resend_verification_does_not_reveal_whether_an_account_exists() -> None:
    UserFactory.create(email="pending@example.com", email_verified_at=None)
    client = client_for(None)
    known = client.post(
        "/api/v1/auth/resend-verification/", {"email": "pending@example.com"}, format="json"
    )
    unknown = client.post(
        "/api/v1/auth/resend-verification/", {"email": "nobody@example.com"}, format="json"
    )
    assert known.status_code == unknown.status_code == 202
    assert list(OutboundEmail.objects.values_list("to_email", flat=True)) == ["pending@example.com"]


def test_verification_mail_is_written_in_the_users_language() -> None:
    body = registration()
    body["admin"]["preferred_language"] = "zh-hans"
    client_for(None).post("/api/v1/auth/register/", body, format="json")
    assert OutboundEmail.objects.get().subject == "验证您的电子邮件地址"
    assert mail.outbox == []  # nothing is sent inside the request


def test_registration_reports_every_problem_in_one_round() -> None:
    # Given a taken address, a missing region, a company without a credit code and a weak password
    UserFactory.create(email="founder@example.com")
    body = registration(credit_code="")
    del body["region"]
    body["admin"]["password"] = "12345678"
    before = _counts()

    # When it is sent once
    response = client_for(None).post("/api/v1/auth/register/", body, format="json")

    # Then one 400 lists all four, each on the body's own field path with its own code
    assert response.status_code == 400
    answer = response.json()
    assert answer["code"] == "invalid"
    codes = {path: [item["code"] for item in items] for path, items in answer["fields"].items()}
    assert codes == {
        "region": ["required"],
        "credit_code": ["credit_code_required"],
        "admin.email": ["email_taken"],
        "admin.password": ["weak_password", "weak_password"],
    }
    assert _counts() == before


def test_registration_with_valid_fields_reports_all_business_rules_together() -> None:
    UserFactory.create(email="founder@example.com")
    body = registration()
    body["admin"]["password"] = "12345678"
    response = client_for(None).post("/api/v1/auth/register/", body, format="json")
    assert response.status_code == 400
    assert sorted(response.json()["fields"]) == ["admin.email", "admin.password"]
    assert response.json()["fields"]["admin.email"][0]["code"] == "email_taken"


def test_an_individual_registers_without_a_credit_code() -> None:
    body = registration(kind="individual", name="李四")
    del body["credit_code"]
    del body["sme_profile"]
    response = client_for(None).post("/api/v1/auth/register/", body, format="json")
    assert response.status_code == 201, response.json()
