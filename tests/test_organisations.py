"""Organisations: public and private cards, invitations, members, roles, SME profiles."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from marketplace.models import (
    Invitation,
    Membership,
    Organisation,
    OrganisationEvent,
    SmeProfile,
    User,
)
from marketplace.services import organisations as services
from marketplace.services.organisations import invitations_expire
from tests.conftest import ROLES, World, client_for
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

PRIVATE_READERS = {"member", "org_admin", "reviewer", "mediator"}


def _url(world: World, suffix: str = "") -> str:
    return f"/api/v1/organisations/{world.university.pk}/{suffix}"


def _snapshot() -> tuple[Any, ...]:
    return (
        list(Membership.objects.order_by("id").values_list("id", "role")),
        list(Invitation.objects.order_by("id").values_list("id", "status")),
        list(Organisation.objects.order_by("id").values_list("id", "address", "region_id")),
        list(SmeProfile.objects.order_by("id").values_list("id", "size", "industry_id")),
    )


@pytest.mark.parametrize("role", ROLES)
def test_organisation_list_is_public(world: World, role: str) -> None:
    response = world.client(role).get("/api/v1/organisations/")
    assert response.status_code == 200
    names = [item["name"] for item in response.json()["results"]]
    assert names == ["华东示范大学", "苏州锂途新能源科技有限公司"]
    assert "contact_email" not in response.json()["results"][0]


def test_organisation_list_filters_by_kind_and_province(world: World) -> None:
    client = world.client("anonymous")
    smes = client.get("/api/v1/organisations/", {"kind": "sme"}).json()["results"]
    assert [item["name"] for item in smes] == ["苏州锂途新能源科技有限公司"]
    jiangsu = client.get("/api/v1/organisations/", {"region": "320000"}).json()["results"]
    assert len(jiangsu) == 2
    beijing = client.get("/api/v1/organisations/", {"region": "110000"}).json()["results"]
    assert beijing == []
    bad = client.get("/api/v1/organisations/", {"kind": "pirate"})
    assert bad.status_code == 400
    assert bad.json()["fields"]["kind"][0]["code"] == "invalid_choice"


@pytest.mark.parametrize("role", ROLES)
def test_private_card_only_for_members_and_platform_staff(world: World, role: str) -> None:
    response = world.client(role).get(_url(world))
    assert response.status_code == 200
    assert ("credit_code" in response.json()) is (role in PRIVATE_READERS)


@pytest.mark.parametrize("role", ROLES)
def test_only_an_organisation_admin_can_update_details(world: World, role: str) -> None:
    before = _snapshot()
    response = world.client(role).patch(
        _url(world), {"address": "南京市玄武区孝陵卫200号", "region": "320102"}, format="json"
    )
    if role == "org_admin":
        assert response.status_code == 200
        assert response.json()["address"] == "南京市玄武区孝陵卫200号"
        event = OrganisationEvent.objects.get(verb="updated")
        assert event.actor == world.university_admin
        assert event.data == {"changes": {"address": "南京市玄武区孝陵卫200号"}}
        return
    expected = {"anonymous": 401, "other_member": 404, "member": 403, "reviewer": 403}
    assert response.status_code == expected.get(role, 403)
    assert _snapshot() == before


def test_name_and_kind_cannot_be_changed_through_update(world: World) -> None:
    response = world.client("org_admin").patch(
        _url(world), {"name": "别的名字", "kind": "sme"}, format="json"
    )
    assert response.status_code == 400
    assert {name: errors[0]["code"] for name, errors in response.json()["fields"].items()} == {
        "name": "unknown_field",
        "kind": "unknown_field",
    }
    world.university.refresh_from_db()
    assert (world.university.name, world.university.kind) == ("华东示范大学", "university")


@pytest.mark.parametrize("role", ROLES)
def test_members_list_per_role(world: World, role: str) -> None:
    response = world.client(role).get(_url(world, "members/"))
    expected = {"anonymous": 401, "other_member": 404}
    if role in expected:
        assert response.status_code == expected[role]
        return
    assert response.status_code == 200
    assert [m["user"]["email"] for m in response.json()] == [
        "admin@uni.example.com",
        "member@uni.example.com",
    ]


@pytest.mark.parametrize("role", ROLES)
def test_only_an_organisation_admin_can_invite(world: World, role: str) -> None:
    before = _snapshot()
    response = world.client(role).post(
        _url(world, "invitations/"), {"email": "New@Example.com", "role": "member"}, format="json"
    )
    if role == "org_admin":
        assert response.status_code == 201
        invitation = Invitation.objects.get()
        assert (invitation.email, invitation.role, invitation.status) == (
            "new@example.com",
            "member",
            "pending",
        )
        return
    expected = {"anonymous": 401, "other_member": 404}
    assert response.status_code == expected.get(role, 403)
    assert response.json()["code"] in {
        "not_authenticated",
        "not_found",
        "organisation_admin_required",
    }
    assert _snapshot() == before


def test_invited_person_without_account_joins_with_a_new_verified_account(world: World) -> None:
    _invitation, token = services.invitation_create(
        organisation_id=world.university.pk,
        actor=world.university_admin,
        email="newcomer@example.com",
        role="member",
    )
    response = client_for(None).post(
        "/api/v1/invitations/accept/",
        {"token": token, "full_name": "新同事", "password": "another-long-passphrase"},
        format="json",
    )
    assert response.status_code == 201
    user = User.objects.get(email="newcomer@example.com")
    assert user.email_verified_at is not None
    assert Membership.objects.get(user=user).organisation == world.university
    assert Invitation.objects.get().status == "accepted"
    again = client_for(None).post(
        "/api/v1/invitations/accept/",
        {"token": token, "full_name": "新同事", "password": "another-long-passphrase"},
        format="json",
    )
    assert again.status_code == 409
    assert again.json()["code"] == "invitation_not_pending"


def test_existing_account_must_log_in_to_accept(world: World) -> None:
    _invitation, token = services.invitation_create(
        organisation_id=world.university.pk,
        actor=world.university_admin,
        email="admin@sme.example.com",
        role="admin",
    )
    anonymous = client_for(None).post("/api/v1/invitations/accept/", {"token": token})
    assert anonymous.status_code == 403
    assert anonymous.json()["code"] == "login_required"
    wrong_person = world.client("member").post("/api/v1/invitations/accept/", {"token": token})
    assert wrong_person.status_code == 403
    assert wrong_person.json()["code"] == "invitation_email_mismatch"
    assert Invitation.objects.get().status == "pending"
    right = world.client("other_member").post("/api/v1/invitations/accept/", {"token": token})
    assert right.status_code == 201
    assert (
        Membership.objects.get(user=world.sme_admin, organisation=world.university).role == "admin"
    )


def test_expired_invitation_cannot_be_accepted_and_is_swept(world: World) -> None:
    invitation, token = services.invitation_create(
        organisation_id=world.university.pk,
        actor=world.university_admin,
        email="late@example.com",
        role="member",
    )
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    response = client_for(None).post(
        "/api/v1/invitations/accept/",
        {"token": token, "full_name": "迟到", "password": "another-long-passphrase"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "invitation_expired"
    assert not User.objects.filter(email="late@example.com").exists()
    assert invitations_expire() == 1
    assert Invitation.objects.get().status == "expired"
    assert invitations_expire() == 0


def test_unknown_invitation_token_is_refused() -> None:
    response = client_for(None).post("/api/v1/invitations/accept/", {"token": "nope"})
    assert response.status_code == 400
    assert response.json()["code"] == "invitation_invalid"


def test_second_pending_invitation_to_same_address_is_refused(world: World) -> None:
    client = world.client("org_admin")
    first = client.post(_url(world, "invitations/"), {"email": "x@example.com"}, format="json")
    second = client.post(_url(world, "invitations/"), {"email": "X@example.com"}, format="json")
    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["code"] == "invitation_pending"
    assert Invitation.objects.count() == 1


def test_inviting_an_existing_member_is_refused(world: World) -> None:
    response = world.client("org_admin").post(
        _url(world, "invitations/"), {"email": "member@uni.example.com"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "already_member"
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_only_an_organisation_admin_can_revoke_an_invitation(world: World, role: str) -> None:
    invitation, _token = services.invitation_create(
        organisation_id=world.university.pk,
        actor=world.university_admin,
        email="maybe@example.com",
        role="member",
    )
    response = world.client(role).post(_url(world, f"invitations/{invitation.pk}/revoke/"))
    invitation.refresh_from_db()
    if role == "org_admin":
        assert response.status_code == 200
        assert invitation.status == "revoked"
        return
    expected = {"anonymous": 401, "other_member": 404}
    assert response.status_code == expected.get(role, 403)
    assert invitation.status == "pending"


@pytest.mark.parametrize("role", ROLES)
def test_only_an_organisation_admin_can_remove_a_member(world: World, role: str) -> None:
    membership = Membership.objects.get(user=world.university_member)
    response = world.client(role).post(_url(world, f"members/{membership.pk}/remove/"))
    if role == "org_admin":
        assert response.status_code == 204
        assert not Membership.objects.filter(pk=membership.pk).exists()
        event = OrganisationEvent.objects.get(verb="member_removed")
        assert (event.actor, event.subject_user) == (
            world.university_admin,
            world.university_member,
        )
        return
    expected = {"anonymous": 401, "other_member": 404}
    assert response.status_code == expected.get(role, 403)
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_last_admin_can_neither_be_removed_nor_demoted_nor_leave(world: World) -> None:
    client = world.client("org_admin")
    admin_membership = Membership.objects.get(user=world.university_admin)
    before = _snapshot()
    removed = client.post(_url(world, f"members/{admin_membership.pk}/remove/"))
    demoted = client.post(
        _url(world, f"members/{admin_membership.pk}/role/"), {"role": "member"}, format="json"
    )
    left = client.post(_url(world, "leave/"))
    assert [r.status_code for r in (removed, demoted, left)] == [409, 409, 409]
    assert {r.json()["code"] for r in (removed, demoted, left)} == {"last_admin"}
    assert _snapshot() == before


def test_admin_can_leave_once_another_admin_is_appointed(world: World) -> None:
    client = world.client("org_admin")
    member = Membership.objects.get(user=world.university_member)
    promoted = client.post(_url(world, f"members/{member.pk}/role/"), {"role": "admin"})
    assert promoted.status_code == 200
    assert promoted.json()["role"] == "admin"
    assert client.post(_url(world, "leave/")).status_code == 204
    assert list(
        Membership.objects.filter(organisation=world.university).values_list("user__email", "role")
    ) == [("member@uni.example.com", "admin")]


@pytest.mark.parametrize("role", ROLES)
def test_change_role_per_role(world: World, role: str) -> None:
    member = Membership.objects.get(user=world.university_member)
    response = world.client(role).post(
        _url(world, f"members/{member.pk}/role/"), {"role": "admin"}, format="json"
    )
    member.refresh_from_db()
    if role == "org_admin":
        assert response.status_code == 200
        assert member.role == "admin"
        return
    expected = {"anonymous": 401, "other_member": 404}
    assert response.status_code == expected.get(role, 403)
    assert member.role == "member"


@pytest.mark.parametrize("role", ROLES)
def test_sme_profile_read_per_role(world: World, role: str) -> None:
    user = world.user(role)
    # Here the SME is "our" organisation: its admin is org_admin, the university's is other.
    if role == "org_admin":
        user = world.sme_admin
    elif role == "member":
        user = MembershipFactory.create(organisation=world.sme).user
    elif role == "other_member":
        user = world.university_admin
    response = client_for(user).get(f"/api/v1/organisations/{world.sme.pk}/sme-profile/")
    expected = {"anonymous": 401, "other_member": 404}
    if role in expected:
        assert response.status_code == expected[role]
        return
    assert response.status_code == 200
    assert response.json()["industry"] == "C3841"
    assert response.json()["industry_name"] == "锂离子电池制造"


@pytest.mark.parametrize("role", ROLES)
def test_sme_profile_write_only_by_the_smes_admin(world: World, role: str) -> None:
    user = world.user(role)
    if role == "org_admin":
        user = world.sme_admin
    elif role == "member":
        user = MembershipFactory.create(organisation=world.sme).user
    elif role == "other_member":
        user = world.university_admin
    before = _snapshot()
    response = client_for(user).put(
        f"/api/v1/organisations/{world.sme.pk}/sme-profile/",
        {"industry": "C39", "region": "440305", "size": "medium", "employee_count": 120},
        format="json",
    )
    if role == "org_admin":
        assert response.status_code == 200, response.json()
        profile = SmeProfile.objects.get(organisation=world.sme)
        assert (profile.industry_id, profile.region_id, profile.size, profile.employee_count) == (
            "C39",
            "440305",
            "medium",
            120,
        )
        return
    expected = {"anonymous": 401, "other_member": 404}
    assert response.status_code == expected.get(role, 403)
    assert _snapshot() == before


def test_sme_profile_does_not_exist_for_a_university(world: World) -> None:
    read = world.client("org_admin").get(_url(world, "sme-profile/"))
    assert read.status_code == 404
    assert read.json()["code"] == "not_an_sme"
    write = world.client("org_admin").put(
        _url(world, "sme-profile/"), {"industry": "C39", "region": "440305", "size": "medium"}
    )
    assert write.status_code == 409
    assert write.json()["code"] == "not_an_sme"
    assert not SmeProfile.objects.filter(organisation=world.university).exists()


@pytest.mark.parametrize("role", ROLES)
def test_events_readable_by_admin_and_reviewer_only(world: World, role: str) -> None:
    services.organisation_update(
        organisation_id=world.university.pk,
        actor=world.university_admin,
        changes={"address": "新地址"},
    )
    response = world.client(role).get(_url(world, "events/"))
    if role in {"org_admin", "reviewer"}:
        assert response.status_code == 200
        assert [e["verb"] for e in response.json()["results"]] == ["updated"]
        return
    # For anyone else the audit trail does not exist: 404, as for an unknown organisation.
    assert response.status_code == {"anonymous": 401}.get(role, 404)


def test_member_list_query_count_does_not_grow_with_members(
    world: World, django_assert_max_num_queries: Any
) -> None:
    for _ in range(20):
        MembershipFactory.create(organisation=world.university, user=UserFactory.create())
    client = world.client("org_admin")
    with django_assert_max_num_queries(8):
        response = client.get(_url(world, "members/"))
    assert len(response.json()) == 22
