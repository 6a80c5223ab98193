"""Precomputed open statistics: one row per published cell, already suppressed (issue 18)."""

from __future__ import annotations

from django.db import models


class StatisticsDimension(models.TextChoices):
    TOTAL = "total", "total"
    MONTH = "month", "month"
    PROVINCE = "province", "province"
    IPC_SECTION = "ipc_section", "IPC section"
    IPC_CLASS = "ipc_class", "IPC class"
    PATENTEE_KIND = "patentee_kind", "patentee kind"
    PAYMENT_METHOD = "payment_method", "payment mode"


class StatisticsCell(models.Model):
    """One published cell. Suppressed figures are stored as NULL, so no read path can leak them:
    the table holds only what may be shown."""

    dimension = models.CharField(max_length=20, choices=StatisticsDimension.choices)
    key = models.CharField(max_length=40)
    label_zh = models.CharField(max_length=200, blank=True)
    label_en = models.CharField(max_length=200, blank=True)
    declarations_announced = models.PositiveIntegerField()
    declarations_withdrawn = models.PositiveIntegerField()
    declarations_in_force = models.PositiveIntegerField()
    licenses_granted = models.PositiveIntegerField(null=True)
    licenses_filed = models.PositiveIntegerField(null=True)
    royalty_reports = models.PositiveIntegerField(null=True)
    royalties_reported_cny = models.DecimalField(max_digits=18, decimal_places=2, null=True)
    median_royalty_rate_percent = models.DecimalField(max_digits=9, decimal_places=4, null=True)
    median_upfront_cny = models.DecimalField(max_digits=16, decimal_places=2, null=True)
    is_suppressed = models.BooleanField(default=False)
    refreshed_at = models.DateTimeField()

    class Meta:
        ordering = ["dimension", "key"]
        constraints = [
            models.UniqueConstraint(fields=["dimension", "key"], name="statistics_cell_once"),
        ]

    def __str__(self) -> str:
        return f"{self.dimension}={self.key}"
