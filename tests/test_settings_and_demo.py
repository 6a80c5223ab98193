"""Production settings refuse a missing secret and pass check --deploy; the demo is idempotent."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group

from marketplace import roles
from marketplace.demo import DEMO_PASSWORD, load_demo
from marketplace.models import Membership, Organisation, OrganisationEvent, SmeProfile, User
from tests.conftest import client_for

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DJANGO_ENV"}}
    clean.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = _manage("check", DJANGO_ENV="production", ALLOWED_HOSTS="market.example.com")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_the_development_secret_key() -> None:
    result = _manage(
        "check",
        DJANGO_ENV="production",
        ALLOWED_HOSTS="market.example.com",
        SECRET_KEY="dev-only-insecure-secret-key-never-use-in-production",
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_settings_pass_check_deploy() -> None:
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_ENV="production",
        ALLOWED_HOSTS="market.example.com",
        SECRET_KEY="k9$Qv2!xP7#mL4@wR8^tZ1&nB6*cF3(hJ5)dS0-gY2_uE7+aW4=oI9%",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.django_db
def test_demo_command_announces_declarations_and_is_idempotent() -> None:
    from django.core.management import call_command

    from licensing.models import Declaration
    from marketplace.models import Patent

    call_command("load_demo", stdout=io.StringIO())
    first = list(Declaration.objects.order_by("id").values_list("number", "status"))
    call_command("load_demo", stdout=io.StringIO())
    assert list(Declaration.objects.order_by("id").values_list("number", "status")) == first
    assert [status for _number, status in first] == ["announced"] * 5
    assert Patent.objects.filter(is_listed=True).count() == 5
    found = client_for(None).get("/api/v1/search/patents/", {"q": "锂离子电池"}).json()
    # The cathode patent by its words; the 2012 separator and the solid electrolyte patents by
    # the synonym 锂电池.
    assert [hit["title"] for hit in found["results"]] == [
        "一种高镍三元锂离子电池正极材料及其制备方法",
        "一种锂电池隔膜陶瓷涂层及其涂布方法",
        "一种硫化物固态电解质及全固态电池",
    ]


@pytest.mark.django_db
def test_demo_data_loads_twice_without_changing_anything() -> None:
    first = load_demo()
    snapshot = (
        list(User.objects.order_by("id").values_list("email", "password", "email_verified_at")),
        list(Organisation.objects.order_by("id").values_list("name", "kind", "credit_code")),
        list(Membership.objects.order_by("id").values_list("user__email", "role")),
        list(SmeProfile.objects.order_by("id").values_list("industry_id", "size")),
        OrganisationEvent.objects.count(),
    )
    second = load_demo()
    assert first == second
    assert snapshot == (
        list(User.objects.order_by("id").values_list("email", "password", "email_verified_at")),
        list(Organisation.objects.order_by("id").values_list("name", "kind", "credit_code")),
        list(Membership.objects.order_by("id").values_list("user__email", "role")),
        list(SmeProfile.objects.order_by("id").values_list("industry_id", "size")),
        OrganisationEvent.objects.count(),
    )
    kinds = sorted(Organisation.objects.values_list("kind", flat=True))
    assert kinds == ["research_institute", "sme", "sme", "university"]
    assert Group.objects.get(name=roles.REVIEWER).user_set.count() == 1
    assert Group.objects.get(name=roles.MEDIATOR).user_set.count() == 1


@pytest.mark.django_db
def test_every_printed_demo_login_works() -> None:
    logins = load_demo()
    for login in logins:
        response = client_for(None).post(
            "/api/v1/auth/token/", {"email": login.email, "password": DEMO_PASSWORD}
        )
        assert response.status_code == 200, (login, response.json())
    reviewer = User.objects.get(email="reviewer@example.com")
    assert roles.is_reviewer(reviewer) and reviewer.is_staff


def _demo_client(email: str) -> Any:
    return client_for(User.objects.get(email=email))


@pytest.mark.django_db
def test_the_demo_shows_each_user_real_work_and_is_idempotent() -> None:
    from django.core.management import call_command

    from licensing.models import License, LicenseFiling, MediationCase, RoyaltyReport
    from marketplace.models import Patent, TechnologyNeed
    from matching.models import Match

    # Given the demo loaded twice (the second load adds nothing)
    call_command("load_demo", stdout=io.StringIO())

    def counts() -> tuple[int, ...]:
        return tuple(
            model.objects.count()
            for model in (License, LicenseFiling, RoyaltyReport, MediationCase, TechnologyNeed)
        )

    first = counts()
    call_command("load_demo", stdout=io.StringIO())
    assert counts() == first == (3, 2, 2, 4, 2)

    # A mediator's panel has the cases assigned to them; the supervisor sees all four
    mediator = _demo_client("mediator@example.com").get("/api/v1/mediation-cases/").json()
    assert sorted(case["status"] for case in mediator["results"]) == [
        "accepted",
        "not_accepted",
        "settled",
    ]
    supervisor = _demo_client("supervisor@example.com").get("/api/v1/mediation-cases/").json()
    assert len(supervisor["results"]) == 4

    # Licenses: paid up front and filed, one awaiting payment, royalties paid and overdue
    statuses = sorted(License.objects.values_list("status", flat=True))
    assert statuses == ["awaiting_payment", "effective", "effective"]
    licensee = _demo_client("sme.battery@example.com")
    royalty = License.objects.filter(royalty_reports__isnull=False).distinct().get()
    dues = licensee.get(f"/api/v1/licenses/{royalty.pk}/ledger/").json()["dues"]
    assert [due["state"] for due in dues if due["kind"] == "royalty"] == ["paid", "overdue"]

    # The patentee past its general reduction sees the 15 % open-license saving: CNY 1,200
    patent = Patent.objects.get(application_number__contains="0100007.")
    calendar = _demo_client("university.admin@example.com").get(
        f"/api/v1/patents/{patent.pk}/fee-calendar/"
    )
    assert calendar.status_code == 200, calendar.json()
    assert '"open_license_saving_cny":"1200.00"' in calendar.content.decode().replace(" ", "")

    # SMEs have needs and matches with reasons; a plain member logs in
    assert Match.objects.exists()
    matches = licensee.get("/api/v1/matches/").json()
    assert matches and all(m["reasons"] for m in matches)
    member = User.objects.get(email="sme.member@example.com")
    assert list(member.memberships.values_list("role", flat=True)) == ["member"]
