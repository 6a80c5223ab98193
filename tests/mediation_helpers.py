"""Helpers for license and mediation tests: a licensed declaration, a case, a fixed clock."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from licensing.models import Declaration, License, MediationCase
from licensing.services import licenses as license_services
from licensing.services import mediation as services
from marketplace import roles
from marketplace.models import Organisation
from marketplace.services.platform import platform_role_grant
from tests.conftest import World
from tests.declarations_helpers import announced, declarable_patent
from tests.factories import UserFactory


def fix_today(monkeypatch: pytest.MonkeyPatch, day: date) -> None:
    """Freeze "today" for the mediation services (deadlines are counted from it)."""
    monkeypatch.setattr("licensing.services.mediation._today", lambda: day)


def license_on(
    declaration: Declaration, *, actor: Any, licensee: Organisation, reference: str = "R"
) -> License:
    """`licensee`'s license under an announced declaration, accepted by `actor` with the
    upfront payment of 50,000 CNY made today."""
    return license_services.license_accept(
        actor=actor,
        declaration_id=declaration.pk,
        licensee_id=licensee.pk,
        notice_text="通知",
        payment={
            "amount_cny": Decimal("50000.00"),
            "reference": reference,
            "paid_on": timezone.localdate(),
        },
    )


def licensed(world: World) -> License:
    """The world's SME licensed under a new declaration of the university's."""
    declaration = announced(
        declarable_patent(world.university), world.university_member, world.reviewer
    )
    return license_on(declaration, actor=world.sme_admin, licensee=world.sme)


def supervisor() -> Any:
    user = UserFactory.create(email="supervisor@example.com", full_name="郑主任")
    platform_role_grant(user=user, role=roles.MEDIATION_SUPERVISOR, actor=None)
    return user


def open_case(world: World, license: License, **overrides: Any) -> MediationCase:
    values: dict[str, Any] = {
        "actor": world.sme_admin,
        "applicant_id": world.sme.pk,
        "respondent_id": world.university.pk,
        "declaration_id": license.declaration_id,
        "license_id": license.pk,
        "cause": "payment",
        "summary": "专利权人称未收到入门费。",
        "matters": "确认入门费是否已支付。",
    }
    values.update(overrides)
    return services.case_apply(**values)
