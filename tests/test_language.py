"""The reader's language: Accept-Language, else the user's preferred_language, else zh-hans;
and the main answers read in Chinese have no English words in their human-readable fields."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from licensing.models import License, LicenseEvent
from licensing.tasks import notify_license_event
from marketplace.models import User
from marketplace.services.imports import import_job_create, import_run
from tests.conftest import World, client_for
from tests.declarations_helpers import announced, declarable_patent
from tests.factories import UserFactory
from tests.test_imports import HEADERS_ZH, csv_bytes, row
from tests.test_licenses import accept_body

pytestmark = pytest.mark.django_db

# Latin words of three letters or more; codes, numbers, "CNY" and "MB" are not prose.
ENGLISH_WORD = re.compile(r"\b(?!CNY\b|MB\b|JSON\b|YYYY\b)[A-Za-z]{3,}\b")


def english_words(text: str) -> list[str]:
    return ENGLISH_WORD.findall(text)


def chinese(user: User | None) -> APIClient:
    """A client that names no language: the user's preference, else zh-hans, decides."""
    return client_for(user, language="")


@pytest.fixture
def zh_default(settings: Any) -> None:
    settings.LANGUAGE_CODE = "zh-hans"  # production's fallback (tests default to en)


def test_a_token_user_without_accept_language_reads_their_preferred_language() -> None:
    user = UserFactory.create(preferred_language="zh-hans")
    answer = chinese(user).get("/api/v1/licenses/999999/")
    assert answer.status_code == 404
    assert answer["Content-Language"] == "zh-hans"
    assert answer.json()["detail"] == "未找到。"


def test_accept_language_wins_over_the_preference() -> None:
    user = UserFactory.create(preferred_language="zh-hans")
    answer = client_for(user, language="en").get("/api/v1/licenses/999999/")
    assert answer["Content-Language"] == "en"
    assert answer.json()["detail"] == "Not found."


def test_an_english_preference_is_kept_when_nothing_is_asked(zh_default: None) -> None:
    user = UserFactory.create(preferred_language="en")
    assert chinese(user).get("/api/v1/licenses/999999/").json()["detail"] == "Not found."


def test_anonymous_without_accept_language_reads_chinese(zh_default: None) -> None:
    # Malformed JSON, in Chinese
    answer = chinese(None).post("/api/v1/auth/token/", data="{", content_type="application/json")
    assert answer.status_code == 400
    assert answer.json()["code"] == "malformed_request"
    assert answer["Content-Language"] == "zh-hans"
    assert english_words(answer.json()["detail"]) == []


def test_password_length_message_is_chinese(zh_default: None) -> None:
    body = {
        "name": "示范个人",
        "kind": "individual",
        "region": "320505",
        "admin": {"email": "a@example.com", "password": "x7#", "full_name": "张三"},
    }
    answer = chinese(None).post("/api/v1/auth/register/", body, format="json")
    assert answer.status_code == 400
    messages = [item["message"] for item in answer.json()["fields"]["admin.password"]]
    assert messages and all(english_words(m) == [] for m in messages), messages
    assert any("8" in m for m in messages)


def test_the_admin_follows_the_staff_users_preference() -> None:
    staff = UserFactory.create(preferred_language="zh-hans", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    page = client.get("/admin/")
    assert page["Content-Language"] == "zh-hans"
    assert '<html lang="zh-hans"' in page.content.decode()
    assert "平台管理" in page.content.decode()
    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    english.force_login(staff)
    assert english.get("/admin/")["Content-Language"] == "en"


def test_register_ledger_notifications_and_facets_read_in_chinese(
    world: World, zh_default: None, django_capture_on_commit_callbacks: Any
) -> None:
    # Given an announced declaration and a license awaiting its entry fee, read by Chinese users
    declaration = announced(
        declarable_patent(world.university), world.university_member, world.reviewer
    )
    User.objects.filter(pk__in=[world.sme_admin.pk, world.university_member.pk]).update(
        preferred_language="zh-hans"
    )
    world.sme_admin.refresh_from_db()
    world.university_member.refresh_from_db()
    body = accept_body(declaration, world.sme.pk)
    payment = body.pop("payment")
    license_id = (
        client_for(world.sme_admin, "zh-hans")
        .post("/api/v1/licenses/", body, format="json")
        .json()["id"]
    )

    # The register's royalty text, amounts in 万元
    register = chinese(None).get("/api/v1/register/").json()["results"]
    assert register[0]["royalty"] == "入门费 5 万元 + 净销售额的 3.5%；每年最低 2 万元"

    # The ledger's "due at acceptance"
    ledger = chinese(world.sme_admin).get(f"/api/v1/licenses/{license_id}/ledger/").json()
    assert [due["description"] for due in ledger["dues"]] == ["接受许可时应付"]

    # /pay/ with a wrong amount: the message and its field, in Chinese, on the body's path
    wrong = chinese(world.sme_admin).post(
        f"/api/v1/licenses/{license_id}/pay/", {**payment, "amount_cny": "100"}, format="json"
    )
    assert list(wrong.json()["fields"]) == ["amount_cny"]
    assert english_words(wrong.json()["detail"]) == []
    assert english_words(wrong.json()["fields"]["amount_cny"][0]["message"]) == []

    # Notification titles ("took effect")
    chinese(world.sme_admin).post(f"/api/v1/licenses/{license_id}/pay/", payment, format="json")
    assert License.objects.get(pk=license_id).status == "effective"
    for event in LicenseEvent.objects.filter(license_id=license_id):
        notify_license_event(event.pk)
    titles = [
        n["title"]
        for n in chinese(world.university_member).get("/api/v1/notifications/").json()["results"]
    ]
    assert titles and any("已生效" in title for title in titles), titles
    assert all(english_words(title) == [] for title in titles), titles

    # Payment-method facet labels
    facets = chinese(None).get("/api/v1/search/patents/", {"q": "电池"}).json()["facets"]
    labels = [item["label"] for item in facets["payment_method"]]
    assert labels == ["入门费附加提成"]


def test_import_row_errors_and_missing_columns_read_in_chinese(world: World) -> None:
    User.objects.filter(pk=world.university_member.pk).update(preferred_language="zh-hans")
    world.university_member.refresh_from_db()
    # A row with a bad date: the stored row error is in the importer's language
    data = csv_bytes([row(1, **{"申请日": "2021-13-45"})])
    job = import_job_create(
        actor=world.university_member,
        organisation_id=world.university.pk,
        upload=io.BytesIO(data),
        file_name="portfolio.csv",
        size=len(data),
        all_or_nothing=False,
    )
    job = import_run(job_id=job.pk)
    assert job.errors, job.failure
    assert all(english_words(error["message"]) == [] for error in job.errors), job.errors

    # A sheet without required columns: the message names them, no raw %(columns)s
    bad = csv_bytes([["x"]], headers=[HEADERS_ZH[1]])
    answer = chinese(world.university_member).post(
        "/api/v1/patent-imports/",
        {
            "organisation": world.university.pk,
            "file": SimpleUploadedFile("portfolio.csv", bad, content_type="text/csv"),
        },
        format="multipart",
    )
    text = str(answer.json())
    assert answer.status_code == 400, text
    assert "%(" not in text
    assert "申请号" in answer.json()["fields"]["file"][0]["message"]


def test_the_mediators_admin_reads_in_chinese_and_finds_a_case_by_patent_number(
    world: World,
) -> None:
    from licensing.services import mediation as mediation_services
    from tests.mediation_helpers import licensed, open_case, supervisor

    # Given a case assigned to a mediator who prefers Chinese
    license = licensed(world)
    case = open_case(world, license)
    mediation_services.case_assign(
        actor=supervisor(), case_id=case.pk, mediator_id=world.mediator.pk
    )
    User.objects.filter(pk=world.mediator.pk).update(preferred_language="zh-hans")
    client = Client()
    client.force_login(world.mediator)

    # The list: column headers and filters in Chinese, no "By status" / "以 status"
    listing = client.get("/admin/licensing/mediationcase/").content.decode()
    for header in ("案件编号", "期限", "状态", "申请人", "被申请人", "调解员", "纠纷事由"):
        assert header in listing, header
    assert "status" not in re.sub(r"<[^>]+>", " ", listing).split("案件编号", 1)[1].lower()

    # The case page: field labels, timeline steps and statuses, the license in words
    page = client.get(f"/admin/licensing/mediationcase/{case.pk}/change/").content.decode()
    steps = re.findall(r'<td class="field-step">\s*<p>([^<]+)</p>', page)
    assert steps == ["已申请", "已指定调解员"]
    assert license.patent.patent_number in page
    assert f"license {license.pk} of" not in page
    assert f"许可 {license.pk}：" in page

    # Search by the patent's number and by the declaration's number
    assert license.declaration is not None
    for term in (license.patent.patent_number, license.declaration.number):
        found = client.get("/admin/licensing/mediationcase/", {"q": term or ""}).content.decode()
        assert case.number in found, term
