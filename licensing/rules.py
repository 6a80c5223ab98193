"""The numbers of the open-license rules, in one place (open-license-rules.md §3).

Each can be overridden in settings.OPEN_LICENSE_RULES, because some were not fully confirmed
at the source (the rules mark them configurable).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # CNIPA notice 国知发运字〔2024〕19号: caps that normally apply to declared royalties.
    "LUMP_SUM_CAP_CNY": Decimal("20000000"),
    "NET_SALES_RATE_CAP_PERCENT": Decimal("20"),
    "PROFIT_RATE_CAP_PERCENT": Decimal("40"),
    "CALCULATION_EXPLANATION_MAX_CHARS": 2000,
    # §5 annual fees: open-license reduction, general reduction (single / joint applicants),
    # its window in patent years from the year of grant, grace period and late fees.
    "OPEN_LICENSE_FEE_REDUCTION": Decimal("0.15"),
    "GENERAL_FEE_REDUCTION_SINGLE": Decimal("0.85"),
    "GENERAL_FEE_REDUCTION_JOINT": Decimal("0.70"),
    "GENERAL_FEE_REDUCTION_YEARS": 10,
    "GENERAL_FEE_REDUCTION_KINDS": ["university", "research_institute", "individual"],
    "FEE_GRACE_MONTHS": 6,
    # ... and a late fee of LATE_FEE_PER_MONTH per whole month late, for at most 5 months.
    "LATE_FEE_MAX_MONTHS": 5,
    # §4 a license is filed (备案) with CNIPA within 3 months of taking effect; both parties are
    # reminded when the deadline is this near and the license is unfiled.
    "LICENSE_FILING_MONTHS": 3,
    "FILING_REMINDER_DAYS": 14,
    # A running royalty is reported per period of these months; the licensee is reminded of a
    # period still unreported this many days after it ended.
    "ROYALTY_REPORT_MONTHS": 3,
    "ROYALTY_REPORT_GRACE_DAYS": 15,
    # Open statistics: the fewest licenses a published license figure may rest on (fewer
    # would disclose one license's terms).
    "STATISTICS_MINIMUM_LICENSES": 3,
    # §7 mediation deadlines (configurable: the source was not fully confirmed).
    "MEDIATION_NOTICE_WORKDAYS": 5,
    "MEDIATION_ANSWER_DAYS": 15,
    "MEDIATION_ACCEPT_WORKDAYS": 5,
    "MEDIATION_NOT_ACCEPTED_NOTICE_WORKDAYS": 5,
    "MEDIATION_RECUSAL_WORKDAYS": 3,
    "MEDIATION_MAX_AGENTS_PER_PARTY": 2,
    "EVIDENCE_MAX_BYTES": 10 * 1024 * 1024,
    "LATE_FEE_PER_MONTH": Decimal("0.05"),
    # Wording a declaration may not use (advertising); matches are flagged for the reviewer.
    "ADVERTISING_WORDS": [
        "最佳",
        "最好",
        "最先进",
        "第一",
        "顶级",
        "国家级",
        "极品",
        "独家",
        "万能",
        "100%",
        "best",
        "No.1",
        "world-leading",
        "guaranteed",
    ],
}


def rule(name: str) -> Any:
    overrides = getattr(settings, "OPEN_LICENSE_RULES", {})
    return overrides.get(name, DEFAULTS[name])
