"""A new Chinese-speaking user's first hour through the API, with Accept-Language zh-hans and
with no header at all: register, verify, log in, add a patent, declare it, post a need, search
and take a license. Every human-readable word they meet (answers, error messages, the mails the
platform queues, notifications) is Chinese, and a faulty body is refused with all its faults
at once."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from licensing.models import DeclarationEvent, LicenseEvent
from licensing.tasks import notify_declaration_event, notify_license_event
from marketplace.mail_console import ConsoleEmailBackend
from marketplace.models import OutboundEmail, User
from marketplace.patents.terms import patent_year
from tests.conftest import World, client_for
from tests.factories import _credit_code, application_number

pytestmark = pytest.mark.django_db

PASSWORD = "Kaifang-Xuke-2026"
# Keys whose values a person reads (codes, ids, names and numbers aside).
HUMAN = {"detail", "message", "title", "body", "royalty", "description", "kind_label", "label"}
ENGLISH_WORD = re.compile(r"\b[A-Za-z]{3,}\b")
NOT_PROSE = [
    re.compile(r"https?://\S+"),  # links
    re.compile(r"\b(?:GET|POST|PATCH) /\S+"),  # the API routes a mail names
    re.compile(r"\S+@\S+"),  # addresses
    re.compile(r"[A-Za-z0-9_:-]{30,}"),  # tokens
    re.compile(r"</?mark>"),  # search snippets
    re.compile(r"\b(?:IPC|CNY)\b"),
]


def english_words(text: str) -> list[str]:
    for pattern in NOT_PROSE:
        text = pattern.sub(" ", text)
    return ENGLISH_WORD.findall(text)


def human_texts(answer: Any) -> list[str]:
    """Every value under a human-readable key, anywhere in an answer."""
    found: list[str] = []
    if isinstance(answer, dict):
        for key, value in answer.items():
            if key in HUMAN and isinstance(value, str):
                found.append(value)
            elif key == "reasons" and isinstance(value, list):
                found += [item for item in value if isinstance(item, str)]
            else:
                found += human_texts(value)
    elif isinstance(answer, list):
        for item in answer:
            found += human_texts(item)
    return found


class Walk:
    """A user's client that keeps every answer, for the language check at the end."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.answers: list[tuple[str, Any]] = []

    def client(self, user: User | None = None) -> APIClient:
        return client_for(user, self.language)

    def call(self, user: User | None, method: str, path: str, body: Any = None) -> Any:
        response = getattr(self.client(user), method)(path, body, format="json")
        assert response["Content-Language"] == "zh-hans", path
        answer = response.json()
        self.answers.append((f"{method.upper()} {path} {response.status_code}", answer))
        return response.status_code, answer

    def sign_up(self, body: dict[str, Any]) -> User:
        status, answer = self.call(None, "post", "/api/v1/auth/register/", body)
        assert status == 201, answer
        email = body["admin"]["email"]
        verification = OutboundEmail.objects.get(to_email=email, kind="email_verification")
        match = re.search(r"token=(\S+)", verification.body)
        assert match is not None, verification.body
        status, answer = self.call(None, "post", "/api/v1/auth/verify-email/", {"token": match[1]})
        assert status == 200, answer
        status, answer = self.call(
            None, "post", "/api/v1/auth/token/", {"email": email, "password": PASSWORD}
        )
        assert status == 200, answer
        return User.objects.get(email=email)


def _codes(answer: dict[str, Any]) -> dict[str, list[str]]:
    return {field: [item["code"] for item in items] for field, items in answer["fields"].items()}


@pytest.fixture
def zh_default(settings: Any) -> None:
    settings.LANGUAGE_CODE = "zh-hans"  # production's fallback (tests default to en)


@pytest.mark.parametrize("language", ["zh-hans", ""], ids=["accept-language", "no-header"])
def test_a_new_chinese_users_first_hour_reads_in_chinese_and_hears_of_all_faults_at_once(
    world: World, zh_default: None, language: str
) -> None:
    walk = Walk(language)
    today = timezone.localdate()

    # A registration with four faults hears of all of them
    status, answer = walk.call(
        None,
        "post",
        "/api/v1/auth/register/",
        {"name": "", "kind": "university", "region": "320102", "admin": {"email": "x"}},
    )
    assert status == 400
    assert set(_codes(answer)) == {
        "name",
        "credit_code",
        "admin.email",
        "admin.password",
        "admin.full_name",
    }

    # A university signs up, verifies its address from the mail and logs in
    tto = walk.sign_up(
        {
            "name": "江南示范大学",
            "kind": "university",
            "region": "320102",
            "credit_code": _credit_code(8001),
            "admin": {
                "email": "tto@jiangnan.example.com",
                "password": PASSWORD,
                "full_name": "王老师",
            },
        }
    )
    assert tto.preferred_language == "zh-hans"
    university = tto.memberships.get().organisation_id

    # A patent with five faults, then the right one
    status, answer = walk.call(
        tto,
        "post",
        "/api/v1/patents/",
        {
            "organisation": university,
            "application_number": "202110000001.9",
            "title": "",
            "main_ipc": "H01Z",
            "filing_date": (today + timedelta(days=1)).isoformat(),
            "colour": "红",
        },
    )
    assert status == 400
    assert _codes(answer) == {
        "title": ["blank"],
        "colour": ["unknown_field"],
        "application_number": ["application_number_check_digit"],
        "main_ipc": ["invalid_ipc"],
        "filing_date": ["date_in_future"],
    }
    status, patent = walk.call(
        tto,
        "post",
        "/api/v1/patents/",
        {
            "organisation": university,
            "application_number": application_number(2021, "1", 777),
            "title": "一种高镍三元正极材料的包覆方法",
            "abstract": "本发明公开了一种高镍三元正极材料的包覆方法，提高锂离子电池循环寿命。",
            "main_ipc": "H01M 4/525",
            "filing_date": "2021-03-15",
            "grant_date": "2023-06-20",
        },
    )
    assert status == 201, patent
    paid = patent_year(date(2021, 3, 15), today)
    walk.call(
        tto,
        "post",
        f"/api/v1/patents/{patent['id']}/legal-status/",
        {"annual_fees_paid_through": paid},
    )

    # A declaration: a faulty draft, the right one, submitted twice, announced by the reviewer
    status, answer = walk.call(
        tto,
        "post",
        "/api/v1/declarations/",
        {"patent": patent["id"], "payment_method": "lump_sum", "license_term_years": 50},
    )
    assert status == 400
    assert {"license_term_years", "contact_name", "calculation_explanation"} <= set(_codes(answer))
    terms = {
        "payment_method": "entry_fee_plus_royalty",
        "royalty_basis": "net_sales",
        "entry_fee_cny": "50000.00",
        "royalty_rate_percent": "3.5000",
        "minimum_annual_royalty_cny": "20000.00",
        "license_term_years": 5,
        "contact_name": "技术转移中心 王老师",
        "contact_phone": "025-84315000",
        "contact_email": "tto@jiangnan.example.com",
        "undertaking": True,
        "calculation_explanation": "入门费按研发成本的5%计；提成按同行业平均许可费率3.5%计。",
    }
    status, declaration = walk.call(
        tto, "post", "/api/v1/declarations/", {"patent": patent["id"], **terms}
    )
    assert status == 201, declaration
    submit = f"/api/v1/declarations/{declaration['id']}/submit/"
    assert walk.call(tto, "post", submit)[0] == 200
    assert walk.call(tto, "post", submit)[0] == 409
    User.objects.filter(pk=world.reviewer.pk).update(preferred_language="zh-hans")
    world.reviewer.refresh_from_db()
    announce = f"/api/v1/declarations/{declaration['id']}/announce/"
    assert walk.call(world.reviewer, "post", announce)[0] == 200
    for event in DeclarationEvent.objects.filter(declaration_id=declaration["id"]):
        notify_declaration_event(event.pk)

    # An SME signs up and posts a need: first with four faults, then right
    boss = walk.sign_up(
        {
            "name": "无锡示范锂电科技有限公司",
            "kind": "sme",
            "region": "320214",
            "credit_code": _credit_code(8002),
            "admin": {"email": "boss@wuxi.example.com", "password": PASSWORD, "full_name": "李总"},
            "sme_profile": {"industry": "C3841", "region": "320214", "size": "small"},
        }
    )
    sme = boss.memberships.get().organisation_id
    need = {
        "organisation": sme,
        "title": "高镍正极包覆技术",
        "description": "寻求提高高镍三元正极循环稳定性的包覆技术。",
        "ipc_areas": ["H01M 4"],
        "budget_min_cny": "100000",
        "budget_max_cny": "600000",
        "expires_on": (today + timedelta(days=90)).isoformat(),
    }
    status, answer = walk.call(
        boss,
        "post",
        "/api/v1/needs/",
        {
            **need,
            "title": "",
            "ipc_areas": ["电池"],
            "expires_on": "2020-01-01",
            "budget_min_cny": "900000",
        },
    )
    assert status == 400
    assert _codes(answer) == {
        "title": ["blank"],
        "ipc_areas": ["invalid_ipc"],
        "expires_on": ["expiry_in_past"],
        "budget_min_cny": ["budget_range_inverted"],
    }
    assert walk.call(boss, "post", "/api/v1/needs/", need)[0] == 201

    # It searches, finds the patent and takes a license: a wrong amount first
    status, found = walk.call(boss, "get", "/api/v1/search/patents/?q=高镍正极&ipc=H01M")
    assert status == 200
    assert patent["id"] in [hit["id"] for hit in found["results"]]
    assert walk.call(boss, "get", "/api/v1/search/patents/?ipc=Z99")[0] == 400
    accept = {
        "declaration": declaration["id"],
        "licensee": sme,
        "notice_text": "我司依据贵方开放许可声明的条件实施该专利，特此书面通知。",
        "payment": {
            "amount_cny": "100.00",
            "reference": "ICBC-0001",
            "proof": "银行回单 0001",
            "paid_on": today.isoformat(),
        },
    }
    status, answer = walk.call(boss, "post", "/api/v1/licenses/", accept)
    assert (status, answer["code"]) == (400, "payment_amount_mismatch")
    accept["payment"]["amount_cny"] = "50000.00"
    status, license = walk.call(boss, "post", "/api/v1/licenses/", accept)
    assert status == 201, license
    for license_event in LicenseEvent.objects.filter(license_id=license["id"]):
        notify_license_event(license_event.pk)
    walk.call(boss, "get", f"/api/v1/licenses/{license['id']}/ledger/")
    walk.call(None, "get", "/api/v1/register/")

    # Their notifications, in Chinese, with the kind as words
    for user in (tto, boss):
        status, notifications = walk.call(user, "get", "/api/v1/notifications/")
        assert notifications["results"], user.email
        for item in notifications["results"]:
            assert item["kind_label"] != item["kind"]

    # Then no English word is left in what they read, nor in the mails queued for them
    english = {
        where: words
        for where, answer in walk.answers
        if (words := [w for text in human_texts(answer) for w in english_words(text)])
    }
    assert english == {}
    mails = OutboundEmail.objects.filter(to_email__in=[tto.email, boss.email])
    assert {m.kind for m in mails} >= {"email_verification", "license_took_effect"}
    english_in_mails = {
        (m.kind, m.to_email): words
        for m in mails
        if (words := english_words(f"{m.subject}\n{m.body}"))
    }
    assert english_in_mails == {}


def test_someone_who_registers_in_english_gets_english_mail(world: World) -> None:
    body = {
        "name": "Demo Institute",
        "kind": "research_institute",
        "region": "320102",
        "credit_code": _credit_code(8003),
        "admin": {"email": "en@example.com", "password": PASSWORD, "full_name": "Ann Lee"},
    }
    assert (
        client_for(None, "en").post("/api/v1/auth/register/", body, format="json").status_code
        == 201
    )
    user = User.objects.get(email="en@example.com")
    assert user.preferred_language == "en"
    assert OutboundEmail.objects.get(to_email=user.email).subject == "Verify your e-mail address"


def test_an_explicit_preferred_language_wins_over_the_request(world: World) -> None:
    body = {
        "name": "示范研究所",
        "kind": "research_institute",
        "region": "320102",
        "credit_code": _credit_code(8004),
        "admin": {
            "email": "zh@example.com",
            "password": PASSWORD,
            "full_name": "张三",
            "preferred_language": "zh-hans",
        },
    }
    assert (
        client_for(None, "en").post("/api/v1/auth/register/", body, format="json").status_code
        == 201
    )
    assert User.objects.get(email="zh@example.com").preferred_language == "zh-hans"


def test_the_console_mail_backend_prints_the_chinese_subject_readably() -> None:
    stream = io.StringIO()
    message = mail.EmailMessage(
        "验证您的电子邮件地址",
        "王老师，您好：\n请打开链接。\n",
        "noreply@example.com",
        ["a@example.com"],
    )
    ConsoleEmailBackend(stream=stream).send_messages([message])
    printed = stream.getvalue()
    assert printed.startswith(
        "Subject: 验证您的电子邮件地址\nFrom: noreply@example.com\nTo: a@example.com\n\n"
        "王老师，您好：\n"
    )
    assert "=?utf-8?" not in printed


def test_a_long_throttle_wait_is_said_in_minutes(
    zh_default: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an hourly limit of one login from this address, used up
    from django.core.cache import cache

    from marketplace.api.throttles import LoginIpThrottle

    monkeypatch.setattr(LoginIpThrottle, "rate", "1/hour", raising=False)
    client = APIClient()
    body = {"email": "nobody@example.com", "password": "wrong-password"}
    client.post("/api/v1/auth/token/", body, format="json")

    # When it tries again, then the wait is given in minutes, as a person reads it
    answer = client.post("/api/v1/auth/token/", body, format="json")
    cache.clear()
    assert answer.status_code == 429
    assert re.fullmatch(r"请求过于频繁，请在 60 分钟后重试。", answer.json()["detail"])
    assert int(answer["Retry-After"]) > 3500
