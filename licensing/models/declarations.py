"""Open-license declarations (开放许可声明, Patent Law Art. 50): terms, status, timeline."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils.translation import gettext_lazy as _

from licensing.querysets import IN_FORCE_STATUSES, PUBLIC, DeclarationQuerySet
from marketplace.workflow import EventBase, VerbChoices


class DeclarationStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    SUBMITTED = "submitted", _("submitted")
    ANNOUNCED = "announced", _("announced")
    NOT_ANNOUNCED = "not_announced", _("not announced")
    WITHDRAWAL_REQUESTED = "withdrawal_requested", _("withdrawal requested")
    WITHDRAWN = "withdrawn", _("withdrawn")
    TERMINATED = "terminated", _("terminated")
    REVOKED = "revoked", _("revoked")
    EXPIRED = "expired", _("expired")
    SUPERSEDED = "superseded", _("superseded")


class PaymentMethod(models.TextChoices):
    FREE = "free", _("free (royalty 0)")
    LUMP_SUM = "lump_sum", _("lump sum (一次性付费)")
    RUNNING_ROYALTY = "running_royalty", _("running royalty (提成支付)")
    ENTRY_FEE_PLUS_ROYALTY = "entry_fee_plus_royalty", _("entry fee plus royalty (入门费附加提成)")


class RoyaltyBasis(models.TextChoices):
    NET_SALES = "net_sales", _("net sales")
    PROFIT = "profit", _("profit")


class Declaration(models.Model):
    """A patentee's declaration offering anyone a license on fixed terms."""

    patent = models.ForeignKey(
        "marketplace.Patent",
        on_delete=models.PROTECT,
        related_name="declarations",
        verbose_name=_("patent"),
    )
    organisation = models.ForeignKey(
        "marketplace.Organisation",
        on_delete=models.PROTECT,
        related_name="declarations",
        verbose_name=_("organisation"),
    )
    # NULL until announced (unique when set), so drafts do not collide on "".
    number = models.CharField(_("declaration number"), max_length=20, null=True, blank=True)  # noqa: DJ001
    status = models.CharField(
        _("status"),
        max_length=24,
        choices=DeclarationStatus.choices,
        default=DeclarationStatus.DRAFT,
        editable=False,
    )
    # The patent's IPC prefixes (Patent.ipc_prefixes), copied by the database: licensing 0021's
    # triggers set them on insert and follow every change of the patent's, so the register's
    # ?ipc= filter reads the declaration row and its GIN index, not a patent per declaration.
    # db_default: an INSERT leaves the column to the trigger and RETURNING brings its value back.
    ipc_prefixes = ArrayField(
        models.CharField(max_length=20),
        db_default=models.Value("{}"),
        editable=False,
        verbose_name=_("IPC prefixes"),
    )

    # Terms (CNY, exact decimals; rates in percent).
    payment_method = models.CharField(
        _("payment method"), max_length=24, choices=PaymentMethod.choices
    )
    royalty_basis = models.CharField(
        _("running royalty basis"), max_length=10, choices=RoyaltyBasis.choices, blank=True
    )
    lump_sum_cny = models.DecimalField(
        _("lump sum (CNY)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    entry_fee_cny = models.DecimalField(
        _("entry fee (CNY)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    royalty_rate_percent = models.DecimalField(
        _("royalty rate (%)"), max_digits=7, decimal_places=4, null=True, blank=True
    )
    minimum_annual_royalty_cny = models.DecimalField(
        _("minimum annual royalty (CNY)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    # Years from the license's effective date; empty means until the patent expires.
    license_term_years = models.PositiveSmallIntegerField(
        _("license term (years)"), null=True, blank=True
    )
    contact_name = models.CharField(_("contact person"), max_length=100)
    contact_phone = models.CharField(_("contact phone"), max_length=30)
    contact_email = models.EmailField(_("contact e-mail"))
    contact_address = models.CharField(_("contact address"), max_length=300, blank=True)
    undertaking = models.BooleanField(
        _("the patentee undertakes that the conditions for open licensing are met"), default=False
    )
    calculation_explanation = models.TextField(_("calculation explanation"), max_length=2000)
    other_terms = models.TextField(_("other terms"), max_length=2000, blank=True)

    # Reviewer attention: advertising wording, or a bar that arose after announcement.
    advertising_words = models.JSONField(_("advertising words"), default=list, blank=True)
    flagged_bars = models.JSONField(_("flagged bars"), default=list, blank=True)
    supersedes = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="superseded_by",
        verbose_name=_("supersedes"),
    )

    effective_date = models.DateField(_("effective date"), null=True, blank=True)
    withdrawal_date = models.DateField(_("withdrawal date"), null=True, blank=True)
    ended_date = models.DateField(_("ended on"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects: ClassVar[DeclarationQuerySet] = DeclarationQuerySet.as_manager()  # type: ignore[assignment]
    # The statuses in force (licensing.querysets), here for marketplace, which reads them
    # through the relation on Patent because it does not import licensing.
    IN_FORCE_STATUSES: ClassVar[tuple[str, ...]] = IN_FORCE_STATUSES

    class Meta:
        verbose_name = _("open-license declaration")
        verbose_name_plural = _("open-license declarations")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["number"],
                condition=models.Q(number__isnull=False),
                name="declaration_number_unique",
            ),
            # One declaration in force per patent: a new one supersedes the old at announcement.
            models.UniqueConstraint(
                fields=["patent"],
                condition=models.Q(status__in=list(IN_FORCE_STATUSES)),
                name="declaration_one_in_force_per_patent",
            ),
            # One declaration in the pipeline per patent (draft or submitted).
            models.UniqueConstraint(
                fields=["patent"],
                condition=models.Q(status__in=["draft", "submitted"]),
                name="declaration_one_pending_per_patent",
            ),
            models.CheckConstraint(
                condition=models.Q(lump_sum_cny__isnull=True) | models.Q(lump_sum_cny__gte=0),
                name="declaration_lump_sum_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(royalty_rate_percent__isnull=True)
                | models.Q(royalty_rate_percent__gte=0, royalty_rate_percent__lte=100),
                name="declaration_rate_is_a_percentage",
            ),
            models.CheckConstraint(
                condition=~models.Q(status__in=["announced", "withdrawal_requested", "withdrawn"])
                | models.Q(number__isnull=False, effective_date__isnull=False),
                name="declaration_announced_has_number_and_date",
            ),
        ]
        indexes = [
            # The reviewers' queue.
            models.Index(
                fields=["created_at"],
                condition=models.Q(status__in=["submitted", "withdrawal_requested"]),
                name="declaration_review_queue",
            ),
            # The register filtered by one status: WHERE status = %s ORDER BY effective_date
            # DESC, id DESC (its cursor ordering).
            models.Index(
                fields=["status", "-effective_date", "-id"], name="declaration_register_status"
            ),
            # The whole public register, its default page: WHERE status IN PUBLIC ORDER BY
            # effective_date DESC, id DESC, and the effective_from/effective_to filters.
            models.Index(
                fields=["-effective_date", "-id"],
                name="declaration_register_public",
                condition=models.Q(status__in=PUBLIC),
            ),
            # Anonymous GET /api/v1/declarations/: WHERE status IN PUBLIC ORDER BY created_at
            # DESC (cursor pagination).
            models.Index(
                fields=["created_at", "id"],
                name="declaration_public_created",
                condition=models.Q(status__in=PUBLIC),
            ),
            # The register filtered by IPC: WHERE status IN PUBLIC AND ipc_prefixes @> ARRAY[%s].
            # A rare prefix is read from here (its few matches, then a sort of them); a common
            # one is met within a page of the ordered walk of declaration_register_public.
            GinIndex(
                fields=["ipc_prefixes"],
                name="declaration_public_ipc",
                condition=models.Q(status__in=PUBLIC),
                # No pending list: declarations are written rarely, and entries waiting in the
                # list make the planner (rightly) price the index above a walk of the register.
                fastupdate=False,
            ),
            # A patent's declarations, oldest first (GET /api/v1/patents/{id}/declarations/),
            # and /declarations/?patent= newest first (the same index read backwards).
            models.Index(fields=["patent", "created_at", "id"], name="declaration_patent_created"),
            # /declarations/?organisation=: a university's declarations, newest first.
            models.Index(
                fields=["organisation", "created_at", "id"], name="declaration_org_created"
            ),
        ]

    def __str__(self) -> str:
        label = self.number or str(_("draft %(id)d")) % {"id": self.pk}
        return f"{label} ({self.get_status_display()})"


class DeclarationConsent(models.Model):
    """A co-owner's consent to a declaration or to its withdrawal (rules §1, §3)."""

    class Purpose(models.TextChoices):
        DECLARATION = "declaration", _("declaration")
        WITHDRAWAL = "withdrawal", _("withdrawal")

    declaration = models.ForeignKey(
        Declaration,
        on_delete=models.CASCADE,
        related_name="consents",
        verbose_name=_("declaration"),
    )
    organisation = models.ForeignKey(
        "marketplace.Organisation",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("organisation"),
    )
    purpose = models.CharField(_("purpose"), max_length=12, choices=Purpose.choices)
    given_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("given by"),
    )
    given_at = models.DateTimeField(_("given at"), auto_now_add=True)

    class Meta:
        verbose_name = _("declaration consent")
        verbose_name_plural = _("declaration consents")
        constraints = [
            models.UniqueConstraint(
                fields=["declaration", "organisation", "purpose"], name="declaration_consent_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organisation_id} consents to {self.purpose} of {self.declaration_id}"


class DeclarationEvent(EventBase):
    """One step in a declaration's timeline: who moved it, when, from where to where, why."""

    class Verb(VerbChoices):
        """A declaration's steps: the stored code, who is told (rules §3: "each reaches the
        parties concerned"), and the step as people read it."""

        DRAFTED = "drafted", _("drafted")
        EDITED = "edited", _("edited")
        CONSENT_DECLARATION = "consent_declaration", _("co-owner consented to the declaration")
        CONSENT_WITHDRAWAL = "consent_withdrawal", _("co-owner consented to the withdrawal")
        SUBMITTED = "submitted", ("patentee", "reviewers"), _("submitted")
        ANNOUNCED = "announced", ("patentee", "co_owners"), _("announced")
        NOT_ANNOUNCED = "not_announced", ("patentee", "co_owners"), _("not announced")
        WITHDRAWAL_REQUESTED = (
            "withdrawal_requested",
            ("patentee", "reviewers"),
            _("withdrawal requested"),
        )
        WITHDRAWN = "withdrawn", ("patentee", "co_owners", "licensees"), _("withdrawn")
        WITHDRAWAL_REFUSED = "withdrawal_refused", ("patentee",), _("withdrawal refused")
        TERMINATED = "terminated", ("patentee", "co_owners", "licensees"), _("terminated")
        REVOKED = "revoked", ("patentee", "co_owners", "licensees"), _("revoked")
        EXPIRED = "expired", ("patentee", "co_owners"), _("expired")
        SUPERSEDED = "superseded", ("patentee",), _("superseded")
        BARS_FLAGGED = "bars_flagged", _("bars flagged")
        BARS_CLEARED = "bars_cleared", _("bars cleared")

    declaration = models.ForeignKey(
        Declaration, on_delete=models.CASCADE, related_name="events", verbose_name=_("declaration")
    )
    verb = models.CharField(_("step"), max_length=30)

    class Meta(EventBase.Meta):
        verbose_name = _("declaration event")
        verbose_name_plural = _("declaration events")

    def __str__(self) -> str:
        return f"{self.declaration_id}: {self.from_status} → {self.to_status}"
