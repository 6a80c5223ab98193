"""Template filters for amounts as a person reads them (marketplace.units)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from marketplace import units

register = template.Library()


@register.filter
def cny(amount: Decimal | int | str | None) -> str:
    """`{{ amount|cny }}`: 5 万元 in Chinese, CNY 50,000.00 in English; empty for None."""
    return "" if amount is None else units.cny(amount)
