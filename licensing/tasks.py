"""Celery tasks of the licensing app: notifications after commit, daily expiry."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.db.models import CharField

from licensing import notifications
from licensing.models import DeclarationEvent, LicenseEvent, MediationEvent

# The refresh the notifications schedule (licensing/notifications.py), named here too for the
# tests and the beat that read it.
STATISTICS_REFRESH_PENDING = notifications.STATISTICS_REFRESH_PENDING

logger = logging.getLogger(__name__)

DeclarationVerb = DeclarationEvent.Verb
LicenseVerb = LicenseEvent.Verb
MediationVerb = MediationEvent.Verb


@shared_task
def notify_declaration_event(event_id: int) -> int:
    """Tell the parties about one timeline step; safe to run twice (one row per source)."""
    return notifications.declaration_event_notify(event_id)


@shared_task
def expire_declarations() -> int:
    """End declarations whose patent has expired (Celery beat, daily)."""
    from licensing.services.declarations import declarations_expire

    return declarations_expire()


@shared_task
def notify_license_event(event_id: int) -> int:
    """A new license on my patent, filing, royalties, a contested payment: tell the parties."""
    return notifications.license_event_notify(event_id)


@shared_task
def end_licenses() -> int:
    """End the licenses whose term is over (Celery beat, daily)."""
    from licensing.services.licenses import licenses_end

    return licenses_end()


@shared_task
def send_license_reminders() -> dict[str, int]:
    """Filing deadlines, royalty reports and overdue payments (Celery beat, daily)."""
    from django.utils import timezone

    from licensing.services.reminders import (
        remind_filings,
        remind_overdue_payments,
        remind_royalty_reports,
    )

    today = timezone.localdate()
    return {
        "filings": remind_filings(today),
        "reports": remind_royalty_reports(today),
        "overdue": remind_overdue_payments(today),
    }


@shared_task
def notify_mediation_event(event_id: int) -> int:
    """Tell the parties, the mediator or the supervisors about a step in a case; for a case
    not accepted, record that the applicant has been told (rules §7). Safe to run twice."""
    from licensing.services.mediation import mediation_event_announce

    return mediation_event_announce(event_id=event_id)


@shared_task
def sweep_mediation_cases() -> dict[str, int]:
    """Move cases whose deadline passed (Celery beat, daily)."""
    from licensing.services.mediation import mediation_sweep

    return mediation_sweep()


# An event's notification goes out from a task published after commit; when the broker could
# not be reached then (publish_after_commit logs it), this sweep sends it. Events of the last
# day only, and not the last few minutes' (their tasks may still be in the queue).
MISSED_EVENTS_WINDOW = timedelta(days=1)
MISSED_EVENTS_GRACE = timedelta(minutes=5)


@shared_task
def notify_missed_events() -> dict[str, int]:
    """Notify the parties of events no notification names as its source (Celery beat, every
    10 minutes). notify() tells nobody twice, so a late task and this sweep cannot both."""
    from django.db.models import Exists, OuterRef, Q, Value
    from django.db.models.functions import Cast, Concat
    from django.utils import timezone

    from marketplace.models import Notification

    now = timezone.now()
    # A paid acceptance tells the patentee once, by its "took_effect" event: the license's
    # "notice_sent" is not notified on its own then (nor when the payment came later).
    superseded_notice = Q(
        Exists(LicenseEvent.objects.filter(license=OuterRef("license"), verb="took_effect")),
        verb="notice_sent",
    )
    kinds: tuple[tuple[Any, Any, list[str], str, Q], ...] = (
        (
            DeclarationEvent,
            notify_declaration_event,
            DeclarationVerb.notified(),
            "declaration_event",
            Q(),
        ),
        (
            LicenseEvent,
            notify_license_event,
            LicenseVerb.notified(),
            "license_event",
            superseded_notice,
        ),
        (MediationEvent, notify_mediation_event, MediationVerb.notified(), "mediation_event", Q()),
    )
    sent: dict[str, int] = {}
    for model, task, audience, prefix, skip in kinds:
        told = Notification.objects.filter(
            source=Concat(Value(f"{prefix}:"), Cast(OuterRef("pk"), CharField()))
        )
        missed = (
            model.objects.filter(
                created_at__gte=now - MISSED_EVENTS_WINDOW,
                created_at__lt=now - MISSED_EVENTS_GRACE,
                verb__in=audience,
            )
            .exclude(Exists(told))
            .exclude(skip)
            .order_by("id")
            .values_list("pk", flat=True)
        )
        sent[prefix] = sum(task(pk) for pk in missed)
    return sent


@shared_task
def refresh_open_statistics() -> int:
    """Recompute the open statistics' cells (Celery beat, hourly, and after events)."""
    from licensing.open_statistics import statistics_refresh

    return statistics_refresh()
