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
    """An amount of yuan in the active language, exact to the fen.

    Chinese: a whole-yuan amount of 10,000 or more in 万元, the unit Chinese fee schedules and
    contracts use ("5 万元", "1.5 万元", "1.2345 万元": four decimals of 万 are whole yuan, so
    nothing is rounded); any other amount in 元, with its fen when it has some ("500 元",
    "12,345.67 元"). English: "CNY 50,000.00"."""
    value = Decimal(amount)
    if (get_language() or "").startswith("zh"):
        is_whole_yuan = value == value.to_integral_value()
        if abs(value) >= TEN_THOUSAND and is_whole_yuan:
            return f"{_trim(value / TEN_THOUSAND)} 万元"
        return f"{value:,.0f} 元" if is_whole_yuan else f"{value:,.2f} 元"
    return f"CNY {value:,.2f}"
