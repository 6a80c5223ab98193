"""Browser test: a mediator logs in, opens an overdue case from the list, records a session
and closes the case with an agreement — in headless Chromium (Debian's package, driven by
Playwright with its executable path). Screenshots go to test-artefacts/."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.utils import timezone

from licensing.models import MediationCase
from licensing.services import licenses as license_services
from licensing.services import mediation as services
from marketplace import roles
from marketplace.reference import load_reference_tables
from marketplace.services.platform import platform_role_grant
from tests.declarations_helpers import announced, declarable_patent
from tests.factories import (
    PASSWORD,
    MembershipFactory,
    OrganisationFactory,
    SmeProfileFactory,
    UserFactory,
)

ARTEFACTS = Path(__file__).resolve().parent.parent / "test-artefacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _overdue_case() -> tuple[MediationCase, Any]:
    load_reference_tables(lambda name: apps.get_model("marketplace", name))
    university = OrganisationFactory.create(name="华东示范大学")
    patentee = MembershipFactory.create(organisation=university, role="admin").user
    sme = SmeProfileFactory.create(organisation__name="苏州锂途新能源科技有限公司").organisation
    licensee = MembershipFactory.create(organisation=sme, role="admin").user
    reviewer = UserFactory.create()
    platform_role_grant(user=reviewer, role=roles.REVIEWER, actor=None)
    mediator = UserFactory.create(email="mediator@example.com", full_name="吴调解")
    platform_role_grant(user=mediator, role=roles.MEDIATOR, actor=None)
    boss = UserFactory.create()
    platform_role_grant(user=boss, role=roles.MEDIATION_SUPERVISOR, actor=None)
    declaration = announced(declarable_patent(university), patentee, reviewer)
    license = license_services.license_accept(
        actor=licensee,
        declaration_id=declaration.pk,
        licensee_id=sme.pk,
        notice_text="通知",
        payment={
            "amount_cny": Decimal("50000.00"),
            "reference": "R",
            "paid_on": timezone.localdate(),
        },
    )
    case = services.case_apply(
        actor=licensee,
        applicant_id=sme.pk,
        respondent_id=university.pk,
        declaration_id=declaration.pk,
        license_id=license.pk,
        cause="payment",
        summary="专利权人称未收到入门费。",
        matters="确认入门费是否已支付。",
    )
    services.case_assign(actor=boss, case_id=case.pk, mediator_id=mediator.pk)
    services.case_send_notice(actor=mediator, case_id=case.pk)
    services.case_respond(actor=patentee, case_id=case.pk, agree=True)
    services.case_accept(
        actor=mediator,
        case_id=case.pk,
        session_at=timezone.now() - timedelta(days=2),
        place="南京调解中心 3 楼",
    )
    case.refresh_from_db()
    assert case.deadline is not None and case.deadline < timezone.localdate()  # overdue
    return case, mediator


# In CI (.ci/run installs chromium) the test must run; elsewhere it is skipped without it.
@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (.ci/run installs it)",
)
@pytest.mark.django_db(transaction=True)
def test_mediator_records_a_session_and_closes_an_overdue_case_with_an_agreement(
    live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None, "chromium is required in CI"

    case, mediator = _overdue_case()
    ARTEFACTS.mkdir(exist_ok=True)
    # Playwright's sync API runs an event loop in this thread; the ORM is not used inside it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(locale="en-US")
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", mediator.email)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.goto(f"{live_server.url}/admin/licensing/mediationcase/")
        page.screenshot(path=str(ARTEFACTS / "1-my-cases.png"), full_page=True)
        badge = page.locator("#result_list tbody tr").first.locator(".deadline-badge")
        assert "overdue" in badge.inner_text()
        page.locator("#result_list tbody tr").first.locator("th a").click()
        page.wait_for_selector("form[data-step=record_session]")
        page.screenshot(path=str(ARTEFACTS / "2-case-page.png"), full_page=True)

        session = page.locator("form[data-step=record_session]")
        held_at = (timezone.localtime() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
        session.locator("input[name=held_at]").fill(held_at)
        session.locator("textarea[name=notes]").fill(
            "双方到场，核对银行回单，确认入门费差额 8,000 元。"
        )
        session.locator("input[type=submit]").click()
        page.wait_for_selector("form[data-step=record_agreement]")
        page.screenshot(path=str(ARTEFACTS / "3-session-recorded.png"), full_page=True)

        agreement = page.locator("form[data-step=record_agreement]")
        agreement.locator("textarea[name=text]").fill(
            "被许可人于30日内补付入门费差额8,000元，双方确认许可自生效日起有效。"
        )
        agreement.locator("input[name=amount_cny]").fill("8000.00")
        agreement.locator("input[name=due_date]").fill(
            (timezone.localdate() + timedelta(days=30)).isoformat()
        )
        agreement.locator("input[name=description]").fill("补付入门费差额")
        agreement.locator("input[type=submit]").click()
        page.wait_for_selector("text=No step is open to you on this case now.")
        page.screenshot(path=str(ARTEFACTS / "4-settled.png"), full_page=True)
        browser.close()
    case.refresh_from_db()
    assert case.status == "settled"
    assert case.sessions.count() == 1
    assert case.agreement.obligations.get().amount_cny == Decimal("8000.00")
    assert (ARTEFACTS / "4-settled.png").stat().st_size > 0
