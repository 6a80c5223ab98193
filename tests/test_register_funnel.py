"""The reviewers' funnel of the whole register (issue 18): precomputed by beat into one
snapshot row, which the admin overview reads instead of computing every declaration's funnel."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from licensing.models import FunnelScope, FunnelSnapshot
from matching.funnel import funnel, organisations_with_declarations
from reporting.register_funnel import register_funnel_refresh
from reporting.tasks import refresh_register_funnel
from tests.conftest import World
from tests.declarations_helpers import announced, declarable_patent
from tests.test_funnel import _scene, _session_client

pytestmark = pytest.mark.django_db


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def test_the_snapshot_holds_exactly_the_live_funnel_of_the_register(world: World) -> None:
    # Given the funnel scene (two patentees, licenses, matches, counted views)
    _scene(world)
    live = funnel(None, timezone.localdate())

    # When beat's task refreshes the register's funnel
    took_ms = refresh_register_funnel()

    # Then the one snapshot row holds the live funnel's totals, months and patentees
    snapshot = FunnelSnapshot.objects.get()
    assert snapshot.scope == FunnelScope.REGISTER
    assert snapshot.as_of == timezone.localdate()
    assert snapshot.totals == _as_json(live.totals())
    assert snapshot.months == _as_json(live.months)
    assert snapshot.organisations == _as_json(organisations_with_declarations())
    assert snapshot.totals["declarations"] == 3
    assert snapshot.totals["smes_reached"] == 3
    assert snapshot.took_ms == took_ms >= 0
    # A second refresh replaces the row rather than adding one
    register_funnel_refresh()
    assert FunnelSnapshot.objects.count() == 1


def test_the_overview_reads_the_snapshot_and_shows_changes_after_the_next_refresh(
    world: World,
) -> None:
    # Given a refreshed snapshot
    _scene(world)
    register_funnel_refresh()
    client = _session_client(world.reviewer)
    client.get("/admin/funnel/")  # the session and the admin's own reads, once

    # When a reviewer opens the overview
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/admin/funnel/")

    # Then the page shows the stored figures and reads no funnel table
    assert page.status_code == 200
    assert "As of" in page.content.decode() and 'id="funnel-chart"' in page.content.decode()
    read = " ".join(query["sql"] for query in queries.captured_queries)
    assert "licensing_funnelsnapshot" in read
    for table in ("licensing_license", "matching_match", "marketplace_patentdailycount"):
        assert table not in read
    assert "declarations 3," in page.content.decode()

    # And a declaration announced since shows after the next refresh, not before
    patent = declarable_patent(world.university, 9)
    declaration = announced(patent, world.university_member, world.reviewer)
    assert "declarations 3," in client.get("/admin/funnel/").content.decode()
    register_funnel_refresh()
    assert "declarations 4," in client.get("/admin/funnel/").content.decode()
    assert declaration.pk


def test_before_any_refresh_the_first_visit_computes_and_stores_the_snapshot(
    world: World,
) -> None:
    _scene(world)
    assert not FunnelSnapshot.objects.exists()

    page = _session_client(world.reviewer).get("/admin/funnel/")

    assert page.status_code == 200
    assert "declarations 3," in page.content.decode()
    assert FunnelSnapshot.objects.get().totals["declarations"] == 3


def test_a_non_reviewer_gets_no_overview_and_nothing_is_computed(world: World) -> None:
    _scene(world)
    for user in (world.university_admin, world.sme_admin, world.mediator):
        response = _session_client(user).get("/admin/funnel/")
        assert response.status_code in (302, 404)
    assert not FunnelSnapshot.objects.exists()


def test_beat_refreshes_the_register_funnel_every_ten_minutes() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["refresh-register-funnel"]
    assert entry == {"task": "reporting.tasks.refresh_register_funnel", "schedule": 600.0}
