"""The demand: every list an SME has (its profile's, one per open need) as engine.Demand,
with its keywords as search cuts them, its feedback and the declarations it never sees."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from django.utils import timezone

from licensing.models import ACTIVE_LICENSE_STATUSES, License
from marketplace.models import (
    Industry,
    Organisation,
    OrganisationKind,
    Region,
    SmeProfile,
    TechnologyNeed,
)
from marketplace.search.segment import QueryTerm, query_terms
from matching.engine import Adjustment, Demand, Keyword, feedback_effects
from matching.models import MatchFeedback
from matching.services.supply import ipc_area_levels, main_group
from matching.services.vectors import need_text, sme_text, vectors_for


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
    need_vectors = vectors_for("need", {n.pk: need_text(n) for ns in needs.values() for n in ns})
    sme_vectors = vectors_for(
        "sme", {pk: sme_text(p, industry_names) for pk, p in profiles.items()}
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
                main_group(main_ipc),
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


def sme_ids() -> list[int]:
    return list(
        Organisation.objects.filter(kind=OrganisationKind.SME, sme_profile__isnull=False)
        .order_by("id")
        .values_list("id", flat=True)
    )
