"""Royalty estimation (rules §6): an SME's year-by-year cost; a patentee's suggestion."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from licensing.models import RoyaltyStatistic
from tests.conftest import ROLES, World
from tests.declarations_helpers import announced, declarable_patent

pytestmark = pytest.mark.django_db


def test_cost_over_the_term_year_by_year_with_minimum_top_up(world: World) -> None:
    declaration = announced(
        declarable_patent(world.university), world.university_member, world.reviewer
    )
    response = world.client("other_member").post(
        f"/api/v1/declarations/{declaration.pk}/estimate/",
        {"projected_cny": ["400000", "1000000"], "start_date": "2026-12-01"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert [(y["year"], y["cost_cny"]) for y in body["years"]] == [
        # entry fee 50,000 + 3.5 % of 400,000 = 14,000, topped up to the 20,000 minimum
        (1, "70000.00"),
        (2, "35000.00"),
        (3, "35000.00"),
        (4, "35000.00"),
        (5, "35000.00"),
    ]
    assert body["total_cny"] == "210000.00"
    assert body["years"][0]["minimum_top_up_cny"] == "6000.00"


def test_estimate_input_is_validated(world: World) -> None:
    declaration = announced(
        declarable_patent(world.university), world.university_member, world.reviewer
    )
    bad = world.client("other_member").post(
        f"/api/v1/declarations/{declaration.pk}/estimate/", {"projected_cny": []}, format="json"
    )
    assert bad.status_code == 400
    assert bad.json()["fields"]["projected_cny"][0]["code"] == "min_length"


def test_suggestion_names_the_statistic_it_used_and_falls_back_to_all_industries(
    world: World,
) -> None:
    patent = declarable_patent(world.university)
    client = world.client("member")
    national = client.get(
        f"/api/v1/patents/{patent.pk}/royalty-suggestion/", {"industry": "C38"}
    ).json()
    assert national["typical"] == "3210000.0000"
    assert national["used"]["industry"] == "all industries"
    assert "CNIPA" in national["used"]["source"]
    RoyaltyStatistic.objects.create(
        version="2024",
        industry_code="C38",
        basis="net_sales",
        statistic="median rate",
        low=2,
        typical=3,
        high=5,
        unit="%",
        source="test source",
    )
    specific = client.get(
        f"/api/v1/patents/{patent.pk}/royalty-suggestion/",
        {"industry": "C3841", "basis": "net_sales"},
    ).json()
    assert (specific["low"], specific["typical"], specific["high"]) == (
        "2.0000",
        "3.0000",
        "5.0000",
    )
    assert specific["used"]["industry"] == "C38"
    missing = client.get(
        f"/api/v1/patents/{patent.pk}/royalty-suggestion/", {"basis": "profit"}
    ).json()
    assert missing == {"basis": "profit", "available": False, "used": None}


@pytest.mark.parametrize("role", ROLES)
def test_suggestion_is_for_the_patentee_and_reviewers(world: World, role: str) -> None:
    patent = declarable_patent(world.university)
    response = world.client(role).get(f"/api/v1/patents/{patent.pk}/royalty-suggestion/")
    expected = (
        200 if role in {"member", "org_admin", "reviewer"} else {"anonymous": 401}.get(role, 404)
    )
    assert response.status_code == expected


def test_statistics_import_command_requires_a_source(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "stats.csv"
    path.write_text(
        "version,industry_code,basis,statistic,low,typical,high,unit,sample_size,source\n"
        "2025,C39,net_sales,median,1,2.5,4,%,120,Example survey 2025\n",
        encoding="utf-8",
    )
    call_command("import_royalty_statistics", str(path), stdout=io.StringIO())
    assert RoyaltyStatistic.objects.get(version="2025").typical == 2.5
    path.write_text(
        "version,industry_code,basis,statistic,low,typical,high,unit,sample_size,source\n"
        "2025,C39,profit,median,1,2.5,4,%,120,\n",
        encoding="utf-8",
    )
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="needs its source"):
        call_command("import_royalty_statistics", str(path), stdout=io.StringIO())
    assert not RoyaltyStatistic.objects.filter(basis="profit").exists()
