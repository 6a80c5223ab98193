"""Matching runs: vectors, supply and demand from the database, chunked full re-matches with
an atomic swap, incremental matching of one declaration, the lists of SMEs that changed
(lists_refresh, the trigger path), feedback."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Max, Min, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from licensing.models import ACTIVE_LICENSE_STATUSES, Declaration, License
from marketplace.celery import publish_after_commit, publish_each
from marketplace.errors import InvalidInput, NotFound, PermissionDenied
from marketplace.models import (
    Industry,
    LegalStatus,
    Membership,
    Organisation,
    OrganisationKind,
    PatentVector,
    Region,
    SmeProfile,
    TechnologyNeed,
    User,
)
from marketplace.patents.ipc import parse_ipc
from marketplace.search.segment import QueryTerm, query_terms
from marketplace.search.vectors import patent_vectors_compute
from matching.embedders import get_embedder
from matching.engine import (
    Adjustment,
    Demand,
    IndustryCache,
    Keyword,
    Scored,
    Supply,
    adjustment_hits,
    as_vector,
    feedback_effects,
    formula,
    industry_relation,
    ipc_relation,
    keyword_found,
    score_smes,
)
from matching.models import (
    IpcIndustry,
    ListFloor,
    Match,
    MatchChunk,
    MatchFeedback,
    MatchRun,
    TextVector,
)
from matching.workflow import MATCH_RUN

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


# Patents of a supply without a search vector yet that load_supply embeds itself (one batch of
# the search's own computation); more are left to the `index` queue.
EMBED_MISSING = 500


def patent_vectors(patent_ids: Sequence[int]) -> dict[int, np.ndarray]:
    """The patents' search vectors (marketplace PatentVector, of the current search embedder:
    one vector per patent, shared with search), float32. Up to EMBED_MISSING of them without a
    vector yet (their `index` task has not run: a declaration announced right after its patent
    was created) are embedded now by the search's own function, into PatentVector; beyond that
    a patent has no semantic component until the `index` queue reaches it."""
    found = _stored_patent_vectors(patent_ids)
    missing = [pk for pk in patent_ids if pk not in found]
    if missing and len(missing) <= EMBED_MISSING:
        patent_vectors_compute(patent_ids=missing)
        found.update(_stored_patent_vectors(missing))
    return found


def _stored_patent_vectors(patent_ids: Sequence[int]) -> dict[int, np.ndarray]:
    rows = PatentVector.objects.filter(model=get_embedder().name)
    if len(patent_ids) <= 10_000:  # a whole supply reads every vector instead
        rows = rows.filter(patent_id__in=list(patent_ids))
    wanted = set(patent_ids)
    return {
        pk: np.frombuffer(bytes(raw), dtype=np.float16).astype(np.float32)
        for pk, raw in rows.values_list("patent_id", "vector").iterator(5000)
        if pk in wanted
    }


# What a list's vector embeds: its parts, each embedded on its own, then averaged. A sentence
# encoder reads a colloquial title, a long description and a list of keywords best apart: one
# embedding of all three together let the description's everyday words drown the rest
# (BENCHMARKS.md, "Need vectors by parts": zh_plain nDCG@10 0.837 → 0.875 on the judged set).
# The version joins the hash, so vectors of the whole text are recomputed once.
PARTS_VERSION = "parts-v1"


def _need_text(need: TechnologyNeed) -> tuple[str, ...]:
    """A need's parts for its vector: title, description, keywords."""
    return (need.title, need.description[:1000], " ".join(need.keywords))


def _sme_text(profile: SmeProfile, industry_names: dict[str, str]) -> tuple[str, ...]:
    """A profile's parts for its vector: its industry's name, its description."""
    return (industry_names.get(profile.industry_id, ""), profile.description[:1000])


def _text_hash(parts: Sequence[str]) -> str:
    return hashlib.sha256("\x1f".join((PARTS_VERSION, *parts)).encode()).hexdigest()


def embed_parts(items: Sequence[Sequence[str]]) -> np.ndarray:
    """One unit vector per item: the mean of its non-empty parts' embeddings (one call to the
    embedder for all parts), normalised; an item without text embeds the empty string."""
    embedder = get_embedder()
    # Each distinct text once: 110,000 profiles share a few hundred industry names.
    texts: dict[str, int] = {}
    owners: list[int] = []
    rows: list[int] = []
    for index, parts in enumerate(items):
        for part in [part for part in parts if part.strip()] or [""]:
            owners.append(index)
            rows.append(texts.setdefault(part, len(texts)))
    if not items:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    vectors = embedder.embed(list(texts)).astype(np.float64)
    sums = np.zeros((len(items), embedder.dim), dtype=np.float64)
    np.add.at(sums, np.array(owners, dtype=np.int64), vectors[np.array(rows, dtype=np.int64)])
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (sums / norms).astype(np.float32)


def vectors_for(kind: str, items: dict[int, tuple[str, ...]]) -> dict[int, np.ndarray]:
    """Vectors for {id: parts} (embed_parts), reusing stored ones whose parts are unchanged."""
    embedder = get_embedder()
    hashes = {pk: _text_hash(parts) for pk, parts in items.items()}
    rows = TextVector.objects.filter(kind=kind, model=embedder.name)
    if len(items) <= 10_000:  # a whole supply reads every vector of the kind instead
        rows = rows.filter(object_id__in=list(items))
    result: dict[int, np.ndarray] = {}
    for pk, text_hash, vector in rows.values_list("object_id", "text_hash", "vector"):
        if pk in hashes and hashes[pk] == text_hash:
            result[pk] = as_vector(vector, embedder.dim)
    missing = [pk for pk in items if pk not in result]
    for start in range(0, len(missing), 2000):
        batch = missing[start : start + 2000]
        vectors = embed_parts([items[pk] for pk in batch])
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


SUPPLY_FIELDS = (
    "id",
    "patent_id",
    "organisation_id",
    "organisation__region_id",
    "patent__title",
    "patent__abstract",
    "patent__main_ipc",
    "patent__further_ipcs",
    "patent__title_tokens",
    "patent__body_tokens",
    "lump_sum_cny",
    "entry_fee_cny",
)


def load_supply(declaration_ids: list[int] | None = None) -> Supply:
    """Announced declarations whose patent is in force (the hard filters). Reads plain values
    (no model instances: ~60,000 rows in a few seconds)."""
    today = timezone.localdate()
    declarations = (
        Declaration.objects.in_force()
        .filter(patent__legal_status=LegalStatus.IN_FORCE, patent__expiry_date__gte=today)
        .order_by("id")
    )
    if declaration_ids is not None:
        declarations = declarations.filter(pk__in=declaration_ids)
    rows = list(declarations.values_list(*SUPPLY_FIELDS))
    table = _concordance()
    dim = get_embedder().dim
    vectors = patent_vectors([row[1] for row in rows])
    blank = np.zeros(dim, dtype=np.float32)
    ipcs: dict[tuple[str, ...], dict[str, float]] = {}
    levels: dict[tuple[str, ...], frozenset[str]] = {}
    industries = []
    ipc_levels = []
    for row in rows:
        symbols = (row[6], *row[7])
        if symbols not in ipcs:
            ipcs[symbols] = industries_for(list(symbols), table)
            levels[symbols] = frozenset(
                level for symbol in symbols for level in ipc_area_levels(symbol)
            )
        industries.append(ipcs[symbols])
        ipc_levels.append(levels[symbols])
    return Supply(
        ids=np.array([row[0] for row in rows], dtype=np.int64),
        patent_ids=np.array([row[1] for row in rows], dtype=np.int64),
        patentee_ids=np.array([row[2] for row in rows], dtype=np.int64),
        provinces=[row[3][:2] for row in rows],
        vectors=np.vstack([vectors.get(row[1], blank) for row in rows])
        if rows
        else np.zeros((0, dim), np.float32),
        industries=industries,
        tokens=[set(f"{row[8]} {row[9]}".split()) for row in rows],
        upfront=np.array([float(row[10] or row[11] or 0) for row in rows], dtype=np.float64),
        main_subclass=[row[6][:4] for row in rows],
        ipc_label=[row[6].split(" ")[0] for row in rows],
        titles=[row[4] for row in rows],
        ipc_levels=ipc_levels,
        main_group=[_main_group(row[6]) for row in rows],
    )


_COMPACT_IPC = re.compile(r"^([A-H]\d\d)(?:([A-Z])(?:0*(\d+)(?:/\d+)?)?)?$")


def ipc_area_levels(raw: str) -> tuple[str, ...]:
    """An IPC symbol or a need's area (compact, as marketplace.patents.ipc normalises it) as
    its levels down to the main group: "G06T 7/00" or "G06T7" → ("G06", "G06T", "G06T7");
    "G06T" → ("G06", "G06T"); "G06" → ("G06",); a section or not IPC → ()."""
    try:
        return tuple(parse_ipc(raw).prefixes[1:4])
    except InvalidInput:
        pass
    found = _COMPACT_IPC.match((raw or "").replace(" ", "").upper())
    if found is None:
        return ()
    cls, subclass, group = found[1], found[2], found[3]
    if subclass is None:
        return (cls,)
    if group is None:
        return (cls, cls + subclass)
    return (cls, cls + subclass, f"{cls}{subclass}{int(group)}")


def _main_group(symbol: str) -> str:
    levels = ipc_area_levels(symbol)
    return levels[2] if len(levels) == 3 else ""


def keyword_terms(keywords: Sequence[str]) -> tuple[list[str], list[Keyword]]:
    """A need's keywords and each one as search matches it (engine.Keyword: its terms as
    query_terms cuts them, each by its word, all its parts or a synonym); a keyword of stop
    words only is left out (it would match nothing the index holds)."""
    words: list[str] = []
    terms: list[Keyword] = []
    for keyword in dict.fromkeys(k.strip() for k in keywords):
        found = tuple(_term_forms(term) for term in query_terms(keyword))
        if keyword and found:
            words.append(keyword)
            terms.append(found)
    return words, terms


_ASCII_WORDS = re.compile(r"[0-9a-z]+")


def _term_forms(term: QueryTerm) -> tuple[tuple[str, ...], ...]:
    """The forms that meet one term in a patent's tokens: its word, its parts together, each
    synonym (a Chinese synonym is one dictionary word; an English one, all its words)."""
    forms: list[tuple[str, ...]] = [(term.word,)]
    if term.parts:
        forms.append(tuple(term.parts))
    for synonym in term.synonyms:
        forms.append(tuple(_ASCII_WORDS.findall(synonym)) if synonym.isascii() else (synonym,))
    return tuple(dict.fromkeys(form for form in forms if form))


def reference_names() -> tuple[dict[str, str], dict[str, str]]:
    """Chinese names of industries and of provinces (by their two-digit code + 0000)."""
    return (
        dict(Industry.objects.values_list("code", "name_zh")),
        dict(Region.objects.filter(level="province").values_list("code", "name_zh")),
    )


def load_demand(
    sme_ids: list[int], names: tuple[dict[str, str], dict[str, str]] | None = None
) -> list[Demand]:
    """Every list of these SMEs: its profile's (need None: its industry and description) and
    one per open need (the need's text, keywords, IPC areas, industry, region and budget);
    feedback and licenses apply to all of an SME's lists. `names` (reference_names()) saves
    reading the reference tables again per chunk."""
    profiles = {
        p.organisation_id: p
        for p in SmeProfile.objects.filter(organisation_id__in=sme_ids).select_related("region")
    }
    needs: dict[int, list[TechnologyNeed]] = {}
    for need in TechnologyNeed.objects.filter(
        organisation_id__in=sme_ids, status="open", expires_on__gte=timezone.localdate()
    ).order_by("-created_at", "-id"):
        needs.setdefault(need.organisation_id, []).append(need)
    industry_names, province_names = names or reference_names()
    need_vectors = vectors_for("need", {n.pk: _need_text(n) for ns in needs.values() for n in ns})
    sme_vectors = vectors_for(
        "sme", {pk: _sme_text(p, industry_names) for pk, p in profiles.items()}
    )
    feedback: dict[int, list[tuple[str, str, int, str, str, str, float]]] = {}
    for row in MatchFeedback.objects.filter(sme_id__in=sme_ids).values_list(
        "sme_id",
        "verdict",
        "reason",
        "declaration_id",
        "declaration__patent__main_ipc",
        "declaration__organisation__region_id",
        "declaration__lump_sum_cny",
        "declaration__entry_fee_cny",
    ):
        sme, verdict, reason, declaration, main_ipc, region, lump_sum, entry_fee = row
        feedback.setdefault(sme, []).append(
            (
                verdict,
                reason,
                declaration,
                main_ipc,
                _main_group(main_ipc),
                (region or "")[:2],
                float(lump_sum or entry_fee or 0),
            )
        )
    licensed: dict[int, set[int]] = {}
    for licensee, declaration in License.objects.filter(
        licensee_id__in=sme_ids, status__in=ACTIVE_LICENSE_STATUSES, declaration__isnull=False
    ).values_list("licensee_id", "declaration_id"):
        licensed.setdefault(licensee, set()).add(declaration)
    demands = []
    for sme_id in sme_ids:
        profile = profiles.get(sme_id)
        if profile is None:
            continue
        own = needs.get(sme_id, [])
        items = feedback.get(sme_id, [])
        adjustments = _adjustments(items)
        # Marked not relevant, or already licensed: never in the list again.
        rejected = {item[2] for item in items if item[0] == "not_relevant"}
        rejected |= licensed.get(sme_id, set())
        province = profile.region_id[:2]
        budgets = [n.budget_max_cny for n in own if n.budget_max_cny is not None]
        demands.append(
            Demand(
                organisation_id=sme_id,
                industry=profile.industry_id,
                province=province,
                province_name=province_names.get(province + "0000", ""),
                budget=max(budgets) if budgets else None,
                keywords=[],
                vector=_unit(sme_vectors[sme_id]),
                need_id=None,
                adjustments=adjustments,
                rejected_declarations=set(rejected),
            )
        )
        for need in own:
            words, terms = keyword_terms(need.keywords)
            region = need.region_id[:2] if need.region_id else province
            demands.append(
                Demand(
                    organisation_id=sme_id,
                    industry=need.industries[0] if need.industries else profile.industry_id,
                    province=region,
                    province_name=province_names.get(region + "0000", ""),
                    budget=need.budget_max_cny,
                    keywords=words,
                    keyword_tokens=terms,
                    vector=_unit(need_vectors[need.pk]),
                    need_id=need.pk,
                    ipc_areas=tuple(
                        dict.fromkeys(
                            levels
                            for levels in (ipc_area_levels(area) for area in need.ipc_areas)
                            if levels
                        )
                    ),
                    adjustments=adjustments,
                    rejected_declarations=set(rejected),
                )
            )
    return demands


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector)) or 1.0
    return (vector / norm).astype(np.float32)


def _adjustments(items: list[tuple[str, str, int, str, str, str, float]]) -> tuple[Adjustment, ...]:
    """The SME's feedback as score adjustments (engine.FEEDBACK_EFFECTS), each once."""
    found: dict[Adjustment, None] = {}
    for verdict, reason, _declaration, main_ipc, group, province, upfront in items:
        keys = {"subclass": main_ipc[:4], "group": group, "province": province, "pricier": upfront}
        for target, delta in feedback_effects(verdict, reason):
            key = keys[target]
            if key or target == "pricier":
                found[(target, key, delta)] = None
    return tuple(found)


MATCH_COLUMNS = (
    "run_id",
    "sme_id",
    "declaration_id",
    "patent_id",
    "need_id",
    "score",
    "rank",
    "components",
    "reasons",
    "created_at",
)


# One encoder for every row (json.dumps with options builds a new one per call).
_JSON = json.JSONEncoder(ensure_ascii=False)


def _match_rows(
    run_id: int, supply: Supply, demands: list[Demand], ranked: list[list[Scored]]
) -> Iterator[tuple[object, ...]]:
    """Rows in MATCH_COLUMNS order for COPY (JSON as text; jsonb parses it)."""
    now = timezone.now()
    declaration_ids = supply.ids.tolist()
    patent_ids = supply.patent_ids.tolist()
    encode = _JSON.encode
    for demand, scored in zip(demands, ranked, strict=True):
        sme, need = demand.organisation_id, demand.need_id
        for rank, item in enumerate(scored, start=1):
            yield (
                run_id,
                sme,
                declaration_ids[item.index],
                patent_ids[item.index],
                need,
                item.score,
                rank,
                encode(item.components),
                encode(item.reasons),
                now,
            )


def _floor_rows(
    run_id: int, demands: list[Demand], ranked: list[list[Scored]]
) -> Iterator[tuple[object, ...]]:
    """(run, SME, need, lowest score) of every full list, for ListFloor."""
    top_k = settings.MATCHING_TOP_K
    for demand, scored in zip(demands, ranked, strict=True):
        if len(scored) >= top_k:
            yield run_id, demand.organisation_id, demand.need_id, scored[-1].score


FLOOR_COLUMNS = ("run_id", "sme_id", "need_id", "score")


def _copy_rows(table: str, columns: Sequence[str], rows: Iterator[tuple[object, ...]]) -> int:
    """Write rows with COPY (an order of magnitude cheaper than INSERTs for a chunk's
    ~100,000 matches); in the caller's transaction."""
    written = 0
    with connection.cursor() as cursor:
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with cursor.cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
                written += 1
    return written


# ---- who writes a list, one at a time -----------------------------------------------------
#
# PostgreSQL advisory locks (transaction-scoped, so a worker that dies releases them):
# - every writer of an SME's lists holds that SME's lock while it reads what the lists are made
#   of and writes them (lists_refresh), so two triggers for one SME take turns and the later one
#   scores the state the earlier one left, never an older one;
# - the supply lock is taken shared by lists_refresh and by a chunk's write, and exclusive by
#   the declaration tasks (declaration_matched, declaration_retired): a refresh that read the
#   supply before an announcement or a withdrawal commits its lists before the declaration task
#   reads them, and one that starts after it reads the supply with the declaration's event;
# - a chunk of a running full re-match is locked exclusive while it is written and shared by a
#   refresh of one of its SMEs before the refresh reads whether the chunk is done: the refresh
#   then either rewrites the SME's lists in the written chunk too, or the chunk, written after,
#   scores again every SME of it changed since the chunk read its demand.
# Order, everywhere: supply, then SMEs by id, then chunks by id (no deadlock).
LOCK_SUPPLY = (0x4D41, 0)
LOCK_SME = 0x4D42  # (LOCK_SME, SME id)
LOCK_CHUNK = 0x4D43  # (LOCK_CHUNK, chunk id)


_LOCK_SUPPLY_SQL = {
    True: "SELECT pg_advisory_xact_lock(%s, %s)",
    False: "SELECT pg_advisory_xact_lock_shared(%s, %s)",
}
# One lock per id, taken in id order (the function runs row by row over the sorted ids).
_LOCK_EACH_SQL = {
    True: "SELECT count(pg_advisory_xact_lock(%s, id)) FROM "
    "(SELECT DISTINCT unnest(%s::int[]) AS id ORDER BY 1) AS ordered",
    False: "SELECT count(pg_advisory_xact_lock_shared(%s, id)) FROM "
    "(SELECT DISTINCT unnest(%s::int[]) AS id ORDER BY 1) AS ordered",
}


def _lock_supply(*, exclusive: bool) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_SUPPLY_SQL[exclusive], list(LOCK_SUPPLY))


def _lock_each(namespace: int, ids: Sequence[int], *, exclusive: bool) -> None:
    """Advisory locks on (namespace, id) for each id, in id order."""
    if ids:
        with connection.cursor() as cursor:
            cursor.execute(_LOCK_EACH_SQL[exclusive], [namespace, sorted(ids)])


def smes_changed_since(ids: Sequence[int], since: datetime) -> set[int]:
    """The SMEs among `ids` whose lists' inputs were saved since then: profile, needs,
    feedback, licenses taken."""
    ids = list(ids)
    return (
        set(
            SmeProfile.objects.filter(organisation_id__in=ids, updated_at__gte=since).values_list(
                "organisation_id", flat=True
            )
        )
        | set(
            TechnologyNeed.objects.filter(
                organisation_id__in=ids, updated_at__gte=since
            ).values_list("organisation_id", flat=True)
        )
        | set(
            MatchFeedback.objects.filter(sme_id__in=ids, updated_at__gte=since).values_list(
                "sme_id", flat=True
            )
        )
        | set(
            License.objects.filter(licensee_id__in=ids, updated_at__gte=since).values_list(
                "licensee_id", flat=True
            )
        )
    )


@dataclass
class _RunContext:
    """What every chunk of one run shares in a worker process: the supply, its industry rows
    and the reference names, loaded once by the first chunk the process runs."""

    run_id: int
    supply: Supply
    industries: IndustryCache
    names: tuple[dict[str, str], dict[str, str]]
    stamp: SupplyStamp | None = None  # what the supply was read or patched at


_RUN_CONTEXT: dict[int, _RunContext] = {}


def _run_context(run_id: int) -> _RunContext:
    """The run's supply in this worker, patched with the declarations announced or ended
    since it was read (as the live supply is): a chunk scored later in a run scores the
    supply as it is then, and the declaration tasks add to (or take from) the chunks written
    before."""
    context = _RUN_CONTEXT.get(run_id)
    stamp = _supply_stamp()
    if context is not None and context.stamp != stamp:
        if context.stamp is not None and _supply_patch(context.stamp, stamp, context):
            context.stamp = stamp
        else:
            context = None
    if context is None:
        _RUN_CONTEXT.clear()
        supply = load_supply()
        context = _RunContext(run_id, supply, IndustryCache(supply), reference_names(), stamp=stamp)
        _RUN_CONTEXT[run_id] = context
    return context


def _declarations_moved(old: SupplyStamp | None, new: SupplyStamp) -> bool:
    """Whether declarations were announced or ended between two stamps (not only vectors)."""
    return old is None or (old.declarations, old.last_event, old.day) != (
        new.declarations,
        new.last_event,
        new.day,
    )


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

            # All chunks sent together (an unreachable broker: one retry, not one per chunk;
            # resume_stale_runs sends them again); bulk_create set their keys already.
            publish_after_commit(publish_each, match_chunk, [(chunk.pk,) for chunk in chunks])
    if not chunks:
        _finish(run.pk)
    return run


def run_resume(run_id: int, *, started_before: datetime | None = None) -> int:
    """Send the pending chunks of a running run again (after a worker died holding one);
    with `started_before`, only those a worker began before then. A run whose chunks are all
    done (its worker died before the finish) is finished here.

    Safe to call any time: a chunk already done is skipped by its task, and a chunk sent twice
    is written once (claimed by compare-and-swap).
    """
    from matching.tasks import match_chunk

    pending = MatchChunk.objects.filter(
        run_id=run_id, run__status=MatchRun.Status.RUNNING, status="pending"
    )
    if not pending.exists():
        if MatchRun.objects.filter(pk=run_id, status=MatchRun.Status.RUNNING).exists():
            _finish(run_id)
        return 0
    if started_before is not None:
        pending = pending.filter(started_at__lt=started_before)
    ids = list(pending.values_list("pk", flat=True))
    publish_each(match_chunk, [(pk,) for pk in ids])
    return len(ids)


def runs_resume_stale(
    *, older_than_minutes: int = 30, chunk_stale_seconds: int | None = None
) -> int:
    """Beat (every minute): finish the running runs whose chunks are all done; send again the
    chunks a worker began more than MATCHING_CHUNK_STALE_SECONDS ago and never finished (it
    was killed: its message waits for the broker's visibility timeout otherwise); and every
    pending chunk of a run older than `older_than_minutes` in which no chunk began within that
    window (its messages were lost on the way; a run making progress is not flooded)."""
    now = timezone.now()
    seconds = (
        settings.MATCHING_CHUNK_STALE_SECONDS
        if chunk_stale_seconds is None
        else chunk_stale_seconds
    )
    limit = now - timedelta(minutes=older_than_minutes)
    resent = 0
    for run_id, started_at in MatchRun.objects.filter(status=MatchRun.Status.RUNNING).values_list(
        "pk", "started_at"
    ):
        stale_before: datetime | None = now - timedelta(seconds=seconds)
        if (
            started_at < limit
            and not MatchChunk.objects.filter(run_id=run_id, started_at__gte=stale_before).exists()
        ):
            stale_before = None
        resent += run_resume(run_id, started_before=stale_before)
    return resent


def chunk_run(chunk_id: int) -> str:
    """Score one chunk and write its matches; idempotent: a chunk done is skipped, a chunk
    half-written by a killed worker is rewritten whole (delete + insert in one transaction)."""
    chunk = MatchChunk.objects.select_related("run").filter(pk=chunk_id).first()
    if chunk is None or chunk.run.status != MatchRun.Status.RUNNING:
        return "skipped"
    if chunk.status == "done":
        # Redelivered after its worker died between this chunk's commit and the finish.
        if not MatchChunk.objects.filter(run_id=chunk.run_id, status="pending").exists():
            _finish(chunk.run_id)
        return "skipped"
    MatchChunk.objects.filter(pk=chunk.pk).update(
        attempts=chunk.attempts + 1, started_at=timezone.now()
    )
    context = _run_context(chunk.run_id)
    scored_at = context.stamp
    read_from = timezone.now() - SNAPSHOT_OVERLAP
    demands = load_demand(list(chunk.sme_ids), context.names)
    ranked = score_smes(context.supply, demands, context.industries)
    with transaction.atomic():
        _lock_supply(exclusive=False)
        _lock_each(LOCK_CHUNK, [chunk.pk], exclusive=True)
        claimed = MatchChunk.objects.filter(pk=chunk.pk, status="pending").update(status="done")
        if not claimed:
            return "skipped"
        if _declarations_moved(scored_at, _supply_stamp()):
            # A declaration was announced or ended while the chunk was scored (its task found
            # this chunk not written): the whole chunk again, on the supply patched with it.
            context = _run_context(chunk.run_id)
            demands = load_demand(list(chunk.sme_ids), context.names)
            ranked = score_smes(context.supply, demands, context.industries)
        else:
            # An SME changed while the chunk was scored had its trigger find the chunk not
            # written (so it rewrote the current run only): that SME again.
            changed = smes_changed_since(chunk.sme_ids, read_from)
            if changed:
                again = load_demand(sorted(changed), context.names)
                kept = [
                    (demand, scored)
                    for demand, scored in zip(demands, ranked, strict=True)
                    if demand.organisation_id not in changed
                ]
                kept += zip(
                    again, score_smes(context.supply, again, context.industries), strict=True
                )
                demands, ranked = [d for d, _r in kept], [r for _d, r in kept]
        if chunk.attempts:
            # Rows of this chunk exist only if it was done and set back to pending (an ack
            # lost after commit): rewrite them whole. A first attempt skips the delete, which
            # would otherwise read the run's rows written so far, chunk after chunk.
            Match.objects.filter(run_id=chunk.run_id, sme_id__in=chunk.sme_ids).delete()
            ListFloor.objects.filter(run_id=chunk.run_id, sme_id__in=chunk.sme_ids).delete()
        _copy_rows(
            "matching_match",
            MATCH_COLUMNS,
            _match_rows(chunk.run_id, context.supply, demands, ranked),
        )
        _copy_rows("matching_listfloor", FLOOR_COLUMNS, _floor_rows(chunk.run_id, demands, ranked))
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
        MATCH_RUN.transition(
            run, to=MatchRun.Status.COMPLETE, is_current=True, finished_at=timezone.now()
        )
    Match.objects.filter(run__is_current=False, run__status=MatchRun.Status.COMPLETE).delete()
    ListFloor.objects.filter(run__is_current=False, run__status=MatchRun.Status.COMPLETE).delete()


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


# ---- incremental matching ------------------------------------------------------------------


@dataclass
class DemandSnapshot:
    """Every list's demand (one row per SME profile and per open need) as arrays, kept in the
    worker process between incremental matches (reading 110,000 SMEs and their vectors takes
    seconds; scoring one declaration against the arrays takes milliseconds). Only a filter:
    the lists it admits are scored again from the database, so a stale snapshot can miss a
    list but never store a wrong score.

    When its stamp moves (profiles, needs or feedback counted or updated) only the SMEs whose
    rows changed since are read again (~0.4 s instead of ~16 s at 110,000 SMEs); a new day, a
    count that went down (a row deleted) or SNAPSHOT_SECONDS since the last full read read
    everything again."""

    stamp: DemandStamp
    taken_at: float  # this snapshot (keys the floors cached for it)
    read_at: float  # the last full read
    demands: list[Demand]  # row by row; each vector a view of a row of `vectors`
    rows: dict[tuple[int, int | None], int]  # (SME id, need id) → row
    sme_rows: dict[int, list[int]]  # SME id → its rows
    ids: np.ndarray  # the SME of each row
    vectors: np.ndarray
    codes: list[str]
    code_rows: np.ndarray
    provinces: np.ndarray
    budgets: list[Decimal | None]
    budget_rows: np.ndarray
    areas: list[tuple[tuple[str, ...], ...]]  # distinct sets of IPC areas; 0 is none
    area_rows: np.ndarray
    keyword_rows: dict[Keyword, np.ndarray]  # keyword (engine.Keyword) → rows
    keyword_counts: np.ndarray
    adjusted: dict[Adjustment, np.ndarray]
    rejected_declarations: dict[int, np.ndarray]


SNAPSHOT_SECONDS = 3600.0
# Rows saved this long before the last stamp was taken are read again: a transaction that
# saved a row before then but committed after is not missed (and clocks may differ a little).
SNAPSHOT_OVERLAP = timedelta(seconds=60)
_SNAPSHOT: list[DemandSnapshot] = []
# The worker's kept caches (snapshot, live supply) are read or patched by one thread at a time:
# the warm-up thread at start and a trigger arriving meanwhile must not both read them.
_CACHES = threading.RLock()


@dataclass(frozen=True)
class DemandStamp:
    """Counts and last changes of what a demand is made of, and the day (needs expire)."""

    profiles: int
    profiles_changed: datetime | None
    needs: int
    needs_changed: datetime | None
    feedback: int
    feedback_changed: datetime | None
    day: date
    taken_on: datetime = field(compare=False)  # wall clock: where the next re-read starts


def _demand_stamp() -> DemandStamp:
    profiles = SmeProfile.objects.aggregate(count=Count("id"), last=Max("updated_at"))
    needs = TechnologyNeed.objects.aggregate(count=Count("id"), last=Max("updated_at"))
    feedback = MatchFeedback.objects.aggregate(count=Count("id"), last=Max("updated_at"))
    return DemandStamp(
        profiles["count"],
        profiles["last"],
        needs["count"],
        needs["last"],
        feedback["count"],
        feedback["last"],
        timezone.localdate(),
        timezone.now(),
    )


def _changed_smes(old: DemandStamp, new: DemandStamp) -> set[int] | None:
    """The SMEs whose profile, needs or feedback changed between two stamps; None when only
    a full read will do (another day, or fewer rows: something was deleted)."""
    if (
        new.day != old.day
        or new.profiles < old.profiles
        or new.needs < old.needs
        or new.feedback < old.feedback
    ):
        return None

    start = old.taken_on - SNAPSHOT_OVERLAP
    return (
        set(
            SmeProfile.objects.filter(updated_at__gte=start).values_list(
                "organisation_id", flat=True
            )
        )
        | set(
            TechnologyNeed.objects.filter(updated_at__gte=start).values_list(
                "organisation_id", flat=True
            )
        )
        | set(MatchFeedback.objects.filter(updated_at__gte=start).values_list("sme_id", flat=True))
    )


def _rows_by(groups: dict[Any, list[int]]) -> dict[Any, np.ndarray]:
    return {key: np.array(rows, dtype=np.int64) for key, rows in groups.items()}


# The snapshot's posting lists (rows by key) and what of a demand each one indexes: built
# whole by _snapshot_of, kept up to date row by row by _patch.
_POSTINGS: tuple[tuple[str, Callable[[Demand], Iterable[Any]]], ...] = (
    ("keyword_rows", lambda demand: demand.keyword_terms()),
    ("adjusted", lambda demand: demand.adjustments),
    ("rejected_declarations", lambda demand: demand.rejected_declarations),
)


def _province_number(province: str) -> int:
    """A demand's province in the arrays (-2 when unknown: never a patentee's, which is -1)."""
    return int(province) if province.isdigit() else -2


def demand_snapshot() -> DemandSnapshot:
    """The worker's snapshot of every SME's demand, brought up to date: as it is when its
    stamp has not moved, patched with the SMEs that changed when it has, read whole after a
    new day, a deletion or SNAPSHOT_SECONDS."""
    with _CACHES:
        return _demand_snapshot()


def _demand_snapshot() -> DemandSnapshot:
    stamp = _demand_stamp()
    now = time.monotonic()
    if _SNAPSHOT and now - _SNAPSHOT[0].read_at < SNAPSHOT_SECONDS:
        current = _SNAPSHOT[0]
        if current.stamp == stamp:
            return current
        changed = _changed_smes(current.stamp, stamp)
        if changed is not None:
            fresh = {demand.key: demand for demand in load_demand(sorted(changed))}
            before = {
                current.demands[row].key for sme in changed for row in current.sme_rows.get(sme, [])
            }
            if set(fresh) == before:  # the same lists: patched row by row
                _patch(current, fresh)
                current.stamp = stamp
                return current
            # A list came or went (a need opened or closed, a new SME): built again.
            demands = [d for d in current.demands if d.organisation_id not in changed]
            demands.extend(fresh.values())
            snapshot = _snapshot_of(demands, stamp, read_at=current.read_at)
            _SNAPSHOT[:] = [snapshot]
            return snapshot
    snapshot = _snapshot_of(load_demand(sme_ids()), stamp, read_at=now)
    _SNAPSHOT[:] = [snapshot]
    return snapshot


def _posting(index: dict[Any, np.ndarray], key: object, row: int, *, add: bool) -> None:
    rows = index.get(key, np.zeros(0, dtype=np.int64))
    rows = np.append(rows, np.int64(row)) if add else rows[rows != row]
    if rows.size:
        index[key] = rows
    else:
        index.pop(key, None)


def _patch(snapshot: DemandSnapshot, fresh: dict[tuple[int, int | None], Demand]) -> None:
    """Replace the rows of lists already in the snapshot (a few ms for a few SMEs, where
    building the arrays again takes ~0.3 s); the rows, and so the cached floors, keep their
    order."""
    codes = {code: number for number, code in enumerate(snapshot.codes)}
    budgets = {budget: number for number, budget in enumerate(snapshot.budgets)}
    areas = {value: number for number, value in enumerate(snapshot.areas)}
    for key, new in fresh.items():
        row = snapshot.rows[key]
        old = snapshot.demands[row]
        for name, keys in _POSTINGS:
            index = getattr(snapshot, name)
            before, after = set(keys(old)), set(keys(new))
            for key in before - after:
                _posting(index, key, row, add=False)
            for key in after - before:
                _posting(index, key, row, add=True)
        if new.industry not in codes:
            codes[new.industry] = len(snapshot.codes)
            snapshot.codes.append(new.industry)
        if new.budget not in budgets:
            budgets[new.budget] = len(snapshot.budgets)
            snapshot.budgets.append(new.budget)
        if new.ipc_areas not in areas:
            areas[new.ipc_areas] = len(snapshot.areas)
            snapshot.areas.append(new.ipc_areas)
        snapshot.code_rows[row] = codes[new.industry]
        snapshot.budget_rows[row] = budgets[new.budget]
        snapshot.area_rows[row] = areas[new.ipc_areas]
        snapshot.provinces[row] = _province_number(new.province)
        snapshot.keyword_counts[row] = len(new.keyword_terms())
        snapshot.vectors[row] = new.vector
        new.vector = snapshot.vectors[row]
        snapshot.demands[row] = new


def _snapshot_of(demands: list[Demand], stamp: DemandStamp, *, read_at: float) -> DemandSnapshot:
    """The arrays of a snapshot from its demands (~0.3 s for 110,000 SMEs)."""
    codes: dict[str, int] = {}
    budgets: dict[Decimal | None, int] = {}
    areas: dict[tuple[tuple[str, ...], ...], int] = {(): 0}
    postings: dict[str, dict[Any, list[int]]] = {name: {} for name, _keys in _POSTINGS}
    for row, demand in enumerate(demands):
        for name, keys in _POSTINGS:
            groups = postings[name]
            for key in keys(demand):
                groups.setdefault(key, []).append(row)
    sme_rows: dict[int, list[int]] = {}
    for row, demand in enumerate(demands):
        sme_rows.setdefault(demand.organisation_id, []).append(row)
    dim = get_embedder().dim
    vectors = np.vstack([d.vector for d in demands]) if demands else np.zeros((0, dim), np.float32)
    for row, demand in enumerate(demands):
        demand.vector = vectors[row]  # one copy of each vector, in the matrix
    snapshot = DemandSnapshot(
        stamp=stamp,
        taken_at=time.monotonic(),
        read_at=read_at,
        demands=demands,
        rows={d.key: row for row, d in enumerate(demands)},
        sme_rows=sme_rows,
        ids=np.array([d.organisation_id for d in demands], dtype=np.int64),
        vectors=vectors,
        codes=[],
        code_rows=np.array(
            [codes.setdefault(d.industry, len(codes)) for d in demands], dtype=np.int64
        ),
        provinces=np.array([_province_number(d.province) for d in demands], dtype=np.int32),
        budgets=[],
        budget_rows=np.array(
            [budgets.setdefault(d.budget, len(budgets)) for d in demands], dtype=np.int64
        ),
        areas=[],
        area_rows=np.array(
            [areas.setdefault(d.ipc_areas, len(areas)) for d in demands], dtype=np.int64
        ),
        keyword_rows=_rows_by(postings["keyword_rows"]),
        keyword_counts=np.array([len(d.keyword_terms()) for d in demands], dtype=np.float64),
        adjusted=_rows_by(postings["adjusted"]),
        rejected_declarations=_rows_by(postings["rejected_declarations"]),
    )
    snapshot.codes = list(codes)
    snapshot.budgets = list(budgets)
    snapshot.areas = list(areas)
    return snapshot


def _estimate(snapshot: DemandSnapshot, supply: Supply) -> np.ndarray:
    """The formula (engine.formula, then the feedback adjustments) for one declaration
    (supply row 0) against every list of the snapshot."""
    semantic = np.clip(snapshot.vectors @ supply.vectors[0], 0.0, 1.0)
    industries = supply.industries[0]
    by_code = np.array(
        [
            max((w * industry_relation(code, c) for c, w in industries.items()), default=0.0)
            for code in snapshot.codes
        ],
        dtype=np.float32,
    )
    industry = by_code[snapshot.code_rows] if by_code.size else np.zeros(len(snapshot.ids))
    levels = supply.ipc_levels[0]
    by_area = np.array(
        [ipc_relation(areas, levels)[0] for areas in snapshot.areas], dtype=np.float32
    )
    if by_area.size:
        industry = np.maximum(industry, by_area[snapshot.area_rows])
    found = np.zeros(len(snapshot.ids), dtype=np.float64)
    tokens = supply.tokens[0]
    for terms, rows in snapshot.keyword_rows.items():
        if keyword_found(terms, tokens):
            found[rows] += 1.0
    share = (found / np.maximum(snapshot.keyword_counts, 1.0)).astype(np.float32)
    region = (snapshot.provinces == supply.province_codes()[0]).astype(np.float32)
    # The engine's own affordability (cached per budget) of this one declaration.
    by_budget = np.array(
        [supply.affordability(budget)[0] for budget in snapshot.budgets], dtype=np.float32
    )
    affordability = (
        by_budget[snapshot.budget_rows] if by_budget.size else np.zeros(len(snapshot.ids))
    )
    total = formula(semantic, industry, share, region, affordability)
    for (target, key, delta), moved in snapshot.adjusted.items():
        if adjustment_hits(supply, 0, target, key):
            total[moved] += np.float32(delta)
    rejected = snapshot.rejected_declarations.get(int(supply.ids[0]))
    if rejected is not None:
        total[rejected] = -np.inf
    total[snapshot.ids == int(supply.patentee_ids[0])] = -np.inf
    return total


ListKey = tuple[int, int | None]


def _list_sizes(matches: QuerySet[Match]) -> dict[ListKey, tuple[int, float]]:
    """Each list's number of matches and lowest score among `matches`."""
    return {
        (sme, need): (count, low)
        for sme, need, count, low in matches.values("sme_id", "need_id")
        .annotate(count=Count("id"), low=Min("score"))
        .values_list("sme_id", "need_id", "count", "low")
        .order_by()
    }


_RUN_FLOORS: dict[int, dict[ListKey, float]] = {}


def _run_floors(run: MatchRun) -> dict[ListKey, float]:
    """The run's ListFloor rows by list (cached per run; lists_refresh updates the cache)."""
    if run.pk not in _RUN_FLOORS:
        _RUN_FLOORS.clear()
        _RUN_FLOORS[run.pk] = {
            (sme, need): score
            for sme, need, score in ListFloor.objects.filter(run=run).values_list(
                "sme_id", "need_id", "score"
            )
        }
    return _RUN_FLOORS[run.pk]


# A declaration enters a list only above this score (else every SME gets every patent); below
# an exact industry fit alone (weight 0.15 × a context factor ≥ 1), which a full run lists.
INCREMENTAL_MINIMUM = 0.12
_FLOORS: dict[tuple[int, float], np.ndarray] = {}


def _floors(run: MatchRun, snapshot: DemandSnapshot) -> np.ndarray:
    """The least score each snapshot list asks of a newcomer, aligned with the snapshot's
    rows: the run's floor where the list was full, else the minimum.

    A lower bound at any time: a full list's lowest score only rises with newcomers, and a
    list that withdrawals left short asks for the floor. So it never needs recounting after a
    retirement; the exact check against each admitted SME's list follows."""
    key = (run.pk, snapshot.taken_at)
    if key not in _FLOORS:
        floors = _run_floors(run)
        _FLOORS.clear()
        _FLOORS[key] = np.maximum(
            np.array(
                [floors.get(demand.key, INCREMENTAL_MINIMUM) for demand in snapshot.demands],
                dtype=np.float32,
            ),
            np.float32(INCREMENTAL_MINIMUM),
        )
    return _FLOORS[key]


@transaction.atomic
def declaration_matched(declaration_id: int) -> list[int]:
    """Incremental: score one newly announced declaration against every list and add it to
    the lists where it ranks within the top K; returns the SMEs that gained it.

    Every list is estimated at once from the worker's snapshot; the few whose estimate beats
    their floor are scored again from the database with the full formula and checked
    against the list as it is. Holds the supply lock exclusive (see "who writes a list"):
    a list refresh that began before waits, one that begins after reads this declaration."""
    _lock_supply(exclusive=True)
    run = current_run() or _first_run()
    supply = load_supply([declaration_id])
    if len(supply) == 0:
        return []
    snapshot = demand_snapshot()
    estimate = _estimate(snapshot, supply)
    floor = _floors(run, snapshot)
    # A small margin: the estimate's float32 sums may differ from the exact score's last bit.
    keys = {snapshot.demands[row].key for row in np.flatnonzero(estimate > floor - 1e-4)}
    if not keys:
        return []
    smes = sorted({sme for sme, _need in keys})
    names = reference_names()
    demands = [demand for demand in load_demand(smes, names) if demand.key in keys]
    ranked = score_smes(supply, demands, IndustryCache(supply), top_k=1)
    best = {
        demand.key: scored[0]
        for demand, scored in zip(demands, ranked, strict=True)
        if scored and scored[0].score > INCREMENTAL_MINIMUM
    }
    if not best:
        return []
    gained = _admit(run, declaration_id, supply, best, _run_floors(run))
    # A full re-match running: its chunks written already get the declaration too (the
    # chunks still to come score a supply patched with it, see chunk_run).
    for running_id, chunk_smes in MatchChunk.objects.filter(
        run__status=MatchRun.Status.RUNNING, status="done"
    ).values_list("run_id", "sme_ids"):
        inside = set(chunk_smes)
        written = {key: scored for key, scored in best.items() if key[0] in inside}
        if written:
            floors: dict[ListKey, float] = {
                (sme, need): score
                for sme, need, score in ListFloor.objects.filter(
                    run_id=running_id, sme_id__in=sorted({k[0] for k in written})
                ).values_list("sme_id", "need_id", "score")
            }
            _admit(MatchRun(pk=running_id), declaration_id, supply, written, floors)
    return sorted({sme for sme, _need in gained})


def _admit(
    run: MatchRun,
    declaration_id: int,
    supply: Supply,
    best: dict[ListKey, Scored],
    floors: dict[ListKey, float],
) -> list[ListKey]:
    """Add the declaration (supply row 0) to the run's lists where its score ranks within
    the top K: a full list loses its lowest match; a list short of retired matches takes it
    only above its floor. Returns the lists that gained it."""
    top_k = settings.MATCHING_TOP_K
    others = Match.objects.filter(run=run, sme_id__in=sorted({k[0] for k in best})).exclude(
        declaration_id=declaration_id
    )
    lists = _list_sizes(others)
    gained: list[ListKey] = []
    displace: set[ListKey] = set()
    for key, scored in best.items():
        count, low = lists.get(key, (0, 0.0))
        if count >= top_k:
            if low >= scored.score:
                continue
            displace.add(key)
        elif floors.get(key, INCREMENTAL_MINIMUM) >= scored.score:
            continue  # a list short of retired matches waits for the next full re-match
        gained.append(key)
    if displace:
        # The lowest match of each full list makes room (one per list).
        lowest = (
            others.filter(sme_id__in=sorted({k[0] for k in displace}))
            .order_by("sme_id", "need_id", "score", "id")
            .distinct("sme_id", "need_id")
            .values_list("id", "sme_id", "need_id")
        )
        Match.objects.filter(
            pk__in=[pk for pk, sme, need in lowest if (sme, need) in displace]
        ).delete()
    Match.objects.bulk_create(
        [
            Match(
                run_id=run.pk,
                sme_id=sme,
                declaration_id=declaration_id,
                patent_id=int(supply.patent_ids[0]),
                need_id=need,
                score=best[(sme, need)].score,
                rank=0,
                components=best[(sme, need)].components,
                reasons=best[(sme, need)].reasons,
            )
            for sme, need in gained
        ],
        update_conflicts=True,
        unique_fields=["run", "sme", "need", "declaration"],
        update_fields=["patent", "score", "rank", "components", "reasons"],
    )
    return gained


@transaction.atomic
def declaration_retired(declaration_id: int) -> int:
    """A withdrawn or ended declaration leaves every list. Holds the supply lock exclusive:
    a list refresh that read the supply with it commits first, and its rows go too."""
    _lock_supply(exclusive=True)
    deleted, _detail = Match.objects.filter(declaration_id=declaration_id).delete()
    return deleted


# ---- the lists of SMEs that changed (the trigger path) ------------------------------------


@dataclass(frozen=True)
class SupplyStamp:
    """What the supply is made of: the declarations' timeline and the patents' vectors."""

    declarations: int
    last_event: int | None
    last_vector: datetime | None
    day: date


def _supply_stamp() -> SupplyStamp:
    from licensing.models import DeclarationEvent

    return SupplyStamp(
        Declaration.objects.in_force().count(),
        DeclarationEvent.objects.aggregate(last=Max("id"))["last"],
        PatentVector.objects.aggregate(last=Max("updated_at"))["last"],
        timezone.localdate(),
    )


_LIVE: list[tuple[SupplyStamp, _RunContext]] = []
# Declaration events up to this many ids before the last one seen are read again when the
# supply is patched: a transaction that took a lower id may commit after a higher one.
EVENT_OVERLAP = 50


def live_context() -> _RunContext:
    """The supply as it is now, kept in the worker between triggers: patched with the
    declarations announced or ended since (their events) and the patent vectors changed since,
    read whole on a new day (patents expire), on a change no event explains, or the first time."""
    with _CACHES:
        stamp = _supply_stamp()
        if _LIVE and _LIVE[0][0] != stamp and _supply_patch(_LIVE[0][0], stamp, _LIVE[0][1]):
            _LIVE[0] = (stamp, _LIVE[0][1])
        if not _LIVE or _LIVE[0][0] != stamp:
            supply = load_supply()
            context = _RunContext(0, supply, IndustryCache(supply), reference_names())
            _LIVE[:] = [(stamp, context)]
        return _LIVE[0][1]


def _supply_patch(old: SupplyStamp, new: SupplyStamp, context: _RunContext) -> bool:
    """Bring a kept supply from `old` to `new` in place (milliseconds: one declaration's row
    added or retired, a few vectors replaced); False when only a full read will do."""
    from licensing.models import DeclarationEvent

    old_event, new_event = old.last_event or 0, new.last_event or 0  # None: no event yet
    if new.day != old.day:
        return False
    if new_event < old_event or (new_event == old_event and new.declarations != old.declarations):
        return False  # rows deleted, or declarations changed without an event
    if new.last_vector is None and old.last_vector is not None:
        return False  # vectors deleted
    supply = context.supply
    changed = sorted(
        set(
            DeclarationEvent.objects.filter(id__gt=old_event - EVENT_OVERLAP).values_list(
                "declaration_id", flat=True
            )
        )
    )
    if changed:
        fresh = load_supply(changed)
        in_force = set(fresh.ids.tolist())
        for declaration_id in changed:
            if declaration_id not in in_force:
                supply.retire(declaration_id)
        added = [i for i, pk in enumerate(fresh.ids.tolist()) if supply.row_of(pk) is None]
        if added:
            start = len(supply)
            supply.extend(_supply_rows(fresh, added))
            context.industries.extend(start)
    if new.last_vector != old.last_vector:
        vectors = PatentVector.objects.filter(model=get_embedder().name)
        if old.last_vector is not None:
            vectors = vectors.filter(updated_at__gte=old.last_vector)
        updated = dict(vectors.values_list("patent_id", "vector"))
        if updated:
            rows = np.flatnonzero(np.isin(supply.patent_ids, list(updated)))
            for row in rows.tolist():
                raw = updated[int(supply.patent_ids[row])]
                supply.vectors[row] = np.frombuffer(bytes(raw), dtype=np.float16)
    return True


def _supply_rows(supply: Supply, rows: Sequence[int]) -> Supply:
    """A supply of some rows of another (for Supply.extend)."""
    picked = np.array(rows, dtype=np.int64)
    return Supply(
        ids=supply.ids[picked],
        patent_ids=supply.patent_ids[picked],
        patentee_ids=supply.patentee_ids[picked],
        provinces=[supply.provinces[i] for i in rows],
        vectors=supply.vectors[picked],
        industries=[supply.industries[i] for i in rows],
        tokens=[supply.tokens[i] for i in rows],
        upfront=supply.upfront[picked],
        main_subclass=[supply.main_subclass[i] for i in rows],
        ipc_label=[supply.ipc_label[i] for i in rows],
        titles=[supply.titles[i] for i in rows],
        ipc_levels=[supply.ipc_levels[i] for i in rows],
        main_group=[supply.main_group[i] for i in rows],
    )


def live_context_warm() -> None:
    """After a declaration task: patch the kept supply now, when this worker keeps one, so
    the next SME's trigger does not pay for it."""
    if _LIVE:
        live_context()


def worker_warm() -> dict[str, float]:
    """Fill a `match` worker's caches at its start (matching.tasks, worker_process_init), so
    its first trigger is not cold: the embedder and the segmenter, the live supply and its
    postings, the industry rows, every SME's demand snapshot. Returns seconds per step."""
    seconds: dict[str, float] = {}

    def step(name: str, action: Callable[[], object]) -> None:
        began = time.perf_counter()
        action()
        seconds[name] = round(time.perf_counter() - began, 3)

    step("embedder", lambda: get_embedder().embed(["预热 warm-up"]))
    step("segmenter", lambda: keyword_terms(["锂电池 缺陷检测"]))
    step("supply", live_context)
    supply = live_context().supply

    def postings() -> None:
        supply.rows_with_token("")
        supply.rows_with_ipc("")
        supply.rows_in_group("")
        supply.rows_of_patentee(0)
        supply.row_of(0)
        supply.province_rows("00")
        supply.subclass_rows(set())

    step("postings", postings)
    step("demand snapshot", demand_snapshot)
    return seconds


# SMEs refreshed per transaction: each holds one advisory lock (PostgreSQL's shared lock table
# holds max_locks_per_transaction × max_connections, 6,400 by default, for every session).
REFRESH_BATCH = 200


def lists_refresh(sme_ids: Sequence[int]) -> int:
    """Recompute every list of these SMEs (profile and open needs) with the full formula
    against the supply now, and replace them in the current run (and in a running full run
    whose chunk for them is already written, so its swap does not bring old lists back).
    A need closed loses its list; a need opened gets one. Returns the matches written.

    One transaction holding the SMEs' locks (see "who writes a list") from before the supply
    and the demand are read until the lists are written: concurrent triggers for one SME and
    the declaration tasks take turns, so the lists left are those of the state last read."""
    ids = sorted(set(sme_ids))
    if not ids:
        return 0
    if len(ids) > REFRESH_BATCH:  # a bounded number of advisory locks per transaction
        return sum(
            lists_refresh(ids[start : start + REFRESH_BATCH])
            for start in range(0, len(ids), REFRESH_BATCH)
        )
    written = 0
    with transaction.atomic():
        _lock_supply(exclusive=False)
        _lock_each(LOCK_SME, ids, exclusive=True)
        context = live_context()
        demands = load_demand(ids, context.names)
        ranked = score_smes(context.supply, demands, context.industries)
        run = current_run() or _first_run()
        targets = [(run.pk, ids)]
        wanted = set(ids)
        running = [
            (chunk_id, chunk_run_id, sorted(wanted.intersection(chunk_smes)))
            for chunk_id, chunk_run_id, chunk_smes in MatchChunk.objects.filter(
                run__status=MatchRun.Status.RUNNING
            ).values_list("pk", "run_id", "sme_ids")
            if wanted.intersection(chunk_smes)
        ]
        # A chunk being written is waited for; one written since is rewritten for these SMEs.
        _lock_each(LOCK_CHUNK, [chunk_id for chunk_id, _run, _smes in running], exclusive=False)
        done = set(
            MatchChunk.objects.filter(
                pk__in=[chunk_id for chunk_id, _run, _smes in running], status="done"
            ).values_list("pk", flat=True)
        )
        targets += [(run_id, smes) for chunk_id, run_id, smes in running if chunk_id in done]
        for run_id, smes in targets:
            chosen = [
                (demand, scored)
                for demand, scored in zip(demands, ranked, strict=True)
                if demand.organisation_id in smes
            ]
            Match.objects.filter(run_id=run_id, sme_id__in=smes).delete()
            ListFloor.objects.filter(run_id=run_id, sme_id__in=smes).delete()
            written += _copy_rows(
                "matching_match",
                MATCH_COLUMNS,
                _match_rows(
                    run_id, context.supply, [d for d, _s in chosen], [r for _d, r in chosen]
                ),
            )
            _copy_rows(
                "matching_listfloor",
                FLOOR_COLUMNS,
                _floor_rows(run_id, [d for d, _s in chosen], [r for _d, r in chosen]),
            )
    _RUN_FLOORS.clear()  # floors changed: read again by the next declaration
    _FLOORS.clear()
    return written


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
