"""Reminders: filing due, royalty report due, payment overdue — once each."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from licensing.models import License, LicenseFiling
from licensing.services import licenses as license_services
from licensing.services.reminders import (
    remind_filings,
    remind_overdue_payments,
    remind_royalty_reports,
)
from licensing.tasks import send_license_reminders
from marketplace.models import Notification
from tests.conftest import World
from tests.declarations_helpers import announced, declarable_patent
from tests.mediation_helpers import licensed

pytestmark = pytest.mark.django_db


@pytest.fixture
def license(world: World) -> License:
    return licensed(world)


def test_filing_reminder_goes_to_both_parties_once_near_the_deadline(
    world: World, license: License
) -> None:
    today = timezone.localdate()
    assert remind_filings(today) == 0  # three months away
    License.objects.filter(pk=license.pk).update(effective_date=today - timedelta(days=85))
    assert remind_filings(today) == 3  # two university members and the SME's admin
    assert remind_filings(today) == 0
    LicenseFiling.objects.create(license=license, filed_by=world.sme_admin, filed_on=today)
    Notification.objects.all().delete()
    assert remind_filings(today) == 0


def test_unreported_quarters_are_reminded_to_the_licensee(world: World, license: License) -> None:
    today = timezone.localdate()
    License.objects.filter(pk=license.pk).update(effective_date=today - timedelta(days=200))
    # Two quarters ended more than 15 days ago, neither reported.
    assert remind_royalty_reports(today) == 2
    assert remind_royalty_reports(today) == 0
    assert set(Notification.objects.values_list("user", flat=True)) == {world.sme_admin.pk}


def test_overdue_payments_are_reminded_once_per_due(world: World, license: License) -> None:
    today = timezone.localdate()
    License.objects.filter(pk=license.pk).update(effective_date=today - timedelta(days=200))
    license_services.royalty_report(
        actor=world.sme_admin,
        license_id=license.pk,
        period_start=today - timedelta(days=200),
        period_end=today - timedelta(days=111),
        basis_amount=Decimal("100000"),
    )
    assert remind_overdue_payments(today) == 3
    assert remind_overdue_payments(today) == 0
    assert set(Notification.objects.values_list("kind", flat=True)) == {"payment_overdue"}


def test_the_beat_task_runs_all_three(world: World, license: License) -> None:
    today = timezone.localdate()
    # The fixture's license: 200 days in force, its first quarter reported and unpaid (one
    # overdue due, told to three people), its second quarter unreported (one reminder).
    License.objects.filter(pk=license.pk).update(effective_date=today - timedelta(days=200))
    license_services.royalty_report(
        actor=world.sme_admin,
        license_id=license.pk,
        period_start=today - timedelta(days=200),
        period_end=today - timedelta(days=111),
        basis_amount=Decimal("100000"),
    )
    # A second license, 85 days in force and unfiled: its filing deadline is near.
    recent = license_services.license_accept(
        actor=world.sme_admin,
        declaration_id=announced(
            declarable_patent(world.university, 2), world.university_member, world.reviewer
        ).pk,
        licensee_id=world.sme.pk,
        notice_text="通知",
        payment={"amount_cny": Decimal("50000.00"), "reference": "R2", "paid_on": today},
    )
    License.objects.filter(pk=recent.pk).update(effective_date=today - timedelta(days=85))
    assert send_license_reminders() == {"filings": 3, "reports": 1, "overdue": 3}
    assert sorted(Notification.objects.values_list("kind", flat=True)) == [
        "filing_due",
        "filing_due",
        "filing_due",
        "payment_overdue",
        "payment_overdue",
        "payment_overdue",
        "royalty_report_due",
    ]
    assert send_license_reminders() == {"filings": 0, "reports": 0, "overdue": 0}
