"""A license from first notice to a withdrawn declaration, through the API alone (rules §4-§5).

A new SME registers, verifies its e-mail and logs in; a university declares a patent and a
reviewer announces it; the SME reads the estimate, sends its notice, pays, sees the license take
effect, files it (a reviewer accepts the filing), reports royalties and pays them; the patentee's
fee calendar shows the 15 % reduction; the declaration is withdrawn and the license still stands.
The parties hear of each step in their inbox and by mail once the task behind it runs.
"""

from __future__ import annotations

from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from django.utils import timezone
from rest_framework.test import APIClient

from licensing.models import LicenseEvent, LicensePayment
from licensing.tasks import notify_license_event
from marketplace.models import Notification, OutboundEmail
from tests.conftest import World, broker_messages, client_for
from tests.declarations_helpers import declarable_patent, terms
from tests.factories import application_number
from tests.test_accounts import _token_from_mail, registration

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-and-unusual-passphrase"


def _new_sme() -> tuple[APIClient, int]:
    """Register, verify the mailed token, log in: the SME's client and organisation id."""
    client = client_for(None)
    registered = client.post("/api/v1/auth/register/", registration(), format="json")
    assert registered.status_code == 201, registered.json()
    mail = OutboundEmail.objects.get(kind="email_verification", to_email="founder@example.com")
    verified = client.post(
        "/api/v1/auth/verify-email/", {"token": _token_from_mail(mail.body)}, format="json"
    )
    assert verified.status_code == 200
    login = client.post(
        "/api/v1/auth/token/",
        {"email": "founder@example.com", "password": PASSWORD},
        format="json",
    )
    assert login.status_code == 200
    sme = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    sme.credentials(HTTP_AUTHORIZATION=f"Token {login.json()['token']}")
    return sme, registered.json()["id"]


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.json()
    return response.json()


def _year(calendar: dict[str, Any], year: int) -> tuple[str, str, str, str, str]:
    item = next(entry for entry in calendar["years"] if entry["year"] == year)
    return (
        item["full_fee_cny"],
        item["open_license_reduction"],
        item["applied_reduction"],
        item["fee_cny"],
        item["open_license_saving_cny"],
    )


def _notify_all() -> None:
    """What the worker does with the queued tasks: run each license event's notification."""
    for event in LicenseEvent.objects.order_by("id"):
        notify_license_event(event.pk)


def test_a_new_sme_accepts_pays_files_reports_and_keeps_its_license_after_withdrawal(
    world: World,
) -> None:
    today = timezone.localdate()
    # The worked example's patent (rules §5): a university invention filed 11 years ago less a
    # month, so patent year 12 falls due next month, outside the general reduction's window.
    filed = today - relativedelta(years=11) + relativedelta(months=1)
    patent = declarable_patent(
        world.university,
        application_number=application_number(filed.year, "1", 1),
        filing_date=filed.isoformat(),
        grant_date=(filed + relativedelta(months=6)).isoformat(),
    )
    member, reviewer = world.client("member"), world.client("reviewer")
    draft = _ok(
        member.post(
            "/api/v1/declarations/",
            {"patent": patent.pk, **terms(license_term_years=None)},
            format="json",
        ),
        201,
    )
    declaration = draft["id"]
    _ok(member.post(f"/api/v1/declarations/{declaration}/submit/"))
    _ok(reviewer.post(f"/api/v1/declarations/{declaration}/announce/"))
    calendar = _ok(member.get(f"/api/v1/patents/{patent.pk}/fee-calendar/"))
    assert _year(calendar, 12) == ("4000.00", "0.00", "0.00", "4000.00", "0.00")

    sme, sme_id = _new_sme()
    estimate = _ok(
        sme.post(
            f"/api/v1/declarations/{declaration}/estimate/",
            {"projected_cny": ["1000000", "1000000"]},
            format="json",
        )
    )
    # 50,000 entry fee, then 3.5 % of 1,000,000 = 35,000 a year (above the 20,000 minimum).
    assert [year["cost_cny"] for year in estimate["years"][:2]] == ["85000.00", "35000.00"]

    notice = _ok(
        sme.post(
            "/api/v1/licenses/",
            {
                "declaration": declaration,
                "licensee": sme_id,
                "notice_text": "我司依据贵方开放许可声明的条件实施该专利，特此书面通知。",
            },
            format="json",
        ),
        201,
    )
    license = notice["id"]
    assert (notice["status"], notice["effective_date"]) == ("awaiting_payment", None)
    assert notice["terms"]["entry_fee_cny"] == "50000.00"
    short = sme.post(
        f"/api/v1/licenses/{license}/pay/",
        {"amount_cny": "40000.00", "reference": "ICBC-1", "paid_on": today.isoformat()},
        format="json",
    )
    assert (short.status_code, short.json()["code"]) == (400, "payment_amount_mismatch")
    paid = _ok(
        sme.post(
            f"/api/v1/licenses/{license}/pay/",
            {
                "amount_cny": "50000.00",
                "reference": "ICBC-20261121-0001",
                "proof": "银行回单 0001",
                "paid_on": today.isoformat(),
            },
            format="json",
        )
    )
    assert (paid["status"], paid["effective_date"]) == ("effective", today.isoformat())
    assert paid["filing_deadline"] == (today + relativedelta(months=3)).isoformat()

    filing = _ok(
        sme.post(f"/api/v1/licenses/{license}/filings/", {"filed_on": today.isoformat()}), 201
    )
    accepted = reviewer.post(f"/api/v1/licenses/{license}/filings/{filing['id']}/accept/")
    assert _ok(accepted)["status"] == "accepted"

    report = _ok(
        sme.post(
            f"/api/v1/licenses/{license}/royalty-reports/",
            {
                "period_start": today.isoformat(),
                "period_end": today.isoformat(),
                "basis_amount_cny": "100000.00",
            },
            format="json",
        ),
        201,
    )
    assert report["amount_due_cny"] == "3500.00"
    _ok(
        sme.post(
            f"/api/v1/licenses/{license}/royalty-payments/",
            {
                "amount_cny": "3500.00",
                "reference": "ICBC-20261121-0002",
                "paid_on": today.isoformat(),
                "report": report["id"],
            },
            format="json",
        ),
        201,
    )
    ledger = _ok(sme.get(f"/api/v1/licenses/{license}/ledger/"))
    assert [(d["kind"], d["amount_cny"], d["state"]) for d in ledger["dues"]] == [
        ("upfront", "50000.00", "paid"),
        ("royalty", "3500.00", "paid"),
    ]
    assert (ledger["totals"]["due_cny"], ledger["totals"]["paid_cny"]) == ("53500.00", "53500.00")

    # The filed license covers year 12 (due after the filing): 4,000 × 0.85 = 3,400.
    calendar = _ok(member.get(f"/api/v1/patents/{patent.pk}/fee-calendar/"))
    assert _year(calendar, 12) == ("4000.00", "0.15", "0.15", "3400.00", "600.00")

    _ok(
        member.post(
            f"/api/v1/declarations/{declaration}/request-withdrawal/",
            {"reason": "专利转化策略调整"},
            format="json",
        )
    )
    withdrawn = _ok(reviewer.post(f"/api/v1/declarations/{declaration}/approve-withdrawal/"))
    assert withdrawn["status"] == "withdrawn"
    standing = _ok(sme.get(f"/api/v1/licenses/{license}/"))
    assert (standing["status"], standing["effective_date"]) == ("effective", today.isoformat())
    refused = world.client("other_member").post(
        "/api/v1/licenses/",
        {"declaration": declaration, "licensee": world.sme.pk, "notice_text": "通知"},
        format="json",
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "declaration_withdrawn")

    _notify_all()
    inbox = _ok(member.get("/api/v1/notifications/"))["results"]
    assert {item["kind"] for item in inbox} == {
        "license_notice_sent",  # a new license on my patent
        "license_took_effect",
        "license_filed",
        "license_filing_accepted",
        "license_royalty_reported",
        "license_royalty_paid",
    }
    own = {item["kind"] for item in _ok(sme.get("/api/v1/notifications/"))["results"]}
    assert own == {"license_took_effect", "license_filed", "license_filing_accepted"}


def test_license_events_reach_the_parties_after_commit_in_app_and_by_mail_once(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    patent = declarable_patent(world.university)
    declaration = _ok(
        world.client("member").post(
            "/api/v1/declarations/", {"patent": patent.pk, **terms()}, format="json"
        ),
        201,
    )["id"]
    _ok(world.client("member").post(f"/api/v1/declarations/{declaration}/submit/"))
    _ok(world.client("reviewer").post(f"/api/v1/declarations/{declaration}/announce/"))
    Notification.objects.all().delete()
    OutboundEmail.objects.all().delete()
    sme = client_for(world.sme_admin)
    with django_capture_on_commit_callbacks() as callbacks:
        license = _ok(
            sme.post(
                "/api/v1/licenses/",
                {
                    "declaration": declaration,
                    "licensee": world.sme.pk,
                    "notice_text": "通知",
                    "payment": {
                        "amount_cny": "50000.00",
                        "reference": "R1",
                        "paid_on": timezone.localdate().isoformat(),
                    },
                },
                format="json",
            ),
            201,
        )["id"]
        # Nothing is sent before the transaction commits.
        assert not Notification.objects.exists()
    # Two broker messages per acceptance, both after commit: the license event's
    # notification, and the licensee's match lists recomputed without the declaration
    # (matching.tasks.refresh_lists).
    assert len(broker_messages(callbacks)) == 2
    took_effect = LicenseEvent.objects.get(license_id=license, verb="took_effect")
    # The patentee's two members and the licensee's admin, in-app and by mail.
    assert notify_license_event(took_effect.pk) == 3
    assert notify_license_event(took_effect.pk) == 0  # a task delivered twice adds nothing
    recipients = {"admin@uni.example.com", "member@uni.example.com", "admin@sme.example.com"}
    assert (
        set(
            Notification.objects.filter(kind="license_took_effect").values_list(
                "user__email", flat=True
            )
        )
        == recipients
    )
    mailed = OutboundEmail.objects.filter(kind="license_took_effect")
    assert set(mailed.values_list("to_email", flat=True)) == recipients
    inbox = world.client("member").get("/api/v1/notifications/").json()["results"]
    assert inbox[0]["title"] == f"License {license} on {patent.patent_number}: took effect"

    payment = LicensePayment.objects.get(license_id=license)
    with django_capture_on_commit_callbacks() as callbacks:
        _ok(
            world.client("member").post(
                f"/api/v1/licenses/{license}/payments/{payment.pk}/contest/",
                {"reason": "未收到该笔款项"},
                format="json",
            )
        )
    assert len(broker_messages(callbacks)) == 1
    contested = LicenseEvent.objects.get(license_id=license, verb="payment_contested")
    assert notify_license_event(contested.pk) == 1  # the licensee only
    notice = Notification.objects.get(kind="license_payment_contested")
    assert notice.user == world.sme_admin
    assert "未收到该笔款项" in notice.body
