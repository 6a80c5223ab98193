"""Licenses (rules §4): notice and payment, effect, idempotency, contest, filing, royalties,
the race with a withdrawal, and per-role access."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from django.apps import apps
from django.db import connection
from django.utils import timezone

from licensing.models import (
    Declaration,
    DeclarationEvent,
    License,
    LicenseEvent,
    LicenseFiling,
    LicensePayment,
)
from licensing.services import declarations as declaration_services
from licensing.services import licenses as services
from marketplace.reference import load_reference_tables
from tests.conftest import ROLES, World, client_for
from tests.declarations_helpers import announced, declarable_patent
from tests.factories import MembershipFactory, SmeProfileFactory
from tests.mediation_helpers import license_on

TODAY = timezone.localdate


def accept_body(declaration: Declaration, licensee_id: int, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "declaration": declaration.pk,
        "licensee": licensee_id,
        "notice_text": "我司依据贵方开放许可声明的条件实施该专利，特此书面通知。",
        "payment": {
            "amount_cny": "50000.00",
            "reference": "ICBC-20261121-0001",
            "proof": "银行回单 0001",
            "paid_on": TODAY().isoformat(),
        },
    }
    body.update(overrides)
    return body


@pytest.fixture
def declaration(world: World) -> Declaration:
    return announced(declarable_patent(world.university), world.university_member, world.reviewer)


def _counts() -> tuple[int, int, int]:
    return License.objects.count(), LicensePayment.objects.count(), LicenseFiling.objects.count()


# ---- acceptance ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_notice_and_payment_make_the_license_effective_with_the_terms_snapshot(
    world: World, declaration: Declaration
) -> None:
    response = client_for(world.sme_admin).post(
        "/api/v1/licenses/", accept_body(declaration, world.sme.pk), format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["effective_date"]) == ("effective", TODAY().isoformat())
    assert body["terms"]["royalty_rate_percent"] == "3.5000"
    assert body["terms"]["declaration_number"] == declaration.number
    assert (
        body["term_end"] == (TODAY().replace(year=TODAY().year + 5) - timedelta(days=1)).isoformat()
    )
    assert body["filing_deadline"] == (TODAY() + relativedelta(months=3)).isoformat()
    assert [p["amount_cny"] for p in body["payments"]] == ["50000.00"]


@pytest.mark.django_db
def test_the_acceptance_answer_is_the_stored_license_in_a_fixed_number_of_statements(
    world: World, declaration: Declaration, django_assert_num_queries: Any
) -> None:
    client = client_for(world.sme_admin)
    # Token, the view's atomic block (a savepoint and its release: the test's transaction
    # turns it into one), the advisory lock on the key, the idempotency look-up, membership,
    # lock, declaration + patent, co-owner, savepoint + license + release, both events in one
    # insert, payment, idempotency record: the service opens no savepoint of its own, the
    # payments and filings of the answer are those in hand, and no query looks for a license
    # held already (the unique index does).
    with django_assert_num_queries(15):
        response = client.post(
            "/api/v1/licenses/",
            accept_body(declaration, world.sme.pk),
            format="json",
            HTTP_IDEMPOTENCY_KEY="accept-1",
        )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body == client.get(f"/api/v1/licenses/{body['id']}/").json()
    assert body["filings"] == []
    events = LicenseEvent.objects.filter(license_id=body["id"]).order_by("id")
    assert [(e.verb, e.to_status, e.data) for e in events] == [
        ("notice_sent", "effective", {"declaration": declaration.pk}),
        ("took_effect", "effective", {"effective_date": TODAY().isoformat()}),
    ]


@pytest.mark.django_db
def test_later_declarations_do_not_change_granted_terms(
    world: World, declaration: Declaration
) -> None:
    license = services.license_accept(
        actor=world.sme_admin,
        declaration_id=declaration.pk,
        licensee_id=world.sme.pk,
        notice_text="通知",
        payment={"amount_cny": Decimal("50000.00"), "reference": "R1", "paid_on": TODAY()},
    )
    announced(
        declaration.patent, world.university_member, world.reviewer, royalty_rate_percent="9.0"
    )
    license.refresh_from_db()
    assert license.terms["royalty_rate_percent"] == "3.5000"


@pytest.mark.django_db
def test_notice_without_payment_waits_then_payment_gives_effect(
    world: World, declaration: Declaration
) -> None:
    client = client_for(world.sme_admin)
    body = accept_body(declaration, world.sme.pk)
    payment = body.pop("payment")
    waiting = client.post("/api/v1/licenses/", body, format="json").json()
    assert (waiting["status"], waiting["effective_date"]) == ("awaiting_payment", None)
    wrong = client.post(
        f"/api/v1/licenses/{waiting['id']}/pay/", {**payment, "amount_cny": "100"}, format="json"
    )
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "payment_amount_mismatch"
    assert list(wrong.json()["fields"]) == ["amount_cny"]  # the body's own path
    paid = client.post(f"/api/v1/licenses/{waiting['id']}/pay/", payment, format="json").json()
    assert (paid["status"], paid["effective_date"]) == ("effective", TODAY().isoformat())


@pytest.mark.django_db
def test_a_free_declaration_grants_on_notice_alone(world: World) -> None:
    free = announced(
        declarable_patent(world.university, 2),
        world.university_member,
        world.reviewer,
        payment_method="free",
        royalty_basis="",
        entry_fee_cny=None,
        royalty_rate_percent=None,
        minimum_annual_royalty_cny=None,
    )
    body = accept_body(free, world.sme.pk)
    body.pop("payment")
    response = client_for(world.sme_admin).post("/api/v1/licenses/", body, format="json")
    assert response.status_code == 201, response.json()
    assert (response.json()["status"], response.json()["effective_date"]) == (
        "effective",
        TODAY().isoformat(),
    )
    assert _counts() == (1, 0, 0)
    # Another SME, holding no license yet, sends a payment where nothing is due: refused on
    # the payment itself (not on a license held already), and nothing is granted.
    other = SmeProfileFactory.create().organisation
    payer = MembershipFactory.create(organisation=other, role="admin").user
    with_payment = client_for(payer).post(
        "/api/v1/licenses/", accept_body(free, other.pk), format="json"
    )
    assert with_payment.status_code == 400, with_payment.json()
    assert (with_payment.json()["code"], list(with_payment.json()["fields"])) == (
        "nothing_due_at_acceptance",
        ["payment"],
    )
    assert _counts() == (1, 0, 0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mutate", "status_code", "code"),
    [
        (lambda b, w: b["payment"].update(amount_cny="49999.99"), 400, "payment_amount_mismatch"),
        (lambda b, w: b["payment"].update(paid_on="2099-01-01"), 400, "payment_date_in_future"),
        (lambda b, w: b.update(licensee=w.university.pk), 403, "not_a_member"),
        (lambda b, w: b.update(declaration=999999), 404, "not_found"),
        (lambda b, w: b.update(notice_text=""), 400, "invalid"),
    ],
)
def test_bad_acceptances_are_refused_and_grant_nothing(
    world: World, declaration: Declaration, mutate: Any, status_code: int, code: str
) -> None:
    body = accept_body(declaration, world.sme.pk)
    mutate(body, world)
    response = client_for(world.sme_admin).post("/api/v1/licenses/", body, format="json")
    assert response.status_code == status_code, response.json()
    assert response.json()["code"] == code
    assert _counts() == (0, 0, 0)


@pytest.mark.django_db
def test_the_patentee_needs_no_license(world: World, declaration: Declaration) -> None:
    body = accept_body(declaration, world.university.pk)
    response = world.client("member").post("/api/v1/licenses/", body, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "licensee_is_patentee"


@pytest.mark.django_db
def test_one_active_license_per_licensee_and_declaration(
    world: World, declaration: Declaration
) -> None:
    client = client_for(world.sme_admin)
    assert (
        client.post(
            "/api/v1/licenses/", accept_body(declaration, world.sme.pk), format="json"
        ).status_code
        == 201
    )
    again = client.post("/api/v1/licenses/", accept_body(declaration, world.sme.pk), format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "license_exists"
    assert _counts()[0] == 1


@pytest.mark.django_db
def test_idempotency_key_replays_the_first_answer(world: World, declaration: Declaration) -> None:
    client = client_for(world.sme_admin)
    body = accept_body(declaration, world.sme.pk)
    first = client.post("/api/v1/licenses/", body, format="json", HTTP_IDEMPOTENCY_KEY="accept-1")
    second = client.post("/api/v1/licenses/", body, format="json", HTTP_IDEMPOTENCY_KEY="accept-1")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    assert second["Idempotent-Replay"] == "true"
    assert _counts()[:2] == (1, 1)
    other = client.post(
        "/api/v1/licenses/",
        {**body, "notice_text": "不同的通知"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="accept-1",
    )
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"


@pytest.mark.django_db
def test_a_notice_after_the_withdrawal_grants_nothing_and_existing_licenses_stand(
    world: World, declaration: Declaration
) -> None:
    earlier = services.license_accept(
        actor=world.sme_admin,
        declaration_id=declaration.pk,
        licensee_id=world.sme.pk,
        notice_text="通知",
        payment={"amount_cny": Decimal("50000.00"), "reference": "R1", "paid_on": TODAY()},
    )
    declaration_services.declaration_request_withdrawal(
        actor=world.university_member, declaration_id=declaration.pk, reason="调整"
    )
    late_sme = SmeProfileFactory.create(organisation__name="迟到的企业").organisation
    late_admin = MembershipFactory.create(organisation=late_sme, role="admin").user
    # Requested but not yet announced: the declaration still grants licenses.
    pending = client_for(late_admin).post(
        "/api/v1/licenses/", accept_body(declaration, late_sme.pk), format="json"
    )
    assert pending.status_code == 201
    declaration_services.declaration_approve_withdrawal(
        actor=world.reviewer, declaration_id=declaration.pk
    )
    other_sme = SmeProfileFactory.create(organisation__name="更迟的企业").organisation
    other_admin = MembershipFactory.create(organisation=other_sme, role="admin").user
    refused = client_for(other_admin).post(
        "/api/v1/licenses/", accept_body(declaration, other_sme.pk), format="json"
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "declaration_withdrawn"
    assert not License.objects.filter(licensee=other_sme).exists()
    earlier.refresh_from_db()
    assert earlier.status == "effective"


def _accept_in_thread(
    user_id: int,
    licensee_id: int,
    declaration_id: int,
    start: threading.Event,
    results: list[tuple[int, str]],
    first_grant: threading.Event,
) -> None:
    from marketplace.models import User

    try:
        client = client_for(User.objects.get(pk=user_id))
        start.wait(timeout=60)
        response = client.post(
            "/api/v1/licenses/",
            {
                "declaration": declaration_id,
                "licensee": licensee_id,
                "notice_text": "并发通知",
                "payment": {
                    "amount_cny": "50000.00",
                    "reference": f"R{licensee_id}",
                    "paid_on": TODAY().isoformat(),
                },
            },
            format="json",
        )
        results.append((response.status_code, response.json().get("code", "")))
        if response.status_code == 201:
            first_grant.set()
    finally:
        connection.close()


def _withdraw_in_thread(
    reviewer_id: int, declaration_id: int, first_grant: threading.Event, done: threading.Event
) -> None:
    from marketplace.models import User

    try:
        reviewer = User.objects.get(pk=reviewer_id)
        first_grant.wait(timeout=60)
        declaration_services.declaration_approve_withdrawal(
            actor=reviewer, declaration_id=declaration_id
        )
    finally:
        done.set()
        connection.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_number", [1, 2, 3])
def test_fifty_acceptances_racing_a_withdrawal_never_grant_after_it(round_number: int) -> None:
    """35 notices go out at once; the withdrawal is approved as soon as the first license is
    granted, while the others are in flight; 15 more notices follow the withdrawal."""
    load_reference_tables(lambda name: apps.get_model("marketplace", name))
    from marketplace import roles
    from marketplace.services.platform import platform_role_grant
    from tests.factories import OrganisationFactory, UserFactory

    university = OrganisationFactory.create(name=f"竞速大学{round_number}")
    patentee = MembershipFactory.create(organisation=university, role="admin").user
    reviewer = UserFactory.create()
    platform_role_grant(user=reviewer, role=roles.REVIEWER, actor=None)
    declaration = announced(declarable_patent(university, 40 + round_number), patentee, reviewer)
    declaration_services.declaration_request_withdrawal(
        actor=patentee, declaration_id=declaration.pk, reason="竞速测试"
    )
    smes = []
    for index in range(50):
        sme = SmeProfileFactory.create(
            organisation__name=f"并发企业{round_number}-{index}"
        ).organisation
        smes.append((MembershipFactory.create(organisation=sme, role="admin").user.pk, sme.pk))
    start, first_grant, withdrawn = threading.Event(), threading.Event(), threading.Event()
    racing: list[tuple[int, str]] = []
    after: list[tuple[int, str]] = []
    threads = [
        threading.Thread(
            target=_accept_in_thread,
            args=(user_id, sme_id, declaration.pk, start, racing, first_grant),
        )
        for user_id, sme_id in smes[:35]
    ] + [
        threading.Thread(
            target=_accept_in_thread,
            args=(user_id, sme_id, declaration.pk, withdrawn, after, threading.Event()),
        )
        for user_id, sme_id in smes[35:]
    ]
    threads.append(
        threading.Thread(
            target=_withdraw_in_thread, args=(reviewer.pk, declaration.pk, first_grant, withdrawn)
        )
    )
    for thread in threads:
        thread.start()
    start.set()
    for thread in threads:
        thread.join(timeout=90)
    assert (len(racing), len(after)) == (35, 15)
    granted = [result for result in racing if result[0] == 201]
    refused = [result for result in racing + after if result[0] != 201]
    assert all(result == (409, "declaration_withdrawn") for result in refused), refused
    assert granted, "the withdrawal waits for a first grant, so there is one"
    assert after == [(409, "declaration_withdrawn")] * 15
    withdrawal = DeclarationEvent.objects.get(declaration=declaration, to_status="withdrawn")
    licenses = License.objects.filter(declaration=declaration)
    assert licenses.count() == len(granted)
    # Every license was written before the withdrawal took effect; none after it.
    assert all(license.created_at < withdrawal.created_at for license in licenses)
    assert Declaration.objects.get(pk=declaration.pk).status == "withdrawn"


# ---- contest, filing, royalties ------------------------------------------------------------


@pytest.fixture
def license(world: World, declaration: Declaration) -> License:
    return license_on(declaration, actor=world.sme_admin, licensee=world.sme, reference="R1")


@pytest.mark.django_db
def test_the_patentee_contests_a_payment_it_did_not_receive(world: World, license: License) -> None:
    payment = license.payments.get()
    licensee = client_for(world.sme_admin).post(
        f"/api/v1/licenses/{license.pk}/payments/{payment.pk}/contest/",
        {"reason": "未收到"},
        format="json",
    )
    assert licensee.status_code == 403
    response = world.client("member").post(
        f"/api/v1/licenses/{license.pk}/payments/{payment.pk}/contest/",
        {"reason": "未收到该笔款项"},
        format="json",
    )
    assert response.json()["status"] == "contested"
    assert response.json()["payments"][0]["status"] == "contested"


@pytest.mark.django_db
def test_the_patentee_withdraws_its_contest_and_the_license_is_effective_again(
    world: World, license: License
) -> None:
    payment = license.payments.get()
    url = f"/api/v1/licenses/{license.pk}/payments/{payment.pk}/withdraw-contest/"
    not_contested = world.client("member").post(url, {}, format="json")
    assert (not_contested.status_code, not_contested.json()["code"]) == (
        409,
        "payment_not_contested",
    )
    services.license_contest_payment(
        actor=world.university_admin, license_id=license.pk, payment_id=payment.pk, reason="未收到"
    )
    events = LicenseEvent.objects.filter(license=license).count()
    for refused in (client_for(world.sme_admin), world.client("reviewer")):
        response = refused.post(url, {}, format="json")
        assert (response.status_code, response.json()["code"]) == (403, "patentee_required")
    assert License.objects.get(pk=license.pk).status == "contested"
    assert LicensePayment.objects.get(pk=payment.pk).status == "contested"
    assert LicenseEvent.objects.filter(license=license).count() == events

    response = world.client("member").post(url, {"reason": "款项已到账"}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "effective"
    assert response.json()["payments"][0]["status"] == "recorded"
    step = LicenseEvent.objects.filter(license=license).latest("id")
    assert (step.verb, step.from_status, step.to_status, step.reason) == (
        "payment_confirmed",
        "contested",
        "effective",
        "款项已到账",
    )


@pytest.mark.django_db
def test_filing_within_three_months_and_reviewer_decisions(world: World, license: License) -> None:
    late = client_for(world.sme_admin).post(
        f"/api/v1/licenses/{license.pk}/filings/",
        {"filed_on": (TODAY() + timedelta(days=1)).isoformat()},
    )
    assert late.json()["code"] == "invalid_filing_date"
    License.objects.filter(pk=license.pk).update(effective_date=TODAY() - timedelta(days=120))
    too_late = client_for(world.sme_admin).post(
        f"/api/v1/licenses/{license.pk}/filings/", {"filed_on": TODAY().isoformat()}
    )
    assert too_late.json()["code"] == "filing_deadline_passed"
    License.objects.filter(pk=license.pk).update(effective_date=TODAY() - timedelta(days=10))
    filed = world.client("member").post(
        f"/api/v1/licenses/{license.pk}/filings/", {"filed_on": TODAY().isoformat()}
    )
    assert filed.status_code == 201
    filing_id = filed.json()["id"]
    not_reviewer = client_for(world.sme_admin).post(
        f"/api/v1/licenses/{license.pk}/filings/{filing_id}/accept/"
    )
    assert not_reviewer.status_code == 403
    returned = world.client("reviewer").post(
        f"/api/v1/licenses/{license.pk}/filings/{filing_id}/return/", {}
    )
    assert returned.json()["code"] == "reason_required"
    accepted = world.client("reviewer").post(
        f"/api/v1/licenses/{license.pk}/filings/{filing_id}/accept/"
    )
    assert accepted.json()["status"] == "accepted"
    again = world.client("member").post(
        f"/api/v1/licenses/{license.pk}/filings/", {"filed_on": TODAY().isoformat()}
    )
    assert again.json()["code"] == "license_already_filed"


@pytest.mark.django_db
def test_royalties_follow_the_snapshot_rate_and_the_ledger_shows_overdue(
    world: World, license: License
) -> None:
    License.objects.filter(pk=license.pk).update(effective_date=TODAY() - timedelta(days=400))
    client = client_for(world.sme_admin)
    start = TODAY() - timedelta(days=400)
    report = client.post(
        f"/api/v1/licenses/{license.pk}/royalty-reports/",
        {
            "period_start": start.isoformat(),
            "period_end": (start + timedelta(days=89)).isoformat(),
            "basis_amount_cny": "400000.00",
        },
    )
    assert report.status_code == 201, report.json()
    assert report.json()["amount_due_cny"] == "14000.00"  # 3.5 % of 400,000
    overlap = client.post(
        f"/api/v1/licenses/{license.pk}/royalty-reports/",
        {
            "period_start": (start + timedelta(days=30)).isoformat(),
            "period_end": (start + timedelta(days=60)).isoformat(),
            "basis_amount_cny": "1",
        },
    )
    assert overlap.json()["code"] == "period_overlaps"
    client.post(
        f"/api/v1/licenses/{license.pk}/royalty-payments/",
        {
            "amount_cny": "10000.00",
            "reference": "R2",
            "paid_on": TODAY().isoformat(),
            "report": report.json()["id"],
        },
    )
    ledger = world.client("member").get(f"/api/v1/licenses/{license.pk}/ledger/").json()
    states = [(d["kind"], d["amount_cny"], d["paid_cny"], d["state"]) for d in ledger["dues"]]
    assert states == [
        ("upfront", "50000.00", "50000.00", "paid"),
        ("royalty", "14000.00", "10000.00", "overdue"),
        # Year 1 brought 14,000 against a 20,000 minimum.
        ("minimum_shortfall", "6000.00", "0.00", "overdue"),
    ]
    assert ledger["totals"] == {
        "due_cny": "70000.00",
        "paid_cny": "60000.00",
        "overdue_cny": "10000.00",
        "balance_cny": "10000.00",
    }
    patentee = (
        world.client("member")
        .get(f"/api/v1/organisations/{world.university.pk}/royalty-ledger/")
        .json()
    )
    assert patentee["totals"]["as_patentee"]["overdue_cny"] == "10000.00"
    assert (
        world.client("other_member")
        .get(f"/api/v1/organisations/{world.university.pk}/royalty-ledger/")
        .status_code
        == 404
    )


# ---- per role ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_licenses_are_visible_to_the_parties_and_staff_only(
    world: World, license: License, role: str
) -> None:
    # Here "other_member" is the SME (licensee); use a fresh outsider for "not a party".
    outsider = MembershipFactory.create().user
    users = {**{r: world.user(r) for r in ROLES}, "other_member": outsider}
    client = client_for(users[role])
    detail = client.get(f"/api/v1/licenses/{license.pk}/")
    expected = {"anonymous": 401, "other_member": 404}.get(role, 200)
    assert detail.status_code == expected
    ledger = client.get(f"/api/v1/licenses/{license.pk}/ledger/")
    assert ledger.status_code == expected


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_only_the_licensee_reports_and_pays(world: World, license: License, role: str) -> None:
    response = world.client(role).post(
        f"/api/v1/licenses/{license.pk}/royalty-payments/",
        {"amount_cny": "10.00", "reference": "X", "paid_on": TODAY().isoformat()},
    )
    if role == "other_member":  # the SME's admin is the licensee
        assert response.status_code == 201
        return
    assert response.status_code == {"anonymous": 401}.get(role, 403)
    assert license.payments.count() == 1


@pytest.mark.django_db
def test_ordinary_licenses_are_recorded_as_not_open(world: World) -> None:
    patent = declarable_patent(world.university, 3)
    response = world.client("member").post(
        "/api/v1/ordinary-licenses/",
        {
            "patent": patent.pk,
            "licensee": world.sme.pk,
            "starts_on": "2026-01-01",
            "ends_on": "2027-12-31",
        },
    )
    assert response.status_code == 201
    assert response.json()["is_open_license"] is False
    assert response.json()["filing_deadline"] is None
    refused = client_for(world.sme_admin).post(
        "/api/v1/ordinary-licenses/",
        {
            "patent": patent.pk,
            "licensee": world.sme.pk,
            "starts_on": "2026-01-01",
            "ends_on": "2027-12-31",
        },
    )
    assert refused.status_code == 404


__all__ = ["date"]


@pytest.mark.django_db
def test_the_migration_flattens_notice_sent_data_stored_nested(
    world: World, license: License
) -> None:
    import importlib

    migration = importlib.import_module("licensing.migrations.0011_notice_sent_event_data")
    notice = LicenseEvent.objects.get(license=license, verb="notice_sent")
    LicenseEvent.objects.filter(pk=notice.pk).update(data={"data": {"declaration": 7}})
    other = LicenseEvent.objects.get(license=license, verb="took_effect")
    before = other.data
    with connection.cursor() as cursor:
        cursor.execute(migration.Migration.operations[0].sql)
        cursor.execute(migration.Migration.operations[0].sql)  # a second run changes nothing
    notice.refresh_from_db()
    other.refresh_from_db()
    assert (notice.data, other.data) == ({"declaration": 7}, before)
