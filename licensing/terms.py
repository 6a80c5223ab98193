"""Checking a declaration's terms: payment method, amounts, caps, term, explanation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from django.utils.translation import gettext_lazy as _

from licensing.rules import rule
from marketplace.patents.cleaning import Errors

NEEDS = {
    "free": set(),
    "lump_sum": {"lump_sum_cny"},
    "running_royalty": {"royalty_rate_percent", "royalty_basis"},
    "entry_fee_plus_royalty": {"entry_fee_cny", "royalty_rate_percent", "royalty_basis"},
}
AMOUNT_FIELDS = ("lump_sum_cny", "entry_fee_cny", "royalty_rate_percent", "royalty_basis")


def check_terms(
    values: dict[str, Any], *, patent_expiry: date, today: date
) -> list[tuple[str, str, str]]:
    """All problems with the terms as (field, code, message); an empty list means fine."""
    errors = Errors()
    method = values.get("payment_method")
    needed = NEEDS.get(method or "", set())
    for field in sorted(needed):
        if values.get(field) in (None, ""):
            errors.add(
                field,
                "term_required",
                _("The payment method %(method)s needs %(name)s."),
                method=method,
                name=field,
            )
    for field in AMOUNT_FIELDS:
        if field not in needed and values.get(field) not in (None, ""):
            errors.add(
                field,
                "term_not_applicable",
                _("%(name)s does not apply to the payment method %(method)s."),
                name=field,
                method=method,
            )
    if method == "free" and values.get("minimum_annual_royalty_cny"):
        errors.add(
            "minimum_annual_royalty_cny",
            "term_not_applicable",
            _("A free license has no minimum annual royalty."),
        )
    lump_sum_cap = Decimal(rule("LUMP_SUM_CAP_CNY"))
    for field, code in (
        ("lump_sum_cny", "lump_sum_over_cap"),
        ("entry_fee_cny", "entry_fee_over_cap"),
    ):
        amount = values.get(field)
        if amount is not None and amount > lump_sum_cap:
            errors.add(
                field,
                code,
                _("At most CNY %(cap)s (the cap on lump sums); this is %(amount)s."),
                cap=f"{lump_sum_cap:,.0f}",
                amount=f"{amount:,.2f}",
            )
    rate = values.get("royalty_rate_percent")
    basis = values.get("royalty_basis")
    if (
        rate is not None
        and basis == "net_sales"
        and rate > Decimal(rule("NET_SALES_RATE_CAP_PERCENT"))
    ):
        errors.add(
            "royalty_rate_percent",
            "royalty_rate_over_cap_net_sales",
            _("A running royalty on net sales is at most %(cap)s %%; this is %(rate)s %%."),
            cap=rule("NET_SALES_RATE_CAP_PERCENT"),
            rate=rate,
        )
    if rate is not None and basis == "profit" and rate > Decimal(rule("PROFIT_RATE_CAP_PERCENT")):
        errors.add(
            "royalty_rate_percent",
            "royalty_rate_over_cap_profit",
            _("A running royalty on profit is at most %(cap)s %%; this is %(rate)s %%."),
            cap=rule("PROFIT_RATE_CAP_PERCENT"),
            rate=rate,
        )
    if rate is not None and rate <= 0 and method in ("running_royalty", "entry_fee_plus_royalty"):
        errors.add(
            "royalty_rate_percent", "royalty_rate_not_positive", _("The rate must be above 0.")
        )
    explanation = (values.get("calculation_explanation") or "").strip()
    limit = int(rule("CALCULATION_EXPLANATION_MAX_CHARS"))
    if not explanation:
        errors.add(
            "calculation_explanation",
            "calculation_explanation_required",
            _("Explain how the royalty was calculated (at most %(limit)d characters)."),
            limit=limit,
        )
    elif len(explanation) > limit:
        errors.add(
            "calculation_explanation",
            "calculation_explanation_too_long",
            _("The calculation explanation has %(length)d characters; at most %(limit)d."),
            length=len(explanation),
            limit=limit,
        )
    years = values.get("license_term_years")
    if years is not None and today + relativedelta(years=years) > patent_expiry:
        errors.add(
            "license_term_years",
            "license_term_past_expiry",
            _("A %(years)d-year license would run past the patent's expiry on %(expiry)s."),
            years=years,
            expiry=patent_expiry.isoformat(),
        )
    if not values.get("undertaking"):
        errors.add(
            "undertaking",
            "undertaking_required",
            _("The patentee must undertake that the conditions for open licensing are met."),
        )
    return errors.items


def filing_deadline(effective_date: date | None) -> date | None:
    """The last day to file a license that took effect on `effective_date` (rules §4)."""
    if effective_date is None:
        return None
    return effective_date + relativedelta(months=int(rule("LICENSE_FILING_MONTHS")))


def advertising_words(values: dict[str, Any]) -> list[str]:
    """Advertising words found in the free-text terms (flagged for the reviewer, not refused)."""
    text = " ".join(
        str(values.get(field) or "") for field in ("calculation_explanation", "other_terms")
    ).lower()
    return [word for word in rule("ADVERTISING_WORDS") if word.lower() in text]
