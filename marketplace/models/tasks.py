"""Task messages the broker could not take after commit, kept until it can (an outbox)."""

from __future__ import annotations

from django.db import models


class UnsentTask(models.Model):
    """One call to publish again: a Celery task's name, or a publishing function's
    `module:name`, with its JSON arguments; deleted once the broker took it."""

    target = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # publish_unsent_tasks sends the oldest first.
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.target}{tuple(self.args)!r}"
