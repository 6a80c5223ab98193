"""The whole register's funnel: computed by beat into licensing.FunnelSnapshot, read by the
reviewers' overview in one indexed read of one row."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from licensing.models import FunnelScope, FunnelSnapshot
from licensing.services.funnel import funnel_snapshot_store
from matching.funnel import Funnel, funnel, organisations_with_declarations


@dataclass
class StoredFunnel(Funnel):
    """A funnel read back from its snapshot: the totals as stored (no rows to sum)."""

    stored_totals: dict[str, Any] = field(default_factory=dict)
    refreshed_at: datetime | None = None
    organisations: list[dict[str, Any]] = field(default_factory=list)

    def totals(self) -> dict[str, Any]:
        return self.stored_totals


def _stored(snapshot: FunnelSnapshot) -> StoredFunnel:
    return StoredFunnel(
        as_of=snapshot.as_of,
        rows=[],
        months=snapshot.months,
        stored_totals=snapshot.totals,
        refreshed_at=snapshot.refreshed_at,
        organisations=snapshot.organisations,
    )


def register_funnel_refresh() -> FunnelSnapshot:
    """Compute the whole register's funnel (every declaration) and store it."""
    began = time.perf_counter()
    result = funnel(None, timezone.localdate())
    organisations = organisations_with_declarations()
    return funnel_snapshot_store(
        scope=FunnelScope.REGISTER,
        as_of=result.as_of,
        totals=result.totals(),
        months=result.months,
        organisations=organisations,
        took_ms=round((time.perf_counter() - began) * 1000),
    )


def register_funnel() -> StoredFunnel:
    """The stored funnel of the whole register. Before beat has stored one (a new
    deployment) it is computed once here and stored; after that a visit never computes it."""
    snapshot = FunnelSnapshot.objects.filter(scope=FunnelScope.REGISTER).first()
    if snapshot is None:
        snapshot = register_funnel_refresh()
    return _stored(snapshot)
