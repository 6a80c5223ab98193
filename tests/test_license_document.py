"""The license contract PDF: the terms in both languages (read back with pdftotext), the same
bytes every time, who may download it, and the filing that names it."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import timedelta
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from django.utils import timezone

from licensing.documents import license_document
from licensing.models import Declaration, License, LicenseEvent
from licensing.services import licenses as services
from marketplace.errors import Conflict
from tests.conftest import ROLES, World, client_for
from tests.declarations_helpers import announced, declarable_patent
from tests.factories import MembershipFactory
from tests.mediation_helpers import license_on

TODAY = timezone.localdate


def pdf_text(content: bytes) -> str:
    """The PDF's text as poppler's pdftotext reads it (what a reader's viewer would find)."""
    result = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True
    )
    return result.stdout.decode()


@pytest.fixture
def declaration(world: World) -> Declaration:
    return announced(
        declarable_patent(world.university),
        world.university_member,
        world.reviewer,
        other_terms="许可人提供一次技术培训。",
    )


@pytest.fixture
def license(world: World, declaration: Declaration) -> License:
    return license_on(declaration, actor=world.sme_admin, licensee=world.sme, reference="R1")


@pytest.mark.django_db
def test_the_contract_holds_the_terms_snapshot_in_chinese_and_in_english(
    world: World, license: License, declaration: Declaration
) -> None:
    text = pdf_text(license_document(license).content)
    chinese, english = text.split("English version")
    # Chinese lines wrap anywhere, so compare without whitespace.
    flat_chinese = "".join(chinese.split())
    effective = TODAY().isoformat()
    deadline = (TODAY() + relativedelta(months=3)).isoformat()
    term_end = (TODAY() + relativedelta(years=5) - timedelta(days=1)).isoformat()
    for expected in (
        "专利开放许可实施合同",
        world.university.name,
        world.sme.name,
        world.university.credit_code,
        world.sme.credit_code,
        license.patent.application_number,
        str(declaration.number),
        "入门费附加提成",
        "入门费：人民币 50,000.00 元",
        "净销售额的 3.5%",
        "每年最低许可使用费：人民币 20,000.00 元",
        "自生效之日起 5 年",
        effective,
        term_end,
        deadline,
        "普通许可（非独占、非排他）",
        "不得就该专利给予独占或者排他许可",
        "相同条件许可任何被许可人",
        "不得分许可",
        "第五十二条",
        "许可人提供一次技术培训。",
        "许可人（盖章）",
        "被许可人（盖章）",
        "授权代表签字",
    ):
        assert "".join(expected.split()) in flat_chinese, expected
    flat_english = " ".join(english.split())
    for expected in (
        "Payment mode: entry fee plus running royalty.",
        "Entry fee: CNY 50,000.00",
        "Running royalty: 3.5 % of the net sales",
        "Minimum annual royalty: CNY 20,000.00.",
        f"Term: 5 years from the effective date, until {term_end}",
        str(declaration.number),
        license.patent.application_number,
        f"by {deadline}",
        "non-exclusive and not sole",
        "the same terms",
        "(no sublicense)",
        "Art. 52",
        "Licensor (seal):",
        "Licensee (seal):",
        "Authorised signatory:",
    ):
        assert expected in flat_english, expected


@pytest.mark.django_db
def test_the_contract_comes_from_the_snapshot_not_from_the_declaration_as_it_is_now(
    license: License, declaration: Declaration
) -> None:
    Declaration.objects.filter(pk=declaration.pk).update(royalty_rate_percent=Decimal("9"))
    first = license_document(license)
    again = license_document(License.objects.get(pk=license.pk))
    assert first.content == again.content
    assert first.sha256 == hashlib.sha256(first.content).hexdigest()
    assert "3.5 %" in pdf_text(first.content)


@pytest.mark.django_db
def test_a_license_awaiting_payment_has_no_contract(world: World, declaration: Declaration) -> None:
    pending = services.license_accept(
        actor=world.sme_admin,
        declaration_id=declaration.pk,
        licensee_id=world.sme.pk,
        notice_text="通知",
        payment=None,
    )
    with pytest.raises(Conflict) as refused:
        license_document(pending)
    assert refused.value.code == "license_not_effective"
    english = client_for(world.sme_admin).get(f"/api/v1/licenses/{pending.pk}/document/")
    chinese = client_for(world.sme_admin, "zh-hans").get(f"/api/v1/licenses/{pending.pk}/document/")
    assert english.status_code == chinese.status_code == 409
    assert english.json() == {
        "code": "license_not_effective",
        "detail": "A license has a contract document only once it has taken effect.",
        "fields": {},
    }
    assert chinese.json()["detail"] == "许可生效后才有合同文本。"
    assert License.objects.get(pk=pending.pk).status == "awaiting_payment"


@pytest.mark.django_db
@pytest.mark.parametrize("role", [*ROLES, "licensee"])
def test_both_parties_and_staff_download_the_contract_and_nobody_else(
    world: World, license: License, role: str
) -> None:
    outsider = MembershipFactory.create().user
    users = {**{r: world.user(r) for r in ROLES}, "other_member": outsider}
    users["licensee"] = world.sme_admin
    response = client_for(users[role]).get(f"/api/v1/licenses/{license.pk}/document/")
    expected = {"anonymous": 401, "other_member": 404}.get(role, 200)
    assert response.status_code == expected
    if expected == 200:
        document = license_document(license)
        assert response["Content-Type"] == "application/pdf"
        assert response["ETag"] == f'"{document.sha256}"'
        assert response["Content-Disposition"] == f'attachment; filename="{document.filename}"'
        assert response.content == document.content


@pytest.mark.django_db
def test_a_matching_etag_answers_not_modified(world: World, license: License) -> None:
    client = client_for(world.sme_admin)
    first = client.get(f"/api/v1/licenses/{license.pk}/document/")
    again = client.get(f"/api/v1/licenses/{license.pk}/document/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert (again.status_code, again.content, again["ETag"]) == (304, b"", first["ETag"])


@pytest.mark.django_db
def test_the_filing_names_the_contract_document(world: World, license: License) -> None:
    document = license_document(license)
    services.license_file(actor=world.sme_admin, license_id=license.pk, filed_on=TODAY())
    event = LicenseEvent.objects.get(license=license, verb="filed")
    assert event.data["document"] == document.filename
    assert event.data["document_sha256"] == document.sha256
    assert document.filename == f"license-{license.pk}-{license.terms['declaration_number']}.pdf"


@pytest.mark.django_db
def test_asking_for_a_pdf_by_accept_header_gets_it_and_errors_stay_json(
    world: World, license: License, declaration: Declaration
) -> None:
    client = client_for(world.sme_admin)
    response = client.get(f"/api/v1/licenses/{license.pk}/document/", HTTP_ACCEPT="application/pdf")
    assert (response.status_code, response["Content-Type"]) == (200, "application/pdf")
    missing = client.get("/api/v1/licenses/999999/document/", HTTP_ACCEPT="application/pdf")
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/json"
    assert missing.json()["code"] == "not_found"


@pytest.mark.django_db
def test_a_reviewer_opens_the_contract_from_the_license_in_the_admin(
    world: World, license: License
) -> None:
    from django.test import Client

    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(world.reviewer)
    page = client.get(f"/admin/licensing/license/{license.pk}/change/")
    assert page.status_code == 200
    link = f'href="/api/v1/licenses/{license.pk}/document/" id="contract-document"'
    assert link in page.content.decode()
    assert "下载合同（中文与英文）" in page.content.decode()
    document = client.get(f"/api/v1/licenses/{license.pk}/document/")
    assert document.status_code == 200
    assert document["Content-Type"] == "application/pdf"
    assert "专利开放许可实施合同" in "".join(pdf_text(document.content).split())
