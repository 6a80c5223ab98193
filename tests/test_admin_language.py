"""Every word the admin shows around the data is in the reader's language.

A superuser walks every registered admin's list, change and add page over the full demo; the
headers, filters, actions, field labels, fieldset and inline titles read in Chinese with
Accept-Language zh-hans (codes such as IPC and CNY aside) and in English with en.
"""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import reverse

from marketplace.demo import SUPERUSER_EMAIL
from marketplace.models import Patent, User

# Codes and names a Chinese page keeps as they are.
ALLOWED_ASCII = {
    "IPC",
    "CNY",
    "ID",
    "URL",
    "SME",
    "PCT",
    "HTTP",
    "SHA",
    "GB",
    "e-mail",
    "Token",
    "ZL",  # a granted patent's number
}
# A snake_case token is a code (an e-mail kind, a notification kind), not a word.
ASCII_WORD = re.compile(r"[A-Za-z][A-Za-z_-]*[A-Za-z]")
CJK = re.compile(r"[\u3400-\u9fff]")


class _Labels(HTMLParser):
    """The texts of the page's chrome: title, headers, filters, actions, labels."""

    WANTED = {"h1", "h2", "h3", "label", "th", "option", "legend", "a", "summary", "caption"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.capture: list[list[str]] = []
        self.found: list[str] = []

    def _inside(self, key: str, value: str) -> bool:
        return any(value in attrs.get(key, "").split() for _tag, attrs in self.stack)

    def _wanted(self, tag: str, attrs: dict[str, str]) -> bool:
        if tag in {"h1", "h2", "h3", "label", "legend", "summary", "caption"}:
            return True
        if tag == "th":
            # Column headers of the list and of inlines; a result row's first cell is data.
            return self._inside("class", "sortable") or any(t == "thead" for t, _a in self.stack)
        if tag == "option":
            return any(t == "select" and a.get("name") == "action" for t, a in self.stack)
        if tag == "a":
            return self._inside("id", "changelist-filter") and "href" in attrs
        return False

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        if tag in {"br", "img", "input", "meta", "link", "hr"}:
            return
        self.stack.append((tag, attrs))
        self.capture.append([] if tag in self.WANTED and self._wanted(tag, attrs) else None)  # type: ignore[arg-type]

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            open_tag, _attrs = self.stack.pop()
            texts = self.capture.pop()
            if texts is not None:
                text = " ".join("".join(texts).split())
                if text:
                    self.found.append(text)
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for texts in self.capture:
            if texts is not None:
                texts.append(data)


def _chrome(html: str) -> list[str]:
    # Data the page shows inside the chrome (names, numbers, e-mail addresses) is not chrome.
    html = re.sub(r'<div class="readonly">.*?</div>', "", html, flags=re.S)
    html = re.sub(r'<td class="field-[^"]*">.*?</td>', "", html, flags=re.S)
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    parser = _Labels()
    parser.feed(html)
    return parser.found


def _english_words(texts: list[str], data: set[str]) -> list[str]:
    found = []
    for text in texts:
        for value in sorted(data, key=len, reverse=True):
            text = text.replace(value, " ")
        found += [w for w in ASCII_WORD.findall(text) if w not in ALLOWED_ASCII and "_" not in w]
    return found


def _pages(superuser: User) -> list[tuple[str, Any, set[str]]]:
    """(url, the model or object, the data texts the page may show) for every admin page."""
    request = RequestFactory().get("/admin/")
    request.user = superuser
    pages: list[tuple[str, Any, set[str]]] = []
    for model, model_admin in admin.site._registry.items():
        base = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        pages.append((reverse(f"{base}_changelist"), model, _filter_values(model, model_admin)))
        obj = model_admin.get_queryset(request).order_by("pk").first()
        if obj is not None:
            pages.append((reverse(f"{base}_change", args=[obj.pk]), obj, _data_of(obj)))
        if model_admin.has_add_permission(request):
            pages.append((reverse(f"{base}_add"), None, set()))
    return pages


def _filter_values(model: Any, model_admin: Any) -> set[str]:
    """A list filter on a plain text column offers the column's values: data, not labels."""
    values: set[str] = set()
    for name in model_admin.list_filter:
        if not isinstance(name, str):
            continue
        field = model._meta.get_field(name)
        if field.get_internal_type() == "CharField" and not field.choices:
            values |= {v for v in model.objects.values_list(name, flat=True).distinct() if v}
    return values


def _data_of(page_object: Any) -> set[str]:
    """The object's own texts (its name, number, e-mail), which a label may quote."""
    if page_object is None or isinstance(page_object, type):
        return set()
    values = {str(page_object)}
    for field in page_object._meta.concrete_fields:
        value = getattr(page_object, field.attname, None)
        if isinstance(value, str) and value and not field.choices:
            values.add(value)
    return {value for value in values if len(value) > 1}


@pytest.fixture
def demo(db: None) -> User:
    call_command("load_demo", stdout=io.StringIO())
    superuser = User.objects.get(is_superuser=True)
    assert superuser.email == SUPERUSER_EMAIL
    _rows_the_demo_has_none_of(superuser)
    return superuser


def _rows_the_demo_has_none_of(superuser: User) -> None:
    from datetime import date

    from django.core.files.base import ContentFile
    from rest_framework.authtoken.models import Token

    from licensing.models import HolidayCalendarYear, HolidayOverride
    from licensing.open_statistics import statistics_refresh
    from marketplace.models import (
        ImportJob,
        Notification,
        Organisation,
        Patent,
        PatentVector,
        UnsentTask,
    )

    organisation = Organisation.objects.order_by("pk").first()
    assert organisation is not None
    job = ImportJob(organisation=organisation, created_by=superuser, file_name="专利.csv")
    job.file.save("patents.csv", ContentFile(b"application_number\n"), save=False)
    job.file_format = "csv"
    job.save()
    Notification.objects.create(
        user=superuser, kind="filing_due", source="t", title="备案", body="请备案"
    )
    UnsentTask.objects.create(target="marketplace.tasks.send_outbound_emails", args=[])
    patent = Patent.objects.order_by("pk").first()
    assert patent is not None
    PatentVector.objects.get_or_create(
        patent=patent, defaults={"model": "bge-small-zh", "text_hash": "0" * 64, "vector": b""}
    )
    HolidayCalendarYear.objects.get_or_create(year=2030, defaults={"source": "国务院办公厅通知"})
    HolidayOverride.objects.get_or_create(date=date(2030, 1, 1), defaults={"is_workday": False})
    Token.objects.get_or_create(user=superuser)
    statistics_refresh()


def test_every_admin_page_reads_in_chinese_and_in_english(demo: User) -> None:
    # Given the full demo and a superuser
    client = Client()
    client.force_login(demo)
    pages = _pages(demo)
    registered = len(admin.site._registry)
    assert registered >= 29
    # every model has a change page to read (the fixture adds rows the demo has none of)
    assert len([url for url, _obj, _data in pages if url.endswith("/change/")]) == registered

    english_in_chinese: dict[str, list[str]] = {}
    chinese_in_english: dict[str, list[str]] = {}
    for url, _page_object, data in pages:
        # When the page is read in Chinese
        zh = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert zh.status_code == 200, url
        assert zh["Content-Language"] == "zh-hans"
        texts = _chrome(zh.content.decode())
        assert texts, url
        # Then no English word is left in its chrome
        words = _english_words(texts, data)
        if words:
            english_in_chinese[url] = sorted(set(words))

        # And in English no Chinese one, but the official Chinese term after an English label
        en = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
        assert en.status_code == 200, url
        assert en["Content-Language"] == "en"
        chinese = []
        for text in _chrome(en.content.decode()):
            for value in sorted(data, key=len, reverse=True):
                text = text.replace(value, " ")
            text = re.sub(r"[(（][^()（）]*[)）]", " ", text)
            if CJK.search(text):
                chinese.append(text)
        if chinese:
            chinese_in_english[url] = chinese

    assert english_in_chinese == {}
    assert chinese_in_english == {}


def test_the_walk_reads_the_labels_filters_and_actions(demo: User) -> None:
    # Given the patent list and a patent's page
    client = Client()
    client.force_login(demo)
    patent = Patent.objects.order_by("pk").first()
    assert patent is not None
    listing = reverse("admin:marketplace_patent_changelist")
    page = reverse("admin:marketplace_patent_change", args=[patent.pk])
    declarations = reverse("admin:licensing_declaration_changelist")

    # When they are read in each language, then the chrome the walk checks holds their labels
    zh = _chrome(client.get(page, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode())
    assert {"申请号:", "法律状态:", "权利人:"} <= set(zh)
    en = _chrome(client.get(page, HTTP_ACCEPT_LANGUAGE="en").content.decode())
    assert {"Application number:", "Legal status:", "Owner:"} <= set(en)
    zh_list = _chrome(client.get(listing, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode())
    assert {"申请号", "类型", "权利人", "以 法律状态", "发明"} <= set(zh_list)
    zh_queue = _chrome(client.get(declarations, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode())
    assert "公告所选的已提交声明" in zh_queue
