"""Technology needs: posting, editing, closing and reopening; the budget stays private."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from marketplace.models import TechnologyNeed, TechnologyNeedEvent
from marketplace.services import needs as services
from tests.conftest import ROLES, World, client_for
from tests.factories import MembershipFactory, SmeProfileFactory

pytestmark = pytest.mark.django_db


def need_body(world: World, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "organisation": world.sme.pk,
        "title": "高镍正极材料的包覆改性技术",
        "description": "寻求提高高镍三元正极循环稳定性的包覆技术，可用于动力电池量产。",
        "keywords": ["高镍", "包覆", "正极"],
        "ipc_areas": ["H01M 4", "h01m10"],
        "industries": ["3841"],
        "budget_min_cny": "200000.00",
        "budget_max_cny": "800000.00",
        "payment_method": "lump_sum",
        "region": "320505",
        "expires_on": (timezone.localdate() + timedelta(days=90)).isoformat(),
    }
    data.update(overrides)
    return data


def _need(world: World) -> TechnologyNeed:
    values = need_body(world)
    values.pop("organisation")
    from marketplace.models import Industry, Region

    values["industries"] = [Industry.objects.get(code="C3841")]
    values["region"] = Region.objects.get(code="320505")
    values["expires_on"] = timezone.localdate() + timedelta(days=90)
    return services.need_create(actor=world.sme_admin, organisation_id=world.sme.pk, values=values)


def _sme_roles(world: World, role: str) -> Any:
    """For needs, the SME is "our" organisation: remap member/admin/other accordingly."""
    if role == "org_admin":
        return world.sme_admin
    if role == "member":
        return MembershipFactory.create(organisation=world.sme).user
    if role == "other_member":
        return world.university_admin
    return world.user(role)


@pytest.mark.parametrize("role", ROLES)
def test_only_the_smes_members_post_needs(world: World, role: str) -> None:
    response = client_for(_sme_roles(world, role)).post(
        "/api/v1/needs/", need_body(world), format="json"
    )
    if role in {"member", "org_admin"}:
        assert response.status_code == 201, response.json()
        need = TechnologyNeed.objects.get()
        assert (need.ipc_areas, need.industries, need.status) == (
            ["H01M4", "H01M10"],
            ["C3841"],
            "open",
        )
        assert response.json()["budget_max_cny"] == "800000.00"
        return
    assert response.status_code == {"anonymous": 401}.get(role, 403)
    assert not TechnologyNeed.objects.exists()


def test_a_university_cannot_post_needs(world: World) -> None:
    response = world.client("org_admin").post(
        "/api/v1/needs/", need_body(world, organisation=world.university.pk), format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "not_an_sme"


@pytest.mark.parametrize(
    ("override", "field", "code"),
    [
        (
            {"budget_min_cny": "900000", "budget_max_cny": "100000"},
            "budget_min_cny",
            "budget_range_inverted",
        ),
        ({"budget_min_cny": "-1"}, "budget_min_cny", "min_value"),
        ({"expires_on": "2020-01-01"}, "expires_on", "expiry_in_past"),
        ({"ipc_areas": ["battery"]}, "ipc_areas", "invalid_ipc"),
        ({"industries": ["Z99"]}, "industries.0", "invalid"),
        ({"payment_method": "barter"}, "payment_method", "invalid_choice"),
        ({"title": "x" * 201}, "title", "max_length"),
    ],
)
def test_bad_needs_are_refused(
    world: World, override: dict[str, Any], field: str, code: str
) -> None:
    response = client_for(world.sme_admin).post(
        "/api/v1/needs/", need_body(world, **override), format="json"
    )
    assert response.status_code == 400, response.json()
    assert response.json()["fields"][field][0]["code"] == code
    assert not TechnologyNeed.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_budget_is_hidden_from_everyone_but_the_sme_and_staff(world: World, role: str) -> None:
    need = _need(world)
    other_sme = SmeProfileFactory.create(organisation__name="另一家中小企业").organisation
    other_sme_member = MembershipFactory.create(organisation=other_sme).user
    users = {**{r: _sme_roles(world, r) for r in ROLES}, "other_member": other_sme_member}
    response = client_for(users[role]).get(f"/api/v1/needs/{need.pk}/")
    if role == "anonymous":
        assert response.status_code == 401
        return
    assert response.status_code == 200
    sees_budget = role in {"member", "org_admin", "reviewer", "mediator"}
    assert ("budget_min_cny" in response.json()) is sees_budget
    assert ("payment_method" in response.json()) is sees_budget
    listed = client_for(users[role]).get("/api/v1/needs/").json()["results"][0]
    assert ("budget_max_cny" in listed) is sees_budget


@pytest.mark.parametrize("role", ROLES)
def test_close_and_reopen_by_the_sme_only(world: World, role: str) -> None:
    need = _need(world)
    client = client_for(_sme_roles(world, role))
    closed = client.post(f"/api/v1/needs/{need.pk}/close/")
    need.refresh_from_db()
    if role in {"member", "org_admin"}:
        assert closed.status_code == 200
        assert need.status == "closed"
        again = client.post(f"/api/v1/needs/{need.pk}/close/")
        assert again.status_code == 409
        assert again.json()["code"] == "need_not_open"
        reopened = client.post(f"/api/v1/needs/{need.pk}/reopen/")
        assert reopened.json()["status"] == "open"
        verbs = list(TechnologyNeedEvent.objects.order_by("id").values_list("verb", flat=True))
        assert verbs == ["created", "closed", "reopened"]
        return
    assert closed.status_code == {"anonymous": 401}.get(role, 403)
    assert need.status == "open"


def test_closed_needs_are_hidden_from_other_organisations(world: World) -> None:
    need = _need(world)
    services.need_close(actor=world.sme_admin, need_id=need.pk)
    assert world.client("org_admin").get(f"/api/v1/needs/{need.pk}/").status_code == 404
    assert client_for(world.sme_admin).get(f"/api/v1/needs/{need.pk}/").status_code == 200


def test_an_expired_need_reopens_only_with_a_new_date(world: World) -> None:
    need = _need(world)
    services.need_close(actor=world.sme_admin, need_id=need.pk)
    TechnologyNeed.objects.filter(pk=need.pk).update(expires_on=timezone.localdate())
    client = client_for(world.sme_admin)
    refused = client.post(f"/api/v1/needs/{need.pk}/reopen/")
    assert refused.status_code == 409
    assert refused.json()["code"] == "need_expired"
    new_date = (timezone.localdate() + timedelta(days=30)).isoformat()
    assert client.patch(f"/api/v1/needs/{need.pk}/", {"expires_on": new_date}).status_code == 200
    assert client.post(f"/api/v1/needs/{need.pk}/reopen/").status_code == 200


def test_edit_records_what_changed(world: World) -> None:
    need = _need(world)
    response = client_for(world.sme_admin).patch(
        f"/api/v1/needs/{need.pk}/", {"keywords": ["固态电池"], "budget_max_cny": "500000"}
    )
    assert response.status_code == 200
    event = TechnologyNeedEvent.objects.get(verb="updated")
    assert event.changes == {
        "keywords": ["['高镍', '包覆', '正极']", "['固态电池']"],
        "budget_max_cny": ["800000.00", "500000.00"],
    }


NEED_FAULTS = {
    "title": ["max_length"],  # the serializer
    "payment_method": ["invalid_choice"],  # the serializer
    "colour": ["unknown_field"],  # the serializer
    "ipc_areas": ["invalid_ipc", "invalid_ipc"],  # a rule, once per bad prefix
    "expires_on": ["expiry_in_past"],  # a rule
    "budget_min_cny": ["budget_range_inverted"],  # a rule
}


def _need_with_every_fault(world: World) -> dict[str, Any]:
    return need_body(
        world,
        title="x" * 201,
        payment_method="barter",
        colour="red",
        ipc_areas=["H01M", "battery", "电池"],
        expires_on="2020-01-01",
        budget_min_cny="900000",
        budget_max_cny="100000",
    )


def _codes(answer: dict[str, Any]) -> dict[str, list[str]]:
    return {field: [item["code"] for item in items] for field, items in answer["fields"].items()}


@pytest.mark.parametrize(
    ("language", "words"),
    [("zh-hans", "不是 IPC 分类号或其前缀"), ("en", "is not an IPC symbol or prefix")],
)
def test_a_need_with_several_faults_hears_of_all_of_them_in_one_answer(
    world: World, language: str, words: str
) -> None:
    # Given a body with three faults the serializer finds and three a rule finds
    body = _need_with_every_fault(world)

    # When the SME posts it
    response = client_for(world.sme_admin, language).post("/api/v1/needs/", body, format="json")

    # Then one 400 names all six, each on the body's own field, in the reader's language
    assert response.status_code == 400, response.json()
    answer = response.json()
    assert answer["code"] == "invalid"
    assert _codes(answer) == NEED_FAULTS
    assert [item["message"] for item in answer["fields"]["ipc_areas"]] == [
        f"battery {words}（例如 H01M）。"
        if language == "zh-hans"
        else f"battery {words} (e.g. H01M).",
        f"电池 {words}（例如 H01M）。" if language == "zh-hans" else f"电池 {words} (e.g. H01M).",
    ]
    assert not TechnologyNeed.objects.exists()


def test_a_need_whose_fields_are_well_formed_but_break_several_rules_hears_of_all(
    world: World,
) -> None:
    body = need_body(
        world,
        ipc_areas=["battery"],
        expires_on="2020-01-01",
        budget_min_cny="900000",
        budget_max_cny="100000",
    )
    response = client_for(world.sme_admin, "zh-hans").post("/api/v1/needs/", body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid"
    assert _codes(response.json()) == {
        "ipc_areas": ["invalid_ipc"],
        "expires_on": ["expiry_in_past"],
        "budget_min_cny": ["budget_range_inverted"],
    }
    assert not TechnologyNeed.objects.exists()


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_an_edit_with_several_faults_hears_of_all_and_changes_nothing(
    world: World, language: str
) -> None:
    need = _need(world)
    before = list(TechnologyNeed.objects.values()), TechnologyNeedEvent.objects.count()
    response = client_for(world.sme_admin, language).patch(
        f"/api/v1/needs/{need.pk}/",
        {"title": "", "ipc_areas": ["battery"], "budget_min_cny": "900000"},
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid"
    assert _codes(response.json()) == {
        "title": ["blank"],
        "ipc_areas": ["invalid_ipc"],
        "budget_min_cny": ["budget_range_inverted"],  # above the stored maximum
    }
    assert (list(TechnologyNeed.objects.values()), TechnologyNeedEvent.objects.count()) == before


def test_a_stranger_with_a_faulty_body_hears_only_of_its_shape(world: World) -> None:
    # The rules are checked for those who may post for the SME; others learn nothing more.
    response = client_for(world.university_admin).post(
        "/api/v1/needs/", _need_with_every_fault(world), format="json"
    )
    assert response.status_code == 400
    assert _codes(response.json()) == {
        "title": ["max_length"],
        "payment_method": ["invalid_choice"],
        "colour": ["unknown_field"],
    }
