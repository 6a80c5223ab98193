"""Reference statistics for royalty estimation: versioned, importable, each with its source."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class RoyaltyStatistic(models.Model):
    """A statistic on royalties (by industry or for all industries) from a named source."""

    class Basis(models.TextChoices):
        LUMP_SUM = "lump_sum", _("lump sum (CNY)")
        NET_SALES = "net_sales", _("rate on net sales (%)")
        PROFIT = "profit", _("rate on profit (%)")

    version = models.CharField(_("version"), max_length=20)
    # GB/T 4754 code (section, division, group or class); empty means all industries.
    industry_code = models.CharField(_("industry code"), max_length=5, blank=True)
    basis = models.CharField(_("basis"), max_length=10, choices=Basis.choices)
    statistic = models.CharField(_("statistic"), max_length=60)  # e.g. "mean of filed contracts"
    low = models.DecimalField(_("low"), max_digits=16, decimal_places=4, null=True, blank=True)
    typical = models.DecimalField(_("typical"), max_digits=16, decimal_places=4)
    high = models.DecimalField(_("high"), max_digits=16, decimal_places=4, null=True, blank=True)
    unit = models.CharField(_("unit"), max_length=10)
    sample_size = models.PositiveIntegerField(_("sample size"), null=True, blank=True)
    source = models.TextField(_("source"))
    imported_at = models.DateTimeField(_("imported at"), auto_now_add=True)

    class Meta:
        verbose_name = _("royalty statistic")
        verbose_name_plural = _("royalty statistics")
        ordering = ["-version", "industry_code", "basis"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "industry_code", "basis"], name="royalty_statistic_once"
            ),
        ]

    def __str__(self) -> str:
        industry = self.industry_code or _("all industries")
        return f"{self.version} {industry} {self.get_basis_display()}: {self.typical}"
