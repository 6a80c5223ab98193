"""Demo declarations for `make run`: announced through the real services (idempotent)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from licensing.models import Declaration, License, MediationCase
from licensing.services import declarations as services
from licensing.services import licenses as license_services
from licensing.services import mediation as mediation_services
from marketplace import roles
from marketplace.demo import DEMO_DECLARATIONS, demo_patent_number
from marketplace.models import Membership, Organisation, Patent, User
from marketplace.patents.terms import patent_year
from marketplace.services.patents import patent_record_legal_status

CONTACT = {
    "contact_name": "技术转移中心",
    "contact_phone": "025-84310000",
    "contact_email": "tto@example.com",
    "undertaking": True,
    "calculation_explanation": (
        "参照同行业许可费率统计与本专利研发投入测算：入门费覆盖技术交底成本，提成按行业中位数确定。"
    ),
}


# The demo's history starts this many days ago, so licenses have reports that are paid or
# overdue by today.
HISTORY_DAYS = 400


@contextmanager
def as_of(day: date) -> Iterator[None]:
    """Run the licensing services as if today were `day` (the demo's past). The services read
    "today" through their module's `_today()`, the seam their tests freeze too."""
    modules = (services, license_services, mediation_services)
    saved = [getattr(module, "_today") for module in modules]  # noqa: B009
    for module in modules:
        setattr(module, "_today", lambda: day)  # noqa: B010
    try:
        yield
    finally:
        for module, original in zip(modules, saved, strict=True):
            setattr(module, "_today", original)  # noqa: B010


@transaction.atomic
def load_demo_declarations() -> int:
    """Announce the demo declarations that do not exist yet (as of the start of the demo's
    history); returns how many were added."""
    with as_of(timezone.localdate() - timedelta(days=HISTORY_DAYS)):
        return _announce_declarations()


def _announce_declarations() -> int:
    reviewer = User.objects.reviewers().order_by("id").first()
    if reviewer is None:
        return 0
    added = 0
    for serial, terms in DEMO_DECLARATIONS:
        patent = Patent.objects.get(application_number=demo_patent_number(serial))
        if Declaration.objects.filter(patent=patent).exists():
            continue
        member = Membership.objects.filter(organisation_id=patent.owner_id).order_by("id").first()
        assert member is not None
        year = patent_year(patent.filing_date, timezone.localdate())
        if patent.annual_fees_paid_through != year:
            patent_record_legal_status(
                actor=member.user, patent_id=patent.pk, facts={"annual_fees_paid_through": year}
            )
        values: dict[str, Any] = {**CONTACT, **terms}
        for field in (
            "entry_fee_cny",
            "lump_sum_cny",
            "royalty_rate_percent",
            "minimum_annual_royalty_cny",
        ):
            if field in values:
                values[field] = Decimal(str(values[field]))
        declaration = services.declaration_create(
            actor=member.user, patent_id=patent.pk, terms=values
        )
        services.declaration_submit(actor=member.user, declaration_id=declaration.pk)
        services.declaration_announce(actor=reviewer, declaration_id=declaration.pk)
        added += 1
    return added


def _declaration(serial: int) -> Declaration:
    return Declaration.objects.get(patent__application_number=demo_patent_number(serial))


def _admin(organisation_name: str) -> User:
    membership = (
        Membership.objects.filter(organisation__name=organisation_name, role="admin")
        .select_related("user")
        .order_by("id")
        .first()
    )
    assert membership is not None
    return membership.user


def _accept(declaration: Declaration, licensee: Organisation, day: date, *, pay: bool) -> License:
    actor = _admin(licensee.name)
    with as_of(day):
        payment = None
        due = license_services.due_at_acceptance(declaration)
        if pay and due:
            payment = {"amount_cny": due, "reference": f"DEMO-{declaration.pk}", "paid_on": day}
        return license_services.license_accept(
            actor=actor,
            declaration_id=declaration.pk,
            licensee_id=licensee.pk,
            notice_text="我司依据贵方开放许可声明的条件实施该专利，特此书面通知。",
            payment=payment,
        )


@transaction.atomic
def load_demo_activity() -> dict[str, int]:
    """Licenses, filings, royalty reports and mediation cases for the demo (once): a
    mediator logs in to a panel with work, an SME sees the 15 % fee saving it gets."""
    if License.objects.filter(notice_text__startswith="我司依据贵方").exists():
        return {"licenses": 0, "cases": 0}
    start = timezone.localdate() - timedelta(days=HISTORY_DAYS)
    battery = Organisation.objects.get(name="苏州锂途新能源科技有限公司")
    display = Organisation.objects.get(name="深圳晶显光电有限公司")
    university = Organisation.objects.get(name="华东示范大学")
    licensee = _admin(battery.name)

    # 1. Entry fee paid, filed with CNIPA (under review), two half-year royalty reports:
    #    the first paid, the second overdue.
    royalty = _accept(_declaration(100001), battery, start, pay=True)
    with as_of(start + timedelta(days=30)):
        license_services.license_file(
            actor=licensee, license_id=royalty.pk, filed_on=start + timedelta(days=30)
        )
    first_end = start + timedelta(days=181)
    with as_of(first_end + timedelta(days=5)):
        report = license_services.royalty_report(
            actor=licensee,
            license_id=royalty.pk,
            period_start=start,
            period_end=first_end,
            basis_amount=Decimal("1200000.00"),
        )
        license_services.royalty_pay(
            actor=licensee,
            license_id=royalty.pk,
            amount_cny=report.amount_due_cny,
            reference="DEMO-ROYALTY-1",
            paid_on=first_end + timedelta(days=5),
            report_id=report.pk,
        )
    second_end = start + timedelta(days=HISTORY_DAYS - 40)
    with as_of(second_end + timedelta(days=3)):
        license_services.royalty_report(
            actor=licensee,
            license_id=royalty.pk,
            period_start=first_end + timedelta(days=1),
            period_end=second_end,
            basis_amount=Decimal("900000.00"),
        )

    # 2. The 2014 patent (general reduction over): lump sum paid and filed, so its fee
    #    calendar shows the 15 % open-license reduction on the fees still to come.
    saving = _accept(_declaration(100007), battery, start + timedelta(days=10), pay=True)
    with as_of(start + timedelta(days=20)):
        license_services.license_file(
            actor=licensee, license_id=saving.pk, filed_on=start + timedelta(days=20)
        )

    # 3. A lump sum not paid yet: the license waits on its payment.
    _accept(_declaration(100002), display, timezone.localdate(), pay=False)

    # 4. Mediation cases in several states, under the entry-fee license.
    supervisor = User.objects.filter(groups__name=roles.MEDIATION_SUPERVISOR).first()
    mediator = User.objects.filter(groups__name=roles.MEDIATOR).first()
    patentee = _admin(university.name)
    cases = 0
    if supervisor is not None and mediator is not None:
        cases = _load_cases(royalty, licensee, patentee, supervisor, mediator)
    return {"licenses": 3, "cases": cases}


def _apply(license: License, actor: User, summary: str, cause: str = "payment") -> MediationCase:
    return mediation_services.case_apply(
        actor=actor,
        applicant_id=license.licensee_id,
        respondent_id=license.licensor_id,
        declaration_id=license.declaration_id or 0,
        license_id=license.pk,
        cause=cause,
        summary=summary,
        matters="确认使用费计算依据及支付安排。",
    )


def _to_agreed(case: MediationCase, patentee: User, supervisor: User, mediator: User) -> None:
    mediation_services.case_assign(actor=supervisor, case_id=case.pk, mediator_id=mediator.pk)
    mediation_services.case_send_notice(actor=mediator, case_id=case.pk)
    mediation_services.case_respond(actor=patentee, case_id=case.pk, agree=True)


def _load_cases(
    license: License, licensee: User, patentee: User, supervisor: User, mediator: User
) -> int:
    today = timezone.localdate()
    session = timezone.make_aware(datetime.combine(today + timedelta(days=7), time(9, 30)))
    place = "南京知识产权调解中心 3 楼"
    # Applied: waiting for the supervisor to assign a mediator.
    _apply(license, licensee, "被许可人认为第二期使用费的净销售额口径有误。", "royalty_standard")
    # Accepted, with its session next week.
    accepted = _apply(license, licensee, "双方对入门费是否含税存在分歧。")
    _to_agreed(accepted, patentee, supervisor, mediator)
    mediation_services.case_accept(
        actor=mediator, case_id=accepted.pk, session_at=session, place=place
    )
    # Agreement reached at the session (signed by both: settled).
    settled = _apply(license, licensee, "第一期使用费到账时间有争议。")
    _to_agreed(settled, patentee, supervisor, mediator)
    mediation_services.case_accept(
        actor=mediator, case_id=settled.pk, session_at=session, place=place
    )
    mediation_services.case_record_session(
        actor=mediator,
        case_id=settled.pk,
        held_at=session,
        place=place,
        applicant_present=True,
        respondent_present=True,
        notes="双方陈述并核对银行回单。",
    )
    mediation_services.case_record_agreement(
        actor=mediator,
        case_id=settled.pk,
        text="被许可人于下月底前补付第二期使用费。",
        obligations=[
            mediation_services.ObligationInput(
                license.licensee_id, Decimal("27000.00"), today + timedelta(days=30), "补付使用费"
            )
        ],
        signed_by_both=True,
    )
    # Not accepted (the respondent refused): the applicant must still be told.
    refused = _apply(license, licensee, "被许可人请求调整提成比例。", "royalty_standard")
    mediation_services.case_assign(actor=supervisor, case_id=refused.pk, mediator_id=mediator.pk)
    mediation_services.case_send_notice(actor=mediator, case_id=refused.pk)
    mediation_services.case_respond(
        actor=patentee, case_id=refused.pk, agree=False, reason="提成比例以声明为准，不同意调解。"
    )
    return 4
