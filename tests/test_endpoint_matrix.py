"""Every endpoint × every role, and every command endpoint against hostile input.

The first table is the permission contract of the API in one place; the second part sends
malformed, mistyped and oversized bodies to every command and requires a 4xx in the error
format with nothing changed — never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings

from marketplace.models import Invitation, Membership, Organisation, OrganisationEvent, User
from marketplace.services import organisations as services
from tests.conftest import ROLES, World

pytestmark = pytest.mark.django_db

Path = Callable[[World], str]


def _org(suffix: str = "") -> Path:
    return lambda world: f"/api/v1/organisations/{world.university.pk}/{suffix}"


def _member_path(action: str) -> Path:
    def path(world: World) -> str:
        membership = Membership.objects.get(user=world.university_member)
        return f"/api/v1/organisations/{world.university.pk}/members/{membership.pk}/{action}/"

    return path


def _invitation_revoke(world: World) -> str:
    invitation, _token = services.invitation_create(
        organisation_id=world.university.pk,
        actor=world.university_admin,
        email="matrix@example.com",
        role="member",
    )
    return f"/api/v1/organisations/{world.university.pk}/invitations/{invitation.pk}/revoke/"


# (method, path, body, {role: expected status}); roles not named expect the "default" entry.
MATRIX: list[tuple[str, Path | str, dict[str, Any] | None, dict[str, int]]] = [
    ("get", "/api/v1/", None, {"default": 200}),
    ("get", "/api/v1/me/", None, {"anonymous": 401, "default": 200}),
    ("post", "/api/v1/auth/logout/", None, {"anonymous": 401, "default": 204}),
    ("get", "/api/v1/organisations/", None, {"default": 200}),
    ("get", _org(), None, {"default": 200}),
    (
        "patch",
        _org(),
        {"address": "新地址"},
        {"anonymous": 401, "other_member": 404, "org_admin": 200, "default": 403},
    ),
    ("get", _org("members/"), None, {"anonymous": 401, "other_member": 404, "default": 200}),
    (
        "post",
        _member_path("remove"),
        None,
        {"anonymous": 401, "other_member": 404, "org_admin": 204, "default": 403},
    ),
    (
        "post",
        _member_path("role"),
        {"role": "admin"},
        {"anonymous": 401, "other_member": 404, "org_admin": 200, "default": 403},
    ),
    (
        "post",
        _org("leave/"),
        None,
        # The member leaves; the last admin may not; staff are not members (404).
        {"anonymous": 401, "member": 204, "org_admin": 409, "default": 404},
    ),
    (
        "get",
        _org("invitations/"),
        None,
        {"anonymous": 401, "other_member": 404, "org_admin": 200, "default": 403},
    ),
    (
        "post",
        _org("invitations/"),
        {"email": "new@example.com"},
        {"anonymous": 401, "other_member": 404, "org_admin": 201, "default": 403},
    ),
    (
        "post",
        _invitation_revoke,
        None,
        {"anonymous": 401, "other_member": 404, "org_admin": 200, "default": 403},
    ),
    (
        "get",
        _org("sme-profile/"),
        None,
        {"anonymous": 401, "other_member": 404, "default": 404},  # a university has none
    ),
    (
        "get",
        _org("events/"),
        None,
        {"anonymous": 401, "other_member": 404, "org_admin": 200, "reviewer": 200, "default": 403},
    ),
    ("get", "/api/v1/reference/industries/", None, {"default": 200}),
    ("get", "/api/v1/reference/industries/C38/", None, {"default": 200}),
    ("get", "/api/v1/reference/regions/", None, {"default": 200}),
    ("get", "/api/v1/reference/regions/320000/", None, {"default": 200}),
    ("get", "/api/v1/reference/tables/", None, {"default": 200}),
    ("get", "/api/v1/statistics/", None, {"default": 200}),
    ("get", "/api/v1/statistics/ipc-class/?file_format=csv", None, {"default": 200}),
    ("get", "/api/v1/schema/", None, {"default": 200}),
    ("get", "/api/v1/docs/", None, {"default": 200}),
    ("post", "/api/v1/auth/resend-verification/", {"email": "x@example.com"}, {"default": 202}),
    ("post", "/api/v1/auth/verify-email/", {"token": "bad"}, {"default": 400}),
    ("post", "/api/v1/invitations/accept/", {"token": "bad"}, {"default": 400}),
    ("post", "/api/v1/auth/token/", {"email": "x@example.com", "password": "x"}, {"default": 400}),
]


def _case_id(case: tuple[str, Any, Any, Any]) -> str:
    method, path, _body, _expected = case
    name = path if isinstance(path, str) else getattr(path, "__name__", "path")
    return f"{method}-{name}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", MATRIX, ids=[_case_id(case) for case in MATRIX])
def test_endpoint_answers_each_role_as_specified(
    world: World, role: str, case: tuple[str, Any, Any, dict[str, int]]
) -> None:
    method, path, body, expected = case
    url = path if isinstance(path, str) else path(world)
    response = getattr(world.client(role), method)(url, body, format="json")
    want = expected.get(role, expected["default"])
    assert response.status_code == want, (role, url, response.content[:300])
    if response.status_code >= 400:
        assert set(response.json()) == {"code", "detail", "fields"}


COMMANDS: list[tuple[str, Path | str]] = [
    ("post", "/api/v1/auth/register/"),
    ("post", "/api/v1/auth/verify-email/"),
    ("post", "/api/v1/auth/resend-verification/"),
    ("post", "/api/v1/auth/token/"),
    ("post", "/api/v1/invitations/accept/"),
    ("patch", _org()),
    ("post", _org("invitations/")),
    ("post", _member_path("role")),
    ("put", lambda world: f"/api/v1/organisations/{world.sme.pk}/sme-profile/"),
]

HOSTILE_BODIES: list[tuple[str, str]] = [
    ("malformed", '{"email": '),
    ("array", "[]"),
    ("string", '"hello"'),
    ("null", "null"),
    ("wrong-types", '{"email": 5, "role": [], "industry": {}, "region": true, "token": 1}'),
    ("nan", '{"employee_count": NaN}'),
    ("deep", "[" * 5000 + "]" * 5000),
    ("over-long", '{"email": "' + "a" * 5000 + '@example.com", "token": "' + "t" * 5000 + '"}'),
    ("nul", '{"full_name": "\\u0000", "email": "a\\u0000@example.com"}'),
]


def _state() -> tuple[int, ...]:
    return (
        User.objects.count(),
        Organisation.objects.count(),
        Membership.objects.count(),
        Invitation.objects.count(),
        OrganisationEvent.objects.count(),
    )


@pytest.mark.parametrize("command", COMMANDS, ids=[_case_id((*c, None, None)) for c in COMMANDS])
@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=[name for name, _body in HOSTILE_BODIES])
def test_hostile_input_gets_a_4xx_and_changes_nothing(
    world: World, command: tuple[str, Any], body: tuple[str, str]
) -> None:
    method, path = command
    url = path if isinstance(path, str) else path(world)
    admin = world.sme_admin if "sme-profile" in url else world.university_admin
    from tests.conftest import client_for

    before = _state()
    response = getattr(client_for(admin), method)(url, body[1], content_type="application/json")
    assert 400 <= response.status_code < 500, (url, body[0], response.content[:300])
    assert set(response.json()) == {"code", "detail", "fields"}
    assert _state() == before


@pytest.mark.parametrize("command", COMMANDS, ids=[_case_id((*c, None, None)) for c in COMMANDS])
def test_oversized_body_is_refused_on_every_command(world: World, command: tuple[str, Any]) -> None:
    method, path = command
    url = path if isinstance(path, str) else path(world)
    from tests.conftest import client_for

    admin = world.sme_admin if "sme-profile" in url else world.university_admin
    before = _state()
    with override_settings(API_MAX_BODY_BYTES=4096):
        response = getattr(client_for(admin), method)(
            url, '{"x": "' + "y" * 10_000 + '"}', content_type="application/json"
        )
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert _state() == before
