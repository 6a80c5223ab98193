"""Sizes and amounts as a person reads them: MB, not bytes; 万元 in Chinese, CNY in English."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import get_language

MEGABYTE = 1024 * 1024
TEN_THOUSAND = Decimal(10_000)


def megabytes(size: int) -> str:
    """`size` bytes in MB, one decimal at most: 10485760 -> "10", 1572864 -> "1.5"."""
    value = Decimal(size) / MEGABYTE
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _trim(value: Decimal) -> str:
    text = f"{value:,.4f}".rstrip("0").rstrip(".")
    return text or "0"


def cny(amount: Decimal | int | str) -> str:
    """An amount of yuan in the active language: "2 万元" / "500 元" in Chinese (the unit
    Chinese fee schedules and contracts use), "CNY 20,000.00" in English."""
    value = Decimal(amount)
    if (get_language() or "").startswith("zh"):
        if abs(value) >= TEN_THOUSAND:
            return f"{_trim(value / TEN_THOUSAND)} 万元"
        return f"{_trim(value)} 元"
    return f"CNY {value:,.2f}"
