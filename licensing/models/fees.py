"""The annual-fee schedule: versioned reference data (amounts per patent type and year)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class AnnualFeeRate(models.Model):
    """The full annual fee for patent years year_from..year_to of a type, from valid_from."""

    version = models.CharField(_("schedule version"), max_length=20)
    valid_from = models.DateField(_("valid from"))
    patent_type = models.CharField(_("patent type"), max_length=16)
    year_from = models.PositiveSmallIntegerField(_("from year"))
    year_to = models.PositiveSmallIntegerField(_("to year"))
    amount_cny = models.DecimalField(_("amount (CNY)"), max_digits=10, decimal_places=2)
    source = models.TextField(_("source"), blank=True)

    class Meta:
        verbose_name = _("annual fee rate")
        verbose_name_plural = _("annual fee rates")
        ordering = ["patent_type", "year_from", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "patent_type", "year_from"], name="annual_fee_rate_once"
            ),
            models.CheckConstraint(
                condition=models.Q(year_to__gte=models.F("year_from")),
                name="annual_fee_years_ordered",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.version} {self.patent_type} {self.year_from}-{self.year_to}: {self.amount_cny}"
        )
