"""Reference statistics for royalty estimation: versioned, importable, each with its source."""

from __future__ import annotations

from django.db import models


class RoyaltyStatistic(models.Model):
    """A statistic on royalties (by industry or for all industries) from a named source."""

    class Basis(models.TextChoices):
        LUMP_SUM = "lump_sum", "lump sum (CNY)"
        NET_SALES = "net_sales", "rate on net sales (%)"
        PROFIT = "profit", "rate on profit (%)"

    version = models.CharField(max_length=20)
    # GB/T 4754 code (section, division, group or class); empty means all industries.
    industry_code = models.CharField(max_length=5, blank=True)
    basis = models.CharField(max_length=10, choices=Basis.choices)
    statistic = models.CharField(max_length=60)  # e.g. "mean of filed contracts"
    low = models.DecimalField(max_digits=16, decimal_places=4, null=True, blank=True)
    typical = models.DecimalField(max_digits=16, decimal_places=4)
    high = models.DecimalField(max_digits=16, decimal_places=4, null=True, blank=True)
    unit = models.CharField(max_length=10)
    sample_size = models.PositiveIntegerField(null=True, blank=True)
    source = models.TextField()
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version", "industry_code", "basis"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "industry_code", "basis"], name="royalty_statistic_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version} {self.industry_code or 'all'} {self.basis}: {self.typical}"
