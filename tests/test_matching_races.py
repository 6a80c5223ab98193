"""Concurrent writers of one SME's lists take turns (advisory locks in matching.services.locks): two
real calls at once, each in its own thread and database connection, leave exactly the lists a
recomputation from the final state gives — never the older of two states, never a declaration
twice, never one withdrawn."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from licensing.models import Declaration
from licensing.services.declarations import declaration_terminate
from marketplace.models import (
    Industry,
    Organisation,
    OrganisationKind,
    Region,
    SmeProfile,
    TechnologyNeed,
)
from matching import engine, services
from matching.engine import IndustryCache
from matching.models import Match, MatchChunk, MatchRun
from tests.conftest import World, make_world
from tests.declarations_helpers import announced, declarable_patent
from tests.factories import MembershipFactory, OrganisationFactory, SmeProfileFactory

pytestmark = pytest.mark.django_db(transaction=True)

DEFECT = {
    "title": "一种基于深度学习的工业产品表面缺陷检测方法",
    "abstract": "本发明公开了一种基于深度学习的表面缺陷检测方法，采集产品图像，"
    "用卷积神经网络识别划痕、凹坑等缺陷，提高检测准确率。",
    "main_ipc": "G06T 7/00",
    "further_ipcs": [],
}
WELD = {**DEFECT, "title": "一种焊缝图像缺陷检测方法"}
OLED = {
    "title": "一种柔性OLED显示面板及其驱动方法",
    "abstract": "本发明涉及柔性有机发光二极管显示面板，降低功耗，提高弯折寿命。",
    "main_ipc": "H10K 59/12",
    "further_ipcs": [],
}


@dataclass
class Market:
    sme: Organisation
    need: TechnologyNeed
    patentee: Organisation


@pytest.fixture
def world(transactional_db: None) -> World:
    """The shared world on reference tables and a concordance of its own: an earlier
    transactional test may have flushed the migrated ones."""
    from django.apps import apps

    from marketplace.reference import load_reference_tables

    load_reference_tables(lambda name: apps.get_model("marketplace", name))
    services.concordance_load_shipped()
    return make_world()


@pytest.fixture
def market(world: World) -> Market:
    """An SME writing inspection software (its profile and one need about defect detection)
    and a university in Beijing with a defect-detection patent and an OLED patent announced."""
    SmeProfile.objects.filter(organisation=world.sme).update(
        industry_id="I6513", description="工业视觉缺陷检测软件"
    )
    university = OrganisationFactory.create(
        name="北京视觉大学",
        kind=OrganisationKind.UNIVERSITY,
        region=Region.objects.get(code="110101"),
    )
    MembershipFactory.create(organisation=university, role="admin")
    need = TechnologyNeed.objects.create(
        organisation=world.sme,
        title="产线缺陷检测",
        description="我们想用摄像头自动发现产品表面的划痕和缺陷，替代人工目检。",
        keywords=["缺陷检测", "深度学习"],
        ipc_areas=["G06T"],
        expires_on=timezone.localdate() + timedelta(days=60),
        created_by=world.sme_admin,
    )
    market = Market(world.sme, need, university)
    _announce(world, market, 1, DEFECT)
    _announce(world, market, 2, OLED)
    return market


def _announce(world: World, market: Market, serial: int, patent: dict[str, Any]) -> Declaration:
    member = market.patentee.memberships.first()
    assert member is not None
    return announced(
        declarable_patent(market.patentee, serial, **patent), member.user, world.reviewer
    )


def _stored(sme: Organisation, run: MatchRun | None = None) -> dict[tuple[int | None, int], float]:
    """The SME's lists as stored: {(need, declaration): score}."""
    rows = Match.objects.filter(sme=sme)
    rows = rows.filter(run=run) if run is not None else rows.filter(run__is_current=True)
    found = {(m.need_id, m.declaration_id): m.score for m in rows}
    assert len(found) == rows.count()  # no declaration twice in one list
    return found


def _recomputed(sme: Organisation) -> dict[tuple[int | None, int], float]:
    """The SME's lists scored from scratch from the database as it is now."""
    supply = services.load_supply()
    demands = services.load_demand([sme.pk])
    ranked = engine.score_smes(supply, demands, IndustryCache(supply))
    return {
        (demand.need_id, int(supply.ids[scored.index])): scored.score
        for demand, lists in zip(demands, ranked, strict=True)
        for scored in lists
    }


def _assert_same_lists(
    stored: dict[tuple[int | None, int], float], expected: dict[tuple[int | None, int], float]
) -> None:
    assert set(stored) == set(expected)
    for key, score in expected.items():
        assert stored[key] == pytest.approx(score, abs=1e-5)


class Held:
    """A writer in its own thread and database connection, held at its first call of
    engine.score_smes (it has read what its lists are made of and holds its locks) until
    `finish`, so the test can change the data while the writer is mid-way."""

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        name: str,
        call: Callable[[], object],
        errors: list[BaseException],
    ) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        original = engine.score_smes

        def score_smes(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread().name == name and not self.reached.is_set():
                self.reached.set()
                assert self.release.wait(20)
            return original(*args, **kwargs)

        monkeypatch.setattr(engine, "score_smes", score_smes)
        self.thread = _thread(name, call, errors)
        assert self.reached.wait(20)

    def finish(self, *others: threading.Thread) -> None:
        """Let the writer go on; it and `others` (waiting on its locks) end within 30 s."""
        self.release.set()
        for thread in (self.thread, *others):
            thread.join(30)
            assert not thread.is_alive()


def _thread(name: str, call: Callable[[], object], errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            call()
        except BaseException as error:  # reported by the test
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


@pytest.fixture
def errors() -> Iterator[list[BaseException]]:
    found: list[BaseException] = []
    yield found
    assert found == []


@pytest.fixture
def hold(
    monkeypatch: pytest.MonkeyPatch, errors: list[BaseException]
) -> Callable[[str, Callable[[], object]], Held]:
    """Start a writer (`call`) in a thread named `name` and hold it before it scores."""
    return lambda name, call: Held(monkeypatch, name, call, errors)


@pytest.fixture
def listed(market: Market) -> Market:
    """The market with the SME's lists written once already."""
    services.lists_refresh([market.sme.pk])
    return market


def _rewrite_need_for_oled(market: Market) -> None:
    """The SME rewrites its need for OLED panels (a save: updated_at moves)."""
    TechnologyNeed.objects.filter(pk=market.need.pk).update(
        title="柔性OLED显示面板",
        description="我们做柔性有机发光二极管显示面板，想降低功耗、提高弯折寿命。",
        keywords=["OLED", "显示面板"],
        ipc_areas=["H10K"],
        updated_at=timezone.now(),
    )


def _nightly_chunk_of(market: Market) -> tuple[MatchRun, MatchChunk]:
    """A full re-match started, and its chunk holding the SME."""
    run = services.run_start(enqueue=False)
    return run, MatchChunk.objects.get(run=run, sme_ids__contains=[market.sme.pk])


def _finish_run(run: MatchRun) -> None:
    """The run's other chunks written: it is the visible one."""
    for other in MatchChunk.objects.filter(run=run, status="pending"):
        services.chunk_run(other.pk)
    run.refresh_from_db()
    assert run.is_current


def _waits(thread: threading.Thread) -> bool:
    """The thread's connection comes to wait on an advisory lock (within 10 s)."""
    deadline = time.monotonic() + 10
    with connection.cursor() as cursor:
        while thread.is_alive() and time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.05)
    return False


def test_two_refreshes_of_one_sme_at_once_leave_the_lists_of_the_later_state(
    listed: Market, hold: Callable[[str, Callable[[], object]], Held], errors: list[BaseException]
) -> None:
    # The first refresh has read the need as it was and is about to write its lists...
    first = hold("first", lambda: services.lists_refresh([listed.sme.pk]))
    # ...when the SME rewrites its need for OLED panels and the trigger's refresh starts.
    _rewrite_need_for_oled(listed)
    second = _thread("second", lambda: services.lists_refresh([listed.sme.pk]), errors)
    assert _waits(second)  # for the first refresh's lock on the SME
    first.finish(second)
    expected = _recomputed(listed.sme)
    _assert_same_lists(_stored(listed.sme), expected)
    oled = Declaration.objects.get(patent__title=OLED["title"])
    need_list = sorted(
        ((score, declaration) for (need, declaration), score in expected.items() if need),
        reverse=True,
    )
    assert need_list[0][1] == oled.pk  # the need as rewritten, not as the first refresh read it


def test_a_refresh_and_an_announcement_at_once_leave_the_new_declaration_in_the_lists(
    world: World,
    listed: Market,
    hold: Callable[[str, Callable[[], object]], Held],
    errors: list[BaseException],
) -> None:
    # A refresh has read the supply (without the weld patent) and is about to write...
    refresh = hold("refresh", lambda: services.lists_refresh([listed.sme.pk]))
    # ...when an exact fit is announced and its task matches it against every list.
    weld = _announce(world, listed, 3, WELD)
    matched = _thread("declaration", lambda: services.declaration_matched(weld.pk), errors)
    assert _waits(matched)  # for the refresh, which holds the supply lock shared
    refresh.finish(matched)
    stored = _stored(listed.sme)
    assert (listed.need.pk, weld.pk) in stored
    _assert_same_lists(stored, _recomputed(listed.sme))


def test_a_refresh_and_a_withdrawal_at_once_leave_the_withdrawn_declaration_out(
    world: World,
    listed: Market,
    hold: Callable[[str, Callable[[], object]], Held],
    errors: list[BaseException],
) -> None:
    defect = Declaration.objects.get(patent__title=DEFECT["title"])
    assert (listed.need.pk, defect.pk) in _stored(listed.sme)
    # A refresh has read the supply with the defect patent in it and is about to write...
    refresh = hold("refresh", lambda: services.lists_refresh([listed.sme.pk]))
    # ...when its declaration ends and the task takes it out of every list.
    declaration_terminate(actor=world.reviewer, declaration_id=defect.pk, reason="测试：权利终止")
    retired = _thread("retire", lambda: services.declaration_retired(defect.pk), errors)
    assert _waits(retired)  # for the refresh, which holds the supply lock shared
    refresh.finish(retired)
    stored = _stored(listed.sme)
    assert all(declaration != defect.pk for _need, declaration in stored)
    _assert_same_lists(stored, _recomputed(listed.sme))


def test_a_need_edited_while_the_nightly_chunk_is_scored_reaches_the_new_run(
    listed: Market, hold: Callable[[str, Callable[[], object]], Held]
) -> None:
    run, chunk = _nightly_chunk_of(listed)
    # The nightly chunk has read the SME's need as it was and is about to write it...
    nightly = hold("chunk", lambda: services.chunk_run(chunk.pk))
    # ...when the need is rewritten and its trigger refreshes the lists (the chunk is not
    # written yet, so the refresh writes the current run only).
    _rewrite_need_for_oled(listed)
    services.lists_refresh([listed.sme.pk])
    nightly.finish()
    _finish_run(run)
    _assert_same_lists(_stored(listed.sme, run), _recomputed(listed.sme))


def test_a_declaration_announced_while_the_nightly_chunk_is_scored_reaches_the_new_run(
    world: World, listed: Market, hold: Callable[[str, Callable[[], object]], Held]
) -> None:
    run, chunk = _nightly_chunk_of(listed)
    # The nightly chunk has scored the supply without the weld patent and is about to write...
    nightly = hold("chunk", lambda: services.chunk_run(chunk.pk))
    # ...when the weld patent is announced and its task finds the chunk not written yet.
    weld = _announce(world, listed, 3, WELD)
    services.declaration_matched(weld.pk)
    nightly.finish()
    _finish_run(run)
    stored = _stored(listed.sme, run)
    assert (listed.need.pk, weld.pk) in stored
    _assert_same_lists(stored, _recomputed(listed.sme))


def test_a_declaration_announced_between_two_nightly_chunks_reaches_both(
    world: World, market: Market
) -> None:
    other = SmeProfileFactory.create(
        organisation__name="杭州视觉检测软件有限公司",
        industry=Industry.objects.get(code="I6513"),
        description="工业视觉缺陷检测软件",
    ).organisation
    run = services.run_start(chunk_size=1, enqueue=False)
    first, second = MatchChunk.objects.filter(run=run).order_by("number")
    assert services.chunk_run(first.pk) == "done"
    weld = _announce(world, market, 3, WELD)
    services.declaration_matched(weld.pk)  # into the written chunk too
    assert services.chunk_run(second.pk) == "done"  # its supply patched with the weld patent
    run.refresh_from_db()
    assert run.is_current
    for sme in (market.sme, other):
        stored = _stored(sme, run)
        assert any(declaration == weld.pk for _need, declaration in stored)
        _assert_same_lists(stored, _recomputed(sme))
