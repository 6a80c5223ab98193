"""Open statistics of the marketplace: declarations, licenses and royalties by month, province,
IPC section and class, patentee kind and payment mode (issue 18).

Aggregates only. A license figure counted from one or two licenses would point at an SME (and a
royalty sum from one licensee at its payment), so such a figure is suppressed; when one cell of
a table is suppressed, the next smallest is too, or the total minus the others would give it
away. `compute_cells` works from the live tables (the benchmark's baseline);
`statistics_refresh` stores its result in StatisticsCell, which the API reads.
"""

# The SQL below is put together from constants only (table names from _meta, literal numbers);
# every value goes in as a query parameter.
# ruff: noqa: S608

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
from marketplace.models import IpcClass, Organisation, OrganisationKind, Patent, Region


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


def _choice_labels() -> list[tuple[str, str, str, str]]:
    """(dimension, key, Chinese label, English label) of the dimensions keyed by a choice."""
    labels = []
    for dimension, choices in (
        (StatisticsDimension.PATENTEE_KIND, OrganisationKind),
        (StatisticsDimension.PAYMENT_METHOD, PaymentMethod),
    ):
        for key, _label in choices.choices:
            with translation.override("zh-hans"):
                zh = str(dict(choices.choices)[key])
            with translation.override("en"):
                en = str(dict(choices.choices)[key])
            labels.append((str(dimension), str(key), zh, en))
    return labels


def _half_even_median(column: str, places: int) -> str:
    """SQL for the median of `column` over the group, rounded half to even to the column's
    `places` decimals as Python's Decimal.quantize does; none under the minimum count.

    One sort gives both middle values: percentile_disc(f) is the value at row ceil(f * n), so
    0.5 gives the lower middle and 0.5 + 1e-9 the upper (row n/2 + 1 when n is even, the same
    row when odd; exact for n below 10^8). Their mean has at most one more decimal, a 5 on a
    tie, so the doubled, scaled sum is an integer to halve."""
    scale = 10**places
    middles = (
        f"(percentile_disc(ARRAY[0.5, 0.500000001]::float8[]) WITHIN GROUP (ORDER BY {column}))"
    )
    doubled = f"(({middles}[1] + {middles}[2]) * {scale})"
    return (
        f"CASE WHEN count({column}) >= %(minimum)s THEN "
        f"(CASE WHEN mod({doubled}, 2) = 0 THEN {doubled} / 2 "
        f"WHEN mod(floor({doubled} / 2), 2) = 0 THEN floor({doubled} / 2) "
        f"ELSE floor({doubled} / 2) + 1 END) / {scale} END"
    )


def _tables() -> dict[str, str]:
    return {
        "cell": StatisticsCell._meta.db_table,
        "declaration": Declaration._meta.db_table,
        "license": License._meta.db_table,
        "filing": LicenseFiling._meta.db_table,
        "report": RoyaltyReport._meta.db_table,
        "patent": Patent._meta.db_table,
        "organisation": Organisation._meta.db_table,
        "region": Region._meta.db_table,
        "ipc": IpcClass._meta.db_table,
    }


# The declarations the statistics count, with their keys in every dimension, and one row per
# license event (granted, filed, royalty report) of their open licenses, with its day.
_EVENTS = """
facts AS (
    SELECT declaration.id, declaration.status, declaration.effective_date,
           declaration.withdrawal_date, declaration.ended_date,
           declaration.royalty_rate_percent AS rate,
           -- Python's `lump_sum or entry_fee`: a zero lump sum falls through to the entry fee.
           COALESCE(NULLIF(declaration.lump_sum_cny, 0), declaration.entry_fee_cny) AS upfront,
           -- The keys in the "C" collation: grouping sorts them, byte order is enough for
           -- that, and the locale's comparison made those sorts several times slower.
           (left(organisation.region_id, 2) || '0000') COLLATE "C" AS province,
           left(upper(replace(COALESCE(patent.main_ipc, ''), ' ', '')), 1) COLLATE "C"
               AS ipc_section,
           left(upper(replace(COALESCE(patent.main_ipc, ''), ' ', '')), 3) COLLATE "C"
               AS ipc_class,
           organisation.kind COLLATE "C" AS patentee_kind,
           declaration.payment_method COLLATE "C" AS payment_method,
           to_char(declaration.effective_date, 'YYYY-MM') COLLATE "C" AS announced_month
    FROM {declaration} declaration
    JOIN {patent} patent ON patent.id = declaration.patent_id
    JOIN {organisation} organisation ON organisation.id = declaration.organisation_id
    WHERE declaration.status = ANY(%(public)s) AND declaration.effective_date IS NOT NULL
),
license_events AS (
    SELECT license.declaration_id, license.id AS license_id, 'granted' AS event,
           license.effective_date AS day, NULL::numeric AS amount
    FROM {license} license
    WHERE license.is_open_license AND license.status = ANY(%(granted)s)
      AND license.effective_date IS NOT NULL
    UNION ALL
    SELECT license.declaration_id, filing.license_id, 'filed', filing.filed_on, NULL
    FROM {filing} filing JOIN {license} license ON license.id = filing.license_id
    WHERE filing.status = ANY(%(filed)s) AND license.is_open_license
    UNION ALL
    SELECT license.declaration_id, report.license_id, 'royalty', report.period_end,
           report.amount_due_cny
    FROM {report} report JOIN {license} license ON license.id = report.license_id
    WHERE license.is_open_license
)"""

# A group's license figures (a license counts once however many events it has there).
_LICENSE_MEASURES = """
    count(DISTINCT license_id) FILTER (WHERE event = 'granted') AS granted,
    count(DISTINCT license_id) FILTER (WHERE event = 'filed') AS filed,
    count(DISTINCT license_id) FILTER (WHERE event = 'royalty') AS royalty_licenses,
    count(*) FILTER (WHERE event = 'royalty') AS royalty_reports,
    COALESCE(sum(amount) FILTER (WHERE event = 'royalty'), 0) AS royalties"""

# Suppression of small license figures: primary (fewer than the minimum licenses) and, when a
# table has exactly one such cell, secondary (its smallest other non-empty cell, by count then
# key, as the total minus the others would give it away); then the labels, and the insert.
_PUBLISH = """
flagged AS (
    SELECT grouped.*,
           granted > 0 AND granted < %(minimum)s AS small_granted,
           filed > 0 AND filed < %(minimum)s AS small_filed,
           royalty_licenses > 0 AND royalty_licenses < %(minimum)s AS small_royalty
    FROM grouped
),
ranked AS (
    SELECT flagged.*,
        count(*) FILTER (WHERE small_granted) OVER table_ AS smalls_granted,
        count(*) FILTER (WHERE small_filed) OVER table_ AS smalls_filed,
        count(*) FILTER (WHERE small_royalty) OVER table_ AS smalls_royalty,
        row_number() OVER (PARTITION BY dimension, NOT small_granted AND granted > 0
                           ORDER BY granted, key COLLATE "C") = 1
            AND NOT small_granted AND granted > 0 AS next_granted,
        row_number() OVER (PARTITION BY dimension, NOT small_filed AND filed > 0
                           ORDER BY filed, key COLLATE "C") = 1
            AND NOT small_filed AND filed > 0 AS next_filed,
        row_number() OVER (PARTITION BY dimension, NOT small_royalty AND royalty_licenses > 0
                           ORDER BY royalty_licenses, key COLLATE "C") = 1
            AND NOT small_royalty AND royalty_licenses > 0 AS next_royalty
    FROM flagged
    WINDOW table_ AS (PARTITION BY dimension)
),
hidden AS (
    SELECT ranked.*,
        small_granted OR (smalls_granted = 1 AND dimension <> 'total' AND next_granted)
            AS hide_granted,
        small_filed OR (smalls_filed = 1 AND dimension <> 'total' AND next_filed) AS hide_filed,
        small_royalty OR (smalls_royalty = 1 AND dimension <> 'total' AND next_royalty)
            AS hide_royalty
    FROM ranked
),
labels (dimension, key, label_zh, label_en) AS (
    SELECT * FROM unnest(%(label_dimensions)s::text[], %(label_keys)s::text[],
                         %(labels_zh)s::text[], %(labels_en)s::text[])
)
INSERT INTO {cell} (dimension, key, label_zh, label_en, declarations_announced,
    declarations_withdrawn, declarations_in_force, licenses_granted, licenses_filed,
    royalty_reports, royalties_reported_cny, median_royalty_rate_percent, median_upfront_cny,
    is_suppressed, refreshed_at)
SELECT hidden.dimension, hidden.key,
    COALESCE(labels.label_zh, region.name_zh, ipc.title_zh,
             CASE hidden.dimension WHEN 'total' THEN '全部' END, hidden.key),
    COALESCE(labels.label_en, region.name_zh, ipc.title_en,
             CASE hidden.dimension WHEN 'total' THEN 'all' END, hidden.key),
    announced, withdrawn, in_force,
    CASE WHEN NOT hide_granted THEN granted END,
    CASE WHEN NOT hide_filed THEN filed END,
    CASE WHEN NOT hide_royalty THEN royalty_reports END,
    CASE WHEN NOT hide_royalty THEN royalties END,
    median_rate, median_upfront,
    hide_granted OR hide_filed OR hide_royalty,
    %(now)s
FROM hidden
LEFT JOIN labels ON labels.dimension = hidden.dimension AND labels.key = hidden.key
LEFT JOIN {region} region ON hidden.dimension = 'province' AND region.level = 'province'
    AND region.code = hidden.key
LEFT JOIN {ipc} ipc ON hidden.dimension IN ('ipc_section', 'ipc_class')
    AND ipc.level IN ('section', 'class') AND ipc.symbol = hidden.key
"""

# Every dimension but the month, in one pass over the declarations (each with its licenses'
# figures summed first: a license belongs to one declaration, so the sums add up), grouped by
# GROUPING SETS, one set per dimension and () for the total.
_BY_KEY = (
    "WITH"
    + _EVENTS
    + """,
licensed_by_declaration AS (
    SELECT declaration_id,"""
    + _LICENSE_MEASURES
    + """
    FROM license_events GROUP BY declaration_id
),
grouped_by_key AS (
    SELECT CASE WHEN GROUPING(province) = 0 THEN 'province'
                WHEN GROUPING(ipc_section) = 0 THEN 'ipc_section'
                WHEN GROUPING(ipc_class) = 0 THEN 'ipc_class'
                WHEN GROUPING(patentee_kind) = 0 THEN 'patentee_kind'
                WHEN GROUPING(payment_method) = 0 THEN 'payment_method'
                ELSE 'total' END AS dimension,
           COALESCE(province, ipc_section, ipc_class, patentee_kind, payment_method, 'all')
               AS key,
           count(*) AS announced,
           count(*) FILTER (WHERE status = 'withdrawn' AND withdrawal_date IS NOT NULL)
               AS withdrawn,
           count(*) FILTER (WHERE status = ANY(%(in_force)s)) AS in_force,
           COALESCE(sum(granted), 0) AS granted, COALESCE(sum(filed), 0) AS filed,
           COALESCE(sum(royalty_licenses), 0) AS royalty_licenses,
           COALESCE(sum(royalty_reports), 0) AS royalty_reports,
           COALESCE(sum(royalties), 0) AS royalties,
           """
    + _half_even_median("rate", 4)
    + """ AS median_rate,
           """
    + _half_even_median("upfront", 2)
    + """ AS median_upfront
    FROM facts LEFT JOIN licensed_by_declaration licensed ON licensed.declaration_id = facts.id
    GROUP BY GROUPING SETS ((province), (ipc_section), (ipc_class), (patentee_kind),
                            (payment_method), ())
)"""
)

# The month table: announced, rates and upfronts by the announcement's month, withdrawals by
# theirs, license events by theirs; "in force" is the number in force at each month's end, for
# every month from the first announcement to the last month with a figure.
_BY_MONTH = (
    """
declared AS (
    SELECT announced_month AS key, count(*) AS announced,
           """
    + _half_even_median("rate", 4)
    + """ AS median_rate,
           """
    + _half_even_median("upfront", 2)
    + """ AS median_upfront
    FROM facts GROUP BY 1
),
withdrawals AS (
    SELECT to_char(withdrawal_date, 'YYYY-MM') COLLATE "C" AS key, count(*) AS withdrawn
    FROM facts WHERE status = 'withdrawn' AND withdrawal_date IS NOT NULL GROUP BY 1
),
licensed AS (
    SELECT to_char(day, 'YYYY-MM') COLLATE "C" AS key,"""
    + _LICENSE_MEASURES
    + """
    FROM license_events WHERE day IS NOT NULL
      AND declaration_id IN (SELECT id FROM facts)
    GROUP BY 1
),
changes AS (
    SELECT key AS month, announced AS change FROM declared
    UNION ALL
    SELECT to_char(CASE WHEN status = 'withdrawn' THEN withdrawal_date
                        ELSE COALESCE(ended_date, withdrawal_date) END, 'YYYY-MM')
               COLLATE "C", -count(*)
    FROM facts
    WHERE (status = 'withdrawn' AND withdrawal_date IS NOT NULL)
       OR (status = ANY(%(ended)s) AND COALESCE(ended_date, withdrawal_date) IS NOT NULL)
    GROUP BY 1
),
keys AS (
    SELECT key FROM declared UNION SELECT key FROM withdrawals UNION SELECT key FROM licensed
),
months AS (
    SELECT key FROM keys
    UNION
    SELECT to_char(month, 'YYYY-MM') COLLATE "C"
    FROM generate_series(
        (SELECT to_date(min(month), 'YYYY-MM') FROM changes),
        (SELECT to_date(max(month), 'YYYY-MM')
         FROM (SELECT month FROM changes UNION ALL SELECT key FROM keys) AS every_month),
        interval '1 month') AS month
),
in_force AS (
    SELECT months.key,
           sum(COALESCE(changed.change, 0)) OVER (ORDER BY months.key COLLATE "C") AS in_force
    FROM months LEFT JOIN (SELECT month, sum(change) AS change FROM changes GROUP BY month)
        AS changed ON changed.month = months.key
),
grouped_by_month AS (
    SELECT 'month' AS dimension, months.key,
           COALESCE(announced, 0) AS announced, COALESCE(withdrawn, 0) AS withdrawn,
           in_force.in_force::bigint AS in_force, COALESCE(granted, 0) AS granted,
           COALESCE(filed, 0) AS filed, COALESCE(royalty_licenses, 0) AS royalty_licenses,
           COALESCE(royalty_reports, 0) AS royalty_reports, COALESCE(royalties, 0) AS royalties,
           median_rate, median_upfront
    FROM months JOIN in_force ON in_force.key = months.key
    LEFT JOIN declared ON declared.key = months.key
    LEFT JOIN withdrawals ON withdrawals.key = months.key
    LEFT JOIN licensed ON licensed.key = months.key
)"""
)

# Both families in one statement, so the declarations and license events are read once.
_REFRESH = (
    _BY_KEY
    + ","
    + _BY_MONTH
    + """,
grouped AS (SELECT * FROM grouped_by_key UNION ALL SELECT * FROM grouped_by_month),"""
    + _PUBLISH
)


def _refresh_in_sql(now: Any) -> int:
    """Replace the cells by one statement that aggregates both families of tables (every
    dimension but the month by GROUPING SETS, and the month) and inserts them."""
    labels = _choice_labels()
    params = {
        "public": list(PUBLIC),
        "in_force": list(IN_FORCE_STATUSES),
        "ended": [str(status) for status in ENDED_STATUSES],
        "granted": [str(status) for status in GRANTED_STATUSES],
        "filed": [FilingStatus.FILED.value, FilingStatus.ACCEPTED.value],
        "minimum": minimum_licenses(),
        "now": now,
        "label_dimensions": [label[0] for label in labels],
        "label_keys": [label[1] for label in labels],
        "labels_zh": [label[2] for label in labels],
        "labels_en": [label[3] for label in labels],
    }
    tables = _tables()
    with connection.cursor() as cursor:
        # The planner's estimate of these statements is high enough to call the JIT compiler,
        # which spent 8 s of the 10 s each took at pilot scale (EXPLAIN ANALYZE); the work
        # itself is a few passes over ~100,000 rows.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(f"DELETE FROM {tables['cell']}")
        cursor.execute(_REFRESH.format(**tables), params)
        inserted = cursor.rowcount
    return inserted


@transaction.atomic
def statistics_refresh() -> int:
    """Replace the stored cells with freshly aggregated ones (in SQL); readers see the old set
    until this commits. Returns the number of cells."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_ID])
    inserted = _refresh_in_sql(timezone.now())
    # Forget the rendered tables now and again after commit: a reader in between may have
    # cached the old cells, which it still saw.
    _forget_renderings()
    transaction.on_commit(_forget_renderings)
    return inserted


@transaction.atomic
def statistics_refresh_in_python() -> int:
    """The former refresh (Python grouping), kept until the SQL one is shown to match."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_ID])
    now = timezone.now()
    rows = compute_cells()
    StatisticsCell.objects.all().delete()
    StatisticsCell.objects.bulk_create(
        [StatisticsCell(refreshed_at=now, **row) for row in rows], batch_size=1000
    )
    _forget_renderings()
    transaction.on_commit(_forget_renderings)
    return len(rows)
