"""Mediation of open-license disputes (Patent Law Art. 52; CNIPA Order No. 81)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from licensing.querysets import MediationCaseQuerySet
from marketplace.workflow import EventBase, VerbChoices


class HolidayCalendarYear(models.Model):
    """A year whose official holiday calendar an operator has entered in full (overrides)."""

    year = models.PositiveSmallIntegerField(_("year"), primary_key=True)
    source = models.CharField(_("source"), max_length=300)

    class Meta:
        verbose_name = _("announced holiday year")
        verbose_name_plural = _("announced holiday years")
        ordering = ["-year"]

    def __str__(self) -> str:
        return str(self.year)


class HolidayOverride(models.Model):
    """An operator's entry for one day: a public holiday or an adjusted working day. Overrides
    and extends the chinese-calendar library (which knows only announced years)."""

    date = models.DateField(_("date"), unique=True)
    is_workday = models.BooleanField(_("working day"))
    note = models.CharField(_("note"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("holiday or adjusted working day")
        verbose_name_plural = _("holidays and adjusted working days")
        ordering = ["-date"]

    def __str__(self) -> str:
        return f"{self.date} {_('working day') if self.is_workday else _('holiday')}"


class CaseStatus(models.TextChoices):
    APPLIED = "applied", _("applied")
    NOTIFIED = "notified", _("application sent to the respondent")
    AGREED = "agreed", _("respondent agreed to mediate")
    ACCEPTED = "accepted", _("accepted for mediation")
    SETTLED = "settled", _("settled by agreement")
    CLOSED = "closed", _("closed without agreement")
    WITHDRAWN = "withdrawn", _("withdrawn")
    NOT_ACCEPTED = "not_accepted", _("not accepted")


OPEN_CASE_STATUSES = ("applied", "notified", "agreed", "accepted")
# A case not accepted still waits on one deadline: the applicant must be told within
# 5 working days (rules §7). Every other case that is over waits on nothing.
WAITING_CASE_STATUSES = (*OPEN_CASE_STATUSES, "not_accepted")


class DeadlineKind(models.TextChoices):
    """What the deadline a case waits on is for (rules §7)."""

    NOTICE_TO_RESPONDENT = "notice_to_respondent", _("send the application to the respondent")
    RESPONDENT_ANSWER = "respondent_answer", _("the respondent's answer")
    ACCEPT_CASE = "accept_case", _("accept the case")
    SESSION = "session", _("the first session")
    TELL_APPLICANT = "tell_applicant", _("tell the applicant the case was not accepted")


class CaseCause(models.TextChoices):
    ROYALTY_STANDARD = "royalty_standard", _("royalty standard")
    PAYMENT_METHOD = "payment_method", _("payment method")
    EFFECTIVE_DATE = "effective_date", _("when the license took effect")
    LICENSE_TERM = "license_term", _("license term")
    PAYMENT = "payment", _("payment received or not")
    OTHER = "other", _("other")


class MediationCase(models.Model):
    """A dispute between a patentee and a licensee, mediated on the platform."""

    number = models.CharField(_("case number"), max_length=20, unique=True)
    applicant = models.ForeignKey(
        "marketplace.Organisation",
        on_delete=models.PROTECT,
        related_name="mediations_applied",
        verbose_name=_("applicant"),
    )
    respondent = models.ForeignKey(
        "marketplace.Organisation",
        on_delete=models.PROTECT,
        related_name="mediations_answered",
        verbose_name=_("respondent"),
    )
    license = models.ForeignKey(
        "licensing.License",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="mediation_cases",
        verbose_name=_("license"),
    )
    declaration = models.ForeignKey(
        "licensing.Declaration",
        on_delete=models.PROTECT,
        related_name="mediation_cases",
        verbose_name=_("declaration"),
    )
    cause = models.CharField(_("cause"), max_length=20, choices=CaseCause.choices)
    summary = models.TextField(_("summary"), max_length=2000)
    matters = models.TextField(_("matters to mediate"), max_length=2000)
    status = models.CharField(
        _("status"),
        max_length=14,
        choices=CaseStatus.choices,
        default=CaseStatus.APPLIED,
        editable=False,
    )
    mediator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="mediation_cases",
        verbose_name=_("mediator"),
    )
    mediator_named_on = models.DateField(_("mediator named on"), null=True, blank=True)
    # The deadline the case is waiting on now, what it is for, and whether it was counted
    # on a calendar not yet announced (weekends only): then it is provisional.
    deadline = models.DateField(_("deadline"), null=True, blank=True)
    deadline_kind = models.CharField(
        _("deadline for"), max_length=30, choices=DeadlineKind.choices, blank=True
    )
    deadline_provisional = models.BooleanField(_("deadline provisional"), default=False)
    is_paused = models.BooleanField(_("paused for a recusal request"), default=False)
    session_at = models.DateTimeField(_("session at"), null=True, blank=True)
    session_place = models.CharField(_("session place"), max_length=200, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("applied by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects: ClassVar[MediationCaseQuerySet] = MediationCaseQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("mediation case")
        verbose_name_plural = _("mediation cases")
        ordering = ["deadline", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(applicant=models.F("respondent")),
                name="mediation_parties_differ",
            ),
        ]
        indexes = [
            # The deadline sweep, the reminders and the mediators' overdue-first list read the
            # cases waiting on a deadline; a case that waits on nothing has none.
            models.Index(
                fields=["deadline"],
                condition=models.Q(deadline__isnull=False),
                name="mediation_waiting_by_deadline",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def organisation_of(self, side: str) -> int:
        """The organisation on one side of the case: "applicant" or "respondent"."""
        return self.applicant_id if side == "applicant" else self.respondent_id


class CaseAgent(models.Model):
    """An agent with power of attorney for one party (at most two per party)."""

    case = models.ForeignKey(
        MediationCase,
        on_delete=models.CASCADE,
        related_name="agents",
        verbose_name=_("mediation case"),
    )
    organisation = models.ForeignKey(
        "marketplace.Organisation",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("for organisation"),
    )
    name = models.CharField(_("agent name"), max_length=100)
    power_of_attorney = models.CharField(_("power of attorney reference"), max_length=200)

    class Meta:
        verbose_name = _("case agent")
        verbose_name_plural = _("case agents")

    def __str__(self) -> str:
        return self.name


class CaseEvidence(models.Model):
    """A document a party put on file; only the parties and the mediator may download it."""

    case = models.ForeignKey(
        MediationCase,
        on_delete=models.CASCADE,
        related_name="evidence",
        verbose_name=_("mediation case"),
    )
    organisation = models.ForeignKey(
        "marketplace.Organisation",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("organisation"),
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    file = models.FileField(_("file"), upload_to="evidence/%Y/%m/")
    original_name = models.CharField(_("original file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    description = models.CharField(_("description"), max_length=300, blank=True)
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")
        ordering = ["case_id", "uploaded_at", "id"]

    def __str__(self) -> str:
        return self.original_name


class RecusalRequest(models.Model):
    """A party's request that the mediator step aside; the case pauses until it is decided."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        GRANTED = "granted", _("granted")
        REFUSED = "refused", _("refused")

    case = models.ForeignKey(
        MediationCase,
        on_delete=models.CASCADE,
        related_name="recusals",
        verbose_name=_("mediation case"),
    )
    mediator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("mediator"),
    )
    organisation = models.ForeignKey(
        "marketplace.Organisation",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("organisation"),
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("requested by"),
    )
    reasons = models.TextField(_("reasons"), max_length=2000)
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("recusal request")
        verbose_name_plural = _("recusal requests")
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=models.Q(status="pending"), name="recusal_one_pending"
            )
        ]

    def __str__(self) -> str:
        return f"recusal on {self.case_id} ({self.status})"


class MediationSession(models.Model):
    """A session held: who came, what happened."""

    case = models.ForeignKey(
        MediationCase,
        on_delete=models.CASCADE,
        related_name="sessions",
        verbose_name=_("mediation case"),
    )
    held_at = models.DateTimeField(_("held at"))
    place = models.CharField(_("place"), max_length=200)
    applicant_present = models.BooleanField(_("applicant present"))
    respondent_present = models.BooleanField(_("respondent present"))
    absence_excused = models.BooleanField(_("absence excused"), default=False)
    notes = models.TextField(_("notes"), max_length=5000)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("mediation session")
        verbose_name_plural = _("mediation sessions")
        ordering = ["case_id", "held_at", "id"]

    def __str__(self) -> str:
        return f"session of {self.case_id} at {self.held_at:%Y-%m-%d}"


class MediationAgreement(models.Model):
    """The written agreement; payment obligations flow into the license's royalty ledger."""

    case = models.OneToOneField(
        MediationCase,
        on_delete=models.CASCADE,
        related_name="agreement",
        verbose_name=_("mediation case"),
    )
    text = models.TextField(_("text"), max_length=10_000)
    is_notarised = models.BooleanField(_("notarised"), default=False)
    applicant_accepted_at = models.DateTimeField(_("applicant accepted at"), null=True, blank=True)
    respondent_accepted_at = models.DateTimeField(
        _("respondent accepted at"), null=True, blank=True
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("mediation agreement")
        verbose_name_plural = _("mediation agreements")

    def __str__(self) -> str:
        return f"agreement in {self.case_id}"


class AgreementObligation(models.Model):
    """A payment one party owes the other under the agreement, with its due date."""

    agreement = models.ForeignKey(
        MediationAgreement,
        on_delete=models.CASCADE,
        related_name="obligations",
        verbose_name=_("agreement"),
    )
    payer = models.ForeignKey(
        "marketplace.Organisation",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("payer"),
    )
    payee = models.ForeignKey(
        "marketplace.Organisation",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("payee"),
    )
    amount_cny = models.DecimalField(_("amount (CNY)"), max_digits=14, decimal_places=2)
    due_date = models.DateField(_("due date"))
    description = models.CharField(_("description"), max_length=300)

    class Meta:
        verbose_name = _("agreement obligation")
        verbose_name_plural = _("agreement obligations")
        ordering = ["agreement_id", "due_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_cny__gt=0), name="obligation_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount_cny} due {self.due_date}"


MEDIATOR = "mediator"
SUPERVISOR = "supervisor"


@dataclass(frozen=True)
class CaseAction:
    """How a step is taken from the mediators' admin panel: its name (the URL's, and the
    service's: `licensing.services.mediation.case_<name>`), who may take it (the case's
    mediator or a supervisor), the button's label, and when it is offered: in `statuses`
    (empty: the statuses the step's move starts from, read from the transition table), never
    while the case is paused unless `while_paused` (then only while paused), and not once the
    case has `unless` (a related object, e.g. its agreement)."""

    name: str
    by: str
    label: Promise
    statuses: tuple[str, ...] = ()
    while_paused: bool | None = False
    unless: str = ""


class MediationEvent(EventBase):
    """One step in a case's timeline: actor, time, from, to, reason."""

    class Verb(VerbChoices):
        """A case's steps: the stored code, who is told, and the step as people read it (in
        the notification, the API's timeline and the mediators' admin panel)."""

        APPLIED = "applied", ("respondent", "supervisors"), _("applied")
        MEDIATOR_ASSIGNED = (
            "mediator_assigned",
            ("applicant", "respondent", "mediator"),
            CaseAction(
                "assign",
                SUPERVISOR,
                _("Assign or reassign the mediator"),
                statuses=OPEN_CASE_STATUSES,
                while_paused=None,
            ),
            _("mediator assigned"),
        )
        NOTICE_SENT = (
            "notice_sent",
            ("respondent", "applicant"),
            CaseAction("send_notice", MEDIATOR, _("Send the application to the respondent")),
            _("application sent to the respondent"),
        )
        RESPONDENT_AGREED = (
            "respondent_agreed",
            ("applicant", "mediator"),
            _("respondent agreed to mediate"),
        )
        NOT_ACCEPTED = "not_accepted", ("applicant", "respondent"), _("not accepted")
        APPLICANT_TOLD = "applicant_told", _("applicant told")
        ACCEPTED = (
            "accepted",
            ("applicant", "respondent"),
            CaseAction(
                "accept",
                MEDIATOR,
                _("Accept the case and tell the parties the time and place"),
            ),
            _("accepted for mediation"),
        )
        SESSION_RECORDED = (
            "session_recorded",
            (),
            CaseAction(
                "record_session", MEDIATOR, _("Record a session"), statuses=(CaseStatus.ACCEPTED,)
            ),
            _("session recorded"),
        )
        AGREEMENT_RECORDED = (
            "agreement_recorded",
            ("applicant", "respondent"),
            CaseAction(
                "record_agreement",
                MEDIATOR,
                _("Close with an agreement"),
                statuses=(CaseStatus.ACCEPTED,),
                unless="agreement",
            ),
            _("agreement recorded"),
        )
        AGREEMENT_ACCEPTED_BY_APPLICANT = (
            "agreement_accepted_by_applicant",
            _("agreement accepted by the applicant"),
        )
        AGREEMENT_ACCEPTED_BY_RESPONDENT = (
            "agreement_accepted_by_respondent",
            _("agreement accepted by the respondent"),
        )
        SETTLED = (
            "settled",
            ("applicant", "respondent", "mediator"),
            _("settled by agreement"),
        )
        CLOSED_WITHOUT_AGREEMENT = (
            "closed_without_agreement",
            ("applicant", "respondent"),
            CaseAction("close", MEDIATOR, _("Close without agreement")),
            _("closed without agreement"),
        )
        WITHDRAWN = "withdrawn", ("applicant", "respondent", "mediator"), _("withdrawn")
        RECUSAL_REQUESTED = "recusal_requested", ("supervisors",), _("recusal requested")
        # Granted or refused, the supervisor's one decision; its action sits on the first.
        RECUSAL_GRANTED = (
            "recusal_granted",
            ("applicant", "respondent"),
            CaseAction(
                "decide_recusal",
                SUPERVISOR,
                _("Decide the recusal request"),
                statuses=tuple(CaseStatus.values),
                while_paused=True,
            ),
            _("recusal granted"),
        )
        RECUSAL_REFUSED = "recusal_refused", ("applicant", "respondent"), _("recusal refused")
        AGENTS_NAMED = (
            "agents_named",
            ("applicant", "respondent", "mediator"),
            _("agents named"),
        )
        AGENT_REVOKED = (
            "agent_revoked",
            ("applicant", "respondent", "mediator"),
            _("agent's power of attorney revoked"),
        )
        EVIDENCE_ADDED = "evidence_added", _("evidence added")

    case = models.ForeignKey(
        MediationCase,
        on_delete=models.CASCADE,
        related_name="events",
        verbose_name=_("mediation case"),
    )
    # The mediators' timeline names its columns "from", "to" and "when".
    from_status = models.CharField(_("from"), max_length=14, blank=True)
    to_status = models.CharField(pgettext_lazy("timeline", "to"), max_length=14, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta(EventBase.Meta):
        verbose_name = _("timeline step")
        verbose_name_plural = _("timeline")

    def __str__(self) -> str:
        return f"#{self.pk}"  # the admin's timeline rows carry this caption; the step has a column
