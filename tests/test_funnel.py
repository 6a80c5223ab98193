"""A patentee's licensing funnel (issue 18): counted views and impressions, the funnel per
declaration and in total, CSV/XLSX exports, and who may read it."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from licensing.models import Declaration, License, LicenseFiling
from licensing.services import licenses as license_services
from marketplace import counters
from marketplace.models import OrganisationKind, Patent, PatentDailyCount
from matching.models import Match, MatchRun
from matching.services import feedback_give
from tests.conftest import ROLES, World, client_for
from tests.declarations_helpers import announced, declarable_patent
from tests.factories import (
    MembershipFactory,
    OrganisationFactory,
    SmeProfileFactory,
    UserFactory,
    application_number,
)

pytestmark = pytest.mark.django_db


@dataclass
class Scene:
    dormant: Declaration
    licensed: Declaration
    licensed_patent: Patent
    dormant_patent: Patent


def _match(run: MatchRun, sme_id: int, declaration: Declaration) -> None:
    Match.objects.create(
        run=run,
        sme_id=sme_id,
        declaration=declaration,
        patent_id=declaration.patent_id,
        score=0.8,
        rank=1,
        components={},
        reasons=[{"code": "ipc_industry"}],
    )


def _scene(world: World) -> Scene:
    """Two declarations of the university: one announced 400 days ago and never licensed
    (dormant), one announced today with a paid license (filed, one royalty report, part paid)
    and a notice awaiting payment; a third organisation's declaration that must not count."""
    today = timezone.localdate()
    dormant_patent = declarable_patent(world.university, 1)
    licensed_patent = declarable_patent(world.university, 2)
    Patent.objects.filter(pk__in=[dormant_patent.pk, licensed_patent.pk]).update(is_listed=True)
    dormant = announced(dormant_patent, world.university_member, world.reviewer)
    Declaration.objects.filter(pk=dormant.pk).update(effective_date=today - timedelta(days=400))
    licensed = announced(licensed_patent, world.university_member, world.reviewer)
    other_university = OrganisationFactory.create(name="西部理工大学")
    other_admin = MembershipFactory.create(organisation=other_university, role="admin").user
    other = announced(declarable_patent(other_university, 3), other_admin, world.reviewer)

    license = license_services.license_accept(
        actor=world.sme_admin,
        declaration_id=licensed.pk,
        licensee_id=world.sme.pk,
        notice_text="通知",
        payment={"amount_cny": Decimal("50000.00"), "reference": "R1", "paid_on": today},
    )
    license_services.license_file(actor=world.sme_admin, license_id=license.pk, filed_on=today)
    report = license_services.royalty_report(
        actor=world.sme_admin,
        license_id=license.pk,
        period_start=today,
        period_end=today,
        basis_amount=Decimal("100000.00"),
    )
    license_services.royalty_pay(
        actor=world.sme_admin,
        license_id=license.pk,
        amount_cny=Decimal("1000.00"),
        reference="R2",
        paid_on=today,
        report_id=report.pk,
    )
    second_sme = SmeProfileFactory.create(organisation__name="无锡储能科技有限公司").organisation
    second_admin = MembershipFactory.create(organisation=second_sme, role="admin").user
    waiting = license_services.license_accept(
        actor=second_admin,
        declaration_id=licensed.pk,
        licensee_id=second_sme.pk,
        notice_text="通知",
    )
    assert waiting.status == "awaiting_payment"
    third_sme = SmeProfileFactory.create().organisation
    license_services.license_accept(
        actor=MembershipFactory.create(organisation=third_sme, role="admin").user,
        declaration_id=other.pk,
        licensee_id=third_sme.pk,
        notice_text="通知",
        payment={"amount_cny": Decimal("50000.00"), "reference": "R3", "paid_on": today},
    )

    old_run = MatchRun.objects.create(status="complete", is_current=False)
    _match(old_run, third_sme.pk, licensed)  # a past run's list: not reached any more
    run = MatchRun.objects.create(status="complete", is_current=True)
    _match(run, world.sme.pk, licensed)
    _match(run, second_sme.pk, licensed)
    _match(run, world.sme.pk, dormant)
    _match(run, third_sme.pk, other)
    feedback_give(
        actor=world.sme_admin, sme_id=world.sme.pk, declaration_id=licensed.pk, verdict="interested"
    )
    feedback_give(
        actor=world.sme_admin,
        sme_id=world.sme.pk,
        declaration_id=dormant.pk,
        verdict="not_relevant",
        reason="wrong_field",
    )

    anonymous = client_for(None)
    for _ in range(3):
        assert anonymous.get(f"/api/v1/patents/{licensed_patent.pk}/").status_code == 200
    assert anonymous.get(f"/api/v1/patents/{dormant_patent.pk}/").status_code == 200
    counters.count(counters.IMPRESSION, [licensed_patent.pk] * 5)
    # Before the declaration was announced: in the month's trend, not in its funnel.
    counters.count(counters.VIEW, [licensed_patent.pk], day=today - timedelta(days=40))
    counters.counters_flush()
    return Scene(dormant, licensed, licensed_patent, dormant_patent)


ZERO_MONEY = {"royalties_due_cny": "0.00", "royalties_received_cny": "0.00"}


def test_funnel_counts_each_stage_per_declaration_and_in_total(world: World) -> None:
    scene = _scene(world)
    response = world.client("member").get(f"/api/v1/organisations/{world.university.pk}/funnel/")
    assert response.status_code == 200, response.content
    body = response.json()
    rows = {row["declaration"]: row for row in body["declarations"]}
    assert list(rows) == [scene.dormant.pk, scene.licensed.pk]  # oldest announcement first
    stages = (
        "views",
        "search_impressions",
        "smes_reached",
        "interested",
        "notices_sent",
        "licenses_effective",
        "licenses_filed",
        "royalties_due_cny",
        "royalties_received_cny",
        "is_dormant",
    )
    assert {key: rows[scene.dormant.pk][key] for key in stages} == {
        "views": 1,
        "search_impressions": 0,
        "smes_reached": 1,
        "interested": 0,
        "notices_sent": 0,
        "licenses_effective": 0,
        "licenses_filed": 0,
        **ZERO_MONEY,
        "is_dormant": True,
    }
    assert {key: rows[scene.licensed.pk][key] for key in stages} == {
        "views": 3,
        "search_impressions": 5,
        "smes_reached": 2,
        "interested": 1,
        "notices_sent": 2,
        "licenses_effective": 1,
        "licenses_filed": 1,
        # Entry fees of both notices (one still unpaid) and 3.5 % of 100,000 reported.
        "royalties_due_cny": "103500.00",
        "royalties_received_cny": "51000.00",
        "is_dormant": False,
    }
    assert body["totals"] == {
        "declarations": 2,
        "declarations_in_force": 2,
        "dormant": 1,
        "views": 4,
        "search_impressions": 5,
        # world.sme is reached by both declarations, second_sme by one: two distinct SMEs.
        "smes_reached": 2,
        "interested": 1,
        "notices_sent": 2,
        "licenses_effective": 1,
        "licenses_filed": 1,
        "royalties_due_cny": "103500.00",
        "royalties_received_cny": "51000.00",
        # A university's fees already carry the 85 % general reduction: open licensing adds none.
        "fee_savings_cny": "0.00",
    }
    today = timezone.localdate()
    months = {month["month"]: month for month in body["months"]}
    assert len(months) == 12 and body["months"][-1]["month"] == today.strftime("%Y-%m")
    assert months[today.strftime("%Y-%m")] == {
        "month": today.strftime("%Y-%m"),
        "views": 4,
        "search_impressions": 5,
        "notices_sent": 2,
        "licenses_effective": 1,
        "royalties_received_cny": "51000.00",
    }
    earlier = (today - timedelta(days=40)).strftime("%Y-%m")
    assert months[earlier]["views"] == 1
    assert sum(month["views"] for month in body["months"]) == 5


def test_a_page_view_writes_nothing_to_the_database_until_the_flush(
    world: World, django_assert_num_queries: Any
) -> None:
    patent = declarable_patent(world.university, 1)
    Patent.objects.filter(pk=patent.pk).update(is_listed=True)
    client_for(None).get(f"/api/v1/patents/{patent.pk}/")
    assert PatentDailyCount.objects.count() == 0
    assert counters.pending() == {(patent.pk, timezone.localdate()): [1, 0]}
    assert counters.counters_flush() == 1
    assert counters.counters_flush() == 0  # nothing left: a second flush adds nothing
    row = PatentDailyCount.objects.get()
    assert (row.patent_id, row.views, row.search_impressions) == (patent.pk, 1, 0)
    assert counters.pending() == {}


@override_settings(PUBLIC_CACHE_SECONDS=60)
def test_an_answer_from_the_public_cache_is_still_counted(
    world: World, django_assert_num_queries: Any
) -> None:
    patent = declarable_patent(world.university, 1)
    Patent.objects.filter(pk=patent.pk).update(is_listed=True)
    anonymous = client_for(None)
    first = anonymous.get(f"/api/v1/patents/{patent.pk}/")
    assert first.status_code == 200
    with django_assert_num_queries(0):  # replayed from the cache: the view did not run
        second = anonymous.get(f"/api/v1/patents/{patent.pk}/")
    assert second.status_code == 200 and second.content == first.content
    with django_assert_num_queries(0):
        not_modified = anonymous.get(
            f"/api/v1/patents/{patent.pk}/", HTTP_IF_NONE_MATCH=second["ETag"]
        )
    assert not_modified.status_code == 304
    counters.counters_flush()
    assert PatentDailyCount.objects.get(patent=patent).views == 3


@override_settings(PUBLIC_CACHE_SECONDS=60)
def test_search_impressions_count_every_hit_shown_cached_or_not(world: World) -> None:
    patents = [declarable_patent(world.university, serial) for serial in (1, 2)]
    Patent.objects.filter(pk__in=[p.pk for p in patents]).update(is_listed=True)
    unlisted = declarable_patent(world.university, 3)
    anonymous = client_for(None)
    for _ in range(2):  # the second answer comes from the cache
        response = anonymous.get("/api/v1/search/patents/", {"q": "锂离子电池"})
        assert response.status_code == 200
        assert {hit["id"] for hit in response.json()["results"]} == {p.pk for p in patents}
    counters.counters_flush()
    assert dict(PatentDailyCount.objects.values_list("patent_id", "search_impressions")) == {
        patents[0].pk: 2,
        patents[1].pk: 2,
    }
    assert not PatentDailyCount.objects.filter(patent=unlisted).exists()


def test_a_refused_or_missing_patent_page_is_not_a_view(world: World) -> None:
    unlisted = declarable_patent(world.university, 1)
    assert client_for(None).get(f"/api/v1/patents/{unlisted.pk}/").status_code == 404
    assert client_for(None).get("/api/v1/patents/999999/").status_code == 404
    assert counters.pending() == {}


def test_counts_made_while_redis_is_away_are_dropped_without_an_error(
    world: World, settings: Any
) -> None:
    patent = declarable_patent(world.university, 1)
    Patent.objects.filter(pk=patent.pk).update(is_listed=True)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    assert client_for(None).get(f"/api/v1/patents/{patent.pk}/").status_code == 200


def test_fee_savings_so_far_are_the_open_license_reductions_of_fees_already_due(
    world: World,
) -> None:
    """An enterprise's invention, year 12 fell due 20 days ago, after the license was filed:
    4,000 × 15 % = 600 saved; next year's reduction is not yet a saving."""
    world.university.kind = OrganisationKind.ENTERPRISE
    world.university.save(update_fields=["kind"])
    today = timezone.localdate()
    filed = today - relativedelta(years=11, days=20)
    patent = declarable_patent(
        world.university,
        1,
        application_number=application_number(filed.year, "1", 1),
        filing_date=filed.isoformat(),
        grant_date=(filed + relativedelta(months=6)).isoformat(),
    )
    declaration = announced(
        patent, world.university_member, world.reviewer, license_term_years=None
    )
    license = license_services.license_accept(
        actor=world.sme_admin,
        declaration_id=declaration.pk,
        licensee_id=world.sme.pk,
        notice_text="通知",
        payment={"amount_cny": Decimal("50000.00"), "reference": "R", "paid_on": today},
    )
    License.objects.filter(pk=license.pk).update(effective_date=today - timedelta(days=30))
    LicenseFiling.objects.create(
        license=license, filed_by=world.sme_admin, filed_on=today - timedelta(days=25)
    )
    body = (
        world.client("org_admin").get(f"/api/v1/organisations/{world.university.pk}/funnel/").json()
    )
    assert body["declarations"][0]["fee_savings_cny"] == "600.00"
    assert body["totals"]["fee_savings_cny"] == "600.00"


def test_the_funnel_downloads_as_csv_and_xlsx_with_the_total_last(world: World) -> None:
    scene = _scene(world)
    client = world.client("org_admin")
    url = f"/api/v1/organisations/{world.university.pk}/funnel/"
    response = client.get(url, {"file_format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="funnel-')
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row["declaration"] for row in rows] == [
        str(scene.dormant.pk),
        str(scene.licensed.pk),
        "total",
    ]
    assert rows[1]["patent_title"] == scene.licensed_patent.title
    assert (rows[2]["views"], rows[2]["royalties_due_cny"], rows[2]["is_dormant"]) == (
        "4",
        "103500.00",
        "1",
    )

    response = client.get(url, {"file_format": "xlsx"})
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    sheet = book["declarations"]
    header = [cell.value for cell in sheet[1]]
    total = dict(zip(header, [cell.value for cell in sheet[sheet.max_row]], strict=True))
    assert (total["declaration"], total["notices_sent"], total["royalties_received_cny"]) == (
        "total",
        2,
        51000.0,
    )
    assert sheet.max_row == 4
    months = book["months"]
    assert months.max_row == 13 and months["B13"].value == 4  # this month's views


def test_an_unknown_file_format_is_a_400_with_a_code(world: World) -> None:
    response = world.client("member").get(
        f"/api/v1/organisations/{world.university.pk}/funnel/", {"file_format": "pdf"}
    )
    assert response.status_code == 400
    assert response.json()["fields"]["file_format"][0]["code"] == "invalid_choice"


EXPECTED = {
    "anonymous": 401,
    "other_member": 404,
    "member": 200,
    "org_admin": 200,
    "reviewer": 200,
    "mediator": 404,
}


@pytest.mark.parametrize("role", [*ROLES, "staff", "superuser"])
def test_funnel_per_role(world: World, role: str) -> None:
    """Members of the organisation and reviewers read it; for anyone else it does not exist
    (a mediator, or staff without the reviewer role, included)."""
    _scene(world)
    if role == "staff":
        client = client_for(UserFactory.create(is_staff=True))
    elif role == "superuser":
        client = client_for(UserFactory.create(is_staff=True, is_superuser=True))
    else:
        client = world.client(role)
    before = PatentDailyCount.objects.count(), counters.pending()
    for file_format in ("json", "csv", "xlsx"):
        response = client.get(
            f"/api/v1/organisations/{world.university.pk}/funnel/", {"file_format": file_format}
        )
        want = EXPECTED.get(role, 200 if role == "superuser" else 404)
        assert response.status_code == want, (role, file_format, response.content[:200])
        if want != 200:
            assert set(response.json()) == {"code", "detail", "fields"}
            assert "views" not in response.content.decode()
    assert (PatentDailyCount.objects.count(), counters.pending()) == before


def test_an_organisation_that_does_not_exist_is_a_404_even_for_a_reviewer(world: World) -> None:
    assert world.client("reviewer").get("/api/v1/organisations/999999/funnel/").status_code == 404


def test_the_funnel_answers_in_a_fixed_number_of_queries(world: World) -> None:
    """Twenty more declarations (and patents) add no query: every figure is grouped."""
    _scene(world)
    client = world.client("member")
    url = f"/api/v1/organisations/{world.university.pk}/funnel/"
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for serial in range(10, 30):
        announced(
            declarable_patent(world.university, serial), world.university_member, world.reviewer
        )
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(response.json()["declarations"]) == 22
    assert len(many) == len(few) <= 25


def test_the_funnel_is_in_the_openapi_schema(world: World) -> None:
    schema = client_for(None).get("/api/v1/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/organisations/{organisation_id}/funnel/"]["get"]
    assert operation["operationId"] == "organisation_funnel"
    assert set(operation["responses"]["200"]["content"]) == {
        "application/json",
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
    assert {"401", "404"} <= set(operation["responses"])


def _session_client(user: Any) -> Any:
    from django.test import Client

    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_login(user)
    return client


PAGE_EXPECTED = {
    "anonymous": 302,  # to the log-in page
    "other_member": 404,
    "member": 200,
    "org_admin": 200,
    "reviewer": 200,
    "mediator": 404,
}
ADMIN_EXPECTED = {
    "anonymous": 302,  # to the admin's log-in
    "other_member": 302,  # not staff: the admin's log-in
    "member": 302,
    "org_admin": 302,
    "reviewer": 200,
    "mediator": 404,  # staff, but not a reviewer
}


@pytest.mark.parametrize("role", ROLES)
def test_funnel_pages_per_role(world: World, role: str) -> None:
    _scene(world)
    client = _session_client(world.user(role))
    page = client.get(f"/organisations/{world.university.pk}/funnel/")
    assert page.status_code == PAGE_EXPECTED[role]
    if page.status_code == 200:
        assert b"<svg" in page.content and "华东示范大学".encode() in page.content
    for url in ("/admin/funnel/", f"/admin/funnel/{world.university.pk}/"):
        response = client.get(url)
        assert response.status_code == ADMIN_EXPECTED[role], (role, url)
        if response.status_code == 200:
            assert b'id="funnel-chart"' in response.content
    if role == "reviewer":
        assert b'href="/admin/funnel/"' in client.get("/admin/").content


def test_chart_labels_are_escaped() -> None:
    from marketplace.charts import bar_chart, line_chart, nice_ticks

    svg = bar_chart([("<script>", 3)], title="a & b")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "a &amp; b" in svg
    assert "<script>" not in line_chart(["2026-01"], [("<b>", [1.0])], title="t")
    assert nice_ticks(5) == [0.0, 2.0, 4.0, 6.0]
    assert nice_ticks(51000) == [0.0, 20000.0, 40000.0, 60000.0]
