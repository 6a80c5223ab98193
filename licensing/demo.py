"""Demo declarations for `make run`: announced through the real services (idempotent)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from licensing.models import Declaration
from licensing.services import declarations as services
from marketplace.demo import DEMO_DECLARATIONS, demo_patent_number
from marketplace.models import Membership, Patent, User
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


@transaction.atomic
def load_demo_declarations() -> int:
    """Announce the demo declarations that do not exist yet; returns how many were added."""
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
