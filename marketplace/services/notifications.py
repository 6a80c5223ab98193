"""Notifications: in-app rows plus e-mail, rendered in each recipient's language."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone, translation

from marketplace import emails
from marketplace.errors import NotFound
from marketplace.models import Notification, User

Render = Callable[[User], tuple[str, str]]


@transaction.atomic
def notify(
    *,
    users: Iterable[User],
    kind: str,
    source: str,
    render: Render,
    data: dict[str, Any] | None = None,
    send_email: bool = True,
) -> list[Notification]:
    """Notify each user once per `source`; a repeated call (a task retried) adds nothing."""
    created: list[Notification] = []
    for user in {user.pk: user for user in users if user.is_active}.values():
        with translation.override(user.preferred_language):
            title, body = render(user)
        notification, is_new = Notification.objects.get_or_create(
            user=user,
            source=source,
            defaults={"kind": kind, "title": title, "body": body, "data": data or {}},
        )
        if is_new:
            created.append(notification)
            if send_email:
                emails.queue(emails.Message(kind, user.email, title, body))
    return created


def notification_mark_read(*, user: User, notification_id: int) -> Notification:
    """Mark one of the user's notifications read (reading twice keeps the first time)."""
    notification = Notification.objects.filter(pk=notification_id, user=user).first()
    if notification is None:
        raise NotFound()
    if notification.read_at is None:
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=timezone.now()
        )
        notification.refresh_from_db()
    return notification
