"""Browser tests in headless Chromium (Debian's package, driven by Playwright with its
executable path): a mediator logs in, opens an overdue case from the list, records a session
and closes the case with an agreement; a supervisor reassigns a case to another mediator.
Screenshots go to test-artefacts/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.utils import timezone

from licensing.models import MediationCase, MediationEvent
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


@dataclass
class Cast:
    case: MediationCase
    mediator: Any
    supervisor: Any


def _overdue_case() -> Cast:
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
    return Cast(case=case, mediator=mediator, supervisor=boss)


@contextmanager
def _logged_in(live_server: Any, user: Any, locale: str = "en-US") -> Iterator[Any]:
    """A Chromium page logged in to the admin as the user."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None, "chromium is required in CI"
    ARTEFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(locale=locale)
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", user.email)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_selector("#user-tools")
        try:
            yield page
        finally:
            browser.close()


# In CI (.ci/run installs chromium) the tests must run; elsewhere they are skipped without it.
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (.ci/run installs it)",
)


@needs_chromium
@pytest.mark.django_db(transaction=True)
def test_mediator_records_a_session_and_closes_an_overdue_case_with_an_agreement(
    live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cast = _overdue_case()
    case = cast.case
    # Playwright's sync API runs an event loop in this thread; the ORM is not used inside it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with _logged_in(live_server, cast.mediator) as page:
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
    case.refresh_from_db()
    assert case.status == "settled"
    assert case.sessions.count() == 1
    assert case.agreement.obligations.get().amount_cny == Decimal("8000.00")
    assert (ARTEFACTS / "4-settled.png").stat().st_size > 0


@needs_chromium
@pytest.mark.django_db(transaction=True)
def test_supervisor_reassigns_a_case_to_another_mediator_in_the_admin(
    live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cast = _overdue_case()
    case = cast.case
    other = UserFactory.create(email="mediator-chen@example.com", full_name="陈调解")
    platform_role_grant(user=other, role=roles.MEDIATOR, actor=None)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with _logged_in(live_server, cast.supervisor) as page:
        page.goto(f"{live_server.url}/admin/licensing/mediationcase/")
        page.locator("#result_list tbody tr", has_text=case.number).locator("th a").click()
        assign = page.locator("form[data-step=assign]")
        assign.wait_for()
        page.screenshot(path=str(ARTEFACTS / "5-supervisor-case-page.png"), full_page=True)
        assign.locator("select[name=mediator]").select_option(label=other.email)
        assign.locator("input[type=submit]").click()
        page.wait_for_selector("text=Done: Assign or reassign the mediator.")
        parties = page.locator(".case-panel section").first.inner_text()
        timeline = page.locator("#events-group td.field-step").all_inner_texts()
        page.screenshot(path=str(ARTEFACTS / "6-reassigned.png"), full_page=True)
    assert "Mediator: 陈调解" in parties
    assert [verb.strip() for verb in timeline] == [
        "applied",
        "mediator assigned",
        "application sent to the respondent",
        "respondent agreed to mediate",
        "accepted for mediation",
        "mediator assigned",  # the supervisor's reassignment, at the end of the timeline
    ]
    case.refresh_from_db()
    assert (case.mediator, case.mediator_named_on) == (other, timezone.localdate())
    event = MediationEvent.objects.filter(case=case).latest("id")
    assert (event.verb, event.actor, event.data) == (
        "mediator_assigned",
        cast.supervisor,
        {"mediator": other.email, "previous": cast.mediator.email},
    )
    assert list(MediationCase.objects.for_mediator(cast.mediator)) == []
    assert (ARTEFACTS / "6-reassigned.png").stat().st_size > 0


@needs_chromium
@pytest.mark.django_db(transaction=True)
def test_the_mediators_admin_in_chinese(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    cast = _overdue_case()
    case = cast.case
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with _logged_in(live_server, cast.mediator, locale="zh-CN") as page:
        page.goto(f"{live_server.url}/admin/licensing/mediationcase/")
        headers = page.locator("#result_list thead th").all_inner_texts()
        filters = page.locator("#changelist-filter").inner_text()
        page.screenshot(path=str(ARTEFACTS / "7-zh-my-cases.png"), full_page=True)
        page.locator("#result_list tbody tr", has_text=case.number).locator("th a").click()
        page.wait_for_selector("#events-group")
        timeline = page.locator("#events-group td.field-step").all_inner_texts()
        statuses = page.locator("#events-group td.field-to_shown").all_inner_texts()
        page.screenshot(path=str(ARTEFACTS / "8-zh-case-page.png"), full_page=True)
    assert [h.strip() for h in headers if h.strip()] == [
        "案件编号",
        "期限",
        "状态",
        "申请人",
        "被申请人",
        "调解员",
        "纠纷事由",
    ]
    assert "status" not in filters and "cause" not in filters
    assert [step.strip() for step in timeline][:3] == [
        "已申请",
        "已指定调解员",
        "已送达被申请人",
    ]
    assert all(not any("a" <= c <= "z" for c in status) for status in statuses), statuses
    assert (ARTEFACTS / "8-zh-case-page.png").stat().st_size > 0
