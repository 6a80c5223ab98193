"""The mediators' admin panel: "my cases" with deadline badges, a case page with everything a
mediator needs and one form per allowed step. Steps call the same services as the API, so
each is a timeline event with its actor; there is no free editing of status.

Theme: the stock Django admin, configured with care rather than a third-party theme: no
extra dependency or front-end build, Django's own accessibility and security (CSRF, CSP
friendly, no CDN), and it works offline; the badges and the action panel are two small
templates.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import BooleanField, Case, QuerySet, Value, When
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from licensing.api.serializers import royalty_text
from licensing.ledger import license_ledger
from licensing.models import (
    WAITING_CASE_STATUSES,
    CaseEvidence,
    CaseStatus,
    HolidayCalendarYear,
    HolidayOverride,
    MediationCase,
    MediationEvent,
    RecusalRequest,
)
from licensing.models.mediation import SUPERVISOR, CaseAction
from licensing.services import mediation as services
from licensing.workflow import MEDIATION
from marketplace import roles
from marketplace.errors import DomainError
from marketplace.models import User

Verb = MediationEvent.Verb


def _aware(value: datetime) -> datetime:
    return value if timezone.is_aware(value) else timezone.make_aware(value)


class StepForm(forms.Form):
    """A step's input; `service_values` turns it into the service's keyword arguments."""

    def __init__(self, *args: Any, case: MediationCase | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.case = case

    def service_values(self, case: MediationCase) -> dict[str, Any]:
        return dict(self.cleaned_data)


class SessionForm(StepForm):
    held_at = forms.DateTimeField(
        label=_("held at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    place = forms.CharField(label=_("place"), max_length=200)
    applicant_present = forms.BooleanField(
        label=_("applicant present"), required=False, initial=True
    )
    respondent_present = forms.BooleanField(
        label=_("respondent present"), required=False, initial=True
    )
    absence_excused = forms.BooleanField(label=_("absence excused"), required=False)
    notes = forms.CharField(
        label=_("notes"), widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )

    def __init__(self, *args: Any, case: MediationCase | None = None, **kwargs: Any) -> None:
        super().__init__(*args, case=case, **kwargs)
        if case is not None:
            self.initial.setdefault("place", case.session_place)

    def service_values(self, case: MediationCase) -> dict[str, Any]:
        return {**self.cleaned_data, "held_at": _aware(self.cleaned_data["held_at"])}


class AcceptForm(StepForm):
    session_at = forms.DateTimeField(
        label=_("session at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    place = forms.CharField(label=_("place"), max_length=200)

    def __init__(self, *args: Any, case: MediationCase | None = None, **kwargs: Any) -> None:
        super().__init__(*args, case=case, **kwargs)
        if case is not None:
            self.initial.setdefault("place", case.session_place)

    def service_values(self, case: MediationCase) -> dict[str, Any]:
        values = self.cleaned_data
        return {"session_at": _aware(values["session_at"]), "place": values["place"]}


class AgreementForm(StepForm):
    text = forms.CharField(
        label=_("agreement text"), widget=forms.Textarea(attrs={"rows": 4}), max_length=10_000
    )
    amount_cny = forms.DecimalField(
        label=_("licensee pays (CNY)"),
        required=False,
        min_value=Decimal("0.01"),
        max_digits=14,
        decimal_places=2,
    )
    due_date = forms.DateField(
        label=_("due on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    description = forms.CharField(label=_("for"), max_length=300, required=False)
    is_notarised = forms.BooleanField(label=_("notarised"), required=False)
    signed_by_both = forms.BooleanField(
        label=_("signed by both parties at the session"), required=False, initial=True
    )

    def service_values(self, case: MediationCase) -> dict[str, Any]:
        values = self.cleaned_data
        obligations = []
        if values.get("amount_cny"):
            if not (values.get("due_date") and case.license):
                raise DomainError(
                    "obligation_incomplete", _("A payment needs a due date and a license.")
                )
            obligations.append(
                services.ObligationInput(
                    payer_id=case.license.licensee_id,
                    amount_cny=values["amount_cny"],
                    due_date=values["due_date"],
                    description=values.get("description") or "mediation",
                )
            )
        return {
            "text": values["text"],
            "obligations": obligations,
            "is_notarised": values["is_notarised"],
            "signed_by_both": values["signed_by_both"],
        }


class ReasonForm(StepForm):
    reason = forms.CharField(label=_("reason"), max_length=2000, required=False)


class AssignForm(StepForm):
    mediator = forms.ModelChoiceField(label=_("mediator"), queryset=User.objects.none())

    def __init__(self, *args: Any, case: MediationCase | None = None, **kwargs: Any) -> None:
        super().__init__(*args, case=case, **kwargs)
        self.fields["mediator"].queryset = User.objects.mediators().order_by("full_name")  # type: ignore[attr-defined]

    def service_values(self, case: MediationCase) -> dict[str, Any]:
        return {"mediator_id": self.cleaned_data["mediator"].pk}


class RecusalDecisionForm(StepForm):
    grant = forms.TypedChoiceField(
        label=_("decision"),
        choices=[("1", _("grant: the mediator steps aside")), ("0", _("refuse"))],
        coerce=lambda value: value == "1",
    )
    reason = forms.CharField(label=_("reason"), max_length=2000, required=False)


# The input a step's admin action asks for (a step without one is a button alone). The steps
# themselves, who takes them and when, are MediationEvent.Verb's actions.
STEP_FORMS: dict[str, type[StepForm]] = {
    "assign": AssignForm,
    "decide_recusal": RecusalDecisionForm,
    "accept": AcceptForm,
    "record_session": SessionForm,
    "record_agreement": AgreementForm,
    "close": ReasonForm,
}
STEPS: dict[str, Any] = {verb.action.name: verb for verb in Verb.actions()}
ACTION_LABELS = {name: verb.action.label for name, verb in STEPS.items()}


def _offered(verb: Any, case: MediationCase, user: Any) -> bool:
    """Whether this user may take this step on this case now (the service checks again)."""
    action: CaseAction = verb.action
    if action.by == SUPERVISOR:
        if not roles.has(user, roles.SUPERVISE_MEDIATION):
            return False
    elif not services.is_case_mediator(user, case):
        return False
    if action.while_paused is not None and case.is_paused != action.while_paused:
        return False
    if case.status not in (action.statuses or MEDIATION.sources(verb)):
        return False
    return not (action.unless and hasattr(case, action.unless))


def _actions(case: MediationCase, user: Any) -> dict[str, StepForm]:
    """The forms for the steps this user may take on this case now."""
    return {
        name: STEP_FORMS.get(name, StepForm)(case=case)
        for name, verb in STEPS.items()
        if _offered(verb, case, user)
    }


class DeadlineFilter(admin.SimpleListFilter):
    title = _("deadline")
    parameter_name = "deadline"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("overdue", _("overdue")),
            ("week", _("due within 7 days")),
            ("provisional", _("provisional")),
        ]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[MediationCase]
    ) -> QuerySet[MediationCase]:
        today = timezone.localdate()
        if self.value() == "overdue":
            return queryset.filter(services.overdue_filter(today))
        if self.value() == "week":
            return queryset.filter(
                status__in=WAITING_CASE_STATUSES,
                deadline__range=(today, today + timedelta(days=7)),
            )
        if self.value() == "provisional":
            return queryset.filter(deadline_provisional=True)
        return queryset


# A timeline's statuses as the mediator reads them (codes stay in the rows; the steps'
# labels are MediationEvent.Verb's).
STATUS_LABELS = dict(CaseStatus.choices)


class MediationEventInline(admin.TabularInline):
    model = MediationEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "step", "from_shown", "to_shown", "actor", "reason_shown")
    readonly_fields = fields
    verbose_name_plural = _("timeline")

    @admin.display(description=_("step"))
    def step(self, event: MediationEvent) -> str:
        return event.step

    @admin.display(description=_("from"))
    def from_shown(self, event: MediationEvent) -> str:
        return str(STATUS_LABELS.get(event.from_status, event.from_status))

    @admin.display(description=pgettext_lazy("timeline", "to"))
    def to_shown(self, event: MediationEvent) -> str:
        return str(STATUS_LABELS.get(event.to_status, event.to_status))

    @admin.display(description=_("reason"))
    def reason_shown(self, event: MediationEvent) -> str:
        return gettext(event.reason) if event.reason else ""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    # Mediators hold no model permission on events: without this the admin hides the inline,
    # and the case page had no timeline. The case page itself is already limited to the case's
    # mediator (and supervisors) by MediationCaseAdmin.get_queryset.
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return roles.is_mediator(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(MediationCase)
class MediationCaseAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "deadline_badge",
        "status",
        "applicant",
        "respondent",
        "mediator",
        "cause",
    ]
    list_display_links = ["number"]
    list_filter = ["status", DeadlineFilter, "cause"]
    # A case is found by its number, a party, or the patent or declaration it is about.
    search_fields = [
        "number",
        "applicant__name",
        "respondent__name",
        "declaration__number",
        "declaration__patent__application_number",
    ]
    list_select_related = ["applicant", "respondent", "mediator"]
    list_per_page = 50
    inlines = [MediationEventInline]
    change_form_template = "admin/licensing/mediationcase/change_form.html"

    def get_ordering(self, request: HttpRequest) -> list[str]:
        return ["-is_overdue", "deadline", "id"]  # overdue cases first, then by deadline

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[MediationCase], search_term: str
    ) -> tuple[QuerySet[MediationCase], bool]:
        results, duplicates = super().get_search_results(request, queryset, search_term)
        # A patent number as people write it: "ZL2020 1010 0001.9", "CN…".
        number = re.sub(r"\s", "", search_term.upper())
        number = re.sub(r"^(ZL|CN)", "", number)
        if number and number != search_term:
            results = results | queryset.filter(
                declaration__patent__application_number__icontains=number
            )
        return results, duplicates

    def get_queryset(self, request: HttpRequest) -> QuerySet[MediationCase]:
        # A mediator sees only the cases assigned to them, by list or by URL.
        today = timezone.localdate()
        return (
            MediationCase.objects.for_mediator(request.user)
            .annotate(
                is_overdue=Case(
                    When(services.overdue_filter(today), then=Value(True)),
                    default=Value(False),
                    output_field=BooleanField(),
                )
            )
            .order_by("-is_overdue", "deadline", "id")
        )

    @admin.display(description=_("deadline"), ordering="deadline")
    def deadline_badge(self, case: MediationCase) -> str:
        if case.deadline is None or case.status not in WAITING_CASE_STATUSES:
            return "—"
        today = timezone.localdate()
        days = (case.deadline - today).days
        label: str
        if case.is_paused:
            colour, label = "#777", str(_("paused"))
        elif days < 0:
            colour, label = "#ba2121", _("overdue %(days)d d") % {"days": -days}
        elif days <= 2:
            colour, label = "#c77c00", _("due in %(days)d d") % {"days": days}
        else:
            colour, label = "#2e7d32", _("due in %(days)d d") % {"days": days}
        provisional = " *" if case.deadline_provisional else ""
        return format_html(
            '<span class="deadline-badge" style="background:{};color:#fff;padding:2px 6px;'
            'border-radius:8px;white-space:nowrap" title="{} ({})">{}{}</span>',
            colour,
            case.deadline.isoformat(),
            case.get_deadline_kind_display(),
            label,
            provisional,
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in MediationCase._meta.fields]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return roles.is_mediator(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return roles.is_mediator(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return roles.is_mediator(
            request.user
        )  # the page shows the action forms; fields are read-only

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:case_id>/act/<str:step>/",
                self.admin_site.admin_view(self.act),
                name="licensing_mediationcase_act",
            ),
            path(
                "<int:case_id>/evidence/<int:evidence_id>/",
                self.admin_site.admin_view(self.evidence),
                name="licensing_mediationcase_evidence",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        case = (
            self.get_queryset(request)
            .filter(pk=object_id)
            .select_related("declaration__patent", "license")
            .first()
        )
        context = dict(extra_context or {})
        if case is not None:
            today = timezone.localdate()
            actions = _actions(case, request.user)
            agents = list(case.agents.all())
            context.update(
                case=case,
                royalty=royalty_text(case.declaration),
                applicant_agents=[a for a in agents if a.organisation_id == case.applicant_id],
                respondent_agents=[a for a in agents if a.organisation_id == case.respondent_id],
                action_forms=[(step, ACTION_LABELS[step], form) for step, form in actions.items()],
                evidence=CaseEvidence.objects.filter(case=case),
                ledger=license_ledger(case.license, today) if case.license else None,
                ledger_today=today,
                recusals=RecusalRequest.objects.filter(case=case),
                sessions=case.sessions.all(),
            )
        return super().change_view(request, object_id, form_url, extra_context=context)

    def evidence(self, request: HttpRequest, case_id: int, evidence_id: int) -> FileResponse:
        case = get_object_or_404(self.get_queryset(request), pk=case_id)
        item = get_object_or_404(CaseEvidence, pk=evidence_id, case=case)
        return FileResponse(
            item.file.open("rb"),
            as_attachment=True,
            filename=item.original_name,
            content_type=item.content_type,
        )

    def act(self, request: HttpRequest, case_id: int, step: str) -> HttpResponse:
        case = self.get_queryset(request).filter(pk=case_id).first()
        if case is None or request.method != "POST":
            raise Http404
        user = request.user
        assert isinstance(user, User)
        allowed = _actions(case, user)
        if step not in allowed:
            self.message_user(request, _("That step is not possible now."), level=messages.ERROR)
            return self._back(case)
        form = type(allowed[step])(request.POST, case=case)
        if not form.is_valid():
            self.message_user(
                request,
                _("Please correct the form: %(errors)s") % {"errors": form.errors.as_text()},
                level=messages.ERROR,
            )
            return self._back(case)
        try:
            # The step's service: licensing.services.mediation.case_<step>.
            service = getattr(services, f"case_{step}")
            service(actor=user, case_id=case.pk, **form.service_values(case))
        except DomainError as error:
            self.message_user(request, error.render_message(), level=messages.ERROR)
        else:
            self.message_user(request, _("Done: %(step)s.") % {"step": ACTION_LABELS[step]})
        return self._back(case)

    def _back(self, case: MediationCase) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:licensing_mediationcase_change", args=[case.pk]))


@admin.register(HolidayOverride)
class HolidayOverrideAdmin(admin.ModelAdmin):
    """Operators keep the official calendar here for years the library does not know yet."""

    list_display = ["date", "is_workday", "note"]
    list_filter = ["is_workday"]
    date_hierarchy = "date"


@admin.register(HolidayCalendarYear)
class HolidayCalendarYearAdmin(admin.ModelAdmin):
    list_display = ["year", "source"]
