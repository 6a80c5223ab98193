"""Every word the admin shows around the data is in the reader's language.

A superuser walks every registered admin's list, change and add page over the full demo; the
headers, filters, actions, field labels, fieldset and inline titles read in Chinese with
Accept-Language zh-hans (codes such as IPC and CNY aside) and in English with en, and no cell
shows a code (a status, a kind, a timeline step) where its label belongs. The pages come from
admin.site._registry, and every model is registered or left out for a stated reason, so a new
model cannot be forgotten.
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
        found += [w for w in ASCII_WORD.findall(text) if w not in ALLOWED_ASCII]
    return found


def _codes() -> set[str]:
    """Every code a page could leak instead of its label: the choices of every field of the
    project's models (the notification and e-mail kinds among them) and the timeline steps."""
    from django.apps import apps

    from licensing.models import DeclarationEvent, LicenseEvent, MediationEvent

    codes = {*DeclarationEvent.Verb, *LicenseEvent.Verb, *MediationEvent.Verb}
    for app in ("marketplace", "licensing", "matching"):
        for model in apps.get_app_config(app).get_models():
            for field in model._meta.get_fields():
                for value, _label in getattr(field, "flatchoices", None) or []:
                    codes.add(str(value))
    return {str(code) for code in codes if re.search(r"[a-z]{2}", str(code))}


DATA_CELL = re.compile(
    r'<(td|th) class="field-[^"]*"[^>]*>(.*?)</\1>|<div class="readonly">(.*?)</div>', re.S
)


def _raw_codes(html: str, codes: set[str]) -> list[str]:
    """The data cells (list columns, read-only fields, inline cells) that show a bare code."""
    found = []
    for match in DATA_CELL.finditer(html):
        cell = match.group(2) if match.group(2) is not None else match.group(3)
        text = " ".join(re.sub(r"<[^>]+>", " ", cell).split())
        if text in codes or (
            re.fullmatch(r"[a-z]+(?:_[a-z]+)+", text) is not None and "@" not in text
        ):
            found.append(text)
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
        PatentDailyCount,
        PatentVector,
        SavedSearch,
        SavedSearchAlert,
        SavedSearchDigest,
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
    searcher = User.objects.filter(is_superuser=False).order_by("pk").first()
    assert searcher is not None
    saved = SavedSearch.objects.create(
        owner=searcher, name="锂电池", query={"q": "锂电池", "ipc": ["H01M"]}
    )
    digest = SavedSearchDigest.objects.create(user=searcher, day=date(2030, 1, 2))
    SavedSearchAlert.objects.create(
        saved_search=saved,
        patent=patent,
        declaration_id=1,
        declaration_number="KF2030000001",
        digest=digest,
    )
    PatentDailyCount.objects.create(patent=patent, day=date(2030, 1, 2), views=3)
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
    assert registered >= 33
    # every model has a change page to read (the fixture adds rows the demo has none of)
    assert len([url for url, _obj, _data in pages if url.endswith("/change/")]) == registered

    codes = _codes()
    english_in_chinese: dict[str, list[str]] = {}
    chinese_in_english: dict[str, list[str]] = {}
    raw_codes: dict[str, list[str]] = {}
    for url, _page_object, data in pages:
        # When the page is read in Chinese
        zh = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert zh.status_code == 200, url
        assert zh["Content-Language"] == "zh-hans"
        texts = _chrome(zh.content.decode())
        assert texts, url
        # Then no English word is left in its chrome, and no cell shows a code for its label
        words = _english_words(texts, data)
        if words:
            english_in_chinese[url] = sorted(set(words))
        leaked = _raw_codes(zh.content.decode(), codes)
        if leaked:
            raw_codes[url] = sorted(set(leaked))

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
    assert raw_codes == {}


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


# Models with no admin page of their own, each for a reason; any other model must be registered
# (or be an inline of a registered one), so the walk above reads it.
NOT_IN_ADMIN = {
    "marketplace.TechnologyNeedEvent": "a need's timeline, read through the API",
    "marketplace.PatentEvent": "a patent's history, GET /api/v1/patents/{id}/history/",
    "marketplace.PatentCoOwner": "shown with the patent (API)",
    "marketplace.PatentPledge": "shown with the patent (API)",
    "marketplace.PatentExclusiveLicense": "shown with the patent (API)",
    "marketplace.PatentHindrance": "shown with the patent (API)",
    "marketplace.IpcClass": "reference table loaded by migration, GET /api/v1/reference/ipc/",
    "licensing.DeclarationConsent": "shown with the declaration (API)",
    "licensing.AnnualFeeRate": "fee schedule loaded by migration from reference data",
    "licensing.IdempotencyRecord": "a stored answer for a retried request, no business record",
    "licensing.FunnelSnapshot": "the register's funnel, shown at /admin/funnel/",
    "licensing.CaseAgent": "shown on the case's page of the mediators' admin",
    "licensing.CaseEvidence": "shown on the case's page of the mediators' admin",
    "licensing.RecusalRequest": "shown on the case's page of the mediators' admin",
    "licensing.MediationSession": "shown on the case's page of the mediators' admin",
    "licensing.MediationAgreement": "shown on the case's page of the mediators' admin",
    "licensing.AgreementObligation": "shown on the case's page of the mediators' admin",
    "marketplace.PatentRerankVector": "the re-ranker's title vectors, recomputed from titles",
    "matching.TextVector": "the engine's vectors",
    "matching.MatchChunk": "a run's work items",
    "matching.ListFloor": "the engine's list thresholds",
    "matching.MatchFeedback": "an SME's feedback, POST /api/v1/matches/feedback/",
}


def test_every_model_is_in_the_admin_walk_or_left_out_for_a_reason() -> None:
    # Given the project's models and what the admin registers, directly or as inlines
    from django.apps import apps

    shown = set(admin.site._registry)
    for model_admin in admin.site._registry.values():
        shown |= {inline.model for inline in model_admin.inlines}
    models = {
        model._meta.label: model
        for app in ("marketplace", "licensing", "matching")
        for model in apps.get_app_config(app).get_models()
    }

    # Then a model the walk cannot read is one left out on purpose, and the list is current
    missing = sorted(label for label, model in models.items() if model not in shown)
    assert missing == sorted(NOT_IN_ADMIN)
    for label in ("SavedSearch", "SavedSearchAlert", "SavedSearchDigest", "PatentDailyCount"):
        assert models[f"marketplace.{label}"] in admin.site._registry
