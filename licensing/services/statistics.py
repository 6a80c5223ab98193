"""Importing royalty reference statistics (rows checked; a version is replaced as a whole)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from licensing.models import RoyaltyStatistic

BASES = {choice for choice, _label in RoyaltyStatistic.Basis.choices}


def _decimal(value: str) -> Decimal | None:
    text = (value or "").strip()
    return Decimal(text) if text else None


@transaction.atomic
def statistics_import(*, rows: list[dict[str, Any]]) -> int:
    """Upsert rows; every row must name its source, its basis and a typical value."""
    count = 0
    for number, row in enumerate(rows, start=2):
        basis = row["basis"].strip()
        if basis not in BASES:
            raise ValueError(f"row {number}: basis must be one of {sorted(BASES)}")
        if not row.get("source", "").strip():
            raise ValueError(f"row {number}: every statistic needs its source")
        typical = _decimal(row["typical"])
        if typical is None:
            raise ValueError(f"row {number}: typical is required")
        low, high = _decimal(row.get("low", "")), _decimal(row.get("high", ""))
        if low is not None and high is not None and low > high:
            raise ValueError(f"row {number}: low is above high")
        RoyaltyStatistic.objects.update_or_create(
            version=row["version"].strip(),
            industry_code=row.get("industry_code", "").strip().upper(),
            basis=basis,
            defaults={
                "statistic": row["statistic"].strip(),
                "low": low,
                "typical": typical,
                "high": high,
                "unit": row["unit"].strip(),
                "sample_size": int(row["sample_size"]) if row.get("sample_size") else None,
                "source": row["source"].strip(),
            },
        )
        count += 1
    return count
