"""Precomputed open statistics: one row per published cell, already suppressed (issue 18)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class StatisticsDimension(models.TextChoices):
    TOTAL = "total", _("total")
    MONTH = "month", _("month")
    PROVINCE = "province", _("province")
    IPC_SECTION = "ipc_section", _("IPC section")
    IPC_CLASS = "ipc_class", _("IPC class")
    PATENTEE_KIND = "patentee_kind", _("patentee kind")
    PAYMENT_METHOD = "payment_method", _("payment mode")


class StatisticsCell(models.Model):
    """One published cell. Suppressed figures are stored as NULL, so no read path can leak them:
    the table holds only what may be shown."""

    dimension = models.CharField(_("dimension"), max_length=20, choices=StatisticsDimension.choices)
    key = models.CharField(_("key"), max_length=40)
    label_zh = models.CharField(_("label (Chinese)"), max_length=200, blank=True)
    label_en = models.CharField(_("label (English)"), max_length=200, blank=True)
    declarations_announced = models.PositiveIntegerField(_("declarations announced"))
    declarations_withdrawn = models.PositiveIntegerField(_("declarations withdrawn"))
    declarations_in_force = models.PositiveIntegerField(_("declarations in force"))
    licenses_granted = models.PositiveIntegerField(_("licenses granted"), null=True)
    licenses_filed = models.PositiveIntegerField(_("licenses filed"), null=True)
    royalty_reports = models.PositiveIntegerField(_("royalty reports filed"), null=True)
    royalties_reported_cny = models.DecimalField(
        _("royalties reported (CNY)"), max_digits=18, decimal_places=2, null=True
    )
    median_royalty_rate_percent = models.DecimalField(
        _("median royalty rate (%)"), max_digits=9, decimal_places=4, null=True
    )
    median_upfront_cny = models.DecimalField(
        _("median upfront payment (CNY)"), max_digits=16, decimal_places=2, null=True
    )
    is_suppressed = models.BooleanField(_("suppressed (too few)"), default=False)
    refreshed_at = models.DateTimeField(_("refreshed at"))

    class Meta:
        verbose_name = _("open statistics cell")
        verbose_name_plural = _("open statistics")
        ordering = ["dimension", "key"]
        constraints = [
            models.UniqueConstraint(fields=["dimension", "key"], name="statistics_cell_once"),
        ]

    def __str__(self) -> str:
        label = self.label_en if get_language() == "en" else self.label_zh
        return f"{self.get_dimension_display()}: {label or self.key}"
