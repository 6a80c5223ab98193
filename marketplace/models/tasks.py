"""Task messages the broker could not take after commit, kept until it can (an outbox)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class UnsentTask(models.Model):
    """One call to publish again: a Celery task's name, or a publishing function's
    `module:name`, with its JSON arguments; deleted once the broker took it."""

    target = models.CharField(_("task"), max_length=200)
    args = models.JSONField(_("arguments"), default=list)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        # publish_unsent_tasks sends the oldest first.
        verbose_name = _("unsent task")
        verbose_name_plural = _("unsent tasks")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.target}{tuple(self.args)!r}"
