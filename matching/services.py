"""Matching runs: vectors, supply and demand from the database, chunked full re-matches with
an atomic swap, incremental matching of one declaration, feedback."""

from __future__ import annotations

import csv
import hashlib
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from licensing.models import Declaration
from marketplace.errors import InvalidInput, NotFound, PermissionDenied
from marketplace.models import (
    Industry,
    LegalStatus,
    Membership,
    Organisation,
    OrganisationKind,
    Patent,
    Region,
    SmeProfile,
    TechnologyNeed,
    User,
)
from marketplace.patents.ipc import parse_ipc
from matching.embedders import get_embedder
from matching.engine import Demand, IndustryCache, Supply, as_vector, score_sme
from matching.models import IpcIndustry, Match, MatchChunk, MatchFeedback, MatchRun, TextVector

DATA = Path(__file__).resolve().parent / "reference_data"


# ---- concordance ---------------------------------------------------------------------------


@transaction.atomic
def concordance_import(*, rows: list[dict[str, str]], replace_source: str | None = None) -> int:
    """Load concordance rows (ipc_prefix, industry_code, weight, source, note); with
    replace_source, rows of that source not in the file are removed."""
    if replace_source:
        IpcIndustry.objects.filter(source=replace_source).delete()
    count = 0
    for row in rows:
        IpcIndustry.objects.update_or_create(
            ipc_prefix=row["ipc_prefix"].replace(" ", "").upper(),
            industry_code=row["industry_code"].strip().upper(),
            defaults={
                "weight": Decimal(row["weight"]),
                "source": row["source"].strip(),
                "note": row.get("note", "").strip()[:200],
            },
        )
        count += 1
    return count


def concordance_load_shipped() -> int:
    path = DATA / "ipc_industry.csv"
    if not path.exists():
        return 0
    with path.open(encoding="utf-8") as handle:
        return concordance_import(rows=list(csv.DictReader(handle)))


def _concordance() -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = {}
    for prefix, code, weight in IpcIndustry.objects.values_list(
        "ipc_prefix", "industry_code", "weight"
    ):
        table.setdefault(prefix, {})[code] = float(weight)
    return table


def ipc_prefixes_for_industry(code: str) -> list[str]:
    """IPC prefixes the concordance relates to an industry (the code, its parents or its
    children), for the search filter."""
    prefixes = []
    for prefix, industry in IpcIndustry.objects.values_list("ipc_prefix", "industry_code"):
        if industry.startswith(code) or code.startswith(industry):
            prefixes.append(prefix)
    return sorted(set(prefixes))


def industries_for(symbols: list[str], table: dict[str, dict[str, float]]) -> dict[str, float]:
    """For each IPC symbol, the rows of its longest level present in the table (group, then
    subclass, class, section — by IPC level, never by string prefix, so H01M1 never catches
    H01M10); the best weight per industry over all symbols."""
    found: dict[str, float] = {}
    for raw in symbols:
        try:
            levels = parse_ipc(raw).prefixes
        except InvalidInput:
            continue
        for level in reversed(levels):
            entry = table.get(level)
            if entry:
                for code, weight in entry.items():
                    found[code] = max(found.get(code, 0.0), weight)
                break
    return found


# ---- vectors -------------------------------------------------------------------------------


def _patent_text(patent: Patent) -> str:
    return f"{patent.title}\n{patent.abstract[:1000]}"


def _need_text(need: TechnologyNeed) -> str:
    return f"{need.title}\n{need.description[:1000]}\n{' '.join(need.keywords)}"


def _sme_text(profile: SmeProfile, industry_names: dict[str, str]) -> str:
    return f"{industry_names.get(profile.industry_id, '')}\n{profile.description[:1000]}"


def vectors_for(kind: str, items: dict[int, str]) -> dict[int, np.ndarray]:
    """Vectors for {id: text}, reusing stored ones whose text is unchanged."""
    embedder = get_embedder()
    hashes = {pk: hashlib.sha256(text.encode()).hexdigest() for pk, text in items.items()}
    stored = {
        row.object_id: row
        for row in TextVector.objects.filter(
            kind=kind, model=embedder.name, object_id__in=list(items)
        )
    }
    result: dict[int, np.ndarray] = {}
    missing = [pk for pk in items if pk not in stored or stored[pk].text_hash != hashes[pk]]
    for pk, row in stored.items():
        if pk not in missing:
            result[pk] = as_vector(row.vector, embedder.dim)
    for start in range(0, len(missing), 2000):
        batch = missing[start : start + 2000]
        vectors = embedder.embed([items[pk] for pk in batch])
        TextVector.objects.bulk_create(
            [
                TextVector(
                    kind=kind,
                    object_id=pk,
                    model=embedder.name,
                    text_hash=hashes[pk],
                    vector=vectors[i].tobytes(),
                )
                for i, pk in enumerate(batch)
            ],
            update_conflicts=True,
            unique_fields=["kind", "object_id", "model"],
            update_fields=["text_hash", "vector", "updated_at"],
        )
        for i, pk in enumerate(batch):
            result[pk] = vectors[i]
    return result


# ---- supply and demand ---------------------------------------------------------------------


def load_supply(declaration_ids: list[int] | None = None) -> Supply:
    """Announced declarations whose patent is in force (the hard filters)."""
    today = timezone.localdate()
    declarations = (
        Declaration.objects.in_force()
        .filter(patent__legal_status=LegalStatus.IN_FORCE, patent__expiry_date__gte=today)
        .select_related("patent", "organisation")
        .order_by("id")
    )
    if declaration_ids is not None:
        declarations = declarations.filter(pk__in=declaration_ids)
    rows = list(declarations)
    table = _concordance()
    vectors = vectors_for("patent", {d.patent_id: _patent_text(d.patent) for d in rows})
    dim = get_embedder().dim
    return Supply(
        ids=np.array([d.pk for d in rows], dtype=np.int64),
        patent_ids=np.array([d.patent_id for d in rows], dtype=np.int64),
        patentee_ids=np.array([d.organisation_id for d in rows], dtype=np.int64),
        provinces=[d.organisation.region_id[:2] for d in rows],
        vectors=np.vstack([vectors[d.patent_id] for d in rows])
        if rows
        else np.zeros((0, dim), np.float32),
        industries=[
            industries_for([d.patent.main_ipc, *d.patent.further_ipcs], table) for d in rows
        ],
        tokens=[set(f"{d.patent.title_tokens} {d.patent.body_tokens}".split()) for d in rows],
        upfront=np.array(
            [float(d.lump_sum_cny or d.entry_fee_cny or 0) for d in rows], dtype=np.float64
        ),
        main_subclass=[d.patent.main_ipc[:4] for d in rows],
        ipc_label=[d.patent.main_ipc.split(" ")[0] for d in rows],
        titles=[d.patent.title for d in rows],
    )


def load_demand(sme_ids: list[int]) -> list[Demand]:
    """Each SME's profile and open needs (an SME without a need is matched by its industry)."""
    profiles = {
        p.organisation_id: p
        for p in SmeProfile.objects.filter(organisation_id__in=sme_ids).select_related("region")
    }
    needs: dict[int, list[TechnologyNeed]] = {}
    for need in TechnologyNeed.objects.filter(
        organisation_id__in=sme_ids, status="open", expires_on__gte=timezone.localdate()
    ).order_by("-created_at"):
        needs.setdefault(need.organisation_id, []).append(need)
    industry_names = dict(Industry.objects.values_list("code", "name_zh"))
    province_names = dict(Region.objects.filter(level="province").values_list("code", "name_zh"))
    need_vectors = vectors_for("need", {n.pk: _need_text(n) for ns in needs.values() for n in ns})
    sme_vectors = vectors_for(
        "sme", {pk: _sme_text(p, industry_names) for pk, p in profiles.items()}
    )
    feedback: dict[int, list[MatchFeedback]] = {}
    for item in MatchFeedback.objects.filter(sme_id__in=sme_ids).select_related(
        "declaration__patent"
    ):
        feedback.setdefault(item.sme_id, []).append(item)
    demands = []
    for sme_id in sme_ids:
        profile = profiles.get(sme_id)
        if profile is None:
            continue
        own = needs.get(sme_id, [])
        vector = np.mean([need_vectors[n.pk] for n in own], axis=0) if own else sme_vectors[sme_id]
        norm = float(np.linalg.norm(vector)) or 1.0
        budgets = [n.budget_max_cny for n in own if n.budget_max_cny is not None]
        keywords = list(dict.fromkeys(k.lower() for n in own for k in n.keywords))
        items = feedback.get(sme_id, [])
        demands.append(
            Demand(
                organisation_id=sme_id,
                industry=profile.industry_id,
                province=profile.region_id[:2],
                province_name=province_names.get(profile.region_id[:2] + "0000", ""),
                budget=max(budgets) if budgets else None,
                keywords=keywords,
                vector=(vector / norm).astype(np.float32),
                need_id=own[0].pk if own else None,
                interested_subclasses={
                    f.declaration.patent.main_ipc[:4] for f in items if f.verdict == "interested"
                },
                rejected_subclasses={
                    f.declaration.patent.main_ipc[:4]
                    for f in items
                    if f.verdict == "not_relevant" and f.reason == "wrong_field"
                },
                rejected_declarations={
                    f.declaration_id for f in items if f.verdict == "not_relevant"
                },
            )
        )
    return demands


def _rows(run: MatchRun, supply: Supply, demands: list[Demand]) -> list[Match]:
    industries = IndustryCache(supply)
    names = dict(Industry.objects.values_list("code", "name_zh"))
    rows = []
    for demand in demands:
        for rank, scored in enumerate(score_sme(supply, demand, industries, names), start=1):
            rows.append(
                Match(
                    run=run,
                    sme_id=demand.organisation_id,
                    declaration_id=int(supply.ids[scored.index]),
                    patent_id=int(supply.patent_ids[scored.index]),
                    need_id=demand.need_id,
                    score=scored.score,
                    rank=rank,
                    components=scored.components,
                    reasons_zh=scored.reasons_zh,
                    reasons_en=scored.reasons_en,
                )
            )
    return rows


# ---- runs ----------------------------------------------------------------------------------


def sme_ids() -> list[int]:
    return list(
        Organisation.objects.filter(kind=OrganisationKind.SME, sme_profile__isnull=False)
        .order_by("id")
        .values_list("id", flat=True)
    )


def run_start(*, chunk_size: int | None = None, enqueue: bool = True) -> MatchRun:
    """Start a full re-match: the SMEs split into chunks, each a task on the `match` queue."""
    size = chunk_size or settings.MATCHING_CHUNK_SMES
    ids = sme_ids()
    with transaction.atomic():
        run = MatchRun.objects.create(kind="full")
        chunks = [
            MatchChunk(run=run, number=number, sme_ids=ids[start : start + size])
            for number, start in enumerate(range(0, len(ids), size))
        ]
        MatchChunk.objects.bulk_create(chunks)
        MatchRun.objects.filter(pk=run.pk).update(total_chunks=len(chunks))
        run.total_chunks = len(chunks)
        if enqueue:
            from matching.tasks import match_chunk

            chunk_ids = [chunk.pk for chunk in MatchChunk.objects.filter(run=run)]
            transaction.on_commit(lambda: [match_chunk.delay(pk) for pk in chunk_ids])
    if not chunks:
        _finish(run.pk)
    return run


def run_resume(run_id: int) -> int:
    """Send every pending chunk of a running run again (after a worker died holding one).

    Safe to call any time: a chunk already done is skipped by its task, and a chunk sent twice
    is written once (claimed by compare-and-swap).
    """
    from matching.tasks import match_chunk

    pending = list(
        MatchChunk.objects.filter(
            run_id=run_id, run__status=MatchRun.Status.RUNNING, status="pending"
        ).values_list("pk", flat=True)
    )
    for chunk_id in pending:
        match_chunk.delay(chunk_id)
    return len(pending)


def runs_resume_stale(*, older_than_minutes: int = 30) -> int:
    """Beat: resume runs that have been running too long (a killed worker's chunk waits for
    the broker's visibility timeout otherwise)."""
    limit = timezone.now() - timedelta(minutes=older_than_minutes)
    resent = 0
    stale = MatchRun.objects.filter(status=MatchRun.Status.RUNNING, started_at__lt=limit)
    for run_id in stale.values_list("pk", flat=True):
        resent += run_resume(run_id)
    return resent


_SUPPLY_CACHE: dict[int, Supply] = {}


def chunk_run(chunk_id: int) -> str:
    """Score one chunk and write its matches; idempotent: a chunk done is skipped, a chunk
    half-written by a killed worker is rewritten whole (delete + insert in one transaction)."""
    chunk = MatchChunk.objects.select_related("run").filter(pk=chunk_id).first()
    if chunk is None or chunk.status == "done" or chunk.run.status != MatchRun.Status.RUNNING:
        return "skipped"
    MatchChunk.objects.filter(pk=chunk.pk).update(attempts=chunk.attempts + 1)
    supply = _SUPPLY_CACHE.get(chunk.run_id)
    if supply is None:
        _SUPPLY_CACHE.clear()
        supply = _SUPPLY_CACHE.setdefault(chunk.run_id, load_supply())
    rows = _rows(chunk.run, supply, load_demand(list(chunk.sme_ids)))
    with transaction.atomic():
        claimed = MatchChunk.objects.filter(pk=chunk.pk, status="pending").update(status="done")
        if not claimed:
            return "skipped"
        Match.objects.filter(run_id=chunk.run_id, sme_id__in=chunk.sme_ids).delete()
        Match.objects.bulk_create(rows, batch_size=5000)
        MatchRun.objects.filter(pk=chunk.run_id).update(done_chunks=_done_chunks(chunk.run_id))
    if not MatchChunk.objects.filter(run_id=chunk.run_id, status="pending").exists():
        _finish(chunk.run_id)
    return "done"


def _done_chunks(run_id: int) -> int:
    return MatchChunk.objects.filter(run_id=run_id, status="done").count()


def _finish(run_id: int) -> None:
    """Make a complete run the visible one in one transaction; drop the older runs' rows."""
    with transaction.atomic():
        run = MatchRun.objects.select_for_update().get(pk=run_id)
        if run.status != MatchRun.Status.RUNNING:
            return
        MatchRun.objects.filter(is_current=True).exclude(pk=run_id).update(is_current=False)
        MatchRun.objects.filter(pk=run_id).update(
            status=MatchRun.Status.COMPLETE, is_current=True, finished_at=timezone.now()
        )
    Match.objects.filter(run__is_current=False, run__status=MatchRun.Status.COMPLETE).delete()


def current_run() -> MatchRun | None:
    return MatchRun.objects.filter(is_current=True).first()


def _first_run() -> MatchRun:
    """The empty current run that incremental matches go into before any full re-match.
    Two tasks may race to create it (one current run at most): the loser uses the winner's."""
    try:
        with transaction.atomic():
            return MatchRun.objects.create(
                kind="full",
                status=MatchRun.Status.COMPLETE,
                is_current=True,
                finished_at=timezone.now(),
            )
    except IntegrityError:
        return MatchRun.objects.get(is_current=True)


@transaction.atomic
def declaration_matched(declaration_id: int) -> list[int]:
    """Incremental: score one newly announced declaration against every SME and add it to
    the lists where it ranks within the top K; returns the SMEs that gained it."""
    run = current_run() or _first_run()
    supply = load_supply([declaration_id])
    if len(supply) == 0:
        return []
    gained = []
    worst = dict(
        Match.objects.filter(run=run)
        .values("sme_id")
        .annotate(rank=Max("rank"))
        .values_list("sme_id", "rank")
    )
    industries = IndustryCache(supply)
    names = dict(Industry.objects.values_list("code", "name_zh"))
    top_k = settings.MATCHING_TOP_K
    for demand in load_demand(sme_ids()):
        scored = score_sme(supply, demand, industries, names, top_k=1)
        if not scored or scored[0].score <= 0.2:
            continue
        existing = Match.objects.filter(run=run, sme_id=demand.organisation_id)
        count = worst.get(demand.organisation_id, 0)
        if count >= top_k:
            lowest = existing.order_by("score").first()
            if lowest is None or lowest.score >= scored[0].score:
                continue
            lowest.delete()
        Match.objects.update_or_create(
            run=run,
            sme_id=demand.organisation_id,
            declaration_id=declaration_id,
            defaults={
                "patent_id": int(supply.patent_ids[0]),
                "need_id": demand.need_id,
                "score": scored[0].score,
                "rank": 0,
                "components": scored[0].components,
                "reasons_zh": scored[0].reasons_zh,
                "reasons_en": scored[0].reasons_en,
            },
        )
        gained.append(demand.organisation_id)
    return gained


def declaration_retired(declaration_id: int) -> int:
    """A withdrawn or ended declaration leaves every list."""
    deleted, _detail = Match.objects.filter(declaration_id=declaration_id).delete()
    return deleted


def feedback_give(
    *, actor: User, sme_id: int, declaration_id: int, verdict: str, reason: str = ""
) -> MatchFeedback:
    """An SME member marks a match interesting or not relevant (with a reason code)."""
    if not Membership.objects.filter(user=actor, organisation_id=sme_id).exists():
        raise PermissionDenied("not_a_member", _("Only members of the SME give feedback."))
    if not Match.objects.filter(sme_id=sme_id, declaration_id=declaration_id).exists():
        raise NotFound()
    feedback, _created = MatchFeedback.objects.update_or_create(
        sme_id=sme_id,
        declaration_id=declaration_id,
        defaults={"verdict": verdict, "reason": reason, "given_by": actor},
    )
    return feedback
