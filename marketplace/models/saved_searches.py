"""Saved searches: a user's query and filters, the alerts new announcements raise, the digests."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class SavedSearchQuerySet(models.QuerySet["SavedSearch"]):
    def visible_to(self, user: Any) -> SavedSearchQuerySet:
        """The user's own saved searches (anyone else's is a 404, never a 403)."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(owner=user)


class SavedSearch(models.Model):
    """A search a user keeps: its words and filters (as the search endpoint takes them); while
    not paused, a newly announced declaration that it finds raises an alert."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="saved_searches",
        verbose_name=_("user"),
    )
    name = models.CharField(_("name"), max_length=100)
    # {"q": ..., "ipc": [...], ...}: the validated search parameters (decimals as strings).
    query = models.JSONField(_("search words and filters"), default=dict)
    is_paused = models.BooleanField(_("alerts paused"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = SavedSearchQuerySet.as_manager()

    class Meta:
        verbose_name = _("saved search")
        verbose_name_plural = _("saved searches")
        ordering = ["-created_at", "-id"]
        indexes = [
            # Matching a new announcement reads the active saved searches.
            models.Index(fields=["id"], condition=Q(is_paused=False), name="saved_search_active"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.owner_id})"


class SavedSearchDigest(models.Model):
    """The one e-mail digest a user gets on one day; the unique pair claims the day."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="saved_search_digests",
        verbose_name=_("user"),
    )
    day = models.DateField(_("day"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("saved search digest")
        verbose_name_plural = _("saved search digests")
        constraints = [
            models.UniqueConstraint(fields=["user", "day"], name="saved_search_digest_once_a_day")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day}"


class SavedSearchAlert(models.Model):
    """A newly announced declaration that a saved search finds: one per search and declaration.

    `declaration_id` is no foreign key: marketplace does not depend on licensing (the number is
    kept for the messages)."""

    saved_search = models.ForeignKey(
        SavedSearch,
        on_delete=models.CASCADE,
        related_name="alerts",
        verbose_name=_("saved search"),
    )
    patent = models.ForeignKey(
        "marketplace.Patent",
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("patent"),
    )
    declaration_id = models.BigIntegerField(_("declaration ID"))
    declaration_number = models.CharField(_("declaration number"), max_length=20, blank=True)
    digest = models.ForeignKey(
        SavedSearchDigest,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="alerts",
        verbose_name=_("digest"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("saved search alert")
        verbose_name_plural = _("saved search alerts")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["saved_search", "declaration_id"], name="saved_search_alert_once"
            )
        ]
        indexes = [
            # The daily digest reads the alerts not yet mailed.
            models.Index(
                fields=["saved_search"],
                condition=Q(digest__isnull=True),
                name="saved_search_alert_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.saved_search_id} ← {self.declaration_id}"
