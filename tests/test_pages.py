"""The pages the mails link to, the landing page, the session log-in, password reset by page
and by API, the API root's list of endpoints and the Swagger Authorize dialog's order."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.authtoken.models import Token

from marketplace.api.throttles import LoginEmailThrottle, RegisterThrottle
from marketplace.models import Invitation, Membership, OutboundEmail, User
from marketplace.services import accounts, organisations
from tests.conftest import World, client_for
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _link(body: str, page: str) -> str:
    match = re.search(rf"http://127\.0\.0\.1:8000(/{page}\?token=\S+)", body)
    assert match, body
    return match.group(1)


def _unverified(email: str = "new@example.com", language: str = "en") -> User:
    return UserFactory.create(email=email, email_verified_at=None, preferred_language=language)


def test_landing_page_says_what_the_service_is_in_english_and_chinese() -> None:
    english = Client(HTTP_ACCEPT_LANGUAGE="en").get("/")
    chinese = Client(HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").get("/")
    assert english.status_code == chinese.status_code == 200
    assert "<h1>Open-license patent marketplace</h1>" in english.content.decode()
    assert "<h1>专利开放许可交易平台</h1>" in chinese.content.decode()
    assert '<html lang="zh-hans">' in chinese.content.decode()
    for href in ("/api/v1/docs/", "/api/v1/redoc/", "/api/v1/", "/api/v1/register/", "/admin/"):
        assert f'href="{href}"' in english.content.decode()
    assert 'href="/healthz"' in english.content.decode()
    assert "Where to go" not in chinese.content.decode()


def test_the_admins_view_site_link_lands_on_the_landing_page(world: World) -> None:
    staff = UserFactory.create(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    admin = client.get("/admin/").content.decode()
    assert '<a href="/">View site</a>' in admin
    assert client.get("/").status_code == 200


def test_the_verification_link_verifies_and_the_log_in_form_signs_the_user_in() -> None:
    user = _unverified()
    accounts.user_resend_verification(email=user.email)
    link = _link(OutboundEmail.objects.get().body, "verify-email")
    client = Client()
    page = client.get(link)
    assert page.status_code == 200
    assert "new@example.com is verified." in page.content.decode()
    user.refresh_from_db()
    assert user.email_verified_at is not None
    assert client.get("/api/v1/me/").status_code == 401  # verified, not yet signed in
    login = client.post("/login/", {"email": "new@example.com", "password": PASSWORD, "next": "/"})
    assert (login.status_code, login["Location"]) == (302, "/")
    assert "Signed in as" in client.get("/").content.decode()
    me = client.get("/api/v1/me/", HTTP_ACCEPT="application/json")
    assert (me.status_code, me.json()["email"]) == (200, "new@example.com")


def test_a_tampered_verification_link_is_refused_and_verifies_nothing() -> None:
    user = _unverified()
    token = accounts.email_verification_token(user)
    page = Client().get(f"/verify-email?token={token[:-2]}xx")
    assert page.status_code == 400
    assert "This verification link is not valid." in page.content.decode()
    user.refresh_from_db()
    assert user.email_verified_at is None


def test_the_verification_page_speaks_the_users_language() -> None:
    user = _unverified(language="zh-hans")
    page = Client(HTTP_ACCEPT_LANGUAGE="en").get(
        f"/verify-email?token={accounts.email_verification_token(user)}"
    )
    assert "new@example.com 已验证。" in page.content.decode()


def test_an_unverified_user_cannot_sign_in_on_the_page() -> None:
    _unverified()
    client = Client()
    page = client.post("/login/", {"email": "new@example.com", "password": PASSWORD})
    assert page.status_code == 200
    assert "Verify your e-mail address first" in page.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_wrong_password_on_the_page_signs_no_one_in() -> None:
    UserFactory.create(email="known@example.com")
    client = Client()
    page = client.post("/login/", {"email": "known@example.com", "password": "wrong"})
    assert "The e-mail address or password is wrong." in page.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_browsable_api_offers_the_log_in_page_to_any_user() -> None:
    UserFactory.create(email="sme@example.com")  # not staff
    client = Client()
    root = client.get("/api/v1/", HTTP_ACCEPT="text/html").content.decode()
    assert '<a href="/login/?next=/api/v1/">Log in</a>' in root
    login = client.post(
        "/login/", {"email": "sme@example.com", "password": PASSWORD, "next": "/api/v1/me/"}
    )
    assert login["Location"] == "/api/v1/me/"
    assert "sme@example.com" in client.get("/api/v1/me/", HTTP_ACCEPT="text/html").content.decode()


def test_log_in_redirects_only_to_this_site() -> None:
    UserFactory.create(email="sme@example.com")
    login = Client().post(
        "/login/",
        {"email": "sme@example.com", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert login["Location"] == "/"


# ---- password reset ------------------------------------------------------------------------


def test_password_reset_answers_the_same_for_unknown_addresses_and_mails_only_known_ones() -> None:
    UserFactory.create(email="known@example.com")
    client = client_for(None)
    known = client.post("/api/v1/auth/password-reset/", {"email": "Known@Example.com"})
    unknown = client.post("/api/v1/auth/password-reset/", {"email": "nobody@example.com"})
    assert (known.status_code, unknown.status_code) == (202, 202)
    assert known.content == unknown.content
    email = OutboundEmail.objects.get()
    assert (email.kind, email.to_email, email.subject) == (
        "password_reset",
        "known@example.com",
        "Reset your password",
    )
    assert "/reset-password?token=" in email.body


def test_password_reset_by_api_sets_the_password_once_and_revokes_the_api_token() -> None:
    user = UserFactory.create(email="known@example.com")
    old_token = Token.objects.create(user=user)
    accounts.user_request_password_reset(email="known@example.com")
    token = _link(OutboundEmail.objects.get().body, "reset-password").split("token=")[1]
    client = client_for(None)
    weak = client.post("/api/v1/auth/password-reset/confirm/", {"token": token, "password": "1"})
    assert weak.json()["code"] == "weak_password"
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    done = client.post(
        "/api/v1/auth/password-reset/confirm/",
        {"token": token, "password": "a-new-long-passphrase"},
    )
    assert (done.status_code, done.json()["email"]) == (200, "known@example.com")
    user.refresh_from_db()
    assert user.check_password("a-new-long-passphrase")
    assert not Token.objects.filter(pk=old_token.pk).exists()
    again = client.post(
        "/api/v1/auth/password-reset/confirm/", {"token": token, "password": "yet-another-phrase-9"}
    )
    assert (again.status_code, again.json()["code"]) == (400, "reset_token_invalid")
    user.refresh_from_db()
    assert user.check_password("a-new-long-passphrase")


def test_a_forged_reset_token_is_refused_and_changes_nothing() -> None:
    user = UserFactory.create(email="known@example.com")
    for token in (f"{user.pk}-abc-def", "x-y", "", f"{user.pk + 1000}-abc"):
        answer = client_for(None).post(
            "/api/v1/auth/password-reset/confirm/", {"token": token, "password": "a-new-passphrase"}
        )
        assert answer.status_code == 400, token
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_password_reset_pages_set_the_password_verify_the_address_and_sign_in() -> None:
    user = _unverified(email="forgetful@example.com")
    client = Client()
    asked = client.post("/forgot-password", {"email": "forgetful@example.com"})
    nobody = Client().post("/forgot-password", {"email": "nobody@example.com"})
    assert "a mail with a link to choose a new password is on its way" in asked.content.decode()
    assert asked.content.decode() == nobody.content.decode()
    link = _link(OutboundEmail.objects.get(kind="password_reset").body, "reset-password")
    assert client.get(link).status_code == 200
    token = link.split("token=")[1]
    saved = client.post("/reset-password", {"token": token, "password": "a-new-long-passphrase"})
    assert (saved.status_code, saved["Location"]) == (302, "/")
    user.refresh_from_db()
    assert user.check_password("a-new-long-passphrase")
    assert user.email_verified_at is not None
    assert client.get("/api/v1/me/", HTTP_ACCEPT="application/json").status_code == 200
    assert client.get(link).status_code == 400  # used


# ---- invitations ---------------------------------------------------------------------------


def _invite(world: World, email: str) -> str:
    organisations.invitation_create(
        organisation_id=world.university.pk,
        actor=world.university_admin,
        email=email,
        role="member",
    )
    return _link(OutboundEmail.objects.get(to_email=email).body, "invitations/accept")


def test_an_invitation_link_creates_the_account_joins_and_signs_in(world: World) -> None:
    link = _invite(world, "newcomer@example.com")
    client = Client()
    page = client.get(link).content.decode()
    assert f"invites newcomer@example.com to join {world.university.name} as member" in page
    token = link.split("token=")[1]
    weak = client.post(link, {"token": token, "full_name": "新人", "password": "1"})
    assert weak.status_code == 200
    assert not User.objects.filter(email="newcomer@example.com").exists()
    joined = client.post(link, {"token": token, "full_name": "新人", "password": "a-long-phrase-9"})
    assert (joined.status_code, joined["Location"]) == (302, "/")
    user = User.objects.get(email="newcomer@example.com")
    assert Membership.objects.filter(user=user, organisation=world.university).exists()
    assert client.get("/api/v1/me/", HTTP_ACCEPT="application/json").json()["email"] == user.email
    assert client.get(link).status_code == 400  # accepted already


def test_an_invitation_to_an_existing_account_asks_to_log_in_first(world: World) -> None:
    link = _invite(world, "admin@sme.example.com")
    client = Client()
    page = client.get(link).content.decode()
    assert "An account with this address exists: log in, then accept the invitation." in page
    assert 'id="accept"' not in page
    client.force_login(world.sme_admin)
    assert 'id="accept"' in client.get(link).content.decode()
    token = link.split("token=")[1]
    assert client.post(link, {"token": token}).status_code == 302
    assert Invitation.objects.get(email="admin@sme.example.com").status == "accepted"


def test_an_invitation_cannot_be_accepted_by_another_signed_in_user(world: World) -> None:
    link = _invite(world, "someone@example.com")
    client = Client()
    client.force_login(world.sme_admin)
    page = client.get(link).content.decode()
    assert "This invitation was sent to another e-mail address" in page
    refused = client.post(link, {"token": link.split("token=")[1]})
    assert refused.status_code == 200
    assert Invitation.objects.get(email="someone@example.com").status == "pending"
    assert not Membership.objects.filter(user=world.sme_admin, organisation=world.university)


def test_an_expired_invitation_link_says_so(world: World) -> None:
    link = _invite(world, "late@example.com")
    Invitation.objects.update(expires_at=timezone.now())
    page = Client().get(link)
    assert page.status_code == 400
    assert "This invitation has expired; ask for a new one." in page.content.decode()


# ---- the API root and the docs -------------------------------------------------------------


def _families(patterns: list[Any], prefix: str = "") -> set[str]:
    found: set[str] = set()
    for pattern in patterns:
        route = prefix + str(pattern.pattern).lstrip("^")
        if isinstance(pattern, URLResolver):
            found |= _families(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/v1/"):
            family = re.split(r"[/\\.$]", route.removeprefix("api/v1/"))[0]
            if family and not family.startswith("<"):  # the root's own format suffix
                found.add(family)
    return found


def test_the_api_root_lists_every_family_of_the_url_configuration() -> None:
    root = client_for(None).get("/api/v1/").json()
    families = _families(get_resolver().url_patterns)
    assert families == {key.split("/")[0] for key in root}
    assert sorted({key.split("/")[0] for key in root}) == [
        "auth",
        "declarations",
        "docs",
        "invitations",
        "licenses",
        "matches",
        "me",
        "mediation-cases",
        "needs",
        "notifications",
        "ordinary-licenses",
        "organisations",
        "patent-imports",
        "patents",
        "redoc",
        "reference",
        "register",
        "saved-searches",
        "schema",
        "search",
        "statistics",
    ]
    assert root["search/patents"] == "http://testserver/api/v1/search/patents/"
    assert root["auth/password-reset"] == "http://testserver/api/v1/auth/password-reset/"


def test_swagger_offers_token_authentication_first_and_explains_the_token_form() -> None:
    schema = client_for(None).get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    schemes = schema["components"]["securitySchemes"]
    assert list(schemes) == ["tokenAuth", "cookieAuth"]
    assert schemes["tokenAuth"]["name"] == "Authorization"
    assert "`Token <key>`" in schemes["tokenAuth"]["description"]


def test_the_log_in_page_is_throttled_per_account_like_the_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(LoginEmailThrottle, "rate", "3/min", raising=False)
    UserFactory.create(email="target@example.com")
    for number in range(3):
        Client(REMOTE_ADDR=f"10.0.0.{number + 1}").post(
            "/login/", {"email": "target@example.com", "password": f"guess-{number}"}
        )
    client = Client(REMOTE_ADDR="10.0.0.9")
    page = client.post("/login/", {"email": "target@example.com", "password": PASSWORD})
    assert "Too many attempts; wait a minute and try again." in page.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_mail_sending_pages_are_throttled_per_client_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(RegisterThrottle.THROTTLE_RATES, "register", "2/min")
    UserFactory.create(email="known@example.com")
    pages = [
        Client().post("/forgot-password", {"email": "known@example.com"}).content.decode()
        for _ in range(3)
    ]
    assert ["Too many attempts" in page for page in pages] == [False, False, True]
    assert OutboundEmail.objects.filter(kind="password_reset").count() == 2
