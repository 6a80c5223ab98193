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


def _waiting_on_a_lock(cursor: object) -> list[int]:
    """Backends of this database waiting on a lock (the activity snapshot dropped first)."""
    cursor.execute("SELECT pg_stat_clear_snapshot()")  # type: ignore[attr-defined]
    cursor.execute(  # type: ignore[attr-defined]
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    return [row[0] for row in cursor.fetchall()]  # type: ignore[attr-defined]


def _kill_worker_blocked_by(lock_sql: str, smtp_sink: SmtpSink, log: object) -> MatchRun:
    """Start a run on a worker, hold `lock_sql` until the worker waits on it, kill -9 it."""
    from pathlib import Path

    from django.db import connections

    holder = connections.create_connection("default")
    worker = start_worker(Path(str(log)), smtp_sink.port, queues="match")
    try:
        with holder.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(lock_sql)
            run = run_start(chunk_size=2)
            _wait(lambda: _waiting_on_a_lock(cursor), 60)
            os.kill(worker.process.pid, signal.SIGKILL)
            worker.process.wait(timeout=10)
            cursor.execute("ROLLBACK")
    finally:
        holder.close()
        if worker.process.poll() is None:
            worker.process.kill()
    return run


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_between_the_last_chunk_and_the_finish_is_finished_by_the_sweep(
    smtp_sink: SmtpSink, tmp_path: object
) -> None:
    from pathlib import Path

    from matching.services import runs_resume_stale

    _market(smes=4)
    celery_app.control.purge()
    first = run_start(chunk_size=4, enqueue=False)
    for chunk in MatchChunk.objects.filter(run=first):
        chunk_run(chunk.pk)
    assert MatchRun.objects.get(pk=first.pk).is_current
    # The finish swaps the current run: holding the old current row stops it right there.
    run = _kill_worker_blocked_by(
        f"SELECT 1 FROM matching_matchrun WHERE id = {first.pk} FOR UPDATE",
        smtp_sink,
        Path(str(tmp_path)) / "first.log",
    )
    run.refresh_from_db()
    assert (run.status, _done(run)) == ("running", 2)  # every chunk committed, never finished
    assert runs_resume_stale() == 0  # the next minute's sweep: nothing to send, one to finish
    run.refresh_from_db()
    assert (run.status, run.is_current) == ("complete", True)
    assert not Match.objects.filter(run=first).exists()  # the old run's rows are gone
    assert Match.objects.filter(run=run).count() == 4 * 3
    celery_app.control.purge()


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_chunk_is_resent_by_the_sweep_within_minutes(
    smtp_sink: SmtpSink, tmp_path: object
) -> None:
    from pathlib import Path

    from matching.services import runs_resume_stale

    _market(smes=4)
    celery_app.control.purge()
    # The chunk's floor rows are written last in its transaction: the lock stops it there.
    run = _kill_worker_blocked_by(
        "LOCK TABLE matching_listfloor IN SHARE MODE", smtp_sink, Path(str(tmp_path)) / "first.log"
    )
    [killed] = MatchChunk.objects.filter(run=run, status="pending", attempts=1)
    assert killed.started_at is not None
    second = start_worker(Path(str(tmp_path)) / "second.log", smtp_sink.port, queues="match")
    try:
        # The sweep sends again a chunk begun longer ago than MATCHING_CHUNK_STALE_SECONDS
        # (180 s in production, 0 here), not 30 minutes later.
        assert runs_resume_stale(chunk_stale_seconds=0) == 1
        _wait(lambda: MatchRun.objects.get(pk=run.pk).status == "complete", 60)
    finally:
        stop_worker(second)
        celery_app.control.purge()
    run.refresh_from_db()
    assert (run.is_current, run.done_chunks, run.total_chunks) == (True, 2, 2)
    pairs = list(Match.objects.filter(run=run).values_list("sme_id", "declaration_id"))
    assert len(pairs) == len(set(pairs)) == 4 * 3


def _done(run: MatchRun) -> int:
    return MatchChunk.objects.filter(run=run, status="done").count()
