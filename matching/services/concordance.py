"""The IPC ↔ industry concordance: loading it, and the industries an IPC symbol relates to."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

from django.db import transaction

from marketplace.errors import InvalidInput
from marketplace.patents.ipc import parse_ipc
from matching.models import IpcIndustry

DATA = Path(__file__).resolve().parent.parent / "reference_data"


@transaction.atomic
def concordance_import(*, rows: list[dict[str, str]], replace_source: str | None = None) -> int:
    """Load concordance rows (ipc_prefix, industry_code, weight, source, note); with
    replace_source, rows of that source not in the file are removed."""
    if replace_source:
        IpcIndustry.objects.filter(source=replace_source).delete()
    count = 0
    for row in rows:
        IpcIndustry.objects.update_or_create(
            ipc_prefix=row["ipc_prefix"].replace(" ", "").upper(),
            industry_code=row["industry_code"].strip().upper(),
            defaults={
                "weight": Decimal(row["weight"]),
                "source": row["source"].strip(),
                "note": row.get("note", "").strip()[:200],
            },
        )
        count += 1
    return count


def concordance_load_shipped() -> int:
    path = DATA / "ipc_industry.csv"
    if not path.exists():
        return 0
    with path.open(encoding="utf-8") as handle:
        return concordance_import(rows=list(csv.DictReader(handle)))


def concordance_table() -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = {}
    for prefix, code, weight in IpcIndustry.objects.values_list(
        "ipc_prefix", "industry_code", "weight"
    ):
        table.setdefault(prefix, {})[code] = float(weight)
    return table


def ipc_prefixes_for_industry(code: str) -> list[str]:
    """IPC prefixes the concordance relates to an industry (the code, its parents or its
    children), for the search filter."""
    prefixes = []
    for prefix, industry in IpcIndustry.objects.values_list("ipc_prefix", "industry_code"):
        if industry.startswith(code) or code.startswith(industry):
            prefixes.append(prefix)
    return sorted(set(prefixes))


def industries_for(symbols: list[str], table: dict[str, dict[str, float]]) -> dict[str, float]:
    """For each IPC symbol, the rows of its longest level present in the table (group, then
    subclass, class, section — by IPC level, never by string prefix, so H01M1 never catches
    H01M10); the best weight per industry over all symbols."""
    found: dict[str, float] = {}
    for raw in symbols:
        try:
            levels = parse_ipc(raw).prefixes
        except InvalidInput:
            continue
        for level in reversed(levels):
            entry = table.get(level)
            if entry:
                for code, weight in entry.items():
                    found[code] = max(found.get(code, 0.0), weight)
                break
    return found
