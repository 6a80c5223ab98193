"""Organisations (patentees and licensees), their members, invitations and SME profiles."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from marketplace.querysets import MembershipQuerySet, OrganisationQuerySet
from marketplace.workflow import Workflow


class OrganisationKind(models.TextChoices):
    UNIVERSITY = "university", _("university")
    RESEARCH_INSTITUTE = "research_institute", _("research institute")
    ENTERPRISE = "enterprise", _("enterprise")
    INDIVIDUAL = "individual", _("individual patentee")
    SME = "sme", _("small or medium-sized enterprise")


class Organisation(models.Model):
    """A university, institute, enterprise, individual patentee or SME on the platform."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=OrganisationKind.choices)
    # 统一社会信用代码 (GB 32100-2015); individuals have none.
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    region = models.ForeignKey(
        "marketplace.Region",
        on_delete=models.PROTECT,
        related_name="organisations",
        verbose_name=_("region"),
    )
    address = models.CharField(_("address"), max_length=300, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=30, blank=True)
    website = models.URLField(_("website"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects: ClassVar[OrganisationQuerySet] = OrganisationQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]
        # Platform-wide permissions, granted through the reviewer and mediator groups.
        permissions = [
            ("review_declarations", _("Can review open-license declarations")),
            ("review_withdrawals", _("Can review declaration withdrawals")),
            ("review_filings", _("Can review license filings")),
            ("record_legal_status", _("Can record patent legal-status facts")),
            ("mediate_disputes", _("Can mediate license disputes")),
            ("supervise_mediation", _("Can assign mediators and decide recusals")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["credit_code"],
                condition=~models.Q(credit_code=""),
                name="organisation_credit_code_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=OrganisationKind.values),
                name="organisation_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_sme(self) -> bool:
        return self.kind == OrganisationKind.SME


class MembershipRole(models.TextChoices):
    ADMIN = "admin", _("organisation admin")
    MEMBER = "member", _("member")


class Membership(models.Model):
    """A user's membership of an organisation, with the role they hold there."""

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="memberships",
        verbose_name=_("organisation"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="memberships",
        verbose_name=_("user"),
    )
    role = models.CharField(_("role"), max_length=10, choices=MembershipRole.choices)
    created_at = models.DateTimeField(_("joined at"), auto_now_add=True)

    objects: ClassVar[MembershipQuerySet] = MembershipQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["organisation_id", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "user"], name="membership_one_per_user_and_organisation"
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=MembershipRole.values), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organisation} ({self.role})"


class InvitationStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    ACCEPTED = "accepted", _("accepted")
    REVOKED = "revoked", _("revoked")
    EXPIRED = "expired", _("expired")


class Invitation(models.Model):
    """An organisation admin's invitation for an e-mail address to join as admin or member."""

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="invitations",
        verbose_name=_("organisation"),
    )
    email = models.EmailField(_("e-mail address"))
    role = models.CharField(_("role"), max_length=10, choices=MembershipRole.choices)
    # Only a hash is stored; the token itself travels in the e-mail.
    token_hash = models.CharField(_("token fingerprint"), max_length=64, unique=True)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=InvitationStatus.choices,
        default=InvitationStatus.PENDING,
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("invited by"),
    )
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("accepted by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "email"],
                condition=models.Q(status="pending"),
                name="invitation_one_pending_per_email",
            ),
        ]
        indexes = [
            # The hourly expiry sweep reads pending invitations by expiry.
            models.Index(
                fields=["expires_at"],
                condition=models.Q(status="pending"),
                name="invitation_pending_expiry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.organisation} ({self.get_status_display()})"


# An invitation's table of moves (marketplace.workflow): pending until accepted, revoked by an
# admin or expired by the daily sweep. Its steps are in the organisation's timeline
# (OrganisationEvent, written by the services), so the table names the verb recorded there.
INVITATION = Workflow(
    model=Invitation,
    statuses=InvitationStatus,
    moves={
        (InvitationStatus.PENDING, InvitationStatus.ACCEPTED): "member_joined",
        (InvitationStatus.PENDING, InvitationStatus.REVOKED): "invitation_revoked",
        (InvitationStatus.PENDING, InvitationStatus.EXPIRED): "invitation_expired",
    },
    not_allowed=(
        "invitation_not_pending",
        _("An invitation that is %(current)s cannot become %(new)s."),
    ),
    changed=("invitation_changed", _("The invitation changed meanwhile; reload it.")),
    stamp="closed_at",
)


class EnterpriseSize(models.TextChoices):
    """Enterprise size classes of the NBS statistical standard (统计上大中小微型企业划分办法)."""

    MICRO = "micro", _("micro")
    SMALL = "small", _("small")
    MEDIUM = "medium", _("medium")
    LARGE = "large", _("large")


class SmeProfile(models.Model):
    """What matching needs to know about an SME: industry, region and size."""

    organisation = models.OneToOneField(
        Organisation,
        on_delete=models.PROTECT,
        related_name="sme_profile",
        verbose_name=_("organisation"),
    )
    industry = models.ForeignKey(
        "marketplace.Industry",
        on_delete=models.PROTECT,
        related_name="sme_profiles",
        verbose_name=_("industry"),
    )
    region = models.ForeignKey(
        "marketplace.Region",
        on_delete=models.PROTECT,
        related_name="sme_profiles",
        verbose_name=_("region"),
    )
    size = models.CharField(_("enterprise size"), max_length=10, choices=EnterpriseSize.choices)
    employee_count = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    annual_revenue_cny = models.DecimalField(
        _("annual revenue (CNY)"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    description = models.TextField(_("description"), max_length=2000, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("SME profile")
        verbose_name_plural = _("SME profiles")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(size__in=EnterpriseSize.values), name="sme_profile_size_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(annual_revenue_cny__isnull=True)
                | models.Q(annual_revenue_cny__gte=0),
                name="sme_profile_revenue_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation} ({self.industry_id}, {self.region_id})"


class OrganisationEventVerb(models.TextChoices):
    REGISTERED = "registered", _("registered")
    UPDATED = "updated", _("details updated")
    MEMBER_INVITED = "member_invited", _("member invited")
    INVITATION_REVOKED = "invitation_revoked", _("invitation revoked")
    INVITATION_EXPIRED = "invitation_expired", _("invitation expired")
    MEMBER_JOINED = "member_joined", _("member joined")
    MEMBER_REMOVED = "member_removed", _("member removed")
    MEMBER_LEFT = "member_left", _("member left")
    MEMBER_ROLE_CHANGED = "member_role_changed", _("member role changed")
    SME_PROFILE_SAVED = "sme_profile_saved", _("SME profile saved")


class OrganisationEvent(models.Model):
    """Who did what to an organisation and when: its audit trail."""

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="events",
        verbose_name=_("organisation"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    verb = models.CharField(_("what"), max_length=30, choices=OrganisationEventVerb.choices)
    subject_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user concerned"),
    )
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("organisation event")
        verbose_name_plural = _("organisation events")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.verb} ({self.organisation_id})"
