"""The funnel's charts in headless Chromium (Debian's package, driven by Playwright): a
reviewer opens the register's funnel and a university's in the admin (English and Chinese), a
member of the university opens its own funnel page in Chinese. Screenshots go to
test-artefacts/ (funnel-*.png)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.conftest import World, make_world
from tests.factories import PASSWORD
from tests.test_browser_mediation import ARTEFACTS, CHROMIUM, needs_chromium
from tests.test_funnel import _scene


@contextmanager
def _page(locale: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None, "chromium is required in CI"
    ARTEFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser.new_page(locale=locale, viewport={"width": 1400, "height": 900})
        finally:
            browser.close()


def _admin_login(page: Any, url: str, email: str) -> None:
    page.goto(f"{url}/admin/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")


@pytest.fixture
def world(transactional_db: None) -> World:
    """The shared world on reference tables and the annual-fee schedule of its own: an earlier
    transactional test may have flushed the migrated ones (the funnel's fee savings read the
    schedule)."""
    import importlib

    from django.apps import apps

    from marketplace.reference import load_reference_tables

    load_reference_tables(lambda name: apps.get_model("marketplace", name))
    importlib.import_module("licensing.migrations.0005_load_annual_fee_rates").load(apps, None)
    return make_world()


@needs_chromium
@pytest.mark.django_db(transaction=True)
def test_reviewers_and_the_patentee_see_the_funnel_as_charts(
    live_server: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scene(world)
    university = world.university.pk
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with _page("en-US") as page:
        _admin_login(page, live_server.url, world.reviewer.email)
        page.goto(f"{live_server.url}/admin/funnel/")
        assert "patent page views" in (page.locator("#funnel-chart svg").text_content() or "")
        page.screenshot(path=str(ARTEFACTS / "funnel-1-register-en.png"), full_page=True)
        page.click(f"#funnel-organisations a[href='/admin/funnel/{university}/']")
        page.wait_for_selector("#funnel-declarations")
        rows = page.locator("#funnel-declarations tbody tr")
        assert rows.count() == 2
        assert "dormant" in rows.first.inner_text()
        page.screenshot(path=str(ARTEFACTS / "funnel-2-university-en.png"), full_page=True)
    with _page("zh-CN") as page:
        _admin_login(page, live_server.url, world.reviewer.email)
        page.goto(f"{live_server.url}/admin/funnel/{university}/")
        assert page.locator("#funnel-chart svg text").filter(has_text="专利页面浏览").count()
        page.screenshot(path=str(ARTEFACTS / "funnel-3-university-zh.png"), full_page=True)
    with _page("zh-CN") as page:
        page.goto(f"{live_server.url}/organisations/{university}/funnel/")
        page.fill("#id_email", world.university_member.email)
        page.fill("#id_password", PASSWORD)
        page.click("#log-in")
        page.wait_for_selector("#funnel-chart svg")
        assert "华东示范大学" in page.locator("h1").inner_text()
        # The bars carry the totals: 4 views, 5 impressions, 3 SMEs reached.
        bars = page.locator("#funnel-chart").inner_text()
        assert "许可通知" in bars
        page.screenshot(path=str(ARTEFACTS / "funnel-4-patentee-zh.png"), full_page=True)
        with page.expect_download() as download:
            page.click("text=XLSX")
        assert download.value.suggested_filename.endswith(".xlsx")
