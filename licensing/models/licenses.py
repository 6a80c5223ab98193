"""Licenses obtained under a declaration (rules §4): notice, payment, effect, filing."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from licensing.querysets import LicenseQuerySet
from marketplace.workflow import EventBase, VerbChoices


class LicenseStatus(models.TextChoices):
    AWAITING_PAYMENT = "awaiting_payment", _("notice sent, awaiting payment")
    EFFECTIVE = "effective", _("effective")
    CONTESTED = "contested", _("payment contested")
    ENDED = "ended", _("ended")


ACTIVE_LICENSE_STATUSES = ("awaiting_payment", "effective", "contested")


class License(models.Model):
    """An open license: the licensee's written notice plus payment; the patentee's consent is
    not needed (Patent Law Art. 51). The terms are a snapshot of the declaration's."""

    declaration = models.ForeignKey(
        "licensing.Declaration",
        on_delete=models.PROTECT,
        related_name="licenses",
        null=True,
        blank=True,
        verbose_name=_("declaration"),
    )
    patent = models.ForeignKey(
        "marketplace.Patent",
        on_delete=models.PROTECT,
        related_name="licenses",
        verbose_name=_("patent"),
    )
    licensor = models.ForeignKey(
        "marketplace.Organisation",
        on_delete=models.PROTECT,
        related_name="licenses_granted",
        verbose_name=_("licensor"),
    )
    licensee = models.ForeignKey(
        "marketplace.Organisation",
        on_delete=models.PROTECT,
        related_name="licenses_held",
        verbose_name=_("licensee"),
    )
    # False for ordinary licenses negotiated outside a declaration (recorded, no fee reduction).
    is_open_license = models.BooleanField(_("open license"), default=True)
    status = models.CharField(
        _("status"), max_length=20, choices=LicenseStatus.choices, editable=False
    )
    notice_text = models.TextField(_("written notice"), max_length=5000)
    notice_sent_at = models.DateTimeField(_("notice sent at"))
    # The platform delivers the notice to the patentee's inbox when it is sent.
    notice_delivered_at = models.DateTimeField(_("notice reached the patentee at"))
    terms = models.JSONField(_("terms granted"), default=dict)
    due_at_acceptance_cny = models.DecimalField(
        _("due at acceptance (CNY)"), max_digits=14, decimal_places=2
    )
    effective_date = models.DateField(_("effective date"), null=True, blank=True)
    term_end = models.DateField(_("term ends"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects: ClassVar[LicenseQuerySet] = LicenseQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("license")
        verbose_name_plural = _("licenses")
        ordering = ["-created_at", "-id"]
        constraints = [
            # One active license per licensee and declaration.
            models.UniqueConstraint(
                fields=["declaration", "licensee"],
                condition=models.Q(status__in=ACTIVE_LICENSE_STATUSES),
                name="license_one_active_per_licensee_and_declaration",
            ),
            models.CheckConstraint(
                condition=~models.Q(licensor=models.F("licensee")),
                name="license_licensee_is_not_the_licensor",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="effective") | models.Q(effective_date__isnull=False),
                name="license_effective_has_date",
            ),
        ]

    def __str__(self) -> str:
        # Read by people in the admin (a case's license): numbers and names, in their language.
        return str(_("License %(id)s: %(patent)s to %(licensee)s (%(status)s)")) % {
            "id": self.pk,
            "patent": self.patent.patent_number or self.patent.application_number,
            "licensee": self.licensee.name,
            "status": self.get_status_display(),
        }

    def page_url(self) -> str:
        """The license's page (GET /licenses/{id}/), as the mails link to it."""
        return f"{settings.FRONTEND_URL}{reverse('license-page', args=[self.pk])}"


class PaymentStatus(models.TextChoices):
    RECORDED = "recorded", _("recorded")
    CONTESTED = "contested", _("contested by the patentee")


class PaymentKind(models.TextChoices):
    UPFRONT = "upfront", _("lump sum or entry fee")
    ROYALTY = "royalty", _("running royalty")


class LicensePayment(models.Model):
    """A payment the licensee recorded, with its bank reference and proof."""

    license = models.ForeignKey(
        License, on_delete=models.PROTECT, related_name="payments", verbose_name=_("license")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=PaymentKind.choices)
    amount_cny = models.DecimalField(_("amount (CNY)"), max_digits=14, decimal_places=2)
    reference = models.CharField(_("payment reference"), max_length=100)
    proof = models.TextField(_("proof of payment"), max_length=2000, blank=True)
    paid_on = models.DateField(_("paid on"))
    status = models.CharField(
        _("status"), max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.RECORDED
    )
    contest_reason = models.TextField(_("reason for contesting"), blank=True)
    royalty_report = models.ForeignKey(
        "licensing.RoyaltyReport",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
        verbose_name=_("royalty report"),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("license payment")
        verbose_name_plural = _("license payments")
        ordering = ["license_id", "paid_on", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_cny__gt=0), name="payment_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} CNY {self.amount_cny} on {self.paid_on}"


class LicenseEvent(EventBase):
    """One step in a license's timeline."""

    class Verb(VerbChoices):
        """A license's steps: the stored code, who is told, and the step as people read it."""

        NOTICE_SENT = "notice_sent", ("licensor",), _("notice sent")
        TOOK_EFFECT = "took_effect", ("licensor", "licensee"), _("took effect")
        PAYMENT_CONTESTED = "payment_contested", ("licensee",), _("payment contested")
        PAYMENT_CONFIRMED = (
            "payment_confirmed",
            ("licensor", "licensee"),
            _("contested payment confirmed"),
        )
        CONTEST_UPHELD = (
            "contest_upheld",
            ("licensor", "licensee"),
            _("contest upheld: the payment was not received"),
        )
        TERM_ENDED = "term_ended", ("licensor", "licensee"), _("license term ended")
        FILED = "filed", ("licensor", "licensee"), _("filed")
        FILING_ACCEPTED = "filing_accepted", ("licensor", "licensee"), _("filing accepted")
        FILING_RETURNED = "filing_returned", ("licensor", "licensee"), _("filing returned")
        ROYALTY_REPORTED = "royalty_reported", ("licensor",), _("royalty reported")
        ROYALTY_PAID = "royalty_paid", ("licensor",), _("royalty paid")
        ORDINARY_RECORDED = "ordinary_recorded", _("ordinary license recorded")

    license = models.ForeignKey(
        License, on_delete=models.CASCADE, related_name="events", verbose_name=_("license")
    )
    verb = models.CharField(_("step"), max_length=30)
    from_status = models.CharField(_("from status"), max_length=20, blank=True)
    to_status = models.CharField(_("to status"), max_length=20, blank=True)

    class Meta(EventBase.Meta):
        verbose_name = _("license event")
        verbose_name_plural = _("license events")

    def __str__(self) -> str:
        return f"{self.license_id}: {self.verb}"


class IdempotencyRecord(models.Model):
    """The first answer to a request sent with an Idempotency-Key, replayed for repeats."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    key = models.CharField(_("key"), max_length=100)
    request_hash = models.CharField(_("request fingerprint"), max_length=64)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"))
    body = models.JSONField(_("body"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


class FilingStatus(models.TextChoices):
    FILED = "filed", _("filed")
    ACCEPTED = "accepted", _("accepted")
    RETURNED = "returned", _("returned")


class LicenseFiling(models.Model):
    """The filing (备案) of a license with CNIPA, due within 3 months of the effective date."""

    license = models.ForeignKey(
        License, on_delete=models.PROTECT, related_name="filings", verbose_name=_("license")
    )
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("filed by"),
    )
    filed_on = models.DateField(_("filed on"))
    notice_attached = models.BooleanField(_("notice attached"), default=True)
    payment_proof_attached = models.BooleanField(_("payment proof attached"), default=True)
    status = models.CharField(
        _("status"), max_length=10, choices=FilingStatus.choices, default=FilingStatus.FILED
    )
    reviewer_note = models.TextField(_("reviewer note"), blank=True)
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
        verbose_name = _("license filing")
        verbose_name_plural = _("license filings")
        ordering = ["license_id", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["license"],
                condition=models.Q(status__in=["filed", "accepted"]),
                name="filing_one_open_per_license",
            )
        ]

    def __str__(self) -> str:
        return str(_("filing of license %(id)s (%(status)s)")) % {
            "id": self.license_id,
            "status": self.get_status_display(),
        }


class RoyaltyReport(models.Model):
    """The licensee's report of net sales or profit for a period, and the royalty due on it."""

    license = models.ForeignKey(
        License, on_delete=models.PROTECT, related_name="royalty_reports", verbose_name=_("license")
    )
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    basis_amount_cny = models.DecimalField(_("basis amount (CNY)"), max_digits=16, decimal_places=2)
    amount_due_cny = models.DecimalField(_("amount due (CNY)"), max_digits=14, decimal_places=2)
    due_date = models.DateField(_("due date"))
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("reported by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("royalty report")
        verbose_name_plural = _("royalty reports")
        ordering = ["license_id", "period_start", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["license", "period_start"], name="royalty_report_one_per_period"
            ),
            models.CheckConstraint(
                condition=models.Q(period_end__gte=models.F("period_start")),
                name="royalty_report_period_ordered",
            ),
            models.CheckConstraint(
                condition=models.Q(basis_amount_cny__gte=0),
                name="royalty_report_basis_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return str(_("report %(start)s–%(end)s of license %(id)s")) % {
            "start": self.period_start,
            "end": self.period_end,
            "id": self.license_id,
        }
