"""In-app notifications; each may also go out by e-mail."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from marketplace.querysets import NotificationQuerySet


class MessageKind(models.TextChoices):
    """The kinds of notification and e-mail the core app sends itself; licensing and matching
    add theirs with `register_message_kinds` (marketplace cannot import them)."""

    EMAIL_VERIFICATION = "email_verification", _("e-mail address verification")
    PASSWORD_RESET = "password_reset", _("password reset")
    INVITATION = "invitation", _("invitation to an organisation")
    SAVED_SEARCH_MATCH = "saved_search_match", _("saved search found a patent")
    SAVED_SEARCH_DIGEST = "saved_search_digest", _("daily digest of saved searches")


# Sent by e-mail only, never as an in-app notification.
EMAIL_ONLY_KINDS = frozenset(
    {
        MessageKind.EMAIL_VERIFICATION,
        MessageKind.PASSWORD_RESET,
        MessageKind.INVITATION,
        MessageKind.SAVED_SEARCH_DIGEST,
    }
)
_KIND_LABELS: dict[str, str | Promise] = dict(MessageKind.choices)


def register_message_kinds(labels: Mapping[str, str | Promise]) -> None:
    """Add an app's kinds with their (lazy) labels; called from its AppConfig.ready()."""
    _KIND_LABELS.update(labels)


def email_kind_choices() -> list[tuple[str, str | Promise]]:
    """Every kind of e-mail, for the admin's column and filter, in the order of their labels
    in the active language (a callable: no migration per new kind)."""
    return sorted(_KIND_LABELS.items(), key=lambda item: (str(item[1]), item[0]))


def notification_kind_choices() -> list[tuple[str, str | Promise]]:
    """Every kind of in-app notification."""
    return [(kind, label) for kind, label in email_kind_choices() if kind not in EMAIL_ONLY_KINDS]


def message_kind_label(kind: str) -> str:
    """The kind in the active language (the code itself for a kind nobody registered)."""
    return str(_KIND_LABELS.get(kind, kind))


class Notification(models.Model):
    """One message to one user. `source` names what caused it, so a retry never duplicates."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("user"),
    )
    kind = models.CharField(_("kind"), max_length=40, choices=notification_kind_choices)
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
        return f"{message_kind_label(self.kind)} → {self.user_id}"
