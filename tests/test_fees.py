"""Annual fees and the 15 % open-license reduction (rules §5), with the worked example."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from django.utils import timezone

from licensing.fees import due_date, fee_calendar
from licensing.models import Declaration, LicenseFiling
from licensing.services import declarations as declaration_services
from licensing.services import licenses as license_services
from marketplace.models import OrganisationKind, Patent, PatentCoOwner
from tests.conftest import ROLES, World, client_for
from tests.declarations_helpers import announced, declarable_patent
from tests.factories import OrganisationFactory, application_number, make_patent
from tests.mediation_helpers import license_on

pytestmark = pytest.mark.django_db


def _year(patent: Patent, year: int, today: date) -> Any:
    return next(item for item in fee_calendar(patent, today, from_year=1) if item.year == year)


def _licensed_and_filed(world: World, patent: Patent, filed_on: date) -> Declaration:
    declaration = announced(
        patent, world.university_member, world.reviewer, license_term_years=None
    )
    license = license_on(declaration, actor=world.sme_admin, licensee=world.sme)
    LicenseFiling.objects.create(license=license, filed_by=world.sme_admin, filed_on=filed_on)
    return declaration


def _old_invention(world: World, filed: date, granted: date, serial: int = 1) -> Patent:
    return declarable_patent(
        world.university,
        serial,
        application_number=application_number(filed.year, "1", serial),
        filing_date=filed.isoformat(),
        grant_date=granted.isoformat(),
    )


def test_worked_example_year_12_university_invention_with_a_filed_open_license(
    world: World,
) -> None:
    """Rules §5: year 12, outside the 10-year window, filed open license: 4,000 × 0.85 = 3,400."""
    today = timezone.localdate()
    filed = today - relativedelta(years=11) + relativedelta(months=1)  # year 12 due next month
    patent = _old_invention(world, filed, filed + relativedelta(months=6))
    _licensed_and_filed(world, patent, today)
    year = _year(patent, 12, today)
    assert (year.full_fee, year.general_reduction, year.open_license_reduction) == (
        Decimal("4000"),
        Decimal("0"),
        Decimal("0.15"),
    )
    assert year.fee == Decimal("3400.00")
    assert year.open_license_saving == Decimal("600.00")


def test_the_larger_reduction_applies_not_both(world: World) -> None:
    today = timezone.localdate()
    filed = today - relativedelta(years=3) + relativedelta(months=1)
    patent = _old_invention(world, filed, filed + relativedelta(months=6))
    _licensed_and_filed(world, patent, today)
    year = _year(patent, 4, today)  # inside the window: 85 % beats 15 %
    assert (year.applied_reduction, year.fee, year.open_license_saving) == (
        Decimal("0.85"),
        Decimal("180.00"),
        Decimal("0.00"),
    )


def test_joint_applicants_get_seventy_percent(world: World) -> None:
    today = timezone.localdate()
    filed = today - relativedelta(years=3) + relativedelta(months=1)
    patent = _old_invention(world, filed, filed + relativedelta(months=6))
    partner = OrganisationFactory.create(
        name="共有研究院", kind=OrganisationKind.RESEARCH_INSTITUTE
    )
    PatentCoOwner.objects.create(patent=patent, organisation=partner)
    year = _year(patent, 4, today)
    assert (year.general_reduction, year.fee) == (Decimal("0.70"), Decimal("360.00"))


def test_an_enterprise_gets_only_the_open_license_reduction(world: World) -> None:
    today = timezone.localdate()
    filed = today - relativedelta(years=3) + relativedelta(months=1)
    patent = _old_invention(world, filed, filed + relativedelta(months=6))
    Patent.objects.filter(pk=patent.pk).update(owner=world.university)
    world.university.kind = OrganisationKind.ENTERPRISE
    world.university.save(update_fields=["kind"])
    _licensed_and_filed(world, patent, today)
    year = _year(patent, 4, today)
    assert (year.applied_reduction, year.fee) == (Decimal("0.15"), Decimal("1020.00"))


def test_fees_already_due_at_the_filing_date_are_not_reduced(world: World) -> None:
    """Filing date after a due date: that year's fee stays full; the next year's is reduced."""
    today = timezone.localdate()
    filed = today - relativedelta(years=11, days=20)  # year 12 fell due 20 days ago
    patent = _old_invention(world, filed, filed + relativedelta(months=6))
    _licensed_and_filed(world, patent, today)
    assert _year(patent, 12, today).fee == Decimal("4000.00")
    assert _year(patent, 13, today).fee == Decimal("5100.00")  # 6,000 × 0.85


def test_withdrawal_mid_year_stops_the_reduction_from_the_next_patent_year(world: World) -> None:
    today = timezone.localdate()
    filed = today - relativedelta(years=11) + relativedelta(months=1)
    patent = _old_invention(world, filed, filed + relativedelta(months=6))
    declaration = _licensed_and_filed(world, patent, today)
    declaration_services.declaration_request_withdrawal(
        actor=world.university_member, declaration_id=declaration.pk, reason="调整"
    )
    declaration_services.declaration_approve_withdrawal(
        actor=world.reviewer, declaration_id=declaration.pk
    )
    # The withdrawal falls in patent year 11 (year 12 starts next month): year 12 and after
    # lose the reduction, although the license itself still stands.
    assert _year(patent, 11, today).year == 11
    assert _year(patent, 12, today).open_license_reduction == Decimal("0")
    assert _year(patent, 12, today).fee == Decimal("4000.00")


def test_no_reduction_from_an_unfiled_license_or_an_ordinary_one(world: World) -> None:
    today = timezone.localdate()
    filed = today - relativedelta(years=11) + relativedelta(months=1)
    patent = _old_invention(world, filed, filed + relativedelta(months=6))
    announced(patent, world.university_member, world.reviewer, license_term_years=None)
    assert _year(patent, 12, today).fee == Decimal("4000.00")  # declared, but no license
    ordinary = license_services.license_record_ordinary(
        actor=world.university_member,
        patent_id=patent.pk,
        licensee_id=world.sme.pk,
        starts_on=today - timedelta(days=1),
        ends_on=today + relativedelta(years=5),
    )
    LicenseFiling.objects.create(license=ordinary, filed_by=world.university_member, filed_on=today)
    assert _year(patent, 12, today).fee == Decimal("4000.00")


def test_late_fees_within_the_grace_period_and_lapse_after_it(world: World) -> None:
    today = timezone.localdate()
    filed = today - relativedelta(years=8, months=3, days=3)  # year 9 due 3 months ago
    patent = _old_invention(world, filed, filed + relativedelta(months=6))
    Patent.objects.filter(pk=patent.pk).update(annual_fees_paid_through=8)
    patent.refresh_from_db()
    year = _year(patent, 9, today)
    assert (year.state, year.late_fee) == ("late", Decimal("300.00"))  # 2,000 × 5 % × 3
    Patent.objects.filter(pk=patent.pk).update(filing_date=today - relativedelta(years=8, months=7))
    patent.refresh_from_db()
    assert _year(patent, 9, today).state == "lapsed"


@pytest.mark.parametrize("role", ROLES)
def test_fee_calendar_and_totals_per_role(world: World, role: str) -> None:
    patent = declarable_patent(world.university)
    calendar = world.client(role).get(f"/api/v1/patents/{patent.pk}/fee-calendar/")
    totals = world.client(role).get(f"/api/v1/organisations/{world.university.pk}/fee-totals/")
    if role in {"member", "org_admin", "reviewer"}:
        assert calendar.status_code == 200
        years = calendar.json()["years"]
        assert years[0]["year"] == 6 and years[-1]["year"] == 20
        assert totals.status_code == 200
        assert totals.json()["patents"] == "1"
        return
    expected = {"anonymous": 401}.get(role, 404)
    assert (calendar.status_code, totals.status_code) == (expected, expected)


def test_design_patents_follow_their_own_schedule(world: World) -> None:
    patent = declarable_patent(
        world.university,
        9,
        application_number=application_number(2021, "3", 9),
        patent_type="design",
        main_ipc="H01M 4/525",
        filing_date="2021-07-01",
        grant_date="2022-01-10",
    )
    years = fee_calendar(patent, timezone.localdate(), from_year=1)
    assert [str(item.full_fee) for item in years[:5]] == [
        "600.00",
        "600.00",
        "600.00",
        "900.00",
        "900.00",
    ]
    assert len(years) == 15  # filed after 2021-06-01: 15 years


__all__ = ["client_for"]


def test_a_patent_filed_on_29_february_falls_due_on_the_28th_in_common_years(
    world: World,
) -> None:

    patent = declarable_patent(
        world.university,
        9,
        application_number=application_number(2016, "1", 9),
        filing_date="2016-02-29",
        grant_date="2018-05-02",
    )
    assert [due_date(patent, year) for year in (1, 2, 5, 9)] == [
        date(2016, 2, 29),
        date(2017, 2, 28),
        date(2020, 2, 29),
        date(2024, 2, 29),
    ]


def test_a_patentees_totals_in_batches_equal_the_sum_of_its_calendars(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db.models import F

    import licensing.fees as fees

    today = timezone.localdate()
    patents = [
        _old_invention(world, date(2010 + serial, 3, 15), date(2012 + serial, 6, 20), serial)
        for serial in range(1, 6)
    ]
    partner = OrganisationFactory.create(
        name="共有研究院", kind=OrganisationKind.RESEARCH_INSTITUTE
    )
    PatentCoOwner.objects.create(patent=patents[1], organisation=partner)
    _licensed_and_filed(world, patents[3], today)
    Patent.objects.filter(pk=patents[2].pk).update(
        annual_fees_paid_through=F("annual_fees_paid_through") - 1
    )
    calendars = [fee_calendar(Patent.objects.get(pk=p.pk), today) for p in patents]
    expected = {
        "patents": "5",
        "current_year_fees_cny": str(
            sum((c[0].fee for c in calendars if c[0].state != "paid"), Decimal("0.00"))
        ),
        "remaining_fees_cny": str(
            sum((y.fee for c in calendars for y in c if y.state != "paid"), Decimal("0.00"))
        ),
        "open_license_saving_cny": str(
            sum((y.open_license_saving for c in calendars for y in c), Decimal("0.00"))
        ),
    }
    assert Decimal(expected["open_license_saving_cny"]) > 0  # the licensed patent saves
    assert Decimal(expected["current_year_fees_cny"]) > 0  # the unpaid one owes this year
    monkeypatch.setattr(fees, "TOTALS_BATCH", 2)  # three batches: 2, 2, 1
    response = client_for(world.university_member).get(
        f"/api/v1/organisations/{world.university.pk}/fee-totals/"
    )
    assert response.json() == {"organisation": str(world.university.pk), **expected}


def test_withdrawing_the_declaration_that_superseded_the_licensed_one_stops_the_reduction(
    world: World,
) -> None:
    """Rules §5: the license was granted under declaration 1; declaration 2 changed the terms
    and superseded it; withdrawing declaration 2 stops the reduction from the next year."""
    today = timezone.localdate()
    filed = today - relativedelta(years=11) + relativedelta(months=1)
    patent = _old_invention(world, filed, filed + relativedelta(months=6))
    first = _licensed_and_filed(world, patent, today)
    second = announced(patent, world.university_member, world.reviewer, license_term_years=None)
    first.refresh_from_db()
    assert (first.status, second.supersedes_id) == ("superseded", first.pk)
    assert _year(patent, 12, today).open_license_reduction == Decimal("0.15")
    declaration_services.declaration_request_withdrawal(
        actor=world.university_member, declaration_id=second.pk, reason="调整"
    )
    declaration_services.declaration_approve_withdrawal(
        actor=world.reviewer, declaration_id=second.pk
    )
    first.refresh_from_db()
    assert first.withdrawal_date is None  # the superseded one is never withdrawn itself
    assert _year(patent, 11, today).year == 11
    assert (_year(patent, 12, today).open_license_reduction, _year(patent, 12, today).fee) == (
        Decimal("0"),
        Decimal("4000.00"),
    )


def test_an_application_not_yet_granted_owes_no_annual_fee_and_is_not_in_the_totals(
    world: World,
) -> None:
    """Annual fees start with the year of grant (Implementing Regulations)."""
    today = timezone.localdate()
    granted = _old_invention(world, date(2014, 3, 15), date(2016, 6, 20), 1)
    pending = make_patent(
        world.university,
        2,
        application_number=application_number(2022, "1", 2),
        filing_date="2022-03-15",
        grant_date=None,
    )
    assert pending.legal_status == "in_force"
    assert fee_calendar(Patent.objects.get(pk=pending.pk), today) == []
    assert fee_calendar(Patent.objects.get(pk=pending.pk), today, from_year=1) == []
    response = client_for(world.university_member).get(
        f"/api/v1/patents/{pending.pk}/fee-calendar/"
    )
    assert response.status_code == 200
    assert response.json() == {
        "patent": pending.pk,
        "status": "not_granted",
        "detail": "No annual fee is due before the patent is granted.",
        "years": [],
        "totals": {
            "remaining_fees_cny": "0.00",
            "late_fees_cny": "0.00",
            "open_license_saving_cny": "0.00",
        },
    }
    expected = fee_calendar(Patent.objects.get(pk=granted.pk), today)
    totals = client_for(world.university_member).get(
        f"/api/v1/organisations/{world.university.pk}/fee-totals/"
    )
    assert totals.json()["patents"] == "1"
    assert totals.json()["remaining_fees_cny"] == str(
        sum((y.fee for y in expected if y.state != "paid"), Decimal("0.00"))
    )


def test_annual_fees_start_with_the_year_of_grant_due_at_the_grant(world: World) -> None:
    patent = _old_invention(world, date(2016, 3, 15), date(2018, 6, 20))  # grant in year 3
    years = fee_calendar(patent, timezone.localdate(), from_year=1)
    assert [(y.year, y.due_date) for y in years[:2]] == [
        (3, date(2018, 6, 20)),
        (4, date(2019, 3, 15)),
    ]


def test_a_university_co_owning_with_an_enterprise_gets_no_general_reduction(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """财税〔2016〕78号 Art. 3: joint applicants qualify only if each of them qualifies; the
    single-patent calendar and the batched totals agree."""
    import licensing.fees as fees

    today = timezone.localdate()
    filed = today - relativedelta(years=3) + relativedelta(months=1)
    patent = _old_invention(world, filed, filed + relativedelta(months=6))
    partner = OrganisationFactory.create(name="共有企业", kind=OrganisationKind.ENTERPRISE)
    PatentCoOwner.objects.create(patent=patent, organisation=partner)
    year = _year(patent, 4, today)
    assert (year.general_reduction, year.fee) == (Decimal("0"), Decimal("1200.00"))
    calendar = fee_calendar(Patent.objects.get(pk=patent.pk), today)
    monkeypatch.setattr(fees, "TOTALS_BATCH", 1)
    totals = client_for(world.university_member).get(
        f"/api/v1/organisations/{world.university.pk}/fee-totals/"
    )
    assert totals.json()["remaining_fees_cny"] == str(
        sum((y.fee for y in calendar if y.state != "paid"), Decimal("0.00"))
    )
    assert totals.json()["current_year_fees_cny"] == str(
        calendar[0].fee if calendar[0].state != "paid" else Decimal("0.00")
    )
    assert Decimal(totals.json()["remaining_fees_cny"]) > Decimal("0.00")
