"""A full re-match survives a worker killed mid-run: restarted, it finishes with no duplicate
and no missing match (real Celery workers on the real broker)."""

from __future__ import annotations

import os
import signal
import time
from decimal import Decimal

import pytest
from django.apps import apps

from marketplace import roles
from marketplace.celery import app as celery_app
from marketplace.reference import load_reference_tables
from marketplace.services.platform import platform_role_grant
from matching.models import IpcIndustry, Match, MatchChunk, MatchRun
from matching.services import chunk_run, run_resume, run_start
from tests.declarations_helpers import announced, declarable_patent
from tests.factories import MembershipFactory, OrganisationFactory, SmeProfileFactory, UserFactory
from tests.live import SmtpSink, start_worker, stop_worker


def _market(smes: int) -> None:
    load_reference_tables(lambda name: apps.get_model("marketplace", name))
    IpcIndustry.objects.update_or_create(
        ipc_prefix="H01M",
        industry_code="C3841",
        defaults={"weight": Decimal("1"), "source": "test"},
    )
    university = OrganisationFactory.create(name="杀进程大学")
    patentee = MembershipFactory.create(organisation=university, role="admin").user
    reviewer = UserFactory.create()
    platform_role_grant(user=reviewer, role=roles.REVIEWER, actor=None)
    for serial in range(1, 4):
        announced(declarable_patent(university, serial), patentee, reviewer)
    for index in range(smes):
        SmeProfileFactory.create(organisation__name=f"企业{index}")


def _wait(predicate: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_run_and_restarted_finishes_the_run_exactly(
    smtp_sink: SmtpSink, tmp_path: object
) -> None:
    from pathlib import Path

    _market(smes=40)
    celery_app.control.purge()
    first = start_worker(Path(str(tmp_path)) / "first.log", smtp_sink.port, queues="match")
    try:
        run = run_start(chunk_size=1)  # 40 chunks on the match queue
        _wait(lambda: MatchChunk.objects.filter(run=run, status="done").exists(), 60)
        os.kill(first.process.pid, signal.SIGKILL)  # mid-run, no chance to clean up
        first.process.wait(timeout=10)
    finally:
        if first.process.poll() is None:
            first.process.kill()
    done_at_kill = MatchChunk.objects.filter(run=run, status="done").count()
    assert 0 < done_at_kill < 40, done_at_kill
    second = start_worker(Path(str(tmp_path)) / "second.log", smtp_sink.port, queues="match")
    try:
        run_resume(run.pk)  # the killed worker's unacknowledged chunk is sent again
        _wait(lambda: MatchRun.objects.get(pk=run.pk).status == "complete", 120)
    finally:
        stop_worker(second)
        celery_app.control.purge()
    run.refresh_from_db()
    assert (run.is_current, run.done_chunks, run.total_chunks) == (True, 40, 40)
    pairs = list(Match.objects.filter(run=run).values_list("sme_id", "declaration_id"))
    assert len(pairs) == len(set(pairs))  # no duplicate
    # No missing match: the same data re-matched in one process gives the same pairs.
    check = run_start(chunk_size=40, enqueue=False)
    for chunk in MatchChunk.objects.filter(run=check):
        chunk_run(chunk.pk)
    expected = set(Match.objects.filter(run=check).values_list("sme_id", "declaration_id"))
    assert set(pairs) == expected
    assert len(expected) == 40 * 3
