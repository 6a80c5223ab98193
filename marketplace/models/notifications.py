"""In-app notifications; each may also go out by e-mail."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from marketplace.querysets import NotificationQuerySet


class Notification(models.Model):
    """One message to one user. `source` names what caused it, so a retry never duplicates."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("user"),
    )
    kind = models.CharField(_("kind"), max_length=40)
    source = models.CharField(_("source"), max_length=80)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"))
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    objects: ClassVar[NotificationQuerySet] = NotificationQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "source"], name="notification_once_per_source")
        ]
        indexes = [
            # The unread badge reads these.
            models.Index(
                fields=["user", "-created_at"],
                condition=models.Q(read_at__isnull=True),
                name="notification_unread",
            ),
            # The sweep of events whose notification was lost looks sources up.
            models.Index(fields=["source"], name="notification_source"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.user_id}"
