"""Helpers for declaration tests: a declarable patent and valid terms."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from licensing.models import Declaration
from licensing.services import declarations as services
from marketplace.models import Organisation, Patent
from marketplace.patents.terms import patent_year
from tests.factories import make_patent


def declarable_patent(owner: Organisation, serial: int = 1, **overrides: Any) -> Patent:
    """A granted, in-force invention with this year's annual fee paid: no bar holds."""
    patent = make_patent(owner, serial, **overrides)
    patent.annual_fees_paid_through = patent_year(patent.filing_date, timezone.localdate())
    patent.save(update_fields=["annual_fees_paid_through"])
    return patent


def terms(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "payment_method": "entry_fee_plus_royalty",
        "royalty_basis": "net_sales",
        "entry_fee_cny": "50000.00",
        "royalty_rate_percent": "3.5000",
        "minimum_annual_royalty_cny": "20000.00",
        "license_term_years": 5,
        "contact_name": "技术转移中心 王老师",
        "contact_phone": "025-84315000",
        "contact_email": "tto@uni.example.com",
        "undertaking": True,
        "calculation_explanation": "入门费按研发成本的5%计；提成按同行业平均许可费率3.5%计。",
    }
    values.update(overrides)
    return values


def service_terms(**overrides: Any) -> dict[str, Any]:
    from decimal import Decimal

    values = terms(**overrides)
    for field in (
        "entry_fee_cny",
        "royalty_rate_percent",
        "minimum_annual_royalty_cny",
        "lump_sum_cny",
    ):
        if isinstance(values.get(field), str):
            values[field] = Decimal(values[field])
    return values


def announced(patent: Patent, patentee: Any, reviewer: Any, **overrides: Any) -> Declaration:
    declaration = services.declaration_create(
        actor=patentee, patent_id=patent.pk, terms=service_terms(**overrides)
    )
    services.declaration_submit(actor=patentee, declaration_id=declaration.pk)
    services.declaration_announce(actor=reviewer, declaration_id=declaration.pk)
    declaration.refresh_from_db()
    return declaration
