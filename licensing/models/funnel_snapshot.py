"""The whole register's licensing funnel, precomputed for the reviewers (issue 18)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class FunnelScope(models.TextChoices):
    REGISTER = "register", _("whole register")


class FunnelSnapshot(models.Model):
    """A funnel's totals, months and the reviewers' list of patentees, as computed at
    `refreshed_at`: the reviewers' overview reads this row rather than computing the funnel of
    every declaration (~11 s at pilot scale) on a visit. Refreshed by beat."""

    scope = models.CharField(_("scope"), max_length=20, choices=FunnelScope.choices, unique=True)
    as_of = models.DateField(_("as of"))
    totals = models.JSONField(_("totals"))
    months = models.JSONField(_("months"))
    organisations = models.JSONField(_("organisations"))
    refreshed_at = models.DateTimeField(_("refreshed at"))
    took_ms = models.PositiveIntegerField(_("computed in (ms)"))

    class Meta:
        verbose_name = _("funnel snapshot")
        verbose_name_plural = _("funnel snapshots")

    def __str__(self) -> str:
        return f"{self.get_scope_display()} {self.as_of}"
