"""Open-license declarations (rules §3): terms and caps, the nine bars, the workflow, consents,
supersession, consistency with the patent, notifications."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from licensing.models import Declaration, DeclarationConsent, DeclarationEvent
from licensing.services import declarations as services
from licensing.tasks import notify_declaration_event
from marketplace.models import (
    Notification,
    OrganisationKind,
    OutboundEmail,
    Patent,
    PatentCoOwner,
    PatentExclusiveLicense,
    PatentHindrance,
    PatentPledge,
)
from tests.conftest import ROLES, World, client_for
from tests.declarations_helpers import announced, declarable_patent, service_terms, terms
from tests.factories import MembershipFactory, OrganisationFactory, application_number

pytestmark = pytest.mark.django_db


def streamed(response: Any) -> list[bytes]:
    """The chunks of a streamed response."""
    return list(response.streaming_content)


def _state(declaration_id: int | None = None) -> tuple[Any, ...]:
    return (
        list(Declaration.objects.order_by("id").values_list("id", "status", "number")),
        DeclarationEvent.objects.count(),
        list(Patent.objects.order_by("id").values_list("id", "is_listed")),
    )


# ---- terms and caps ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        (
            {
                "payment_method": "lump_sum",
                "royalty_basis": "",
                "entry_fee_cny": None,
                "royalty_rate_percent": None,
                "lump_sum_cny": "20000000.01",
            },
            "lump_sum_over_cap",
        ),
        ({"entry_fee_cny": "20000001"}, "entry_fee_over_cap"),
        ({"royalty_rate_percent": "20.0001"}, "royalty_rate_over_cap_net_sales"),
        (
            {"royalty_basis": "profit", "royalty_rate_percent": "40.5"},
            "royalty_rate_over_cap_profit",
        ),
        ({"calculation_explanation": "说" * 2001}, "calculation_explanation_too_long"),
        ({"calculation_explanation": ""}, "calculation_explanation_required"),
        ({"license_term_years": 19}, "license_term_past_expiry"),
        ({"entry_fee_cny": None}, "term_required"),
        ({"payment_method": "lump_sum", "lump_sum_cny": "100000"}, "term_not_applicable"),
    ],
)
def test_terms_breaking_a_rule_are_refused_with_its_code(
    world: World, overrides: dict[str, Any], code: str
) -> None:
    patent = declarable_patent(world.university)
    before = _state()
    response = world.client("member").post(
        "/api/v1/declarations/", {"patent": patent.pk, **terms(**overrides)}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == code
    assert _state() == before


def test_caps_are_inclusive_and_a_free_declaration_needs_no_amounts(world: World) -> None:
    patent = declarable_patent(world.university)
    at_cap = world.client("member").post(
        "/api/v1/declarations/",
        {"patent": patent.pk, **terms(royalty_rate_percent="20.0000")},
        format="json",
    )
    assert at_cap.status_code == 201, at_cap.json()
    free_patent = declarable_patent(world.university, 2)
    free = world.client("member").post(
        "/api/v1/declarations/",
        {
            "patent": free_patent.pk,
            **terms(
                payment_method="free",
                royalty_basis="",
                entry_fee_cny=None,
                royalty_rate_percent=None,
                minimum_annual_royalty_cny=None,
            ),
        },
        format="json",
    )
    assert free.status_code == 201, free.json()


def test_advertising_wording_is_flagged_for_the_reviewer(world: World) -> None:
    patent = declarable_patent(world.university)
    response = world.client("member").post(
        "/api/v1/declarations/",
        {"patent": patent.pk, **terms(other_terms="国内最先进的正极技术，效果第一")},
        format="json",
    )
    assert response.json()["advertising_words"] == ["最先进", "第一"]


# ---- the nine bars -------------------------------------------------------------------------


def _exclusive(patent: Patent, world: World) -> None:
    today = timezone.localdate()
    PatentExclusiveLicense.objects.create(
        patent=patent,
        kind="exclusive",
        licensee="某公司",
        starts_on=today - timedelta(days=10),
        ends_on=today + timedelta(days=300),
        recorded_by=world.reviewer,
    )


def _pledge(patent: Patent, world: World) -> None:
    PatentPledge.objects.create(
        patent=patent,
        pledgee="某银行",
        registered_on=timezone.localdate() - timedelta(days=1),
        pledgee_consents=False,
        recorded_by=world.reviewer,
    )


def _set(**fields: Any) -> Callable[[Patent, World], None]:
    def apply(patent: Patent, world: World) -> None:
        Patent.objects.filter(pk=patent.pk).update(**fields)

    return apply


def _hindrance(patent: Patent, world: World) -> None:
    PatentHindrance.objects.create(patent=patent, reason="权属存疑", recorded_by=world.reviewer)


BARS: list[tuple[str, Callable[[Patent, World], None], str]] = [
    ("1 exclusive license", _exclusive, "bar_exclusive_license"),
    ("2 suspended", _set(is_suspended=True), "bar_suspended_or_preserved"),
    ("2 preservation", _set(is_under_preservation=True), "bar_suspended_or_preserved"),
    ("3 fees unpaid", _set(annual_fees_paid_through=2), "bar_annual_fees_unpaid"),
    ("4 pledged", _pledge, "bar_pledged_without_consent"),
    ("5 terminated", _set(legal_status="terminated"), "bar_terminated_or_expired"),
    ("5 expired", _set(legal_status="expired"), "bar_terminated_or_expired"),
    ("5 not granted", _set(grant_date=None), "bar_not_granted"),
    ("6 invalidated", _set(legal_status="invalidated"), "bar_invalidated"),
    ("9 hindrance", _hindrance, "bar_reviewer_hindrance"),
]


@pytest.mark.parametrize(("name", "arrange", "code"), BARS, ids=[bar[0] for bar in BARS])
def test_each_bar_refuses_submission_names_the_bar_and_changes_nothing(
    world: World, name: str, arrange: Callable[[Patent, World], None], code: str
) -> None:
    patent = declarable_patent(world.university)
    draft = services.declaration_create(
        actor=world.university_member, patent_id=patent.pk, terms=service_terms()
    )
    arrange(patent, world)
    before = _state()
    response = world.client("member").post(f"/api/v1/declarations/{draft.pk}/submit/")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code
    assert body["detail"].startswith(f"Bar {name[0]}:")
    assert [item["code"] for item in body["fields"]["bars"]] == [code]
    assert _state() == before


@pytest.mark.parametrize(
    ("report", "code"),
    [
        ({}, "bar_no_evaluation_report"),
        (
            {"evaluation_report_date": "2024-01-10", "evaluation_report_positive": False},
            "bar_negative_evaluation_report",
        ),
    ],
)
def test_utility_models_need_a_positive_evaluation_report(
    world: World, report: dict[str, Any], code: str
) -> None:
    patent = declarable_patent(
        world.university,
        2,
        application_number=application_number(2021, "2", 2),
        patent_type="utility_model",
    )
    Patent.objects.filter(pk=patent.pk).update(**report)
    draft = services.declaration_create(
        actor=world.university_member,
        patent_id=patent.pk,
        terms=service_terms(license_term_years=3),
    )
    response = world.client("member").post(f"/api/v1/declarations/{draft.pk}/submit/")
    assert response.status_code == 400
    assert response.json()["code"] == code
    Patent.objects.filter(pk=patent.pk).update(
        evaluation_report_date="2024-01-10", evaluation_report_positive=True
    )
    assert (
        world.client("member").post(f"/api/v1/declarations/{draft.pk}/submit/").status_code == 200
    )


def test_bars_are_checked_again_at_announcement(world: World) -> None:
    patent = declarable_patent(world.university)
    draft = services.declaration_create(
        actor=world.university_member, patent_id=patent.pk, terms=service_terms()
    )
    services.declaration_submit(actor=world.university_member, declaration_id=draft.pk)
    Patent.objects.filter(pk=patent.pk).update(legal_status="invalidated")
    response = world.client("reviewer").post(f"/api/v1/declarations/{draft.pk}/announce/")
    assert response.status_code == 400
    assert response.json()["code"] == "bar_invalidated"
    draft.refresh_from_db()
    assert (draft.status, draft.number) == ("submitted", None)


def test_problems_lists_every_bar_and_term_problem(world: World) -> None:
    patent = declarable_patent(world.university)
    draft = services.declaration_create(
        actor=world.university_member, patent_id=patent.pk, terms=service_terms(undertaking=False)
    )
    Patent.objects.filter(pk=patent.pk).update(is_suspended=True, legal_status="invalidated")
    body = world.client("member").get(f"/api/v1/declarations/{draft.pk}/problems/").json()
    assert [bar["code"] for bar in body["bars"]] == [
        "bar_suspended_or_preserved",
        "bar_invalidated",
    ]
    assert [problem["code"] for problem in body["terms"]] == ["undertaking_required"]


# ---- workflow through the API --------------------------------------------------------------


def test_whole_flow_draft_refused_fixed_submitted_announced_registered_withdrawn(
    world: World,
) -> None:
    patent = declarable_patent(world.university)
    Patent.objects.filter(pk=patent.pk).update(annual_fees_paid_through=1)
    member, reviewer = world.client("member"), world.client("reviewer")

    draft = member.post("/api/v1/declarations/", {"patent": patent.pk, **terms()}, format="json")
    assert draft.status_code == 201
    declaration_id = draft.json()["id"]
    refused = member.post(f"/api/v1/declarations/{declaration_id}/submit/")
    assert refused.json()["code"] == "bar_annual_fees_unpaid"

    fixed = member.post(
        f"/api/v1/patents/{patent.pk}/legal-status/", {"annual_fees_paid_through": 6}, format="json"
    )
    assert fixed.status_code == 200
    assert (
        member.post(f"/api/v1/declarations/{declaration_id}/submit/").json()["status"]
        == "submitted"
    )
    queue = reviewer.get("/api/v1/declarations/review-queue/").json()["results"]
    assert [item["id"] for item in queue] == [declaration_id]

    announced_body = reviewer.post(f"/api/v1/declarations/{declaration_id}/announce/").json()
    today = timezone.localdate()
    assert announced_body["status"] == "announced"
    assert announced_body["effective_date"] == today.isoformat()
    number = announced_body["number"]
    assert number.startswith(f"OL{today.year}")
    assert Patent.objects.get(pk=patent.pk).is_listed is True

    register = client_for(None).get("/api/v1/register/").json()["results"]
    assert [(entry["number"], entry["patent_number"]) for entry in register] == [
        (number, patent.patent_number)
    ]
    assert register[0]["royalty"] == (
        "entry fee CNY 50,000.00 + 3.5% of net sales; minimum CNY 20,000.00 a year"
    )
    found = client_for(None).get("/api/v1/search/patents/", {"q": "锂离子电池"}).json()
    assert [item["id"] for item in found["results"]] == [patent.pk]

    csv_text = b"".join(streamed(client_for(None).get("/api/v1/register/export/"))).decode()
    assert number in csv_text and patent.patent_number in csv_text

    no_reason = member.post(f"/api/v1/declarations/{declaration_id}/request-withdrawal/", {})
    assert no_reason.status_code == 400
    requested = member.post(
        f"/api/v1/declarations/{declaration_id}/request-withdrawal/",
        {"reason": "专利转化策略调整"},
        format="json",
    )
    assert requested.json()["status"] == "withdrawal_requested"
    withdrawn = reviewer.post(f"/api/v1/declarations/{declaration_id}/approve-withdrawal/").json()
    assert (withdrawn["status"], withdrawn["withdrawal_date"]) == ("withdrawn", today.isoformat())
    assert Patent.objects.get(pk=patent.pk).is_listed is False
    entry = client_for(None).get(f"/api/v1/register/{number}/").json()
    assert (entry["status"], entry["withdrawal_date"]) == ("withdrawn", today.isoformat())

    timeline = client_for(None).get(f"/api/v1/declarations/{declaration_id}/timeline/").json()
    assert [(e["from_status"], e["to_status"]) for e in timeline] == [
        ("", "draft"),
        ("draft", "submitted"),
        ("submitted", "announced"),
        ("announced", "withdrawal_requested"),
        ("withdrawal_requested", "withdrawn"),
    ]
    assert all(e["actor"] is None for e in timeline)  # the public does not see who
    own = member.get(f"/api/v1/declarations/{declaration_id}/timeline/").json()
    assert own[2]["actor"] == world.reviewer.email


def test_not_announced_needs_reasons(world: World) -> None:
    patent = declarable_patent(world.university)
    draft = services.declaration_create(
        actor=world.university_member, patent_id=patent.pk, terms=service_terms()
    )
    services.declaration_submit(actor=world.university_member, declaration_id=draft.pk)
    reviewer = world.client("reviewer")
    assert reviewer.post(f"/api/v1/declarations/{draft.pk}/refuse/", {}).status_code == 400
    refused = reviewer.post(
        f"/api/v1/declarations/{draft.pk}/refuse/",
        {"reason": "许可费计算说明不充分"},
        format="json",
    )
    assert refused.json()["status"] == "not_announced"
    assert DeclarationEvent.objects.get(to_status="not_announced").reason == "许可费计算说明不充分"


def test_a_withdrawal_can_be_refused_and_the_declaration_stays_announced(world: World) -> None:
    declaration = announced(
        declarable_patent(world.university), world.university_member, world.reviewer
    )
    services.declaration_request_withdrawal(
        actor=world.university_member, declaration_id=declaration.pk, reason="撤回"
    )
    response = world.client("reviewer").post(
        f"/api/v1/declarations/{declaration.pk}/refuse-withdrawal/",
        {"reason": "撤回附带条件，不予公告"},
        format="json",
    )
    assert response.json()["status"] == "announced"
    assert DeclarationEvent.objects.filter(verb="withdrawal_refused").count() == 1


def test_conditions_cannot_be_attached_to_a_withdrawal(world: World) -> None:
    declaration = announced(
        declarable_patent(world.university), world.university_member, world.reviewer
    )
    response = world.client("member").post(
        f"/api/v1/declarations/{declaration.pk}/request-withdrawal/",
        {"reason": "调整", "conditions": "仅在对方付款后生效"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["fields"]["conditions"][0]["code"] == "unknown_field"
    declaration.refresh_from_db()
    assert declaration.status == "announced"


@pytest.mark.parametrize("ending", ["terminate", "revoke"])
def test_reviewer_ends_a_declaration_with_a_reason(world: World, ending: str) -> None:
    declaration = announced(
        declarable_patent(world.university), world.university_member, world.reviewer
    )
    response = world.client("reviewer").post(
        f"/api/v1/declarations/{declaration.pk}/{ending}/",
        {"reason": "质押未获同意"},
        format="json",
    )
    assert response.json()["status"] == {"terminate": "terminated", "revoke": "revoked"}[ending]
    assert Patent.objects.get(pk=declaration.patent_id).is_listed is False


def test_a_new_declaration_supersedes_the_announced_one(world: World) -> None:
    patent = declarable_patent(world.university)
    first = announced(patent, world.university_member, world.reviewer)
    second = announced(patent, world.university_member, world.reviewer, royalty_rate_percent="2.5")
    first.refresh_from_db()
    assert (first.status, first.ended_date) == ("superseded", timezone.localdate())
    assert second.supersedes_id == first.pk
    assert second.number != first.number
    assert Patent.objects.get(pk=patent.pk).is_listed is True
    history = client_for(None).get(f"/api/v1/patents/{patent.pk}/declarations/").json()
    assert [(d["id"], d["status"]) for d in history] == [
        (first.pk, "superseded"),
        (second.pk, "announced"),
    ]


def test_only_one_draft_at_a_time_per_patent(world: World) -> None:
    patent = declarable_patent(world.university)
    services.declaration_create(
        actor=world.university_member, patent_id=patent.pk, terms=service_terms()
    )
    response = world.client("member").post(
        "/api/v1/declarations/", {"patent": patent.pk, **terms()}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "declaration_pending"


def test_moving_a_declaration_out_of_turn_is_a_conflict(world: World) -> None:
    patent = declarable_patent(world.university)
    draft = services.declaration_create(
        actor=world.university_member, patent_id=patent.pk, terms=service_terms()
    )
    response = world.client("reviewer").post(f"/api/v1/declarations/{draft.pk}/approve-withdrawal/")
    assert response.status_code == 404  # reviewers do not see drafts
    services.declaration_submit(actor=world.university_member, declaration_id=draft.pk)
    response = world.client("reviewer").post(f"/api/v1/declarations/{draft.pk}/approve-withdrawal/")
    assert response.status_code == 409
    assert response.json()["code"] == "declaration_transition_not_allowed"


# ---- co-owners -----------------------------------------------------------------------------


def test_co_owned_patent_needs_every_co_owners_consent_to_declare_and_to_withdraw(
    world: World,
) -> None:
    partner = OrganisationFactory.create(
        name="合作研究院", kind=OrganisationKind.RESEARCH_INSTITUTE
    )
    partner_member = MembershipFactory.create(organisation=partner).user
    patent = declarable_patent(world.university)
    PatentCoOwner.objects.create(patent=patent, organisation=partner)
    draft = services.declaration_create(
        actor=world.university_member, patent_id=patent.pk, terms=service_terms()
    )

    refused = world.client("member").post(f"/api/v1/declarations/{draft.pk}/submit/")
    assert refused.status_code == 409
    assert refused.json()["code"] == "co_owner_consent_missing"
    assert "合作研究院" in refused.json()["detail"]
    not_co_owner = world.client("other_member").post(
        f"/api/v1/declarations/{draft.pk}/consent/", {"purpose": "declaration"}, format="json"
    )
    assert not_co_owner.status_code == 404
    consent = client_for(partner_member).post(
        f"/api/v1/declarations/{draft.pk}/consent/", {"purpose": "declaration"}, format="json"
    )
    assert consent.status_code == 200
    assert (
        world.client("member").post(f"/api/v1/declarations/{draft.pk}/submit/").status_code == 200
    )
    services.declaration_announce(actor=world.reviewer, declaration_id=draft.pk)

    withdraw = world.client("member").post(
        f"/api/v1/declarations/{draft.pk}/request-withdrawal/", {"reason": "调整"}, format="json"
    )
    assert withdraw.json()["code"] == "co_owner_consent_missing"
    client_for(partner_member).post(
        f"/api/v1/declarations/{draft.pk}/consent/", {"purpose": "withdrawal"}, format="json"
    )
    withdraw = world.client("member").post(
        f"/api/v1/declarations/{draft.pk}/request-withdrawal/", {"reason": "调整"}, format="json"
    )
    assert withdraw.json()["status"] == "withdrawal_requested"
    assert DeclarationConsent.objects.count() == 2


def test_editing_terms_voids_earlier_co_owner_consent(world: World) -> None:
    partner = OrganisationFactory.create(name="合作研究院")
    partner_member = MembershipFactory.create(organisation=partner).user
    patent = declarable_patent(world.university)
    PatentCoOwner.objects.create(patent=patent, organisation=partner)
    draft = services.declaration_create(
        actor=world.university_member, patent_id=patent.pk, terms=service_terms()
    )
    services.declaration_consent(
        actor=partner_member, declaration_id=draft.pk, purpose="declaration"
    )
    world.client("member").patch(
        f"/api/v1/declarations/{draft.pk}/", {"royalty_rate_percent": "4.0"}, format="json"
    )
    assert not DeclarationConsent.objects.exists()


# ---- consistency with the patent -----------------------------------------------------------


def test_a_bar_arising_flags_the_declaration_and_hides_the_patent_until_cleared(
    world: World,
) -> None:
    declaration = announced(
        declarable_patent(world.university), world.university_member, world.reviewer
    )
    recorded = world.client("reviewer").post(
        f"/api/v1/patents/{declaration.patent_id}/hindrances/",
        {"reason": "权属争议"},
        format="json",
    )
    assert recorded.status_code == 201
    declaration.refresh_from_db()
    assert declaration.flagged_bars == ["bar_reviewer_hindrance"]
    assert Patent.objects.get(pk=declaration.patent_id).is_listed is False
    queue = world.client("reviewer").get("/api/v1/declarations/review-queue/").json()["results"]
    assert [item["id"] for item in queue] == [declaration.pk]
    world.client("reviewer").post(
        f"/api/v1/patents/{declaration.patent_id}/hindrances/{recorded.json()['id']}/resolve/"
    )
    declaration.refresh_from_db()
    assert declaration.flagged_bars == []
    assert Patent.objects.get(pk=declaration.patent_id).is_listed is True
    verbs = list(declaration.events.values_list("verb", flat=True))
    assert verbs[-2:] == ["bars_flagged", "bars_cleared"]


def test_unpaid_fees_recorded_flag_the_declaration(world: World) -> None:
    declaration = announced(
        declarable_patent(world.university), world.university_member, world.reviewer
    )
    world.client("reviewer").post(
        f"/api/v1/patents/{declaration.patent_id}/legal-status/",
        {"legal_status": "terminated"},
        format="json",
    )
    declaration.refresh_from_db()
    assert declaration.flagged_bars == ["bar_terminated_or_expired"]


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        (
            "exclusive-licenses/",
            {
                "kind": "exclusive",
                "licensee": "某公司",
                "starts_on": "2026-01-01",
                "ends_on": "2027-01-01",
            },
            "declaration_in_force_withdraw_first",
        ),
        ("legal-status/", {"legal_status": "terminated"}, "declaration_in_force_withdraw_first"),
        (
            "pledges/",
            {"pledgee": "某银行", "registered_on": "2026-01-01", "pledgee_consents": False},
            "pledge_needs_consent_while_declared",
        ),
    ],
)
def test_patent_changes_forbidden_while_declared_are_refused(
    world: World, path: str, body: dict[str, Any], code: str
) -> None:
    declaration = announced(
        declarable_patent(world.university), world.university_member, world.reviewer
    )
    response = world.client("member").post(
        f"/api/v1/patents/{declaration.patent_id}/{path}", body, format="json"
    )
    assert response.status_code == 409, response.json()
    assert response.json()["code"] == code
    patent = Patent.objects.get(pk=declaration.patent_id)
    assert (patent.legal_status, patent.pledges.count(), patent.exclusive_licenses.count()) == (
        "in_force",
        0,
        0,
    )


def test_a_consenting_pledge_is_allowed_while_declared(world: World) -> None:
    declaration = announced(
        declarable_patent(world.university), world.university_member, world.reviewer
    )
    response = world.client("member").post(
        f"/api/v1/patents/{declaration.patent_id}/pledges/",
        {"pledgee": "某银行", "registered_on": "2026-01-01", "pledgee_consents": True},
        format="json",
    )
    assert response.status_code == 201


def test_declarations_expire_with_the_patent(world: World) -> None:
    declaration = announced(
        declarable_patent(world.university), world.university_member, world.reviewer
    )
    Patent.objects.filter(pk=declaration.patent_id).update(
        expiry_date=timezone.localdate() - timedelta(days=1)
    )
    assert services.declarations_expire() == 1
    declaration.refresh_from_db()
    assert declaration.status == "expired"
    assert services.declarations_expire() == 0


# ---- notifications -------------------------------------------------------------------------


def test_announcement_notifies_the_patentee_in_app_and_by_mail_once(world: World) -> None:
    declaration = announced(
        declarable_patent(world.university), world.university_member, world.reviewer
    )
    event = DeclarationEvent.objects.get(declaration=declaration, verb="announced")
    assert notify_declaration_event(event.pk) == 2
    assert notify_declaration_event(event.pk) == 0  # a retried task adds nothing
    notified = set(
        Notification.objects.filter(kind="declaration_announced").values_list(
            "user__email", flat=True
        )
    )
    assert notified == {"admin@uni.example.com", "member@uni.example.com"}
    assert OutboundEmail.objects.filter(kind="declaration_announced").count() == 2
    inbox = world.client("member").get("/api/v1/notifications/").json()["results"]
    assert inbox[0]["title"].startswith(f"Open-license declaration {declaration.number}")


def test_submission_notifies_reviewers(world: World) -> None:
    patent = declarable_patent(world.university)
    draft = services.declaration_create(
        actor=world.university_member, patent_id=patent.pk, terms=service_terms()
    )
    services.declaration_submit(actor=world.university_member, declaration_id=draft.pk)
    event = DeclarationEvent.objects.get(verb="submitted")
    notify_declaration_event(event.pk)
    assert Notification.objects.filter(user=world.reviewer, kind="declaration_submitted").exists()
    assert not Notification.objects.filter(user=world.mediator).exists()


# ---- register export -----------------------------------------------------------------------


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def test_csv_export_is_safe_against_formula_injection(world: World) -> None:
    announced(
        declarable_patent(world.university),
        world.university_member,
        world.reviewer,
        contact_name='=HYPERLINK("http://evil.example","点我")',
    )
    text = b"".join(streamed(client_for(None).get("/api/v1/register/export/"))).decode("utf-8-sig")
    # Read back as a spreadsheet would: the cell (not the raw text, where the csv module's
    # quoting hides a leading "=") starts with the apostrophe, and no cell starts a formula.
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["contact_name"] for row in rows] == ['\'=HYPERLINK("http://evil.example","点我")']
    assert [cell for row in rows for cell in row.values() if cell.startswith(FORMULA_STARTS)] == []


def test_json_export_and_filters(world: World) -> None:
    first = announced(
        declarable_patent(world.university, 1), world.university_member, world.reviewer
    )
    announced(
        declarable_patent(world.university, 2, main_ipc="G06F 17/30", further_ipcs=[]),
        world.university_member,
        world.reviewer,
    )
    import json

    rows = json.loads(
        b"".join(
            streamed(
                client_for(None).get(
                    "/api/v1/register/export/", {"file_format": "json", "ipc": "H01M"}
                )
            )
        )
    )
    assert [row["number"] for row in rows] == [first.number]
    bad = client_for(None).get("/api/v1/register/export/", {"file_format": "xml"})
    assert bad.status_code == 400


# ---- per role ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_only_patentee_members_draft_and_submit(world: World, role: str) -> None:
    patent = declarable_patent(world.university)
    before = _state()
    created = world.client(role).post(
        "/api/v1/declarations/", {"patent": patent.pk, **terms()}, format="json"
    )
    if role not in {"member", "org_admin"}:
        assert created.status_code == {"anonymous": 401}.get(
            role, 403 if role in {"reviewer", "mediator"} else 404
        )
        assert _state() == before
        return
    assert created.status_code == 201
    declaration_id = created.json()["id"]
    for other in ROLES:
        if other in {"member", "org_admin"}:
            continue
        response = world.client(other).post(f"/api/v1/declarations/{declaration_id}/submit/")
        assert response.status_code == {"anonymous": 401}.get(other, 404), other
    assert (
        world.client(role).post(f"/api/v1/declarations/{declaration_id}/submit/").status_code == 200
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("command", ["announce", "refuse"])
def test_only_reviewers_announce_or_refuse(world: World, role: str, command: str) -> None:
    patent = declarable_patent(world.university)
    draft = services.declaration_create(
        actor=world.university_member, patent_id=patent.pk, terms=service_terms()
    )
    services.declaration_submit(actor=world.university_member, declaration_id=draft.pk)
    before = _state()
    response = world.client(role).post(
        f"/api/v1/declarations/{draft.pk}/{command}/", {"reason": "不符合要求"}, format="json"
    )
    if role == "reviewer":
        assert response.status_code == 200
        return
    expected = {"anonymous": 401, "other_member": 404}.get(role, 403)
    assert response.status_code == expected
    assert _state() == before


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("command", "allowed"),
    [
        ("request-withdrawal", {"member", "org_admin"}),
        ("terminate", {"reviewer"}),
        ("revoke", {"reviewer"}),
    ],
)
def test_commands_on_an_announced_declaration_per_role(
    world: World, role: str, command: str, allowed: set[str]
) -> None:
    declaration = announced(
        declarable_patent(world.university), world.university_member, world.reviewer
    )
    before = _state()
    response = world.client(role).post(
        f"/api/v1/declarations/{declaration.pk}/{command}/", {"reason": "理由"}, format="json"
    )
    if role in allowed:
        assert response.status_code == 200
        return
    assert response.status_code == {"anonymous": 401}.get(role, 403)
    assert _state() == before


@pytest.mark.parametrize("role", ROLES)
def test_drafts_are_private_and_announced_declarations_public(world: World, role: str) -> None:
    draft_patent = declarable_patent(world.university, 1)
    draft = services.declaration_create(
        actor=world.university_member, patent_id=draft_patent.pk, terms=service_terms()
    )
    public = announced(
        declarable_patent(world.university, 2), world.university_member, world.reviewer
    )
    listed = {
        item["id"] for item in world.client(role).get("/api/v1/declarations/").json()["results"]
    }
    if role in {"member", "org_admin"}:
        assert listed == {draft.pk, public.pk}
    else:
        assert listed == {public.pk}
    problems = world.client(role).get(f"/api/v1/declarations/{draft.pk}/problems/")
    assert problems.status_code == (
        200 if role in {"member", "org_admin"} else {"anonymous": 401}.get(role, 404)
    )
    register = world.client(role).get("/api/v1/register/")
    assert register.status_code == 200
    queue = world.client(role).get("/api/v1/declarations/review-queue/")
    assert queue.status_code == (200 if role == "reviewer" else {"anonymous": 401}.get(role, 403))


@pytest.mark.parametrize("role", ROLES)
def test_edit_draft_per_role(world: World, role: str) -> None:
    patent = declarable_patent(world.university)
    draft = services.declaration_create(
        actor=world.university_member, patent_id=patent.pk, terms=service_terms()
    )
    response = world.client(role).patch(
        f"/api/v1/declarations/{draft.pk}/", {"royalty_rate_percent": "4.0"}, format="json"
    )
    draft.refresh_from_db()
    if role in {"member", "org_admin"}:
        assert response.status_code == 200
        assert str(draft.royalty_rate_percent) == "4.0000"
        return
    assert response.status_code == {"anonymous": 401}.get(role, 404)
    assert str(draft.royalty_rate_percent) == "3.5000"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("command", ["approve-withdrawal", "refuse-withdrawal"])
def test_only_reviewers_decide_a_withdrawal(world: World, role: str, command: str) -> None:
    declaration = announced(
        declarable_patent(world.university), world.university_member, world.reviewer
    )
    services.declaration_request_withdrawal(
        actor=world.university_member, declaration_id=declaration.pk, reason="调整"
    )
    before = _state()
    response = world.client(role).post(
        f"/api/v1/declarations/{declaration.pk}/{command}/", {"reason": "理由"}, format="json"
    )
    if role == "reviewer":
        assert response.status_code == 200
        return
    assert response.status_code == {"anonymous": 401}.get(role, 403)
    assert _state() == before


@pytest.mark.parametrize("role", ROLES)
def test_consent_per_role(world: World, role: str) -> None:
    partner = OrganisationFactory.create(name="合作研究院")
    patent = declarable_patent(world.university)
    PatentCoOwner.objects.create(patent=patent, organisation=partner)
    draft = services.declaration_create(
        actor=world.university_member, patent_id=patent.pk, terms=service_terms()
    )
    response = world.client(role).post(
        f"/api/v1/declarations/{draft.pk}/consent/", {"purpose": "declaration"}, format="json"
    )
    # None of the six roles belongs to the co-owner: members of the patentee see the draft
    # but may not consent for the co-owner; everyone else does not see the draft at all.
    expected = {"anonymous": 401, "member": 403, "org_admin": 403}.get(role, 404)
    assert response.status_code == expected
    assert not DeclarationConsent.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_public_reads_per_role(world: World, role: str) -> None:
    declaration = announced(
        declarable_patent(world.university), world.university_member, world.reviewer
    )
    client = world.client(role)
    assert client.get(f"/api/v1/declarations/{declaration.pk}/").status_code == 200
    assert client.get(f"/api/v1/declarations/{declaration.pk}/timeline/").status_code == 200
    assert client.get(f"/api/v1/register/{declaration.number}/").status_code == 200
    assert client.get("/api/v1/register/export/", {"file_format": "json"}).status_code == 200
    history = client.get(f"/api/v1/patents/{declaration.patent_id}/declarations/")
    assert [item["id"] for item in history.json()] == [declaration.pk]


@pytest.mark.parametrize("role", ROLES)
def test_only_reviewers_record_hindrances(world: World, role: str) -> None:
    patent = declarable_patent(world.university, is_listed=True)
    response = world.client(role).post(
        f"/api/v1/patents/{patent.pk}/hindrances/", {"reason": "权属争议"}, format="json"
    )
    if role == "reviewer":
        assert response.status_code == 201
        return
    assert response.status_code == {"anonymous": 401}.get(role, 403)
    assert not PatentHindrance.objects.exists()


def test_reviewers_work_the_queue_in_the_admin_through_the_workflow(world: World) -> None:
    patent = declarable_patent(world.university)
    draft = services.declaration_create(
        actor=world.university_member, patent_id=patent.pk, terms=service_terms()
    )
    services.declaration_submit(actor=world.university_member, declaration_id=draft.pk)
    from django.test import Client

    admin = Client()  # the admin takes form posts, not the API client's JSON
    admin.force_login(world.reviewer)
    listing = admin.get("/admin/licensing/declaration/", {"status__exact": "submitted"})
    assert listing.status_code == 200
    assert patent.application_number in listing.content.decode()
    response = admin.post(
        "/admin/licensing/declaration/",
        {"action": "announce", "_selected_action": [draft.pk], "index": 0},
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == "announced"
    event = DeclarationEvent.objects.get(declaration=draft, to_status="announced")
    assert event.actor == world.reviewer


def test_parties_have_no_declaration_admin(world: World) -> None:
    admin = client_for(None)
    admin.force_login(world.university_admin)
    response = admin.get("/admin/licensing/declaration/")
    # Not staff: the admin sends them to its login page, and shows nothing.
    assert (response.status_code, response["Location"]) == (
        302,
        "/admin/login/?next=/admin/licensing/declaration/",
    )


def test_a_draft_with_a_malformed_field_and_a_broken_term_rule_hears_of_both_at_once(
    world: World,
) -> None:
    # Given a draft whose phone is too long (the serializer) and whose entry fee is over the
    # cap (a term rule)
    patent = declarable_patent(world.university)
    before = _state()
    body = {"patent": patent.pk, **terms(entry_fee_cny="20000001", contact_phone="1" * 300)}

    # When the patentee sends it
    response = world.client("member", "zh-hans").post("/api/v1/declarations/", body, format="json")

    # Then one 400 names both, each on the body's own field, and nothing is stored
    assert response.status_code == 400, response.json()
    answer = response.json()
    assert answer["code"] == "invalid"
    assert sorted(answer["fields"]) == ["contact_phone", "entry_fee_cny"]
    assert [item["code"] for item in answer["fields"]["entry_fee_cny"]] == ["entry_fee_over_cap"]
    assert [item["code"] for item in answer["fields"]["contact_phone"]] == ["max_length"]
    assert _state() == before


def test_a_refused_payment_method_is_reported_alone_not_with_rules_it_would_decide(
    world: World,
) -> None:
    patent = declarable_patent(world.university)
    response = world.client("member").post(
        "/api/v1/declarations/",
        {"patent": patent.pk, **terms(payment_method="barter")},
        format="json",
    )
    assert response.status_code == 400
    assert sorted(response.json()["fields"]) == ["payment_method"]


def test_one_in_force_definition_serves_the_patent_filter_and_the_search_hits(
    world: World,
) -> None:
    from licensing.querysets import IN_FORCE_STATUSES
    from marketplace.search.hits import hit_rows

    assert Patent.objects.in_force_statuses() == IN_FORCE_STATUSES
    declaration = announced(
        declarable_patent(world.university), world.university_admin, world.reviewer
    )
    draft_patent = declarable_patent(world.university, 2)
    services.declaration_create(
        actor=world.university_admin, patent_id=draft_patent.pk, terms=service_terms()
    )
    in_force = set(Patent.objects.with_declaration_in_force().values_list("pk", flat=True))
    hits = {
        patent.pk: patent.hit_declaration_id  # type: ignore[attr-defined]
        for patent in hit_rows(Patent.objects.filter(owner=world.university))
    }
    assert in_force == {declaration.patent_id}
    assert hits == {declaration.patent_id: declaration.pk, draft_patent.pk: None}


# ---- the register's IPC copy (licensing 0021) ----------------------------------------------


def test_the_register_ipc_filter_follows_a_patent_reclassification(world: World) -> None:
    from marketplace.services.patents import patent_update

    patent = declarable_patent(world.university, 1)
    declaration = announced(patent, world.university_member, world.reviewer)
    # Given: the declaration took its patent's prefixes when it was written.
    assert declaration.ipc_prefixes == patent.ipc_prefixes
    anonymous = client_for(None)

    def numbers(ipc: str) -> list[str]:
        response = anonymous.get("/api/v1/register/", {"ipc": ipc})
        assert response.status_code == 200
        return [row["number"] for row in response.json()["results"]]

    assert numbers("H01M") == [declaration.number]
    # When: the patent is reclassified through the service.
    patent_update(
        actor=world.university_member,
        patent_id=patent.pk,
        data={"main_ipc": "G06F 17/30", "further_ipcs": []},
    )
    # Then: the register finds it under the new class only.
    assert numbers("H01M") == []
    assert numbers("G06F17") == [declaration.number]
    assert Declaration.objects.get(pk=declaration.pk).ipc_prefixes == [
        "G",
        "G06",
        "G06F",
        "G06F17",
        "G06F17/30",
    ]


def test_a_direct_write_of_the_declaration_ipc_copy_is_overwritten_by_the_patents(
    world: World,
) -> None:
    patent = declarable_patent(world.university, 1)
    declaration = announced(patent, world.university_member, world.reviewer)
    Declaration.objects.filter(pk=declaration.pk).update(ipc_prefixes=["A01B"])
    assert Declaration.objects.get(pk=declaration.pk).ipc_prefixes == patent.ipc_prefixes


def test_the_register_finds_a_declaration_by_its_number_or_its_patents_number(
    world: World,
) -> None:
    patent = declarable_patent(world.university, 1)
    declaration = announced(patent, world.university_member, world.reviewer)
    other = announced(
        declarable_patent(world.university, 2), world.university_member, world.reviewer
    )
    anonymous = client_for(None)

    def numbers(q: str) -> list[str]:
        response = anonymous.get("/api/v1/register/", {"q": q})
        assert response.status_code == 200
        return sorted(row["number"] for row in response.json()["results"])

    assert declaration.number is not None
    both = sorted([declaration.number, str(other.number)])
    assert numbers(declaration.number.lower()) == [declaration.number]
    assert numbers(f"ZL{patent.application_number}") == [declaration.number]
    assert numbers(patent.application_number[:-2]) == [declaration.number]  # without ".6"
    assert numbers("2021 1") == both  # the beginning of both numbers
    assert numbers("正极材料") == both  # a word of both titles
    assert numbers("不存在的词") == []
