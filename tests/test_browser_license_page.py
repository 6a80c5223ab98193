"""In headless Chromium: the patentee opens the link of the mail the real worker sent when an
SME took a license, logs in and lands on the license's page in Chinese; the browsable API root
reads in Chinese too. Screenshots go to test-artefacts/."""

from __future__ import annotations

import re
import time
from decimal import Decimal
from email.header import decode_header, make_header
from typing import Any

import pytest
from django.apps import apps
from django.utils import timezone

from licensing.services import licenses as license_services
from marketplace.models import User
from marketplace.reference import load_reference_tables
from tests.conftest import make_world
from tests.declarations_helpers import announced, declarable_patent
from tests.factories import PASSWORD
from tests.live import SmtpSink, WorkerProcess
from tests.test_browser_pages import ARTEFACTS, _browser, needs_chromium


def _license_link(sink: SmtpSink, to: str, timeout: float = 60.0) -> str:
    """The license page's link in the took-effect mail to `to`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in list(sink.messages):
            subject = str(make_header(decode_header(message["Subject"] or "")))
            if message["To"] == to and "已生效" in subject:
                body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
                match = re.search(r"许可详情：(http://\S+/licenses/\d+/)$", body.strip())
                assert match, body
                return match.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no took-effect mail to {to} within {timeout}s")


@needs_chromium
@pytest.mark.django_db(transaction=True)
def test_the_patentee_follows_the_license_mail_logs_in_and_reads_the_license_in_chinese(
    live_server: Any,
    celery_worker_process: WorkerProcess,
    smtp_sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    load_reference_tables(lambda name: apps.get_model("marketplace", name))
    world = make_world()
    User.objects.update(preferred_language="zh-hans")
    world.university_member.refresh_from_db()
    world.sme_admin.refresh_from_db()
    declaration = announced(
        declarable_patent(world.university), world.university_member, world.reviewer
    )
    # Given an SME that takes a license without writing a notice
    license = license_services.license_accept(
        actor=world.sme_admin,
        declaration_id=declaration.pk,
        licensee_id=world.sme.pk,
        payment={
            "amount_cny": Decimal("50000.00"),
            "reference": "ICBC-0001",
            "paid_on": timezone.localdate(),
        },
    )
    mailed = _license_link(smtp_sink, world.university_member.email)
    # The worker renders the mail with its own FRONTEND_URL (the development default); the
    # page is the same path on this test's live server.
    assert mailed == f"http://127.0.0.1:8000/licenses/{license.pk}/"
    link = f"{live_server.url}/licenses/{license.pk}/"

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with _browser("zh-CN") as page:
        # When the patentee opens the link: the log-in page first, then the license
        page.goto(link)
        assert page.locator("h1").inner_text() == "登录"
        page.fill("input[name=email]", world.university_member.email)
        page.fill("input[name=password]", PASSWORD)
        page.click("#log-in")
        page.wait_for_url(link)
        number = license.patent.patent_number
        assert page.locator("h1").inner_text() == f"专利 {number} 的许可 {license.pk}"
        assert page.locator("#status").inner_text() == "已生效"
        assert page.locator("#royalty").inner_text() == (
            "入门费 5 万元 + 净销售额的 3.5%；每年最低 2 万元"
        )
        notice = page.locator("#notice").inner_text()
        assert notice.startswith("实施开放许可专利的书面通知\n")
        assert "特此通知。" in notice
        page.screenshot(path=str(ARTEFACTS / "pages-9-license-zh.png"), full_page=True)
        with page.expect_download() as download:
            page.click("#document")
        assert download.value.suggested_filename.endswith(".pdf")

        # The browsable API root, in Chinese
        page.goto(f"{live_server.url}/api/v1/")
        assert page.locator(".page-header h1").inner_text() == "API 根目录"
        assert page.locator(".navbar-brand").inner_text() == "专利开放许可交易平台"
        assert (
            "任何人都可查看" in page.locator(".page-header + div, .description").first.inner_text()
        )
        page.screenshot(path=str(ARTEFACTS / "pages-10-browsable-api-zh.png"), full_page=True)
