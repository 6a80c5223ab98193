"""Issue 16's last words in the reader's language: the browsable API root, the amount a
payment should have been (万元 in Chinese), the link every license mail carries to the
license's page, the standard written notice, the filing deadline's months from the rules,
and a reference table's row count after staff edit it in the admin."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone, translation
from django.utils.formats import date_format

from licensing.models import Declaration, License, LicenseEvent
from licensing.services import licenses as license_services
from licensing.services.reminders import remind_filings, remind_overdue_payments
from licensing.tasks import notify_license_event
from marketplace.models import Notification, OutboundEmail, ReferenceTable, SynonymGroup, User
from marketplace.units import cny
from tests.conftest import World, client_for
from tests.declarations_helpers import announced, declarable_patent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


@pytest.fixture
def declaration(world: World) -> Declaration:
    return announced(declarable_patent(world.university), world.university_member, world.reviewer)


def _speaks(user: User, language: str) -> None:
    User.objects.filter(pk=user.pk).update(preferred_language=language)
    user.refresh_from_db()


def _accept(world: World, declaration: Declaration, **body: Any) -> License:
    return license_services.license_accept(
        actor=world.sme_admin,
        declaration_id=declaration.pk,
        licensee_id=world.sme.pk,
        payment={"amount_cny": Decimal("50000.00"), "reference": "R", "paid_on": TODAY()},
        **body,
    )


def _visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


# ---- the browsable API root ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "name", "description", "log_in", "brand"),
    [
        (
            "zh-hans",
            "API 根目录",
            "本 API 中无需编号即可访问的全部接口及其地址，任何人都可查看。请先用 POST "
            "auth/token/ 登录，再发送请求头 Authorization: Token &lt;key&gt;；接口文档见 "
            "docs/（Swagger UI）和 redoc/。",
            "登录",
            "专利开放许可交易平台",
        ),
        (
            "en",
            "API root",
            "Every endpoint of the API that needs no id, with its address; anyone may read it. "
            "Log in with POST auth/token/ and send the header Authorization: Token &lt;key&gt;; "
            "the documentation is at docs/ (Swagger UI) and redoc/.",
            "Log in",
            "Open-license patent marketplace",
        ),
    ],
)
def test_the_browsable_api_root_reads_in_the_readers_language(
    language: str, name: str, description: str, log_in: str, brand: str
) -> None:
    html = Client(HTTP_ACCEPT_LANGUAGE=language).get("/api/v1/", HTTP_ACCEPT="text/html")
    page = html.content.decode()
    assert f"<title>{name} – {brand}</title>" in page
    assert f"<h1>{name}</h1>" in page
    assert f"<p>{description}</p>" in page
    assert f'<a href="/login/?next=/api/v1/">{log_in}</a>' in page
    assert f'<a class="navbar-brand" href="/">{brand}</a>' in page
    if language == "zh-hans":
        assert "Every endpoint" not in page and "Django REST framework" not in page
    # OPTIONS gives the same words to a program
    options = client_for(None, language).options("/api/v1/").json()
    assert options["name"] == name
    assert options["description"] == description.replace("&lt;", "<").replace("&gt;", ">")


def test_a_signed_in_user_sees_log_out_in_chinese(world: World) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(world.sme_admin)
    page = client.get("/api/v1/me/", HTTP_ACCEPT="text/html").content.decode()
    assert '<form id="logoutForm" method="post" action="/logout/?next=/api/v1/me/">' in page
    assert ">退出登录</a>" in page
    assert "Log out" not in page


# ---- amounts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "chinese", "english"),
    [
        ("50000.00", "5 万元", "CNY 50,000.00"),
        ("15000", "1.5 万元", "CNY 15,000.00"),
        ("12345", "1.2345 万元", "CNY 12,345.00"),
        ("12345.67", "12,345.67 元", "CNY 12,345.67"),
        ("100.00", "100 元", "CNY 100.00"),
        ("99.50", "99.50 元", "CNY 99.50"),
        ("200000000", "20,000 万元", "CNY 200,000,000.00"),
    ],
)
def test_amounts_read_in_wan_yuan_when_whole_and_never_lose_a_fen(
    amount: str, chinese: str, english: str
) -> None:
    with translation.override("zh-hans"):
        assert cny(Decimal(amount)) == chinese
    with translation.override("en"):
        assert cny(Decimal(amount)) == english


@pytest.mark.parametrize(
    ("language", "detail"),
    [
        ("zh-hans", "接受许可时应付 5 万元；实际付款 100 元。"),
        ("en", "The amount due at acceptance is CNY 50,000.00; the payment was CNY 100.00."),
    ],
)
def test_a_wrong_payment_is_told_in_the_readers_units_and_grants_nothing(
    world: World, declaration: Declaration, language: str, detail: str
) -> None:
    body = {
        "declaration": declaration.pk,
        "licensee": world.sme.pk,
        "notice_text": "通知",
        "payment": {"amount_cny": "100.00", "reference": "R", "paid_on": TODAY().isoformat()},
    }
    answer = client_for(world.sme_admin, language).post("/api/v1/licenses/", body, format="json")
    assert answer.status_code == 400
    assert (answer.json()["code"], answer.json()["detail"]) == ("payment_amount_mismatch", detail)
    assert License.objects.count() == 0


@pytest.mark.parametrize(
    ("language", "amount"),
    [("zh-hans", r"：2 万元 应于 (\S+) 支付。"), ("en", r": CNY 20,000\.00 was due on (\S+)\.")],
)
def test_an_overdue_reminder_gives_the_amount_in_the_readers_units(
    world: World, declaration: Declaration, language: str, amount: str
) -> None:
    # Given a license whose first year's minimum royalty (2 万元) was never paid
    _accept(world, declaration)
    _speaks(world.sme_admin, language)
    assert remind_overdue_payments(TODAY() + timedelta(days=400)) == 3
    notification = Notification.objects.get(user=world.sme_admin, kind="payment_overdue")
    first_line = notification.body.splitlines()[0]
    assert re.search(amount + "$", first_line), first_line


# ---- license mails carry the license's page ----------------------------------------------------


@pytest.mark.parametrize(
    ("language", "line"),
    [("zh-hans", "许可详情：{url}"), ("en", "The license: {url}")],
)
def test_every_license_mail_links_the_licenses_page(
    world: World, declaration: Declaration, language: str, line: str
) -> None:
    _speaks(world.university_member, language)
    license = _accept(world, declaration, notice_text="通知")
    for event in LicenseEvent.objects.filter(license=license):
        notify_license_event(event.pk)
    url = f"http://127.0.0.1:8000/licenses/{license.pk}/"
    mail = OutboundEmail.objects.get(
        to_email=world.university_member.email, kind="license_took_effect"
    )
    assert mail.body.splitlines()[-1] == line.format(url=url)
    # and so does the reminder to file it
    License.objects.filter(pk=license.pk).update(effective_date=TODAY() - timedelta(days=80))
    assert remind_filings(TODAY()) == 3  # both parties' members
    reminder = OutboundEmail.objects.get(to_email=world.university_member.email, kind="filing_due")
    assert reminder.body.splitlines()[-1] == line.format(url=url)


def test_the_licenses_page_asks_for_a_log_in_then_shows_the_license_to_its_parties_only(
    world: World, declaration: Declaration
) -> None:
    license = _accept(world, declaration)
    path = f"/licenses/{license.pk}/"
    # Given the link from the mail, opened by someone not signed in: the log-in page first
    anonymous = Client(HTTP_ACCEPT_LANGUAGE="zh-hans").get(path)
    assert (anonymous.status_code, anonymous["Location"]) == (302, f"/login/?next={path}")
    # A member of the patentee reads it in Chinese
    member = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    member.force_login(world.university_member)
    page = member.get(path)
    text = _visible_text(page.content.decode())
    number = license.patent.patent_number
    assert page.status_code == 200
    assert f"专利 {number} 的许可 {license.pk}" in text
    assert "许可使用费 入门费 5 万元 + 净销售额的 3.5%；每年最低 2 万元" in text
    assert "接受许可时应付 5 万元" in text
    assert "备案期限" in text
    assert f'href="/api/v1/licenses/{license.pk}/document/"' in page.content.decode()
    # Someone with no part in it gets a 404, not the license
    stranger = Client()
    stranger.force_login(UserFactory.create(email="stranger@example.com"))
    assert stranger.get(path).status_code == 404


# ---- the standard written notice --------------------------------------------------------------


def test_an_sme_that_writes_no_notice_sends_the_standard_chinese_written_notice(
    world: World, declaration: Declaration
) -> None:
    _speaks(world.sme_admin, "zh-hans")
    body = {
        "declaration": declaration.pk,
        "licensee": world.sme.pk,
        "payment": {"amount_cny": "50000.00", "reference": "R", "paid_on": TODAY().isoformat()},
    }
    answer = client_for(world.sme_admin, "zh-hans").post("/api/v1/licenses/", body, format="json")
    assert answer.status_code == 201, answer.json()
    patent = declaration.patent
    today = TODAY()
    assert answer.json()["notice_text"] == (
        "实施开放许可专利的书面通知\n\n"
        "华东示范大学：\n\n"
        "根据《中华人民共和国专利法》第五十一条第一款的规定，苏州锂途新能源科技有限公司现以书面"
        f"方式通知贵方：我方将依照贵方开放许可声明（声明号 {declaration.number}）实施专利 "
        f"{patent.patent_number}《{patent.title}》，并按该声明公告的许可使用费支付方式、标准支付"
        "许可使用费。\n\n"
        "特此通知。\n\n"
        "苏州锂途新能源科技有限公司\n"
        f"{today.year}年{today.month}月{today.day}日"
    )


def test_an_english_speaking_sme_sends_the_standard_notice_in_english(
    world: World, declaration: Declaration
) -> None:
    _speaks(world.sme_admin, "en")
    license = _accept(world, declaration)  # no notice_text
    patent = declaration.patent
    today = TODAY()
    assert license.notice_text == (
        "Written notice of the exploitation of an open-licensed patent\n\n"
        "To 华东示范大学:\n\n"
        "Under Article 51(1) of the Patent Law of the PRC, 苏州锂途新能源科技有限公司 gives you "
        f"written notice that it will exploit patent {patent.patent_number}, “{patent.title}”, "
        f"under your open-license declaration {declaration.number}, and will pay the royalty "
        "in the mode and at the rates that declaration announced.\n\n"
        "苏州锂途新能源科技有限公司\n"
        f"{date_format(today, 'DATE_FORMAT')}"  # e.g. Dec. 8, 2026
    )
    assert re.fullmatch(r"[A-Z][a-z]+\.? \d{1,2}, \d{4}", license.notice_text.splitlines()[-1])


def test_a_notice_the_sme_writes_is_kept_as_written(world: World, declaration: Declaration) -> None:
    assert _accept(world, declaration, notice_text="我司特此书面通知。").notice_text == (
        "我司特此书面通知。"
    )


@pytest.mark.parametrize(
    ("language", "note"),
    [
        (
            "zh-hans",
            "普通许可，由专利权人登记：在开放许可声明之外另行协商订立，不适用专利法规定的书面通知。",
        ),
        (
            "en",
            "Ordinary license recorded by the patentee: negotiated outside any open-license "
            "declaration, with no written notice under the Patent Law.",
        ),
    ],
)
def test_an_ordinary_license_without_notes_gets_a_note_in_the_recorders_language(
    world: World, language: str, note: str
) -> None:
    _speaks(world.university_member, language)
    patent = declarable_patent(world.university, 7)
    license = license_services.license_record_ordinary(
        actor=world.university_member,
        patent_id=patent.pk,
        licensee_id=world.sme.pk,
        starts_on=TODAY(),
        ends_on=TODAY() + timedelta(days=365),
    )
    assert license.notice_text == note


# ---- the filing deadline's months come from the rules ------------------------------------------


@pytest.mark.parametrize(
    ("language", "months", "detail"),
    [
        ("zh-hans", 3, "许可须在生效后 3 个月内（{deadline} 前）备案。"),
        ("en", 3, "A license must be filed within 3 months of taking effect, by {deadline}."),
        ("zh-hans", 1, "许可须在生效后 1 个月内（{deadline} 前）备案。"),
        ("en", 1, "A license must be filed within 1 month of taking effect, by {deadline}."),
    ],
)
def test_a_late_filing_is_told_the_months_the_rules_give(
    world: World, declaration: Declaration, settings: Any, language: str, months: int, detail: str
) -> None:
    settings.OPEN_LICENSE_RULES = {"LICENSE_FILING_MONTHS": months}
    license = _accept(world, declaration)
    effective = TODAY() - timedelta(days=120)
    License.objects.filter(pk=license.pk).update(effective_date=effective)
    answer = client_for(world.sme_admin, language).post(
        f"/api/v1/licenses/{license.pk}/filings/", {"filed_on": TODAY().isoformat()}
    )
    license.refresh_from_db()
    deadline = license_services.filing_deadline(license)
    assert deadline is not None
    assert answer.status_code == 400
    assert answer.json()["code"] == "filing_deadline_passed"
    assert answer.json()["detail"] == detail.format(deadline=deadline.isoformat())
    assert license.filings.count() == 0


# ---- a reference table's row count after edits in the admin ------------------------------------


def test_adding_and_deleting_synonym_groups_in_the_admin_keeps_the_row_count(
    world: World,
) -> None:
    table = ReferenceTable.objects.get(key="synonyms")
    assert table.row_count == SynonymGroup.objects.count()
    before = table.row_count
    staff = UserFactory.create(email="staff@example.com", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    # When staff add a group
    added = client.post(
        "/admin/marketplace/synonymgroup/add/",
        {"terms": "钠离子电池,sodium-ion battery", "source": "staff", "note": ""},
    )
    assert added.status_code == 302, added.context["adminform"].form.errors
    assert ReferenceTable.objects.get(key="synonyms").row_count == before + 1
    # an edit of a group changes no count
    group = SynonymGroup.objects.get(key="钠离子电池")
    client.post(
        f"/admin/marketplace/synonymgroup/{group.pk}/change/",
        {"terms": "钠离子电池,sodium-ion battery,钠电池", "source": "staff", "note": ""},
    )
    assert ReferenceTable.objects.get(key="synonyms").row_count == before + 1
    # When they delete two groups from the list, then the count follows
    other = SynonymGroup.objects.exclude(pk=group.pk).first()
    assert other is not None
    deleted = client.post(
        "/admin/marketplace/synonymgroup/",
        {"action": "delete_selected", "_selected_action": [group.pk, other.pk], "post": "yes"},
    )
    assert deleted.status_code == 302
    assert ReferenceTable.objects.get(key="synonyms").row_count == before - 1
    assert ReferenceTable.objects.get(key="synonyms").row_count == SynonymGroup.objects.count()
    # and the API's table list says so
    tables = client_for(None).get("/api/v1/reference/tables/").json()
    rows = tables["results"] if isinstance(tables, dict) else tables
    assert {row["key"]: row["row_count"] for row in rows}["synonyms"] == before - 1


# ---- limits in the user's units ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "detail"),
    [
        ("zh-hans", "请求体超过 1 MB 的上限。"),
        ("en", "The request body is larger than the limit of 1 MB."),
    ],
)
def test_a_body_past_djangos_limit_is_told_the_limit_in_megabytes(
    world: World, language: str, detail: str
) -> None:
    before = world.university.name
    response = client_for(world.university_admin, language).generic(
        "PATCH",
        f"/api/v1/organisations/{world.university.pk}/",
        '{"name": "' + "x" * 1_048_576 + '"}',
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413
    assert response.json() == {"code": "request_too_large", "detail": detail, "fields": {}}
    world.university.refresh_from_db()
    assert world.university.name == before


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("zh-hans", "日期格式错误。请从这些格式中选择：YYYY-MM-DD。"),
        ("en", "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."),
    ],
)
def test_a_chinese_date_in_json_is_refused_with_the_format_json_takes(
    world: World, language: str, message: str
) -> None:
    answer = client_for(world.university_admin, language).post(
        "/api/v1/patents/",
        {
            "organisation": world.university.pk,
            "application_number": "202110000001.6",
            "title": "一种电池",
            "main_ipc": "H01M 4/525",
            "filing_date": "2026年12月3日",
        },
        format="json",
    )
    assert answer.status_code == 400
    assert answer.json()["fields"]["filing_date"] == [{"code": "invalid", "message": message}]


def test_the_mediators_case_page_gives_the_terms_and_the_ledger_in_wan_yuan(world: World) -> None:
    from licensing.services import mediation as mediation_services
    from tests.mediation_helpers import licensed, open_case, supervisor

    # Given a case on a license with a 5 万元 entry fee, assigned to a Chinese-speaking mediator
    license = licensed(world)
    case = open_case(world, license)
    mediation_services.case_assign(
        actor=supervisor(), case_id=case.pk, mediator_id=world.mediator.pk
    )
    _speaks(world.mediator, "zh-hans")
    client = Client()
    client.force_login(world.mediator)
    page = client.get(f"/admin/licensing/mediationcase/{case.pk}/change/").content.decode()
    assert '<span id="royalty">入门费 5 万元 + 净销售额的 3.5%；每年最低 2 万元</span>' in page
    assert "<td>5 万元</td><td>5 万元</td>" in page  # due at acceptance, paid
    ledger = page.split("许可费台账", 1)[1].split("</table>", 1)[0]
    assert "50000.00" not in ledger


@pytest.mark.parametrize(
    ("language", "detail"),
    [
        ("zh-hans", "文件大小为 1.5 MB，上限为 1 MB。"),
        ("en", "The file is 1.5 MB; the limit is 1 MB."),
    ],
)
def test_an_import_file_past_the_limit_is_told_both_sizes_in_megabytes(
    world: World, settings: Any, language: str, detail: str
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from marketplace.models import ImportJob

    settings.IMPORT_MAX_BYTES = 1024 * 1024
    response = client_for(world.university_member, language).post(
        "/api/v1/patent-imports/",
        {
            "organisation": world.university.pk,
            "file": SimpleUploadedFile("a.csv", b"x" * (1536 * 1024)),
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["detail"]) == (
        "import_file_too_large",
        detail,
    )
    assert not ImportJob.objects.exists()
