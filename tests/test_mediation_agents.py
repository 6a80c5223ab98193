"""Agents with power of attorney (rules §7: up to two per party): the applicant names them at
application, either party for its own side while the case is open, the respondent also when it
agrees; the case read API shows each side's agents."""

from __future__ import annotations

from typing import Any

import pytest

from licensing.models import CaseAgent, MediationCase, MediationEvent
from licensing.services import mediation as services
from licensing.tasks import notify_mediation_event
from marketplace.models import Notification, User
from tests.conftest import World, client_for
from tests.factories import MembershipFactory
from tests.mediation_helpers import fix_today, licensed, open_case, supervisor
from tests.test_mediation import BEFORE_NATIONAL_DAY

pytestmark = pytest.mark.django_db

AGENT_A = {"name": "李律师", "power_of_attorney": "授权委托书 2025-017"}
AGENT_B = {"name": "王专利代理师", "power_of_attorney": "授权委托书 2025-018"}
AGENT_C = {"name": "赵顾问", "power_of_attorney": "授权委托书 2025-019"}


@pytest.fixture
def case(world: World, monkeypatch: pytest.MonkeyPatch) -> MediationCase:
    """Applied by the SME (the licensee) against the university, with one agent named."""
    fix_today(monkeypatch, BEFORE_NATIONAL_DAY)
    case = open_case(world, licensed(world), agents=[services.AgentInput(**AGENT_A)])
    services.case_assign(actor=supervisor(), case_id=case.pk, mediator_id=world.mediator.pk)
    return case


def _notified(world: World, case: MediationCase) -> None:
    services.case_send_notice(actor=world.mediator, case_id=case.pk)


def _agents(case: MediationCase) -> list[tuple[str, str]]:
    """(side, name) of every agent on file, in the order named."""
    return [
        ("applicant" if organisation_id == case.applicant_id else "respondent", name)
        for organisation_id, name in CaseAgent.objects.filter(case=case)
        .order_by("pk")
        .values_list("organisation_id", "name")
    ]


def _state(case: MediationCase) -> tuple[Any, ...]:
    case.refresh_from_db()
    return (
        _agents(case),
        case.status,
        list(MediationEvent.objects.filter(case=case).values_list("verb", flat=True)),
    )


def _name(user: Any, case: MediationCase, *agents: dict[str, str], language: str = "en") -> Any:
    return client_for(user, language).post(
        f"/api/v1/mediation-cases/{case.pk}/agents/", {"agents": list(agents)}, format="json"
    )


def _user(world: World, role: str) -> Any:
    if role == "supervisor":
        return User.objects.get(email="supervisor@example.com")  # the fixture's supervisor
    if role == "outsider":
        return MembershipFactory.create().user  # a member of an organisation not in the case
    return {
        "applicant": world.sme_admin,
        "respondent_admin": world.university_admin,
        "respondent_member": world.university_member,
        "mediator": world.mediator,
        "reviewer": world.reviewer,
        "anonymous": None,
    }[role]


# ---- at application (unchanged rule, now counted with the same helper) -----------------------


def test_an_application_with_three_agents_is_refused_and_opens_no_case(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    fix_today(monkeypatch, BEFORE_NATIONAL_DAY)
    license = licensed(world)
    response = client_for(world.sme_admin).post(
        "/api/v1/mediation-cases/",
        {
            "applicant": world.sme.pk,
            "respondent": world.university.pk,
            "declaration": license.declaration_id,
            "license": license.pk,
            "cause": "payment",
            "summary": "x",
            "matters": "y",
            "agents": [AGENT_A, AGENT_B, AGENT_C],
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "too_many_agents",
        "detail": "At most 2 agents per party.",
        "fields": {"agents": [{"code": "too_many_agents", "message": "Too many."}]},
    }
    assert (MediationCase.objects.count(), CaseAgent.objects.count()) == (0, 0)


# ---- the respondent names its agents when it agrees ------------------------------------------


def test_the_respondent_names_its_agents_when_it_agrees_and_the_case_shows_both_sides(
    world: World, case: MediationCase
) -> None:
    _notified(world, case)
    response = client_for(world.university_admin).post(
        f"/api/v1/mediation-cases/{case.pk}/respond/",
        {"agree": True, "agents": [AGENT_B, AGENT_C]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "agreed"
    on_file = CaseAgent.objects.filter(case=case).order_by("pk")
    assert body["agents"] == {
        "applicant": [{"id": on_file[0].pk, **AGENT_A}],
        "respondent": [{"id": on_file[1].pk, **AGENT_B}, {"id": on_file[2].pk, **AGENT_C}],
    }
    assert on_file[1].organisation_id == on_file[2].organisation_id == world.university.pk
    event = MediationEvent.objects.get(case=case, verb="agents_named")
    assert (event.actor, event.data) == (
        world.university_admin,
        {"side": "respondent", "agents": ["王专利代理师", "赵顾问"]},
    )
    # The applicant learns who represents the other side.
    assert notify_mediation_event(event.pk) == 4  # both parties' members and the mediator
    told = Notification.objects.get(user=world.sme_admin, kind="mediation_agents_named")
    assert told.title == f"Mediation case {case.number}: agents named"
    assert told.body == (
        f"Case {case.number}, status respondent agreed to mediate.\n\n"
        "Agents with power of attorney for the respondent: 王专利代理师, 赵顾问"
    )


def test_a_respondent_naming_three_agents_when_agreeing_is_refused_and_has_not_agreed(
    world: World, case: MediationCase
) -> None:
    _notified(world, case)
    before = _state(case)
    response = client_for(world.university_admin).post(
        f"/api/v1/mediation-cases/{case.pk}/respond/",
        {"agree": True, "agents": [AGENT_A, AGENT_B, AGENT_C]},
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (400, "too_many_agents")
    assert _state(case) == before
    assert before[1] == "notified"


def test_agents_come_with_an_agreement_not_with_a_refusal(
    world: World, case: MediationCase
) -> None:
    _notified(world, case)
    before = _state(case)
    response = client_for(world.university_admin, "zh-hans").post(
        f"/api/v1/mediation-cases/{case.pk}/respond/",
        {"agree": False, "reason": "诉讼解决", "agents": [AGENT_B]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "agents_need_agreement"
    assert response.json()["detail"] == "委托代理人在同意调解时指定，拒绝调解时不能指定。"
    assert _state(case) == before


# ---- either party names agents for its own side ----------------------------------------------


@pytest.mark.parametrize(
    ("role", "status", "side"),
    [
        ("applicant", 200, "applicant"),
        ("respondent_admin", 200, "respondent"),
        ("respondent_member", 200, "respondent"),
        ("outsider", 404, None),
        ("mediator", 403, None),
        ("supervisor", 403, None),
        ("reviewer", 404, None),
        ("anonymous", 401, None),
    ],
)
def test_a_party_names_agents_for_its_own_side_and_no_one_else_can(
    world: World, case: MediationCase, role: str, status: int, side: str | None
) -> None:
    user = _user(world, role)
    before = _state(case)
    response = _name(user, case, AGENT_B)
    assert response.status_code == status, response.json()
    if side is None:
        assert (
            response.json()["code"]
            == {
                403: "party_required",
                404: "not_found",
                401: "not_authenticated",
            }[status]
        )
        assert _state(case) == before
        return
    assert _agents(case) == [("applicant", "李律师"), (side, "王专利代理师")]
    assert [a["name"] for a in response.json()["agents"][side]] == (
        ["李律师", "王专利代理师"] if side == "applicant" else ["王专利代理师"]
    )
    event = MediationEvent.objects.get(case=case, verb="agents_named")
    assert (event.actor, event.data) == (user, {"side": side, "agents": ["王专利代理师"]})


def test_at_most_two_agents_per_party_counting_those_already_named(
    world: World, case: MediationCase
) -> None:
    # The applicant named one at application: one more fits, two more do not.
    before = _state(case)
    refused = _name(world.sme_admin, case, AGENT_B, AGENT_C)
    assert refused.status_code == 400
    assert refused.json() == {
        "code": "too_many_agents",
        "detail": "At most 2 agents per party; 1 already named.",
        "fields": {"agents": [{"code": "too_many_agents", "message": "Too many."}]},
    }
    chinese = _name(world.sme_admin, case, AGENT_B, AGENT_C, language="zh-hans")
    assert chinese.json()["detail"] == "每一方最多 2 名委托代理人；已指定 1 名。"
    assert _state(case) == before
    assert _name(world.sme_admin, case, AGENT_B).status_code == 200
    assert _name(world.sme_admin, case, AGENT_C).json()["code"] == "too_many_agents"
    # The other side's count is its own.
    assert _name(world.university_member, case, AGENT_A, AGENT_C).status_code == 200
    assert _agents(case) == [
        ("applicant", "李律师"),
        ("applicant", "王专利代理师"),
        ("respondent", "李律师"),
        ("respondent", "赵顾问"),
    ]


def test_no_agents_are_named_on_a_case_that_is_over(world: World, case: MediationCase) -> None:
    services.case_withdraw(actor=world.sme_admin, case_id=case.pk)
    before = _state(case)
    response = _name(world.university_admin, case, AGENT_B)
    assert (response.status_code, response.json()["code"]) == (409, "case_closed")
    assert _state(case) == before


BAD_BODIES: list[tuple[str, Any]] = [
    ("no-agents", {}),
    ("empty-list", {"agents": []}),
    ("not-a-list", {"agents": AGENT_B}),
    ("missing-power-of-attorney", {"agents": [{"name": "李律师"}]}),
    ("blank-name", {"agents": [{"name": "  ", "power_of_attorney": "x"}]}),
    ("over-long-name", {"agents": [{"name": "名" * 101, "power_of_attorney": "x"}]}),
    ("nul", {"agents": [{"name": "李\u0000", "power_of_attorney": "x"}]}),
    ("wrong-types", {"agents": [{"name": 5, "power_of_attorney": []}]}),
    ("unknown-field", {"agents": [AGENT_B], "side": "respondent"}),
    ("agent-unknown-field", {"agents": [{**AGENT_B, "organisation": 1}]}),
    ("not-an-object", ["x"]),
]


@pytest.mark.parametrize("body", BAD_BODIES, ids=[name for name, _body in BAD_BODIES])
def test_bad_agent_input_gets_a_4xx_and_changes_nothing(
    world: World, case: MediationCase, body: tuple[str, Any]
) -> None:
    before = _state(case)
    response = client_for(world.university_admin).post(
        f"/api/v1/mediation-cases/{case.pk}/agents/", body[1], format="json"
    )
    assert response.status_code == 400, response.content[:300]
    assert set(response.json()) == {"code", "detail", "fields"}
    assert _state(case) == before


def test_malformed_json_on_the_agents_endpoint_is_a_400(world: World, case: MediationCase) -> None:
    response = client_for(world.university_admin).post(
        f"/api/v1/mediation-cases/{case.pk}/agents/",
        '{"agents": [',
        content_type="application/json",
    )
    assert (response.status_code, response.json()["code"]) == (400, "malformed_request")


# ---- who reads the agents --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("applicant", 200),
        ("respondent_member", 200),
        ("mediator", 200),
        ("outsider", 404),
        ("reviewer", 404),
        ("anonymous", 401),
    ],
)
def test_the_parties_and_the_mediator_read_both_sides_agents(
    world: World, case: MediationCase, role: str, status: int
) -> None:
    services.case_name_agents(
        actor=world.university_admin,
        case_id=case.pk,
        agents=[services.AgentInput(**AGENT_B)],
    )
    response = client_for(_user(world, role)).get(f"/api/v1/mediation-cases/{case.pk}/")
    assert response.status_code == status
    if status == 200:
        agents = response.json()["agents"]
        assert {side: [a["name"] for a in agents[side]] for side in agents} == {
            "applicant": ["李律师"],
            "respondent": ["王专利代理师"],
        }


def test_the_case_list_reads_all_agents_in_one_query(
    world: World, case: MediationCase, django_assert_num_queries: Any
) -> None:
    open_case(world, case.license, agents=[services.AgentInput(**AGENT_C)])  # type: ignore[arg-type]
    client = client_for(world.sme_admin)
    with django_assert_num_queries(6):
        response = client.get("/api/v1/mediation-cases/")
    cases = response.json()["results"]
    names = [[agent["name"] for agent in item["agents"]["applicant"]] for item in cases]
    assert sorted(names) == [["李律师"], ["赵顾问"]]


def test_the_mediators_case_page_shows_each_sides_agents(world: World, case: MediationCase) -> None:
    services.case_name_agents(
        actor=world.university_member, case_id=case.pk, agents=[services.AgentInput(**AGENT_B)]
    )
    admin = client_for(None)
    admin.force_login(world.mediator)
    page = admin.get(f"/admin/licensing/mediationcase/{case.pk}/change/").content.decode()
    assert "agents: 李律师 (授权委托书 2025-017)" in page
    assert "agents: 王专利代理师 (授权委托书 2025-018)" in page


# ---- a party revokes one of its own agents (to replace a wrong name) --------------------------


def _revoke(user: Any, case: MediationCase, agent_id: int) -> Any:
    return client_for(user).post(f"/api/v1/mediation-cases/{case.pk}/agents/{agent_id}/revoke/")


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("applicant", 200),
        ("respondent_admin", 404),  # the other side's agent is not theirs to revoke
        ("respondent_member", 404),
        ("outsider", 404),
        ("mediator", 403),
        ("supervisor", 403),
        ("reviewer", 404),
        ("anonymous", 401),
    ],
)
def test_a_party_revokes_its_own_agent_and_no_one_else_can(
    world: World, case: MediationCase, role: str, status: int
) -> None:
    agent = CaseAgent.objects.get(case=case)
    before = _state(case)
    response = _revoke(_user(world, role), case, agent.pk)
    assert response.status_code == status, response.json()
    if status != 200:
        assert _state(case) == before
        return
    assert response.json()["agents"] == {"applicant": [], "respondent": []}
    event = MediationEvent.objects.get(case=case, verb="agent_revoked")
    assert (event.actor, event.data) == (
        world.sme_admin,
        {"side": "applicant", "agents": ["李律师"]},
    )
    assert notify_mediation_event(event.pk) == 4
    told = Notification.objects.get(user=world.mediator, kind="mediation_agent_revoked")
    assert told.body.endswith("Power of attorney revoked for the applicant: 李律师")


def test_a_revoked_agent_frees_a_place_within_the_limit(world: World, case: MediationCase) -> None:
    assert _name(world.sme_admin, case, AGENT_B).status_code == 200
    assert _name(world.sme_admin, case, AGENT_C).json()["code"] == "too_many_agents"
    wrong = CaseAgent.objects.get(case=case, name=AGENT_B["name"])
    assert _revoke(world.sme_admin, case, wrong.pk).status_code == 200
    assert _name(world.sme_admin, case, AGENT_C).status_code == 200
    assert _agents(case) == [("applicant", "李律师"), ("applicant", "赵顾问")]


def test_no_revocation_once_the_case_is_over_or_for_an_unknown_agent(
    world: World, case: MediationCase
) -> None:
    agent = CaseAgent.objects.get(case=case)
    assert _revoke(world.sme_admin, case, agent.pk + 1000).status_code == 404
    services.case_withdraw(actor=world.sme_admin, case_id=case.pk)
    before = _state(case)
    response = _revoke(world.sme_admin, case, agent.pk)
    assert (response.status_code, response.json()["code"]) == (409, "case_closed")
    assert _state(case) == before
