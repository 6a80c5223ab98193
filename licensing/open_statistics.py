"""Open statistics of the marketplace: declarations, licenses and royalties by month, province,
IPC section and class, patentee kind and payment mode (issue 18).

Aggregates only. A license figure counted from one or two licenses would point at an SME (and a
royalty sum from one licensee at its payment), so such a figure is suppressed; when one cell of
a table is suppressed, the next smallest is too, or the total minus the others would give it
away. `statistics_refresh` aggregates the live tables in PostgreSQL and replaces the cells of
StatisticsCell, which the API reads, in one statement (BENCHMARKS.md, "Open statistics in SQL").
It replaced a Python grouping of the same rows; the two were checked cell for cell on the same
data (at pilot scale too) before the Python one was removed.
"""

# The SQL below is put together from constants only (table names from _meta, literal numbers);
# every value goes in as a query parameter.
# ruff: noqa: S608

from __future__ import annotations

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


# Licenses that took effect (granted); awaiting payment is not yet a license.
GRANTED_STATUSES = (LicenseStatus.EFFECTIVE, LicenseStatus.CONTESTED, LicenseStatus.ENDED)
# Ended without a withdrawal: the date the declaration stopped being in force.
ENDED_STATUSES = (
    DeclarationStatus.TERMINATED,
    DeclarationStatus.REVOKED,
    DeclarationStatus.EXPIRED,
    DeclarationStatus.SUPERSEDED,
)
_LOCK_ID = 18_0001  # pg_advisory_xact_lock key: one refresh at a time
# The API keeps each rendered table in the cache under these keys until the next refresh.
CACHE_PREFIX = "open-statistics:v1"
CACHE_SECONDS = 2 * 3600
RENDERINGS = ("index", *(f"{d}:{f}" for d in StatisticsDimension.values for f in ("json", "csv")))


def cache_key(rendering: str) -> str:
    return f"{CACHE_PREFIX}:{rendering}"


def _forget_renderings() -> None:
    cache.delete_many([cache_key(rendering) for rendering in RENDERINGS])


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


def _middle_terms(name: str, column: str) -> str:
    """CTEs ending in `name`: for every (dimension, key) of the declarations, how many have a
    `column` and its lower and upper middle values.

    Counted per distinct value (GROUPING SETS that hash, with no sort per group) and walked
    by a running count: the lower middle is the first value whose running count reaches
    (n + 1) / 2, the upper the first to reach n / 2 + 1 (the same value when n is odd)."""
    sets = ", ".join(
        f"({key}, {column})"
        for key in (
            "province",
            "ipc_section",
            "ipc_class",
            "patentee_kind",
            "payment_method",
            "announced_month",
        )
    )
    return f"""
{name}_counts AS (
    SELECT CASE WHEN GROUPING(province) = 0 THEN 'province'
                WHEN GROUPING(ipc_section) = 0 THEN 'ipc_section'
                WHEN GROUPING(ipc_class) = 0 THEN 'ipc_class'
                WHEN GROUPING(patentee_kind) = 0 THEN 'patentee_kind'
                WHEN GROUPING(payment_method) = 0 THEN 'payment_method'
                WHEN GROUPING(announced_month) = 0 THEN 'month'
                ELSE 'total' END AS dimension,
           COALESCE(province, ipc_section, ipc_class, patentee_kind, payment_method,
                    announced_month, 'all') AS key,
           {column} AS value, count(*) AS n
    FROM facts WHERE {column} IS NOT NULL
    GROUP BY GROUPING SETS ({sets}, ({column}))
),
{name}_running AS (
    SELECT dimension, key, value,
           sum(n) OVER (PARTITION BY dimension, key ORDER BY value)::bigint AS running,
           sum(n) OVER (PARTITION BY dimension, key)::bigint AS total
    FROM {name}_counts
),
{name} AS (
    SELECT dimension, key, max(total) AS total,
           min(value) FILTER (WHERE running >= (total + 1) / 2) AS lower,
           min(value) FILTER (WHERE running >= total / 2 + 1) AS upper
    FROM {name}_running GROUP BY dimension, key
)"""


def _half_even_median(middles: str, places: int) -> str:
    """SQL for the median from a `_middle_terms` row, rounded half to even to the column's
    `places` decimals as Python's Decimal.quantize does; none under the minimum count. The mean
    of the two middle values has at most one more decimal, a 5 on a tie, so the doubled,
    scaled sum is an integer to halve."""
    scale = 10**places
    doubled = f"(({middles}.lower + {middles}.upper) * {scale})"
    return (
        f"CASE WHEN {middles}.total >= %(minimum)s THEN "
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
counted_by_key AS (
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
           COALESCE(sum(royalties), 0) AS royalties
    FROM facts LEFT JOIN licensed_by_declaration licensed ON licensed.declaration_id = facts.id
    GROUP BY GROUPING SETS ((province), (ipc_section), (ipc_class), (patentee_kind),
                            (payment_method), ())
),"""
    + _middle_terms("rates", "rate")
    + ","
    + _middle_terms("upfronts", "upfront")
    + """,
grouped_by_key AS (
    SELECT counted_by_key.*,
           """
    + _half_even_median("rates", 4)
    + """ AS median_rate,
           """
    + _half_even_median("upfronts", 2)
    + """ AS median_upfront
    FROM counted_by_key
    LEFT JOIN rates USING (dimension, key)
    LEFT JOIN upfronts USING (dimension, key)
)"""
)

# The month table: announced, rates and upfronts by the announcement's month, withdrawals by
# theirs, license events by theirs; "in force" is the number in force at each month's end, for
# every month from the first announcement to the last month with a figure.
_BY_MONTH = (
    """
declared AS (
    SELECT counted.key, counted.announced,
           """
    + _half_even_median("rates", 4)
    + """ AS median_rate,
           """
    + _half_even_median("upfronts", 2)
    + """ AS median_upfront
    FROM (SELECT announced_month AS key, count(*) AS announced FROM facts GROUP BY 1) AS counted
    LEFT JOIN rates ON rates.dimension = 'month' AND rates.key = counted.key
    LEFT JOIN upfronts ON upfronts.dimension = 'month' AND upfronts.key = counted.key
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
