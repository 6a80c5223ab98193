"""A patentee's licensing funnel (issue 18): per declaration and in total, from the patent
page's views and search impressions through the SMEs matching reached, their interest, the
notices and licenses, filings and royalties; dormant declarations; the annual-fee savings.

It reads licensing (declarations, licenses, fees) and matching (lists, feedback), so it lives
here: matching → licensing is the allowed direction. Every figure is one grouped query over
the scope's declarations (no query per declaration); the fee savings walk only the patents
with a filed open license, the only ones that can have saved anything.

Royalties due are what the licenses owe by their terms (the upfront amount and the royalty
reports); received are the recorded, uncontested payments. The royalty ledger adds
minimum-royalty shortfalls and mediation agreements on top, which the funnel leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db.models import (
    Count,
    DateField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncMonth

from licensing.fees import fee_calendar, fee_facts
from licensing.models import (
    Declaration,
    FilingStatus,
    License,
    LicenseFiling,
    LicensePayment,
    PaymentStatus,
    RoyaltyReport,
)
from licensing.querysets import IN_FORCE_STATUSES, PUBLIC
from marketplace.models import Organisation, Patent, PatentDailyCount
from matching.models import Match, MatchFeedback

ZERO = Decimal("0.00")
# The funnel's stages, in order; the charts draw these.
STAGES = (
    "views",
    "search_impressions",
    "smes_reached",
    "interested",
    "notices_sent",
    "licenses_effective",
    "licenses_filed",
)
COUNTS = STAGES
MONEY = ("royalties_due_cny", "royalties_received_cny", "fee_savings_cny")
MONTHLY = (
    "views",
    "search_impressions",
    "notices_sent",
    "licenses_effective",
    "royalties_received_cny",
)
TREND_MONTHS = 12


@dataclass
class FunnelRow:
    declaration_id: int
    number: str
    status: str
    patent_id: int
    patent_title: str
    effective_date: date | None
    is_dormant: bool = False
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    money: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(MONEY, ZERO))

    def as_dict(self) -> dict[str, Any]:
        return {
            "declaration": self.declaration_id,
            "number": self.number,
            "status": self.status,
            "patent": self.patent_id,
            "patent_title": self.patent_title,
            "effective_date": self.effective_date,
            "is_dormant": self.is_dormant,
            **self.counts,
            **{key: str(value) for key, value in self.money.items()},
        }


@dataclass
class Funnel:
    as_of: date
    rows: list[FunnelRow]
    months: list[dict[str, Any]]
    # Distinct SMEs over all the rows: an SME reached by two declarations is one SME reached.
    smes_reached: int = 0

    def totals(self) -> dict[str, Any]:
        totals: dict[str, Any] = {
            "declarations": len(self.rows),
            "declarations_in_force": sum(row.status in IN_FORCE_STATUSES for row in self.rows),
            "dormant": sum(row.is_dormant for row in self.rows),
        }
        for key in COUNTS:
            totals[key] = sum(row.counts[key] for row in self.rows)
        totals["smes_reached"] = self.smes_reached
        for key in MONEY:
            totals[key] = str(sum((row.money[key] for row in self.rows), ZERO))
        return totals


def declarations_in_scope(organisation_id: int | None) -> QuerySet[Declaration]:
    """The declarations a funnel covers: an organisation's announced ones (any later fate),
    or with None the whole register (the reviewers' view)."""
    declarations = Declaration.objects.public()
    if organisation_id is not None:
        declarations = declarations.filter(organisation_id=organisation_id)
    return declarations


def _window_sum(column: str) -> Subquery:
    # A patent's days while this declaration was the one announced on it.
    return Subquery(
        PatentDailyCount.objects.filter(
            patent_id=OuterRef("patent_id"),
            day__gte=OuterRef("effective_date"),
            day__lte=Coalesce(
                OuterRef("withdrawal_date"),
                OuterRef("ended_date"),
                Value(date.max),
                output_field=DateField(),
            ),
        )
        .order_by()
        .values("patent_id")
        .annotate(total=Sum(column))
        .values("total")
    )


def _grouped(queryset: QuerySet[Any], key: str, **aggregates: Any) -> dict[int, dict[str, Any]]:
    return {row[key]: row for row in queryset.order_by().values(key).annotate(**aggregates)}


def _fee_savings(patent_ids: QuerySet[Any], today: date) -> dict[int, Decimal]:
    """The open-license reduction on fees already due, by patent (licensing.fees)."""
    with_filing = Patent.objects.filter(
        pk__in=LicenseFiling.objects.filter(
            license__patent_id__in=patent_ids,
            license__is_open_license=True,
            status__in=(FilingStatus.FILED, FilingStatus.ACCEPTED),
        ).values("license__patent_id")
    ).select_related("owner")
    patents = list(with_filing)
    if not patents:
        return {}
    facts = fee_facts(patents)
    return {
        patent.pk: sum(
            (
                year.open_license_saving
                for year in fee_calendar(patent, today, from_year=1, facts=facts)
                if year.due_date <= today
            ),
            ZERO,
        )
        for patent in patents
    }


def _month_keys(today: date) -> list[str]:
    first = today.replace(day=1) - relativedelta(months=TREND_MONTHS - 1)
    return [
        (first + relativedelta(months=offset)).strftime("%Y-%m") for offset in range(TREND_MONTHS)
    ]


def _months(declarations: QuerySet[Declaration], today: date) -> list[dict[str, Any]]:
    keys = _month_keys(today)
    since = date.fromisoformat(keys[0] + "-01")
    table: dict[str, dict[str, Any]] = {
        key: {"month": key, **dict.fromkeys(MONTHLY, 0)} for key in keys
    }
    for key in keys:
        table[key]["royalties_received_cny"] = ZERO

    def add(rows: QuerySet[Any], column: str) -> None:
        for month, value in rows:
            key = month.strftime("%Y-%m")
            if key in table and value:
                table[key][column] += value

    patents = declarations.values("patent_id")
    counts = (
        PatentDailyCount.objects.filter(patent_id__in=patents, day__gte=since)
        .annotate(month=TruncMonth("day"))
        .order_by()
        .values("month")
    )
    add(counts.annotate(total=Sum("views")).values_list("month", "total"), "views")
    add(
        counts.annotate(total=Sum("search_impressions")).values_list("month", "total"),
        "search_impressions",
    )
    licenses = License.objects.filter(declaration__in=declarations)
    add(
        licenses.filter(notice_sent_at__date__gte=since)
        .annotate(month=TruncMonth("notice_sent_at"))
        .order_by()
        .values("month")
        .annotate(total=Count("id"))
        .values_list("month", "total"),
        "notices_sent",
    )
    add(
        licenses.filter(effective_date__gte=since)
        .annotate(month=TruncMonth("effective_date"))
        .order_by()
        .values("month")
        .annotate(total=Count("id"))
        .values_list("month", "total"),
        "licenses_effective",
    )
    add(
        LicensePayment.objects.filter(
            license__declaration__in=declarations,
            status=PaymentStatus.RECORDED,
            paid_on__gte=since,
        )
        .annotate(month=TruncMonth("paid_on"))
        .order_by()
        .values("month")
        .annotate(total=Sum("amount_cny"))
        .values_list("month", "total"),
        "royalties_received_cny",
    )
    for row in table.values():
        row["royalties_received_cny"] = str(row["royalties_received_cny"])
    return list(table.values())


def funnel(organisation_id: int | None, today: date) -> Funnel:
    """The funnel of an organisation's declarations (None: of every declaration)."""
    declarations = declarations_in_scope(organisation_id)
    rows = {
        item["pk"]: FunnelRow(
            declaration_id=item["pk"],
            number=item["number"] or "",
            status=item["status"],
            patent_id=item["patent_id"],
            patent_title=item["patent__title"],
            effective_date=item["effective_date"],
            counts={
                **dict.fromkeys(COUNTS, 0),
                "views": item["window_views"] or 0,
                "search_impressions": item["window_impressions"] or 0,
            },
        )
        for item in declarations.annotate(
            window_views=_window_sum("views"), window_impressions=_window_sum("search_impressions")
        )
        .order_by("effective_date", "pk")
        .values(
            "pk",
            "number",
            "status",
            "patent_id",
            "patent__title",
            "effective_date",
            "window_views",
            "window_impressions",
        )
    }
    in_scope = {"declaration__in": declarations}
    current_matches = Match.objects.filter(run__is_current=True, **in_scope)
    smes_reached = current_matches.values("sme_id").distinct().count()
    for declaration_id, item in _grouped(
        current_matches,
        "declaration_id",
        reached=Count("sme_id", distinct=True),
    ).items():
        rows[declaration_id].counts["smes_reached"] = item["reached"]
    for declaration_id, item in _grouped(
        MatchFeedback.objects.filter(verdict=MatchFeedback.Verdict.INTERESTED, **in_scope),
        "declaration_id",
        interested=Count("id"),
    ).items():
        rows[declaration_id].counts["interested"] = item["interested"]
    for declaration_id, item in _grouped(
        License.objects.filter(**in_scope),
        "declaration_id",
        notices=Count("id"),
        effective=Count("id", filter=Q(effective_date__isnull=False)),
        upfront=Sum("due_at_acceptance_cny"),
    ).items():
        row = rows[declaration_id]
        row.counts["notices_sent"] = item["notices"]
        row.counts["licenses_effective"] = item["effective"]
        row.money["royalties_due_cny"] += item["upfront"] or ZERO
    for declaration_id, item in _grouped(
        LicenseFiling.objects.filter(
            status__in=(FilingStatus.FILED, FilingStatus.ACCEPTED),
            license__declaration__in=declarations,
        ),
        "license__declaration_id",
        filed=Count("license_id", distinct=True),
    ).items():
        rows[declaration_id].counts["licenses_filed"] = item["filed"]
    for declaration_id, item in _grouped(
        RoyaltyReport.objects.filter(license__declaration__in=declarations),
        "license__declaration_id",
        due=Sum("amount_due_cny"),
    ).items():
        rows[declaration_id].money["royalties_due_cny"] += item["due"] or ZERO
    for declaration_id, item in _grouped(
        LicensePayment.objects.filter(
            status=PaymentStatus.RECORDED, license__declaration__in=declarations
        ),
        "license__declaration_id",
        paid=Sum("amount_cny"),
    ).items():
        rows[declaration_id].money["royalties_received_cny"] = item["paid"] or ZERO
    # A patent's savings go to its newest declaration, so the total counts each patent once.
    newest: dict[int, FunnelRow] = {}
    a_year_ago = today - relativedelta(years=1)
    for row in rows.values():
        newest[row.patent_id] = row  # rows are in effective-date order
        row.is_dormant = (
            row.status in IN_FORCE_STATUSES
            and row.effective_date is not None
            and row.effective_date <= a_year_ago
            and row.counts["licenses_effective"] == 0
        )
    for patent_id, saving in _fee_savings(declarations.values("patent_id"), today).items():
        newest[patent_id].money["fee_savings_cny"] = saving
    return Funnel(
        as_of=today,
        rows=list(rows.values()),
        months=_months(declarations, today),
        smes_reached=smes_reached,
    )


def organisations_with_declarations(limit: int = 50) -> list[dict[str, Any]]:
    """The reviewers' list of funnels: organisations by their number of declarations."""
    return list(
        Organisation.objects.filter(declarations__status__in=PUBLIC)
        .annotate(declaration_count=Count("declarations"))
        .order_by("-declaration_count", "name")
        .values("pk", "name", "declaration_count")[:limit]
    )
