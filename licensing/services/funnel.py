"""Storing a precomputed licensing funnel (issue 18)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from licensing.models import FunnelSnapshot


@transaction.atomic
def funnel_snapshot_store(
    *,
    scope: str,
    as_of: date,
    totals: dict[str, Any],
    months: list[dict[str, Any]],
    organisations: list[dict[str, Any]],
    took_ms: int,
) -> FunnelSnapshot:
    """Replace the scope's snapshot (an upsert on the unique scope: two refreshes racing
    leave the later one). Computed by the system, so no actor and no event row."""
    snapshot, _created = FunnelSnapshot.objects.update_or_create(
        scope=scope,
        defaults={
            "as_of": as_of,
            "totals": totals,
            "months": months,
            "organisations": organisations,
            "refreshed_at": timezone.now(),
            "took_ms": took_ms,
        },
    )
    return snapshot
