"""Technology needs an SME posts: what it looks for, where, and what it can pay."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

from marketplace.querysets import TechnologyNeedQuerySet
from marketplace.workflow import EventBase, VerbChoices, Workflow


class NeedStatus(models.TextChoices):
    OPEN = "open", _("open")
    CLOSED = "closed", _("closed")


class PaymentMethodPreference(models.TextChoices):
    ANY = "any", _("any")
    LUMP_SUM = "lump_sum", _("lump sum (一次性付费)")
    RUNNING_ROYALTY = "running_royalty", _("running royalty (提成支付)")
    ENTRY_FEE_PLUS_ROYALTY = "entry_fee_plus_royalty", _("entry fee plus royalty (入门费附加提成)")


class TechnologyNeed(models.Model):
    """A technology need (技术需求) of an SME; its budget is private to the SME and staff."""

    organisation = models.ForeignKey(
        "marketplace.Organisation",
        on_delete=models.PROTECT,
        related_name="technology_needs",
        verbose_name=_("organisation"),
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), max_length=5000)
    keywords = ArrayField(
        models.CharField(max_length=40), default=list, blank=True, verbose_name=_("keywords")
    )
    ipc_areas = ArrayField(
        models.CharField(max_length=20), default=list, blank=True, verbose_name=_("IPC areas")
    )
    industries = ArrayField(
        models.CharField(max_length=5), default=list, blank=True, verbose_name=_("industries")
    )
    budget_min_cny = models.DecimalField(
        _("budget from (CNY)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    budget_max_cny = models.DecimalField(
        _("budget up to (CNY)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    payment_method = models.CharField(
        _("payment method"),
        max_length=30,
        choices=PaymentMethodPreference.choices,
        default=PaymentMethodPreference.ANY,
    )
    region = models.ForeignKey(
        "marketplace.Region",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("region"),
    )
    expires_on = models.DateField(_("expires on"))
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=NeedStatus.choices,
        default=NeedStatus.OPEN,
        editable=False,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects: ClassVar[TechnologyNeedQuerySet] = TechnologyNeedQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("technology need")
        verbose_name_plural = _("technology needs")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(budget_min_cny__isnull=True)
                | models.Q(budget_max_cny__isnull=True)
                | models.Q(budget_min_cny__lte=models.F("budget_max_cny")),
                name="need_budget_range_ordered",
            ),
            models.CheckConstraint(
                condition=models.Q(budget_min_cny__isnull=True) | models.Q(budget_min_cny__gte=0),
                name="need_budget_not_negative",
            ),
        ]
        indexes = [
            # Matching and browsing read open needs.
            models.Index(
                fields=["-created_at"], condition=models.Q(status="open"), name="need_open_recent"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class TechnologyNeedEvent(EventBase):
    """Who created, changed, closed or reopened a need, and when."""

    class Verb(VerbChoices):
        CREATED = "created", _("created")
        UPDATED = "updated", _("updated")
        CLOSED = "closed", _("closed")
        REOPENED = "reopened", _("reopened")

    need = models.ForeignKey(
        TechnologyNeed,
        on_delete=models.CASCADE,
        related_name="events",
        verbose_name=_("technology need"),
    )
    # Every step of a need is taken by one of its SME's members (no sweep moves a need).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by")
    )
    changes = models.JSONField(_("changes"), default=dict, blank=True)

    class Meta:
        verbose_name = _("need event")
        verbose_name_plural = _("need events")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.verb} need {self.need_id}"


# A need's table of moves (marketplace.workflow): its SME closes it and reopens it.
NEED = Workflow(
    model=TechnologyNeed,
    statuses=NeedStatus,
    moves={
        (NeedStatus.OPEN, NeedStatus.CLOSED): TechnologyNeedEvent.Verb.CLOSED,
        (NeedStatus.CLOSED, NeedStatus.OPEN): TechnologyNeedEvent.Verb.REOPENED,
    },
    not_allowed=(
        "need_transition_not_allowed",
        _("A need that is %(current)s cannot become %(new)s."),
    ),
    changed=("need_changed", _("The need changed meanwhile; reload it.")),
    event=TechnologyNeedEvent,
    subject="need",
)
