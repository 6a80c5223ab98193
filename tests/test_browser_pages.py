"""A new user's first hour in headless Chromium (Debian's package, driven by Playwright with
its executable path): register by the API, open the link of the mail the real Celery worker
sent over SMTP, verify the address and end signed in (session cookie, /api/v1/me/ answers);
forget the password and set a new one from the reset mail; join by an invitation link.
Screenshots go to test-artefacts/ (the pages in Chinese, for the user's language)."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps

from marketplace.models import Membership, User
from marketplace.reference import load_reference_tables
from marketplace.services import organisations
from tests.conftest import client_for
from tests.factories import MembershipFactory, OrganisationFactory
from tests.live import SmtpSink, WorkerProcess

ARTEFACTS = Path(__file__).resolve().parent.parent / "test-artefacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PASSPHRASE = "a-long-and-unusual-passphrase"

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (.ci/run installs it)",
)


def _link(sink: SmtpSink, to: str, subject: str, timeout: float = 30.0) -> str:
    """The link in the mail to `to` whose (decoded, Chinese) subject contains `subject`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in list(sink.messages):
            decoded = str(make_header(decode_header(message["Subject"] or "")))
            if message["To"] == to and subject in decoded:
                body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
                match = re.search(r"(http://\S+\?token=\S+)", body)
                assert match, body
                return match.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no mail to {to} about {subject!r} within {timeout}s")


@contextmanager
def _browser(locale: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None, "chromium is required in CI"
    ARTEFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser.new_page(locale=locale)
        finally:
            browser.close()


def _me(page: Any, url: str) -> dict[str, Any]:
    page.goto(f"{url}/api/v1/me/?format=json")
    return dict(json.loads(page.locator("body").inner_text()))


@needs_chromium
@pytest.mark.django_db(transaction=True)
def test_a_new_user_verifies_by_the_mailed_link_signs_in_and_later_resets_the_password(
    live_server: Any,
    celery_worker_process: WorkerProcess,
    smtp_sink: SmtpSink,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    load_reference_tables(lambda name: apps.get_model("marketplace", name))
    settings.FRONTEND_URL = live_server.url  # the links of mails rendered in this process
    response = client_for(None).post(
        "/api/v1/auth/register/",
        {
            "name": "王小明",
            "kind": "individual",
            "region": "320102",
            "admin": {
                "email": "first-hour@example.com",
                "password": PASSPHRASE,
                "full_name": "王小明",
                "preferred_language": "zh-hans",
            },
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    link = _link(smtp_sink, "first-hour@example.com", "验证")
    assert link.startswith(f"{live_server.url}/verify-email?token=")

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with _browser("en-US") as page:
        page.goto(f"{live_server.url}/")
        page.screenshot(path=str(ARTEFACTS / "pages-1-landing-en.png"), full_page=True)
        assert page.locator("h1").inner_text() == "Open-license patent marketplace"

        page.goto(link)
        assert page.locator("#verified").inner_text() == "first-hour@example.com 已验证。"
        page.fill("input[name=password]", PASSPHRASE)
        page.screenshot(path=str(ARTEFACTS / "pages-2-verified-zh.png"), full_page=True)
        page.click("#log-in")
        page.wait_for_selector("#signed-in")
        assert page.locator("#signed-in").inner_text() == "已登录：王小明"
        assert page.locator("h1").inner_text() == "专利开放许可交易平台"
        page.screenshot(path=str(ARTEFACTS / "pages-3-signed-in-zh.png"), full_page=True)
        cookies = {c["name"] for c in page.context.cookies()}
        assert "sessionid" in cookies
        assert _me(page, live_server.url)["email"] == "first-hour@example.com"

        # Log out, forget the password, take the link of the reset mail.
        page.goto(f"{live_server.url}/")
        page.click("#session button")
        page.wait_for_selector("a[href='/login/']")
        page.goto(f"{live_server.url}/forgot-password")
        page.fill("input[name=email]", "first-hour@example.com")
        page.click("#send")
        page.wait_for_selector("#sent")
        page.screenshot(path=str(ARTEFACTS / "pages-4-reset-asked.png"), full_page=True)
        reset = _link(smtp_sink, "first-hour@example.com", "重置密码")
        page.goto(reset)
        page.fill("input[name=password]", "another-long-passphrase-2026")
        page.screenshot(path=str(ARTEFACTS / "pages-5-new-password-zh.png"), full_page=True)
        page.click("#save")
        page.wait_for_selector("#signed-in")
        assert _me(page, live_server.url)["email"] == "first-hour@example.com"
    user = User.objects.get(email="first-hour@example.com")
    assert user.email_verified_at is not None
    assert user.check_password("another-long-passphrase-2026")


@needs_chromium
@pytest.mark.django_db(transaction=True)
def test_an_invited_person_creates_the_account_from_the_mailed_link_and_is_signed_in(
    live_server: Any,
    celery_worker_process: WorkerProcess,
    smtp_sink: SmtpSink,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    load_reference_tables(lambda name: apps.get_model("marketplace", name))
    settings.FRONTEND_URL = live_server.url
    university = OrganisationFactory.create(name="华东示范大学")
    admin = MembershipFactory.create(organisation=university, role="admin").user
    organisations.invitation_create(
        organisation_id=university.pk, actor=admin, email="invitee@example.com", role="member"
    )
    link = _link(smtp_sink, "invitee@example.com", "华东示范大学")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with _browser("zh-CN") as page:
        page.goto(link)
        assert "华东示范大学" in page.locator("main p").first.inner_text()
        page.fill("input[name=full_name]", "李新")
        page.fill("input[name=password]", PASSPHRASE)
        page.screenshot(path=str(ARTEFACTS / "pages-6-invitation-zh.png"), full_page=True)
        page.click("#accept")
        page.wait_for_selector("#signed-in")
        me = _me(page, live_server.url)
    assert me["email"] == "invitee@example.com"
    user = User.objects.get(email="invitee@example.com")
    assert Membership.objects.get(user=user).organisation == university


@needs_chromium
@pytest.mark.django_db(transaction=True)
def test_a_non_staff_user_logs_in_to_the_browsable_api_and_swagger_offers_the_token_first(
    live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.factories import PASSWORD, UserFactory

    UserFactory.create(email="sme.user@example.com", full_name="赵中小")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with _browser("en-US") as page:
        page.goto(f"{live_server.url}/api/v1/")
        page.click("text=Log in")
        page.fill("input[name=email]", "sme.user@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("#log-in")
        page.wait_for_url(f"{live_server.url}/api/v1/")
        assert "sme.user@example.com" in page.locator(".navbar").inner_text()
        assert "search/patents" in page.locator(".response-info").inner_text()
        page.screenshot(path=str(ARTEFACTS / "pages-7-browsable-api.png"), full_page=True)

        page.goto(f"{live_server.url}/api/v1/docs/")
        page.click("button.authorize")
        page.wait_for_selector(".auth-container")
        names = page.locator(".auth-container h4").all_inner_texts()
        text = page.locator(".auth-container").first.inner_text()
        page.screenshot(path=str(ARTEFACTS / "pages-8-swagger-authorize.png"))
    assert [name.split("\xa0")[0] for name in names] == ["tokenAuth", "cookieAuth"]
    assert "Token <key>" in text
