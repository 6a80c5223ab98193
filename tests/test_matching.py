"""Matching: explainable scores, hard filters, per-patentee cap, chunked runs with an atomic
swap, idempotent chunks, incremental matching, feedback, and who sees what."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from django.utils import timezone

import matching.services as matching_services
from licensing.models import Declaration
from licensing.services import declarations as declaration_services
from marketplace.models import Industry, Organisation, Region, TechnologyNeed
from matching.models import IpcIndustry, ListFloor, Match, MatchChunk, MatchRun
from matching.services import (
    chunk_run,
    current_run,
    declaration_matched,
    declaration_retired,
    industries_for,
    run_start,
)
from tests.conftest import ROLES, World, client_for
from tests.declarations_helpers import announced, declarable_patent
from tests.factories import MembershipFactory, SmeProfileFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def market(world: World) -> dict[str, Any]:
    IpcIndustry.objects.all().delete()  # a table of our own, whatever the shipped one says
    for prefix, code in [("H01M", "C3841"), ("H10K", "C3974"), ("D06", "C17"), ("H01", "C38")]:
        IpcIndustry.objects.create(
            ipc_prefix=prefix, industry_code=code, weight=Decimal("1.0"), source="test"
        )
    battery = announced(
        declarable_patent(world.university, 1), world.university_member, world.reviewer
    )
    display = announced(
        declarable_patent(
            world.university,
            2,
            title="一种柔性OLED显示面板及其驱动方法",
            abstract="本发明涉及柔性有机发光二极管显示面板，降低功耗，提高弯折寿命。",
            main_ipc="H10K 59/12",
            further_ipcs=[],
        ),
        world.university_member,
        world.reviewer,
    )
    textile = announced(
        declarable_patent(
            world.university,
            3,
            title="一种阻燃纺织面料的整理工艺",
            abstract="一种棉织物磷氮阻燃整理工艺，耐水洗。",
            main_ipc="D06M 11/00",
            further_ipcs=[],
        ),
        world.university_member,
        world.reviewer,
    )
    TechnologyNeed.objects.create(
        organisation=world.sme,
        title="高镍正极材料包覆技术",
        description="寻求锂离子电池正极材料包覆改性技术",
        keywords=["正极", "包覆"],
        budget_max_cny=Decimal("100000"),
        expires_on=timezone.localdate() + timedelta(days=60),
        created_by=world.sme_admin,
        region=Region.objects.get(code="320505"),
    )
    mill = SmeProfileFactory.create(
        organisation__name="绍兴纺织有限公司",
        industry=Industry.objects.get(code="C17"),
        region=Region.objects.get(code="330602"),
    ).organisation
    return {"battery": battery, "display": display, "textile": textile, "mill": mill}


def _rematch() -> MatchRun:
    run = run_start(chunk_size=1, enqueue=False)
    for chunk in MatchChunk.objects.filter(run=run):
        chunk_run(chunk.pk)
    run.refresh_from_db()
    return run


_NEWEST = object()


def _ranked(sme: Organisation, need: Any = _NEWEST) -> list[int]:
    """One list of the SME, best first: by default its newest open need's (its profile's when
    it has none); need=None is the profile's list."""
    if need is _NEWEST:
        newest = TechnologyNeed.objects.filter(organisation=sme, status="open").order_by(
            "-created_at", "-id"
        )
        need = newest.values_list("pk", flat=True).first()
    return list(
        Match.objects.filter(run__is_current=True, sme=sme, need_id=need)
        .order_by("-score", "declaration_id")
        .values_list("declaration_id", flat=True)
    )


def _zh(match: Match) -> list[str]:
    from matching.reasons import Names, render

    return render(match.reasons, "zh-hans", Names())


def _en(match: Match) -> list[str]:
    from matching.reasons import Names, render

    return render(match.reasons, "en", Names())


def test_each_sme_gets_its_own_field_first_with_reasons(
    world: World, market: dict[str, Any]
) -> None:
    run = _rematch()
    assert (run.status, run.is_current, run.done_chunks, run.total_chunks) == (
        "complete",
        True,
        2,
        2,
    )
    assert _ranked(world.sme)[0] == market["battery"].pk
    assert _ranked(world.sme, need=None)[0] == market["battery"].pk  # its profile's list
    assert _ranked(market["mill"])[0] == market["textile"].pk
    need = TechnologyNeed.objects.get(organisation=world.sme)
    top = Match.objects.get(run=run, sme=world.sme, need=need, declaration=market["battery"])
    assert {"code": "ipc_industry", "ipc": "H01M", "industry": "C3841"} in top.reasons
    assert "IPC H01M ↔ 行业 C3841 锂离子电池制造" in _zh(top)
    assert "关键词：正极、包覆" in _zh(top)
    assert "royalty within budget" in _en(top)
    assert set(top.components) == {"semantic", "industry", "keywords", "region", "affordability"}
    assert top.components["industry"] == 1.0


def test_the_longest_ipc_level_in_the_table_wins() -> None:
    table = {"H01": {"C38": 0.5}, "H01M": {"C3841": 1.0}, "H01M1": {"C3849": 0.9}}
    assert industries_for(["H01M 4/525"], table) == {"C3841": 1.0}
    assert industries_for(["H01M 1/02"], table) == {"C3849": 0.9}
    # Group 10 is not group 1: levels, not string prefixes.
    assert industries_for(["H01M 10/052"], table) == {"C3841": 1.0}
    assert industries_for(["H01F 1/00"], table) == {"C38": 0.5}


def test_the_shipped_concordance_passes_its_check_and_relates_the_spot_cases() -> None:
    import subprocess
    import sys
    from pathlib import Path

    from matching.services.concordance import concordance_table

    script = Path(__file__).resolve().parent.parent / "matching" / "reference_data" / "check.py"
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    table = concordance_table()  # loaded by migration
    assert industries_for(["H01M 10/052"], table).get("C3841") == 1.0
    assert industries_for(["A61K 31/00"], table).get("C271") == 1.0
    assert industries_for(["G06F 16/30"], table).get("I6513") == 1.0


def test_an_sme_is_never_matched_to_its_own_patents(world: World, market: dict[str, Any]) -> None:
    own = announced(declarable_patent(world.sme, 7), world.sme_admin, world.reviewer)
    _rematch()
    assert own.pk not in _ranked(world.sme)
    assert own.pk in _ranked(market["mill"])


def test_at_most_three_patents_of_one_patentee_per_list(
    world: World, market: dict[str, Any]
) -> None:
    for serial in range(10, 14):
        announced(
            declarable_patent(world.university, serial), world.university_member, world.reviewer
        )
    _rematch()
    assert len(_ranked(world.sme)) == 3  # seven declarations, all of one university


def test_a_new_run_becomes_visible_only_when_complete_and_chunks_are_idempotent(
    world: World, market: dict[str, Any]
) -> None:
    first = _rematch()
    before = list(Match.objects.filter(run=first).values_list("sme_id", "declaration_id", "score"))
    second = run_start(chunk_size=1, enqueue=False)
    chunks = list(MatchChunk.objects.filter(run=second).order_by("number"))
    chunk_run(chunks[0].pk)
    assert current_run() == first  # half done: the old lists are still what users see
    assert chunk_run(chunks[0].pk) == "skipped"  # delivered twice: nothing more
    chunk_run(chunks[1].pk)
    assert current_run() == second
    after = list(Match.objects.filter(run=second).values_list("sme_id", "declaration_id", "score"))
    assert sorted(after) == sorted(before)
    assert not Match.objects.filter(run=first).exists()


class WorkerKilled(BaseException):
    """A worker dying mid-task (not an Exception: nothing in the task may catch it)."""


def _rows(run: MatchRun) -> list[tuple[Any, ...]]:
    return list(
        Match.objects.filter(run=run)
        .order_by("sme_id", "need_id", "declaration_id")
        .values_list("sme_id", "need_id", "declaration_id", "score")
    )


def test_a_chunk_interrupted_before_commit_is_redone_without_duplicates(
    world: World, market: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _rows(_rematch())  # what an uninterrupted run writes
    assert len(expected) == 4  # two SMEs, profile and need lists: not vacuous
    run = run_start(chunk_size=10, enqueue=False)
    chunk = MatchChunk.objects.get(run=run)

    # A worker dies after writing the chunk's rows, before its transaction commits.
    def die(run_id: int) -> int:
        assert Match.objects.filter(run_id=run_id).count() == len(expected)  # rows written
        raise WorkerKilled

    with monkeypatch.context() as patch:
        patch.setattr(matching_services.runs, "_done_chunks", die)
        with pytest.raises(WorkerKilled):
            chunk_run(chunk.pk)
    chunk.refresh_from_db()
    assert (chunk.status, chunk.attempts) == ("pending", 1)
    assert _rows(run) == []  # nothing stays
    assert not ListFloor.objects.filter(run=run).exists()
    # Redelivered: done whole.
    assert chunk_run(chunk.pk) == "done"
    assert _rows(run) == expected
    # A worker dies after the commit and its ack is lost: redelivered, the chunk is rewritten
    # (delete + insert), not doubled.
    MatchChunk.objects.filter(pk=chunk.pk).update(status="pending")
    MatchRun.objects.filter(pk=run.pk).update(status="running", is_current=False)
    assert chunk_run(chunk.pk) == "done"
    assert _rows(run) == expected
    assert current_run() == run


def test_a_chunk_that_keeps_dying_fails_its_run_and_the_visible_run_stays(
    world: World, market: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk begun CHUNK_ATTEMPTS times and never written fails its run through the match
    run workflow (running → failed): the run never becomes visible, its rows go, the sweep
    sends nothing of it again, and the run visible before keeps its lists."""
    from matching.services.runs import CHUNK_ATTEMPTS, runs_resume_stale

    visible = _rematch()
    before = _rows(visible)
    assert len(before) == 4
    run = run_start(chunk_size=10, enqueue=False)
    chunk = MatchChunk.objects.get(run=run)

    def die(run_id: int) -> int:
        raise WorkerKilled

    with monkeypatch.context() as patch:
        patch.setattr(matching_services.runs, "_done_chunks", die)
        for _attempt in range(CHUNK_ATTEMPTS):
            with pytest.raises(WorkerKilled):
                chunk_run(chunk.pk)
    assert chunk_run(chunk.pk) == "failed"
    run.refresh_from_db()
    assert (run.status, run.is_current) == (MatchRun.Status.FAILED, False)
    assert run.finished_at is not None
    assert not Match.objects.filter(run=run).exists()
    assert not ListFloor.objects.filter(run=run).exists()
    assert current_run() == visible
    assert _rows(visible) == before
    assert runs_resume_stale(chunk_stale_seconds=0) == 0  # a failed run is not sent again
    assert chunk_run(chunk.pk) == "skipped"
    assert MatchChunk.objects.get(pk=chunk.pk).attempts == CHUNK_ATTEMPTS


def test_a_new_declaration_is_matched_at_once_and_an_ended_one_retired(
    world: World, market: dict[str, Any]
) -> None:
    _rematch()
    newcomer = announced(
        declarable_patent(world.university, 20, title="一种锂离子电池正极包覆方法"),
        world.university_member,
        world.reviewer,
    )
    gained = declaration_matched(newcomer.pk)
    assert world.sme.pk in gained
    assert newcomer.pk in _ranked(world.sme)
    declaration_services.declaration_request_withdrawal(
        actor=world.university_member, declaration_id=newcomer.pk, reason="调整"
    )
    declaration_services.declaration_approve_withdrawal(
        actor=world.reviewer, declaration_id=newcomer.pk
    )
    declaration_retired(newcomer.pk)
    assert newcomer.pk not in _ranked(world.sme)


def test_feedback_not_relevant_removes_and_lowers_similar_results(
    world: World, market: dict[str, Any], settings: Any
) -> None:
    settings.MATCHING_MIN_SCORE = 0.0  # the off-topic display patent is listed, to reject
    _rematch()
    client = client_for(world.sme_admin)
    response = client.post(
        "/api/v1/matches/feedback/",
        {
            "sme": world.sme.pk,
            "declaration": market["display"].pk,
            "verdict": "not_relevant",
            "reason": "wrong_field",
        },
        format="json",
    )
    assert response.status_code == 201
    _rematch()
    assert market["display"].pk not in _ranked(world.sme)


@pytest.mark.parametrize("role", ROLES)
def test_an_smes_matches_are_for_its_members_and_staff(
    world: World, market: dict[str, Any], role: str
) -> None:
    _rematch()
    # For matches the SME is "our" organisation.
    users = {
        "anonymous": None,
        "other_member": world.university_admin,
        "member": MembershipFactory.create(organisation=world.sme).user,
        "org_admin": world.sme_admin,
        "reviewer": world.reviewer,
        "mediator": world.mediator,
    }
    response = client_for(users[role]).get("/api/v1/matches/", {"sme": world.sme.pk})
    expected = {"anonymous": 401, "other_member": 404}.get(role, 200)
    assert response.status_code == expected
    if expected == 200:
        assert response.json()[0]["declaration"] == market["battery"].pk


@pytest.mark.parametrize("role", ROLES)
def test_candidates_are_for_the_patentee_and_never_show_budgets(
    world: World, market: dict[str, Any], role: str
) -> None:
    _rematch()
    response = world.client(role).get(f"/api/v1/declarations/{market['battery'].pk}/candidates/")
    expected = (
        200 if role in {"member", "org_admin", "reviewer"} else {"anonymous": 401}.get(role, 404)
    )
    assert response.status_code == expected
    if expected == 200:
        first = response.json()[0]
        assert first["sme"] == world.sme.pk
        assert "budget" not in str(first) and "预算" not in str(first)


def test_reasons_follow_accept_language(world: World, market: dict[str, Any]) -> None:
    _rematch()
    need = {"need": TechnologyNeed.objects.get(organisation=world.sme).pk}
    english = client_for(world.sme_admin, "en").get("/api/v1/matches/", need).json()[0]
    chinese = client_for(world.sme_admin, "zh-hans").get("/api/v1/matches/", need).json()[0]
    assert english["reason_codes"] == chinese["reason_codes"]  # data, whatever the language
    assert {"code": "keywords", "words": ["正极", "包覆"]} in english["reason_codes"]
    assert any(line.startswith("IPC H01M ↔ industry C3841") for line in english["reasons"])
    assert "royalty within budget" in english["reasons"]
    assert "关键词：正极、包覆" in chinese["reasons"]


def test_two_first_incremental_matches_share_one_current_run(
    world: World, market: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:

    # Another task created the current run a moment after this one looked for it.
    MatchRun.objects.create(kind="full", status="complete", is_current=True)
    monkeypatch.setattr(matching_services.runs, "current_run", lambda: None)
    run = matching_services.runs.first_run()
    monkeypatch.undo()
    assert MatchRun.objects.filter(is_current=True).get() == run
    assert world.sme.pk in declaration_matched(market["battery"].pk)


def test_a_new_declaration_reaches_an_sme_created_after_the_workers_snapshot(
    world: World, market: dict[str, Any]
) -> None:
    _rematch()
    first = announced(
        declarable_patent(world.university, 21, title="一种锂离子电池正极包覆方法"),
        world.university_member,
        world.reviewer,
    )
    assert world.sme.pk in declaration_matched(first.pk)  # the worker now holds a snapshot
    newcomer = SmeProfileFactory.create(organisation__name="苏州新电池有限公司").organisation
    second = announced(
        declarable_patent(world.university, 22, title="一种锂离子电池负极材料"),
        world.university_member,
        world.reviewer,
    )
    assert newcomer.pk in declaration_matched(second.pk)
    assert second.pk in _ranked(newcomer)


def _closer_to_the_battery_need(world: World) -> Declaration:
    """A declaration whose patent repeats the battery maker's need: it beats every other."""
    return announced(
        declarable_patent(
            world.university,
            23,
            title="高镍正极材料包覆技术",
            abstract="寻求锂离子电池正极材料包覆改性技术，正极，包覆。",
        ),
        world.university_member,
        world.reviewer,
    )


def test_a_full_list_takes_a_new_declaration_only_when_it_beats_the_lowest(
    world: World, market: dict[str, Any], settings: Any
) -> None:
    settings.MATCHING_TOP_K = 1
    _rematch()
    assert _ranked(world.sme) == [market["battery"].pk]
    # The textile patent scores below the battery patent for the battery maker: no room.
    assert world.sme.pk not in declaration_matched(market["textile"].pk)
    assert _ranked(world.sme) == [market["battery"].pk]
    # A closer patent displaces the lowest match of the full list.
    closer = _closer_to_the_battery_need(world)
    assert world.sme.pk in declaration_matched(closer.pk)
    assert _ranked(world.sme) == [closer.pk]


def _withdrawn_and_retired(world: World, declaration_id: int) -> None:
    declaration_services.declaration_request_withdrawal(
        actor=world.university_member, declaration_id=declaration_id, reason="调整"
    )
    declaration_services.declaration_approve_withdrawal(
        actor=world.reviewer, declaration_id=declaration_id
    )
    declaration_retired(declaration_id)


def test_a_run_records_the_floor_of_each_full_list_once(
    world: World, market: dict[str, Any], settings: Any
) -> None:
    settings.MATCHING_TOP_K = 1
    first = _rematch()

    def by_list(rows: Any) -> dict[tuple[int, int | None], float]:
        return {(sme, need): score for sme, need, score in rows}

    lowest = by_list(Match.objects.filter(run=first).values_list("sme_id", "need_id", "score"))
    floors = by_list(ListFloor.objects.filter(run=first).values_list("sme_id", "need_id", "score"))
    need = TechnologyNeed.objects.get(organisation=world.sme)
    assert {(world.sme.pk, None), (world.sme.pk, need.pk)} <= set(floors)
    assert floors == lowest  # every list holds one match: it is the list's lowest
    # A chunk redone after a lost ack rewrites its floors, not adds to them.
    chunk = MatchChunk.objects.filter(run=first).first()
    assert chunk is not None
    MatchChunk.objects.filter(pk=chunk.pk).update(status="pending")
    MatchRun.objects.filter(pk=first.pk).update(status="running")
    assert chunk_run(chunk.pk) == "done"
    assert ListFloor.objects.filter(run=first).count() == len(floors)
    second = _rematch()
    assert not ListFloor.objects.filter(run=first).exists()  # dropped with the old run
    assert (
        by_list(ListFloor.objects.filter(run=second).values_list("sme_id", "need_id", "score"))
        == floors
    )


def test_a_short_list_has_no_floor_and_takes_any_newcomer_above_the_minimum(
    world: World, market: dict[str, Any]
) -> None:
    run = _rematch()  # top 50 of three declarations: every list is short
    assert not ListFloor.objects.filter(run=run).exists()
    assert world.sme.pk in declaration_matched(
        announced(
            declarable_patent(world.university, 24, title="一种锂离子电池隔膜"),
            world.university_member,
            world.reviewer,
        ).pk
    )


def test_a_list_short_of_retired_matches_waits_for_the_rematch_for_a_weaker_newcomer(
    world: World, market: dict[str, Any], settings: Any
) -> None:
    settings.MATCHING_TOP_K = 1
    settings.MATCHING_MIN_SCORE = 0.0  # the off-topic display patent may fill the slot
    _rematch()
    declaration_matched(market["textile"].pk)  # the worker now holds its snapshot and floors
    _withdrawn_and_retired(world, market["battery"].pk)
    assert _ranked(world.sme) == []
    # The display patent ranks below the run's floor (the battery patent's score): the slot
    # stays open rather than telling the SME about a patent the run had ranked below its list.
    assert world.sme.pk not in declaration_matched(market["display"].pk)
    assert _ranked(world.sme) == []
    # A newcomer above the floor takes the slot at once.
    closer = _closer_to_the_battery_need(world)
    assert world.sme.pk in declaration_matched(closer.pk)
    assert _ranked(world.sme) == [closer.pk]
    _withdrawn_and_retired(world, closer.pk)
    _rematch()
    assert _ranked(world.sme) == [market["display"].pk]  # the nightly re-match refills it


@pytest.fixture
def tasks_in_line() -> Any:
    """Celery tasks run where they are sent (the real task code, without a broker)."""
    from marketplace.celery import app as celery_app

    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def test_a_patent_or_profile_saved_gets_its_vector_on_the_index_queue(
    world: World, tasks_in_line: None, django_capture_on_commit_callbacks: Any
) -> None:
    """A patent has one vector, the search's (PatentVector); matching embeds needs and
    profiles with the same embedder and reads that vector into its supply."""
    from marketplace.models import PatentVector
    from marketplace.search.vectors import search_embedder
    from matching.models import TextVector
    from matching.services import patent_vectors

    with django_capture_on_commit_callbacks(execute=True):
        patent = declarable_patent(world.university, 30, title="一种固态电池电解质")
        profile = SmeProfileFactory.create(organisation__name="向量测试企业")
    first = PatentVector.objects.get(patent=patent)
    assert first.model == search_embedder().name
    assert not TextVector.objects.filter(kind="patent").exists()  # no second patent embedding
    sme_vector = TextVector.objects.get(kind="sme", object_id=profile.organisation_id)
    assert sme_vector.model == search_embedder().name
    with django_capture_on_commit_callbacks(execute=True):
        patent.title = "一种固态电池电解质膜"
        patent.save()
    second = PatentVector.objects.get(patent=patent)
    assert second.text_hash != first.text_hash
    stored = np.frombuffer(bytes(second.vector), dtype=np.float16).astype(np.float32)
    assert np.array_equal(patent_vectors([patent.pk])[patent.pk], stored)


@pytest.fixture
def demand_reads(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The SME ids of every load_demand call the worker's snapshot makes."""
    from matching.services import CACHES, snapshot

    calls: list[list[int]] = []
    load = snapshot.load_demand

    def recording(ids: list[int], names: Any = None) -> Any:
        calls.append(list(ids))
        return load(ids, names)

    monkeypatch.setattr(snapshot, "load_demand", recording)
    # Exactly the SMEs changed since the last stamp (in production a minute more is re-read).
    monkeypatch.setattr(snapshot, "SNAPSHOT_OVERLAP", timedelta(0))
    CACHES.snapshot = None
    return calls


def _snapshot_row(sme: Organisation) -> Any:
    """The snapshot row of the SME's need's list (of its profile's when it has no need)."""
    from matching.services import demand_snapshot

    snapshot = demand_snapshot()
    rows = [d for d in snapshot.demands if d.organisation_id == sme.pk]
    needs = [d for d in rows if d.need_id is not None]
    assert len(needs) <= 1 and len(rows) == len(needs) + 1  # one list per need + the profile's
    return needs[0] if needs else rows[0]


def test_the_snapshot_reads_again_only_the_smes_that_changed(
    world: World, market: dict[str, Any], demand_reads: list[list[int]]
) -> None:
    from matching.models import MatchFeedback
    from matching.services import demand_snapshot

    _rematch()  # feedback is given on matches
    demand_reads.clear()  # the run's chunks read their SMEs too
    first = demand_snapshot()
    everyone = set(first.ids.tolist())
    assert {world.sme.pk, market["mill"].pk} <= everyone
    assert demand_snapshot() is demand_snapshot()  # nothing changed: nothing read
    assert len(demand_reads) == 1
    # A need edited: only its SME is read again, and the snapshot shows the new keywords.
    need = TechnologyNeed.objects.get(organisation=world.sme)
    need.keywords = ["正极", "包覆", "固态电解质"]
    need.save()
    assert "固态电解质" in _snapshot_row(world.sme).keywords
    assert demand_reads[-1] == [world.sme.pk]
    # A verdict changed in place (no new row) is seen too.
    feedback = MatchFeedback.objects.create(
        sme=world.sme,
        declaration=market["display"],
        verdict="interested",
        given_by=world.sme_admin,
    )
    assert _snapshot_row(world.sme).adjustments == (("subclass", "H10K", 0.05),)
    feedback.verdict = "not_relevant"
    feedback.reason = "wrong_field"
    feedback.save()
    row = _snapshot_row(world.sme)
    assert row.adjustments == (("subclass", "H10K", -0.10),)
    assert row.rejected_declarations == {market["display"].pk}
    assert demand_reads[-1] == [world.sme.pk]
    patched = demand_snapshot()
    assert patched.read_at == first.read_at  # patched in place, not read again
    _assert_as_if_read_whole(patched)
    # A new SME is added to the rows; the others stay as they were.
    newcomer = SmeProfileFactory.create(organisation__name="常州新材料有限公司").organisation
    assert set(demand_snapshot().ids.tolist()) == everyone | {newcomer.pk}
    assert demand_reads[-1] == [newcomer.pk]
    # One full read, three patches, the check's own full read, one rebuild with the newcomer.
    assert len(demand_reads) == 6
    _assert_as_if_read_whole(demand_snapshot())


def _assert_as_if_read_whole(patched: Any) -> None:
    """A patched snapshot holds, SME by SME, what a full read gives."""
    from matching.services import sme_ids, snapshot

    whole = snapshot.snapshot_of(snapshot.load_demand(sme_ids()), patched.stamp, read_at=0.0)

    def by_sme(snapshot: Any) -> dict[int, tuple[object, ...]]:
        def keys(index: dict[Any, Any], row: int) -> set[Any]:
            return {key for key, rows in index.items() if row in rows.tolist()}

        return {
            demand.key: (
                int(snapshot.ids[row]),
                snapshot.codes[snapshot.code_rows[row]],
                snapshot.budgets[snapshot.budget_rows[row]],
                snapshot.areas[snapshot.area_rows[row]],
                int(snapshot.provinces[row]),
                float(snapshot.keyword_counts[row]),
                snapshot.vectors[row].tolist(),
                keys(snapshot.keyword_rows, row),
                keys(snapshot.adjusted, row),
                keys(snapshot.rejected_declarations, row),
            )
            for row, demand in enumerate(snapshot.demands)
        }

    assert by_sme(patched) == by_sme(whole)


def test_a_deleted_need_makes_the_snapshot_read_everything_again(
    world: World, market: dict[str, Any], demand_reads: list[list[int]]
) -> None:
    from matching.services import demand_snapshot

    demand_snapshot()
    TechnologyNeed.objects.filter(organisation=world.sme).delete()
    assert _snapshot_row(world.sme).keywords == []  # matched through its industry now
    assert [len(ids) for ids in demand_reads] == [len(demand_reads[0])] * 2


def test_the_workers_supply_is_patched_by_an_announcement_and_a_withdrawal_not_read_again(
    world: World, market: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kept supply gains the announced declaration's row and loses the withdrawn one's
    from their events; the lists it gives equal those of a supply read whole."""
    import matching.services as matching_services
    from matching.engine import IndustryCache, score_smes
    from matching.services import caches

    caches.CACHES.live = None
    kept = matching_services.live_context().supply
    kept.rows_with_token("")  # postings built before the change: patched, not rebuilt
    reads: list[object] = []
    load = caches.load_supply

    def recording(declaration_ids: Any = None) -> Any:
        reads.append(declaration_ids)
        return load(declaration_ids)

    monkeypatch.setattr(caches, "load_supply", recording)
    new = announced(
        declarable_patent(world.university, 31, title="一种锂离子电池正极包覆材料"),
        world.university_admin,
        world.reviewer,
    )
    assert matching_services.live_context().supply is kept
    assert reads and all(r is not None for r in reads)  # the changed declarations only
    _withdrawn_and_retired(world, market["battery"].pk)
    assert matching_services.live_context().supply is kept
    assert all(r is not None for r in reads)  # never the whole supply
    monkeypatch.setattr(caches, "load_supply", load)
    whole = load()
    alive = [pk for pk in kept.ids.tolist() if kept.row_of(pk) is not None]
    assert sorted(alive) == sorted(whole.ids.tolist())
    assert new.pk in alive and market["battery"].pk not in alive
    demands = matching_services.load_demand(sorted({world.sme.pk, market["mill"].pk}))
    patched = score_smes(kept, demands, matching_services.live_context().industries)
    fresh = score_smes(whole, demands, IndustryCache(whole))
    assert [[(int(kept.ids[s.index]), s.score, s.reasons) for s in r] for r in patched] == [
        [(int(whole.ids[s.index]), s.score, s.reasons) for s in r] for r in fresh
    ]
    assert any(new.pk in [int(kept.ids[s.index]) for s in r] for r in patched)


def test_a_match_worker_warms_its_caches_at_start_and_others_do_not(
    world: World, market: dict[str, Any], settings: Any
) -> None:
    """celeryd_after_setup notes whether the worker consumes `match`; worker_warm then fills
    the kept supply and the demand snapshot, so the first trigger reads neither."""
    from types import SimpleNamespace

    import matching.services as matching_services
    from matching import tasks

    def worker(queues: list[str]) -> Any:
        return SimpleNamespace(
            app=SimpleNamespace(
                amqp=SimpleNamespace(queues=SimpleNamespace(consume_from=dict.fromkeys(queues)))
            )
        )

    tasks._note_match_queue(sender=None, instance=worker(["default", "index"]))
    assert tasks._WARM_AT_START == [False]
    settings.MATCHING_WARM_WORKER = False
    tasks._note_match_queue(sender=None, instance=worker(["match"]))
    assert tasks._WARM_AT_START == [False]
    settings.MATCHING_WARM_WORKER = True
    tasks._note_match_queue(sender=None, instance=worker(["index", "match"]))
    assert tasks._WARM_AT_START == [True]
    tasks._WARM_AT_START[0] = False
    matching_services.CACHES.live = matching_services.CACHES.snapshot = None
    steps = matching_services.worker_warm()
    assert list(steps) == ["embedder", "segmenter", "supply", "postings", "demand snapshot"]
    assert matching_services.CACHES.live is not None
    supply = matching_services.CACHES.live.supply
    assert sorted(supply.ids.tolist()) == sorted(
        value.pk for key, value in market.items() if key != "mill"
    )
    assert supply._postings is not None and supply._ipc_postings is not None
    assert matching_services.CACHES.snapshot is not None
    assert {d.organisation_id for d in matching_services.CACHES.snapshot.demands} >= {
        world.sme.pk,
        market["mill"].pk,
    }


def test_chinese_reasons_take_the_full_width_colon_and_english_ones_the_ascii_colon(
    world: World,
) -> None:
    from matching.reasons import TEMPLATES, Names, render

    names = Names()
    province = names.provinces["110000"]
    codes: list[dict[str, Any]] = [
        {"code": "same_ipc", "ipc": "G06T7"},
        {"code": "keywords", "words": ["缺陷检测", "深度学习"]},
        {"code": "same_province", "province": "11"},
    ]
    assert render(codes, "zh-hans", names) == [
        "与需求同一IPC：G06T 7",
        "关键词：缺陷检测、深度学习",
        f"同省：{province}",
    ]
    assert render(codes, "en", names) == [
        "same IPC as the need: G06T 7",
        "keywords: 缺陷检测, 深度学习",
        f"same province: {province}",
    ]
    every: list[dict[str, Any]] = [
        {"code": "similar_content", "similarity": 0.5},
        *codes,
        {"code": "ipc_industry", "ipc": "H01M", "industry": "C3841"},
        {"code": "within_budget"},
    ]
    chinese = render(every, "zh-hans", names)
    assert len(chinese) == len(TEMPLATES)
    assert not [line for line in chinese if ":" in line]


def test_matching_services_never_import_the_tasks_not_even_inside_a_function() -> None:
    """Tasks call services; services hand work to matching.dispatch, which sends tasks by
    name: no import of matching.tasks anywhere below them, so the graph has no cycle."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "matching"
    modules = [*sorted((root / "services").glob("*.py")), root / "dispatch.py"]
    assert len(modules) >= 10
    found = []
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            found += [(path.name, name) for name in names if name.startswith("matching.tasks")]
    assert found == []


def test_a_list_refresh_patches_the_kept_floors_to_what_it_wrote(
    world: World, market: dict[str, Any], settings: Any
) -> None:
    """The floors an announcement reads (the current run's ListFloor rows, kept in the
    worker) are patched by a refresh of an SME's lists, not dropped: they equal a fresh read."""
    from matching.services import CACHES, incremental, lists_refresh

    settings.MATCHING_TOP_K = 1  # every list with a match is full, so has a floor
    CACHES.forget()  # another test's kept supply holds declarations its rollback removed
    run = _rematch()
    incremental._run_floors(run)  # kept, as the run's first announcement reads them
    need = TechnologyNeed.objects.get(organisation=world.sme)
    assert (world.sme.pk, need.pk) in CACHES.run_floors[run.pk]
    need.status = "closed"
    need.save()
    lists_refresh([world.sme.pk])
    fresh = {
        (sme, need_id): score
        for sme, need_id, score in ListFloor.objects.filter(run=run).values_list(
            "sme_id", "need_id", "score"
        )
    }
    assert (world.sme.pk, need.pk) not in fresh  # the closed need's list is gone
    assert CACHES.run_floors[run.pk] == fresh
    assert CACHES.floors == {}
