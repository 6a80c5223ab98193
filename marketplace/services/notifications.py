"""Notifications: in-app rows plus e-mail, rendered in each recipient's language."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection, transaction
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
    """Notify each user once per `source`; a repeated call (a task retried) adds nothing.

    In bulk (a new patent may reach hundreds of SMEs): one read of who already has it, one
    insert per table, and the e-mails enqueued together after commit. Two calls for one
    source take turns on an advisory lock, so a duplicated task never sends twice."""
    recipients = {user.pk: user for user in users if user.is_active}
    if not recipients:
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"notify:{source}"])
    done = set(
        Notification.objects.filter(source=source, user_id__in=list(recipients)).values_list(
            "user_id", flat=True
        )
    )
    pending = []
    for pk, user in recipients.items():
        if pk in done:
            continue
        with translation.override(user.preferred_language):
            title, body = render(user)
        pending.append(
            Notification(
                user=user, kind=kind, source=source, title=title, body=body, data=data or {}
            )
        )
    created = Notification.objects.bulk_create(pending)
    if send_email and created:
        emails.queue_many(
            [emails.Message(kind, item.user.email, item.title, item.body) for item in created]
        )
    return created


def notification_mark_read(*, user: User, notification_id: int) -> Notification:
    """Mark one of the user's notifications read (reading twice keeps the first time)."""
    notification = Notification.objects.visible_to(user).filter(pk=notification_id).first()
    if notification is None:
        raise NotFound()
    if notification.read_at is None:
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=timezone.now()
        )
        notification.refresh_from_db()
    return notification
