"""Admin for reviewers: the declaration queue with actions that call the workflow.

There is no free editing of a declaration here: the actions call the same services as the
API (so every move is a timeline event with its actor), and fields are read-only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import translation
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_noop, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from licensing import admin_mediation  # noqa: F401 - registers the mediators' admin
from licensing.documents import DOCUMENT_STATUSES
from licensing.models import (
    Declaration,
    DeclarationEvent,
    DeclarationStatus,
    License,
    LicenseEvent,
    LicenseFiling,
    LicensePayment,
    LicenseStatus,
    PaymentStatus,
    RoyaltyReport,
    RoyaltyStatistic,
    StatisticsCell,
    StatisticsDimension,
)
from licensing.open_statistics import statistics_refresh
from licensing.services import declarations as services
from licensing.services import licenses as license_services
from marketplace.admin import ReadOnlyAdmin, ReadOnlyInline, VisibleToAdmin
from marketplace.errors import DomainError
from marketplace.models import User


class TimelineColumns:
    """The step, statuses and reason of a timeline inline in the reader's language (codes stay
    in the rows), as the mediators' admin shows a case's."""

    statuses: dict[str, Any] = {}

    @admin.display(description=_("step"))
    def step_shown(self, event: Any) -> str:
        return str(event.step)

    @admin.display(description=_("from"))
    def from_shown(self, event: Any) -> str:
        return str(self.statuses.get(event.from_status, event.from_status))

    @admin.display(description=pgettext_lazy("timeline", "to"))
    def to_shown(self, event: Any) -> str:
        return str(self.statuses.get(event.to_status, event.to_status))

    @admin.display(description=_("reason"))
    def reason_shown(self, event: Any) -> str:
        # System reasons are catalogue entries (gettext_noop); a person's words are not.
        return gettext(event.reason) if event.reason else ""


class DeclarationEventInline(TimelineColumns, admin.TabularInline):
    model = DeclarationEvent
    extra = 0
    can_delete = False
    statuses = dict(DeclarationStatus.choices)
    fields = ("created_at", "step_shown", "from_shown", "to_shown", "actor", "reason_shown", "data")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class FlaggedFilter(admin.SimpleListFilter):
    title = _("bars flagged")
    parameter_name = "flagged"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("yes")), ("no", _("no"))]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Declaration]
    ) -> QuerySet[Declaration]:
        if self.value() == "yes":
            return queryset.exclude(flagged_bars=[])
        if self.value() == "no":
            return queryset.filter(flagged_bars=[])
        return queryset


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _run(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Declaration], call: Any) -> None:
    done = 0
    for declaration in queryset:
        try:
            call(declaration)
            done += 1
        except DomainError as error:
            modeladmin.message_user(
                request, f"{declaration}: {error.render_message()}", level=messages.ERROR
            )
    if done:
        modeladmin.message_user(request, _("%(count)d declaration(s) done.") % {"count": done})


@admin.action(description=_("Announce the selected submitted declarations"))
def announce(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Declaration]) -> None:
    actor = _actor(request)
    _run(
        modeladmin,
        request,
        queryset,
        lambda d: services.declaration_announce(actor=actor, declaration_id=d.pk),
    )


@admin.action(description=_("Announce the withdrawal of the selected declarations"))
def approve_withdrawal(
    modeladmin: Any, request: HttpRequest, queryset: QuerySet[Declaration]
) -> None:
    actor = _actor(request)
    _run(
        modeladmin,
        request,
        queryset,
        lambda d: services.declaration_approve_withdrawal(actor=actor, declaration_id=d.pk),
    )


@admin.register(Declaration)
class DeclarationAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "patent",
        "organisation",
        "status",
        "payment_method",
        "effective_date",
        "updated_at",
    ]
    list_filter = ["status", "payment_method", FlaggedFilter]
    search_fields = ["number", "patent__application_number", "patent__title", "organisation__name"]
    list_select_related = ["patent", "organisation"]
    ordering = ["-updated_at"]
    actions = [announce, approve_withdrawal]
    inlines = [DeclarationEventInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in Declaration._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        from marketplace import roles

        return roles.is_reviewer(request.user) or super().has_view_permission(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        from marketplace import roles

        return roles.is_reviewer(request.user) or super().has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Needed for actions to show; fields stay read-only (see get_readonly_fields).
        from marketplace import roles

        return roles.is_reviewer(request.user)


@admin.register(StatisticsCell)
class StatisticsCellAdmin(admin.ModelAdmin):
    """The published open statistics, read-only; reviewers can refresh them now."""

    list_display = (
        "dimension",
        "label",
        "declarations_announced",
        "declarations_in_force",
        "licenses_granted",
        "licenses_filed",
        "royalty_reports",
        "is_suppressed",
        "refreshed_at",
    )
    list_filter = ("dimension", "is_suppressed")
    actions = ["refresh"]

    @admin.display(description=_("label"), ordering="key")
    def label(self, cell: StatisticsCell) -> str:
        """The cell's label in the reader's language (its key when it has none, e.g. a month);
        an IPC symbol stays in front of its title, a code such as lump_sum does not show."""
        english = translation.get_language() == "en"
        label = (cell.label_en if english else cell.label_zh) or cell.key
        if cell.dimension in (StatisticsDimension.IPC_SECTION, StatisticsDimension.IPC_CLASS):
            return f"{cell.key} {label}" if label != cell.key else label
        return label

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Refresh the open statistics now"))
    def refresh(self, request: HttpRequest, queryset: QuerySet[StatisticsCell]) -> None:
        cells = statistics_refresh()
        self.message_user(
            request, _("%(cells)d cells refreshed.") % {"cells": cells}, messages.SUCCESS
        )


class LicensePaymentInline(ReadOnlyInline):
    model = LicensePayment
    fields = ("kind", "amount_cny", "paid_on", "status", "reference", "royalty_report")
    readonly_fields = fields


class LicenseFilingInline(ReadOnlyInline):
    model = LicenseFiling
    fields = ("filed_on", "status", "filed_by", "decided_by", "reviewer_note")
    readonly_fields = fields


class LicenseEventInline(TimelineColumns, ReadOnlyInline):
    model = LicenseEvent
    statuses = dict(LicenseStatus.choices)
    fields = ("created_at", "step_shown", "from_shown", "to_shown", "actor", "reason_shown")
    readonly_fields = fields


def _reviews_filings(request: HttpRequest) -> bool:
    from marketplace import roles

    return roles.has(request.user, roles.REVIEW_FILINGS)


def _settle_contests(
    modeladmin: Any, request: HttpRequest, queryset: QuerySet[License], *, received: bool
) -> None:
    """Settle every contested payment of the selected licenses (the service checks the role)."""
    actor = _actor(request)
    done = 0
    contested = LicensePayment.objects.filter(
        license__in=queryset, status=PaymentStatus.CONTESTED
    ).order_by("license_id", "id")
    for payment in contested:
        try:
            license_services.license_resolve_contest(
                actor=actor,
                license_id=payment.license_id,
                payment_id=payment.pk,
                received=received,
                reason=""
                if received
                else gettext_noop("payment not received (reviewer's decision)"),
            )
            done += 1
        except DomainError as error:
            modeladmin.message_user(
                request, f"{payment.license_id}: {error.render_message()}", level=messages.ERROR
            )
    if done:
        modeladmin.message_user(
            request, _("%(count)d contested payment(s) settled.") % {"count": done}
        )


@admin.action(
    description=_("Contested payments received after all: the licenses take effect again")
)
def confirm_contested_payments(
    modeladmin: Any, request: HttpRequest, queryset: QuerySet[License]
) -> None:
    _settle_contests(modeladmin, request, queryset, received=True)


@admin.action(
    description=_("Contested payments never received: the licenses end"), permissions=["settle"]
)
def uphold_contests(modeladmin: Any, request: HttpRequest, queryset: QuerySet[License]) -> None:
    _settle_contests(modeladmin, request, queryset, received=False)


@admin.register(License)
class LicenseAdmin(VisibleToAdmin):
    """Licenses are made and moved through the API and the workflow (each step a timeline
    event); reviewers settle contested payments here."""

    list_display = [
        "__str__",
        "licensor",
        "licensee",
        "status",
        "is_open_license",
        "due_at_acceptance_cny",
        "effective_date",
    ]
    list_filter = ["status", "is_open_license"]
    search_fields = [
        "patent__application_number",
        "patent__patent_number",
        "declaration__number",
        "licensor__name",
        "licensee__name",
    ]
    list_select_related = ["patent", "licensor", "licensee"]
    inlines = [LicensePaymentInline, LicenseFilingInline, LicenseEventInline]
    # A contest's two exits (licensing.workflow.LICENSE), for reviewers.
    actions = [confirm_contested_payments, uphold_contests]
    readonly_fields = ["contract_document"]

    @admin.display(description=_("contract document (PDF)"))
    def contract_document(self, obj: License) -> str:
        """The contract the filing refers to, once the license took effect (issue 18)."""
        if (
            obj.status not in DOCUMENT_STATUSES
            or obj.effective_date is None
            or not obj.is_open_license
        ):
            return "—"
        return format_html(
            '<a href="/api/v1/licenses/{}/document/" id="contract-document">{}</a>',
            obj.pk,
            _("download the contract (Chinese and English)"),
        )

    # Reviewers (who decide filings) read licenses here and settle contested payments; the
    # pages stay read-only (ReadOnlyAdmin), the actions call the service.
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _reviews_filings(request) or super().has_view_permission(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _reviews_filings(request) or super().has_module_permission(request)

    def has_settle_permission(self, request: HttpRequest) -> bool:
        return _reviews_filings(request)


@admin.register(LicenseFiling)
class LicenseFilingAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "filed_on", "status", "filed_by", "decided_by", "created_at"]
    list_filter = ["status"]
    search_fields = ["license__patent__application_number", "license__licensee__name"]
    list_select_related = ["license", "filed_by", "decided_by"]


@admin.register(RoyaltyReport)
class RoyaltyReportAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "period_start",
        "period_end",
        "basis_amount_cny",
        "amount_due_cny",
        "due_date",
    ]
    search_fields = ["license__patent__application_number", "license__licensee__name"]
    list_select_related = ["license"]


@admin.register(RoyaltyStatistic)
class RoyaltyStatisticAdmin(ReadOnlyAdmin):
    list_display = ["version", "industry_code", "basis", "statistic", "low", "typical", "high"]
    list_filter = ["version", "basis"]
    search_fields = ["industry_code", "statistic"]
