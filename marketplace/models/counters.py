"""Anonymous interest counters: how often a patent's page was viewed and how often it was shown
in search results, per day (issue 18). Nobody who viewed is stored, only the day's sums."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class PatentDailyCount(models.Model):
    """One patent's views and search impressions on one day, flushed from Redis by beat
    (marketplace.counters): a page view costs an HINCRBY, never a database write."""

    patent = models.ForeignKey(
        "marketplace.Patent",
        on_delete=models.CASCADE,
        related_name="daily_counts",
        verbose_name=_("patent"),
    )
    day = models.DateField(_("day"))
    views = models.PositiveIntegerField(_("views"), default=0)
    search_impressions = models.PositiveIntegerField(_("search impressions"), default=0)

    class Meta:
        verbose_name = _("patent's daily count")
        verbose_name_plural = _("patents' daily counts")
        constraints = [
            # The flush upserts on it; it also serves a patent's days (the funnel's windows).
            models.UniqueConstraint(fields=["patent", "day"], name="patent_daily_count_once"),
        ]

    def __str__(self) -> str:
        return gettext("patent %(patent)s on %(day)s: %(views)d views") % {
            "patent": self.patent_id,
            "day": self.day.isoformat(),
            "views": self.views,
        }
