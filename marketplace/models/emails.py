"""Outgoing e-mail, written in the same transaction as the action and sent by Celery."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from marketplace.models.notifications import email_kind_choices, message_kind_label
from marketplace.workflow import Workflow


class OutboundEmailStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    SENDING = "sending", _("sending")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")


class OutboundEmail(models.Model):
    """One e-mail to one address; the Celery task claims it by status so it goes out once."""

    kind = models.CharField(_("kind"), max_length=40, choices=email_kind_choices)
    to_email = models.EmailField(_("to"))
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("body"))
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=OutboundEmailStatus.choices,
        default=OutboundEmailStatus.QUEUED,
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    # When a worker last claimed it: a claim older than EMAIL_STALE_MINUTES was lost.
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbound e-mail")
        verbose_name_plural = _("outbound e-mails")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The sweep that re-sends mail a dead worker left behind reads these.
            models.Index(
                fields=["created_at"],
                condition=models.Q(status__in=["queued", "sending"]),
                name="outbound_email_unsent",
            ),
        ]

    def __str__(self) -> str:
        return f"{message_kind_label(self.kind)} → {self.to_email} ({self.get_status_display()})"


# An e-mail's table of moves (marketplace.workflow): a send task claims it (queued → sending,
# the compare-and-swap that keeps a second delivery from sending it twice), then it is sent,
# goes back to the queue after a transient error (or when the stale sweep finds its worker
# lost), or fails for good after the last retry.
OUTBOUND_EMAIL = Workflow(
    model=OutboundEmail,
    statuses=OutboundEmailStatus,
    moves={
        (OutboundEmailStatus.QUEUED, OutboundEmailStatus.SENDING): "claimed",
        (OutboundEmailStatus.SENDING, OutboundEmailStatus.SENT): "sent",
        # Sent by a worker the stale sweep had given up on (tasks._mark_sent).
        (OutboundEmailStatus.QUEUED, OutboundEmailStatus.SENT): "sent",
        (OutboundEmailStatus.SENDING, OutboundEmailStatus.QUEUED): "requeued",
        (OutboundEmailStatus.SENDING, OutboundEmailStatus.FAILED): "failed",
    },
    not_allowed=(
        "email_transition_not_allowed",
        _("An e-mail that is %(current)s cannot become %(new)s."),
    ),
    changed=("email_changed", _("The e-mail changed meanwhile.")),
    stamp=None,
)
