"""Open statistics of the marketplace: declarations, licenses and royalties by month, province,
IPC section and class, patentee kind and payment mode (issue 18).

Aggregates only. A license figure counted from one or two licenses would point at an SME (and a
royalty sum from one licensee at its payment), so such a figure is suppressed; when one cell of
a table is suppressed, the next smallest is too, or the total minus the others would give it
away. `compute_cells` works from the live tables (the benchmark's baseline);
`statistics_refresh` stores its result in StatisticsCell, which the API reads.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone, translation

from licensing.models import (
    Declaration,
    DeclarationStatus,
    FilingStatus,
    License,
    LicenseFiling,
    LicenseStatus,
    PaymentMethod,
    RoyaltyReport,
    StatisticsCell,
    StatisticsDimension,
)
from licensing.querysets import IN_FORCE_STATUSES, PUBLIC
from licensing.rules import rule
from marketplace.models import IpcClass, OrganisationKind, Region


def minimum_licenses() -> int:
    """The fewest licenses a published license figure may rest on (rules)."""
    return int(rule("STATISTICS_MINIMUM_LICENSES"))


# Figures resting on licenses; each is suppressed by the number of licenses behind it.
LICENSE_MEASURES = {
    "licenses_granted": "licenses_granted",
    "licenses_filed": "licenses_filed",
    "royalty_reports": "royalty_licenses",
    "royalties_reported_cny": "royalty_licenses",
}
# Licenses that took effect (granted); awaiting payment is not yet a license.
GRANTED_STATUSES = (LicenseStatus.EFFECTIVE, LicenseStatus.CONTESTED, LicenseStatus.ENDED)
# Ended without a withdrawal: the date the declaration stopped being in force.
ENDED_STATUSES = (
    DeclarationStatus.TERMINATED,
    DeclarationStatus.REVOKED,
    DeclarationStatus.EXPIRED,
    DeclarationStatus.SUPERSEDED,
)
CENT = Decimal("0.01")
_LOCK_ID = 18_0001  # pg_advisory_xact_lock key: one refresh at a time
# The API keeps each rendered table in the cache under these keys until the next refresh.
CACHE_PREFIX = "open-statistics:v1"
CACHE_SECONDS = 2 * 3600
RENDERINGS = ("index", *(f"{d}:{f}" for d in StatisticsDimension.values for f in ("json", "csv")))


def cache_key(rendering: str) -> str:
    return f"{CACHE_PREFIX}:{rendering}"


def _forget_renderings() -> None:
    cache.delete_many([cache_key(rendering) for rendering in RENDERINGS])


@dataclass
class _Cell:
    announced: int = 0
    withdrawn: int = 0
    in_force: int = 0
    licenses: set[int] = field(default_factory=set)
    filed: set[int] = field(default_factory=set)
    royalty_licenses: set[int] = field(default_factory=set)
    royalty_reports: int = 0
    royalties: Decimal = Decimal("0.00")
    rates: list[Decimal] = field(default_factory=list)
    upfronts: list[Decimal] = field(default_factory=list)


@dataclass(frozen=True)
class _DeclarationFacts:
    keys: dict[str, str]  # dimension -> key (all but month)
    announced_month: str
    withdrawn_month: str | None
    ended_month: str | None
    is_in_force: bool
    rate: Decimal | None
    upfront: Decimal | None


def _month(day: date | None) -> str | None:
    return f"{day.year:04d}-{day.month:02d}" if day else None


def _median(values: list[Decimal]) -> Decimal | None:
    # A median of one or two declared terms is that declaration's term: not an aggregate.
    if len(values) < minimum_licenses():
        return None
    return Decimal(statistics.median(values))


def _declaration_facts() -> dict[int, _DeclarationFacts]:
    rows = Declaration.objects.filter(status__in=PUBLIC, effective_date__isnull=False).values_list(
        "id",
        "status",
        "effective_date",
        "withdrawal_date",
        "ended_date",
        "payment_method",
        "royalty_rate_percent",
        "lump_sum_cny",
        "entry_fee_cny",
        "patent__main_ipc",
        "organisation__region_id",
        "organisation__kind",
    )
    facts: dict[int, _DeclarationFacts] = {}
    for (
        pk,
        status,
        effective,
        withdrawal,
        ended,
        method,
        rate,
        lump_sum,
        entry_fee,
        ipc,
        region,
        kind,
    ) in rows:
        ipc = (ipc or "").replace(" ", "").upper()
        facts[pk] = _DeclarationFacts(
            keys={
                StatisticsDimension.PROVINCE: f"{region[:2]}0000",
                StatisticsDimension.IPC_SECTION: ipc[:1],
                StatisticsDimension.IPC_CLASS: ipc[:3],
                StatisticsDimension.PATENTEE_KIND: kind,
                StatisticsDimension.PAYMENT_METHOD: method,
                StatisticsDimension.TOTAL: "all",
            },
            announced_month=_month(effective) or "",
            withdrawn_month=_month(withdrawal) if status == DeclarationStatus.WITHDRAWN else None,
            ended_month=_month(ended or withdrawal) if status in ENDED_STATUSES else None,
            is_in_force=status in IN_FORCE_STATUSES,
            rate=rate,
            upfront=lump_sum or entry_fee,
        )
    return facts


def _add_licenses(tables: dict[str, dict[str, _Cell]], facts: dict[int, _DeclarationFacts]) -> None:
    def cells(declaration_id: int | None, day: date | None) -> Iterable[_Cell]:
        found = facts.get(declaration_id or 0)
        if found is None:
            return []
        chosen = [tables[dimension][key] for dimension, key in found.keys.items()]
        month = _month(day)
        return [*chosen, tables[StatisticsDimension.MONTH][month]] if month else chosen

    for license_id, declaration_id, effective in License.objects.filter(
        is_open_license=True, status__in=GRANTED_STATUSES, effective_date__isnull=False
    ).values_list("id", "declaration_id", "effective_date"):
        for cell in cells(declaration_id, effective):
            cell.licenses.add(license_id)
    for license_id, declaration_id, filed_on in LicenseFiling.objects.filter(
        status__in=(FilingStatus.FILED, FilingStatus.ACCEPTED), license__is_open_license=True
    ).values_list("license_id", "license__declaration_id", "filed_on"):
        for cell in cells(declaration_id, filed_on):
            cell.filed.add(license_id)
    for license_id, declaration_id, period_end, amount in RoyaltyReport.objects.filter(
        license__is_open_license=True
    ).values_list("license_id", "license__declaration_id", "period_end", "amount_due_cny"):
        for cell in cells(declaration_id, period_end):
            cell.royalty_licenses.add(license_id)
            cell.royalty_reports += 1
            cell.royalties += amount


def _add_in_force_by_month(cells: dict[str, _Cell], facts: dict[int, _DeclarationFacts]) -> None:
    """For the month table, "in force" is the number in force at the end of each month."""
    change: dict[str, int] = defaultdict(int)
    for fact in facts.values():
        change[fact.announced_month] += 1
        stopped = fact.withdrawn_month or fact.ended_month
        if stopped:
            change[stopped] -= 1
    if not change:
        return
    months = sorted(change)
    running = 0
    year, month = int(months[0][:4]), int(months[0][5:])
    last = max(months[-1], max(cells, default=""))
    while True:
        key = f"{year:04d}-{month:02d}"
        running += change.get(key, 0)
        cells[key].in_force = running
        if key >= last:
            break
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _labels() -> dict[str, Callable[[str], tuple[str, str]]]:
    regions = dict(Region.objects.filter(level="province").values_list("code", "name_zh"))
    ipc = {
        symbol: (zh, en)
        for symbol, zh, en in IpcClass.objects.filter(level__in=["section", "class"]).values_list(
            "symbol", "title_zh", "title_en"
        )
    }

    def choice(choices: Any) -> Callable[[str], tuple[str, str]]:
        def label(key: str) -> tuple[str, str]:
            with translation.override("zh-hans"):
                zh = str(dict(choices.choices).get(key, key))
            with translation.override("en"):
                en = str(dict(choices.choices).get(key, key))
            return zh, en

        return label

    return {
        StatisticsDimension.TOTAL: lambda key: ("全部", "all"),
        StatisticsDimension.MONTH: lambda key: (key, key),
        StatisticsDimension.PROVINCE: lambda key: (regions.get(key, key),) * 2,
        StatisticsDimension.IPC_SECTION: lambda key: ipc.get(key, (key, key)),
        StatisticsDimension.IPC_CLASS: lambda key: ipc.get(key, (key, key)),
        StatisticsDimension.PATENTEE_KIND: choice(OrganisationKind),
        StatisticsDimension.PAYMENT_METHOD: choice(PaymentMethod),
    }


def _published(dimension: str, cells: dict[str, _Cell]) -> list[dict[str, Any]]:
    """The table's rows with small license figures suppressed (primary and secondary)."""
    counts = {
        key: {
            "licenses_granted": len(cell.licenses),
            "licenses_filed": len(cell.filed),
            "royalty_licenses": len(cell.royalty_licenses),
        }
        for key, cell in cells.items()
    }
    hidden: dict[str, set[str]] = {}
    for basis in ("licenses_granted", "licenses_filed", "royalty_licenses"):
        small = {key for key, count in counts.items() if 0 < count[basis] < minimum_licenses()}
        if len(small) == 1 and dimension != StatisticsDimension.TOTAL:
            # Secondary suppression: the total minus the others would reveal the one hidden.
            others = sorted(
                (count[basis], key)
                for key, count in counts.items()
                if key not in small and count[basis] > 0
            )
            if others:
                small.add(others[0][1])
        hidden[basis] = small
    rows = []
    for key in sorted(cells):
        cell = cells[key]
        values: dict[str, Any] = {
            "licenses_granted": len(cell.licenses),
            "licenses_filed": len(cell.filed),
            "royalty_reports": cell.royalty_reports,
            "royalties_reported_cny": cell.royalties.quantize(CENT),
        }
        suppressed = False
        for measure, basis in LICENSE_MEASURES.items():
            if key in hidden[basis]:
                values[measure] = None
                suppressed = True
        median_rate = _median(cell.rates)
        median_upfront = _median(cell.upfronts)
        rows.append(
            {
                "dimension": dimension,
                "key": key,
                "declarations_announced": cell.announced,
                "declarations_withdrawn": cell.withdrawn,
                "declarations_in_force": cell.in_force,
                **values,
                "median_royalty_rate_percent": (
                    median_rate.quantize(Decimal("0.0001")) if median_rate is not None else None
                ),
                "median_upfront_cny": (
                    median_upfront.quantize(CENT) if median_upfront is not None else None
                ),
                "is_suppressed": suppressed,
            }
        )
    return rows


def compute_cells() -> list[dict[str, Any]]:
    """Every published cell, computed from the live tables."""
    facts = _declaration_facts()
    tables: dict[str, dict[str, _Cell]] = {
        dimension: defaultdict(_Cell) for dimension in StatisticsDimension.values
    }
    for fact in facts.values():
        for dimension, key in fact.keys.items():
            cell = tables[dimension][key]
            cell.announced += 1
            cell.withdrawn += fact.withdrawn_month is not None
            cell.in_force += fact.is_in_force
            if fact.rate is not None:
                cell.rates.append(fact.rate)
            if fact.upfront is not None:
                cell.upfronts.append(fact.upfront)
        month_cell = tables[StatisticsDimension.MONTH][fact.announced_month]
        month_cell.announced += 1
        if fact.rate is not None:
            month_cell.rates.append(fact.rate)
        if fact.upfront is not None:
            month_cell.upfronts.append(fact.upfront)
        if fact.withdrawn_month:
            tables[StatisticsDimension.MONTH][fact.withdrawn_month].withdrawn += 1
    _add_licenses(tables, facts)
    _add_in_force_by_month(tables[StatisticsDimension.MONTH], facts)
    if not tables[StatisticsDimension.TOTAL]:
        tables[StatisticsDimension.TOTAL]["all"] = _Cell()
    labels = _labels()
    rows: list[dict[str, Any]] = []
    for dimension, cells in tables.items():
        for row in _published(dimension, cells):
            row["label_zh"], row["label_en"] = labels[dimension](row["key"])
            rows.append(row)
    return rows


@transaction.atomic
def statistics_refresh() -> int:
    """Replace the stored cells with freshly computed ones; readers see the old set until
    this commits. Returns the number of cells."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_ID])
    now = timezone.now()
    rows = compute_cells()
    StatisticsCell.objects.all().delete()
    StatisticsCell.objects.bulk_create(
        [StatisticsCell(refreshed_at=now, **row) for row in rows], batch_size=1000
    )
    # Forget the rendered tables now and again after commit: a reader in between may have
    # cached the old cells, which it still saw.
    _forget_renderings()
    transaction.on_commit(_forget_renderings)
    return len(rows)
