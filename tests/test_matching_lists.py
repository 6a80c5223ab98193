"""Lists per need, the exact fit first, reasons as codes, feedback effects, and every list of
an SME recomputed at once when something of it changes (lists_refresh, the trigger path)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from licensing.models import Declaration
from marketplace.models import Organisation, OrganisationKind, Region, TechnologyNeed
from matching.engine import FEEDBACK_EFFECTS
from matching.models import IpcIndustry, Match, MatchChunk, MatchFeedback, MatchRun
from matching.services import chunk_run, declaration_matched, lists_refresh, run_start
from tests.conftest import World, client_for
from tests.declarations_helpers import announced, declarable_patent
from tests.factories import MembershipFactory, OrganisationFactory

pytestmark = pytest.mark.django_db

DEFECT = {
    "title": "一种基于深度学习的工业产品表面缺陷检测方法",
    "abstract": "本发明公开了一种基于深度学习的表面缺陷检测方法，采集产品图像，"
    "用卷积神经网络识别划痕、凹坑等缺陷，提高检测准确率。",
    "main_ipc": "G06T 7/00",
    "further_ipcs": [],
}
OLED = {
    "title": "一种柔性OLED显示面板及其驱动方法",
    "abstract": "本发明涉及柔性有机发光二极管显示面板，降低功耗，提高弯折寿命。",
    "main_ipc": "H10K 59/12",
    "further_ipcs": [],
}


def _need(world: World, **values: Any) -> TechnologyNeed:
    fields: dict[str, Any] = {
        "organisation": world.sme,
        "title": "产线缺陷检测",
        "description": "我们想用摄像头自动发现产品表面的划痕和缺陷，替代人工目检。",
        "keywords": ["缺陷检测", "深度学习"],
        "ipc_areas": ["G06T"],
        "expires_on": timezone.localdate() + timedelta(days=60),
        "created_by": world.sme_admin,
    }
    fields.update(values)
    return TechnologyNeed.objects.create(**fields)


def _rematch() -> MatchRun:
    run = run_start(chunk_size=5, enqueue=False)
    for chunk in MatchChunk.objects.filter(run=run):
        chunk_run(chunk.pk)
    run.refresh_from_db()
    return run


def _list(sme: Organisation, need: TechnologyNeed | None) -> list[int]:
    return list(
        Match.objects.filter(run__is_current=True, sme=sme, need=need)
        .order_by("-score", "declaration_id")
        .values_list("declaration_id", flat=True)
    )


@pytest.fixture
def elsewhere(world: World) -> Organisation:
    """A university in Beijing: not the SME's province (Jiangsu), unlike world.university."""
    university = OrganisationFactory.create(
        name="北京视觉大学",
        kind=OrganisationKind.UNIVERSITY,
        region=Region.objects.get(code="110101"),
    )
    MembershipFactory.create(organisation=university, role="admin")
    return university


def _announced(world: World, owner: Organisation, serial: int, **patent: Any) -> Declaration:
    member = owner.memberships.first()
    assert member is not None
    return announced(declarable_patent(owner, serial, **patent), member.user, world.reviewer)


def test_the_exact_fit_from_another_province_outranks_an_unrelated_patent_from_the_smes(
    world: World, elsewhere: Organisation
) -> None:
    # The SME posted a need (缺陷检测 / 深度学习, IPC G06T); an OLED panel patent of a Jiangsu
    # university (the SME's province) shares none of it.
    need = _need(world)
    oled = _announced(world, world.university, 1, **OLED)
    defect = _announced(world, elsewhere, 2, **DEFECT)
    _rematch()
    assert _list(world.sme, need)[0] == defect.pk
    fit = Match.objects.get(run__is_current=True, need=need, declaration=defect)
    assert fit.components["industry"] == 1.0  # same IPC subclass as the need
    assert fit.components["keywords"] == 1.0  # both keywords, tokenised like search
    assert {"code": "same_ipc", "ipc": "G06T"} in fit.reasons
    assert {"code": "keywords", "words": ["缺陷检测", "深度学习"]} in fit.reasons
    other = Match.objects.filter(run__is_current=True, need=need, declaration=oled).first()
    assert other is None or other.score < fit.score
    # Announced after the run, the exact fit reaches the need's list at once, first.
    later = _announced(world, elsewhere, 3, **{**DEFECT, "title": "一种焊缝缺陷检测方法"})
    assert world.sme.pk in declaration_matched(later.pk)
    assert _list(world.sme, need)[:2] == sorted(
        [defect.pk, later.pk],
        key=lambda pk: -Match.objects.get(run__is_current=True, need=need, declaration_id=pk).score,
    )


def test_each_open_need_has_its_own_list_and_the_api_returns_it(
    world: World, elsewhere: Organisation
) -> None:
    IpcIndustry.objects.update_or_create(
        ipc_prefix="H01M", industry_code="C3841", defaults={"weight": Decimal("1"), "source": "t"}
    )
    older = _need(world)
    newer = _need(
        world,
        title="高镍正极材料包覆技术",
        description="寻求锂离子电池正极材料包覆改性技术",
        keywords=["正极", "包覆"],
        ipc_areas=["H01M4"],
    )
    battery = _announced(world, world.university, 1)
    defect = _announced(world, elsewhere, 2, **DEFECT)
    _rematch()
    assert _list(world.sme, older)[0] == defect.pk
    assert _list(world.sme, newer)[0] == battery.pk
    client = client_for(world.sme_admin, "zh-hans")
    listed = client.get("/api/v1/matches/", {"need": older.pk}).json()
    assert [m["declaration"] for m in listed][:1] == [defect.pk]
    assert {m["need"] for m in listed} == {older.pk}
    assert "关键词：缺陷检测、深度学习" in listed[0]["reasons"]
    # Without ?need= the SME's profile's list (battery maker: its industry's patent first).
    profile = client.get("/api/v1/matches/").json()
    assert profile[0]["declaration"] == battery.pk and profile[0]["need"] is None
    # Another organisation's need: 404 with a stable code, for the SME's own members too.
    foreign = TechnologyNeed.objects.create(
        organisation=OrganisationFactory.create(kind=OrganisationKind.SME),
        title="x",
        description="x",
        expires_on=timezone.localdate() + timedelta(days=9),
        created_by=world.sme_admin,
    )
    response = client.get("/api/v1/matches/", {"need": foreign.pk})
    assert (response.status_code, response.json()["code"]) == (404, "need_not_found")


def test_lists_refresh_follows_a_closed_need_feedback_and_a_license_at_once(
    world: World, elsewhere: Organisation
) -> None:
    need = _need(world)
    defect = _announced(world, elsewhere, 2, **DEFECT)
    second = _announced(world, elsewhere, 3, **{**DEFECT, "title": "一种焊缝缺陷检测方法"})
    assert lists_refresh([world.sme.pk]) > 0  # no full run yet: the first run is made
    assert set(_list(world.sme, need)) == {defect.pk, second.pk}
    before = Match.objects.get(run__is_current=True, need=need, declaration=second).score
    MatchFeedback.objects.create(
        sme=world.sme,
        declaration=defect,
        verdict="not_relevant",
        reason="already_have",
        given_by=world.sme_admin,
    )
    lists_refresh([world.sme.pk])
    assert _list(world.sme, need) == [second.pk]  # the rejected one left every list
    after = Match.objects.get(run__is_current=True, need=need, declaration=second).score
    # The same IPC main group as the one it already has: lowered by the table's amount.
    ((target, delta),) = FEEDBACK_EFFECTS[("not_relevant", "already_have")]
    assert target == "group"
    assert after == pytest.approx(before + delta, abs=1e-5)
    TechnologyNeed.objects.filter(pk=need.pk).update(status="closed")
    lists_refresh([world.sme.pk])
    assert not Match.objects.filter(need=need).exists()  # a closed need has no list


def test_a_patentee_never_sees_budget_reasons_by_their_code(
    world: World, elsewhere: Organisation
) -> None:
    need = _need(world, budget_max_cny=Decimal("100000"))
    defect = _announced(world, elsewhere, 2, **DEFECT)
    _rematch()
    stored = Match.objects.get(run__is_current=True, need=need, declaration=defect).reasons
    assert {"code": "within_budget"} in stored
    patentee = client_for(elsewhere.memberships.get().user, "en")
    first = patentee.get(f"/api/v1/declarations/{defect.pk}/candidates/").json()[0]
    assert first["sme"] == world.sme.pk
    assert "within_budget" not in {code["code"] for code in first["reason_codes"]}
    assert "royalty within budget" not in first["reasons"]
