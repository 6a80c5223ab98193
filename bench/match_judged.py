"""Matching quality on the judged set (issue 14): the real matching beside BM25, per need group.

1. The 158 judged patents are loaded with announced declarations (bench/judged.py), then the
   35 SMEs of bench/data/judged_needs.jsonl: an SME organisation with a profile (its GB/T 4754
   industry, a county of its province, small), an admin user, and its needs posted through the
   application's service (marketplace.services.needs.need_create), in file order (so the second
   need of an SME with two is its newest). A rerun reuses them when unchanged.
2. The real full re-match: matching.services.run_start, then chunk_run for each chunk in
   process (what a `match` worker runs), then each need's list read as its SME's user reads it,
   GET /api/v1/matches/?need=<id> (read-time filters and all). Two rows:
   - "matching API ?need=": that list as it is (empty when the run tagged no match with the
     need, e.g. the older need of an SME with two);
   - "matching API, SME list": GET /api/v1/matches/ without ?need= (the SME's whole list).
   The patents' search vectors (marketplace PatentVector, settings.SEARCH_EMBEDDER) are
   computed first, as the `index` queue computes them; matching reads them.
3. In the same run, over the same texts: BM25 on character bigrams (need title + description +
   keywords against patent title + abstract); the cosine of the configured embedder alone and
   of multilingual USE v3 alone (when installed); and each topical component of the engine alone
   (settings.MATCHING_WEIGHTS with that weight 1, the others 0, minimum score 0), scored in
   process by matching.engine.score_smes on the same supply and demand. Region and
   affordability multiply the topical score, so alone they rank nothing.

Printed: nDCG@10 and P@5 per group (zh_plain, zh_technical, en, two_needs) and overall.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_judged \\
    REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python bench/match_judged.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common, judged  # noqa: E402

MATCHES_PATH = "/api/v1/matches/"
TOPICAL = ("semantic", "industry", "keywords")


def sme_email(sme_id: str) -> str:
    return f"judged-{sme_id.lower()}@example.com"


def load_smes(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """The judged SMEs and their needs; {judged need id: need pk}."""
    from django.db import connection, transaction

    from marketplace.models import Membership, Organisation, SmeProfile, TechnologyNeed, User
    from marketplace.services.needs import need_create

    names = {row["sme"]["name"] for row in rows}
    existing = list(
        TechnologyNeed.objects.filter(organisation__name__in=names)
        .order_by("created_at", "id")
        .values_list("organisation__name", "title", "pk")
    )
    if [(r["sme"]["name"], r["title"]) for r in rows] == [(n, t) for n, t, _ in existing]:
        return {row["id"]: pk for row, (_, _, pk) in zip(rows, existing, strict=True)}
    with transaction.atomic():
        old = [pk for _, _, pk in existing]
        if old:
            with connection.cursor() as cursor:
                for statement in (
                    "DELETE FROM matching_match WHERE need_id = ANY(%s)",
                    "DELETE FROM matching_textvector WHERE kind = 'need' AND object_id = ANY(%s)",
                    "DELETE FROM marketplace_technologyneedevent WHERE need_id = ANY(%s)",
                    "DELETE FROM marketplace_technologyneed WHERE id = ANY(%s)",
                ):
                    cursor.execute(statement, [old])
        loaded: dict[str, int] = {}
        for row in rows:
            sme = row["sme"]
            county = judged._county(sme["province"])
            organisation, _ = Organisation.objects.get_or_create(
                name=sme["name"],
                defaults={"kind": "sme", "region_id": county, "name_en": ""},
            )
            SmeProfile.objects.update_or_create(
                organisation=organisation,
                defaults={"industry_id": sme["industry"], "region_id": county, "size": "small"},
            )
            user = User.objects.filter(email=sme_email(sme["id"])).first()
            if user is None:
                user = User.objects.create_user(sme_email(sme["id"]), None)
            Membership.objects.get_or_create(
                organisation=organisation, user=user, defaults={"role": "admin"}
            )
            need = need_create(
                actor=user,
                organisation_id=organisation.pk,
                values={
                    "title": row["title"],
                    "description": row["description"],
                    "keywords": row["keywords"],
                    "ipc_areas": row["ipc"],
                    "budget_max_cny": Decimal(row["budget_max_cny"]),
                    "expires_on": date(2099, 12, 31),
                },
            )
            loaded[row["id"]] = need.pk
    return loaded


def full_run() -> int:
    """A full re-match through run_start and chunk_run (in process); returns the run id."""
    from matching.models import MatchChunk
    from matching.services import chunk_run, run_start

    run = run_start(enqueue=False)
    for chunk in MatchChunk.objects.filter(run=run).order_by("number").values_list("pk", flat=True):
        chunk_run(chunk)
    return run.pk


def api_lists(
    rows: Sequence[Mapping[str, Any]], need_pks: dict[str, int], pk_to_id: dict[int, str]
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Each need's list from GET /matches/?need= and its SME's whole list, as its user reads."""
    from rest_framework.test import APIClient

    from marketplace.models import User

    by_need: dict[str, list[str]] = {}
    by_sme: dict[str, list[str]] = {}
    for row in rows:
        client = APIClient(HTTP_HOST="localhost")
        client.force_authenticate(User.objects.get(email=sme_email(row["sme"]["id"])))
        for target, params in (
            (by_need, {"need": str(need_pks[row["id"]])}),
            (by_sme, {}),
        ):
            response = client.get(MATCHES_PATH, params)
            if response.status_code != 200:
                raise SystemExit(f"matches failed: {response.status_code} {response.content!r}")
            target[row["id"]] = [
                pk_to_id[m["patent"]["id"] if isinstance(m["patent"], dict) else m["patent"]]
                for m in response.json()
                if (m["patent"]["id"] if isinstance(m["patent"], dict) else m["patent"]) in pk_to_id
            ]
    return by_need, by_sme


def component_lists(
    rows: Sequence[Mapping[str, Any]],
    need_pks: dict[str, int],
    pk_to_id: dict[int, str],
    weights: dict[str, float],
    minimum: float | None = None,
) -> dict[str, list[str]]:
    """Lists scored in process by the engine with `weights` (the need's own list when the
    demand carries its need, else its SME's)."""
    from django.test import override_settings

    from marketplace.models import TechnologyNeed
    from matching.engine import IndustryCache, score_smes
    from matching.services import load_demand, load_supply, reference_names, sme_ids

    overrides: dict[str, Any] = {"MATCHING_WEIGHTS": weights}
    if minimum is not None:
        overrides["MATCHING_MIN_SCORE"] = minimum
    with override_settings(**overrides):
        supply = load_supply()
        names = reference_names()
        demands = load_demand(sme_ids(), names)
        ranked = score_smes(supply, demands, IndustryCache(supply))
    by_need: dict[int, list[str]] = {}
    by_sme: dict[int, list[str]] = {}
    for demand, scored in zip(demands, ranked, strict=True):
        ids = [pk_to_id[int(supply.patent_ids[s.index])] for s in scored]
        if demand.need_id is not None:
            by_need.setdefault(demand.need_id, ids)
        by_sme.setdefault(demand.organisation_id, ids)
    sme_of = dict(
        TechnologyNeed.objects.filter(pk__in=list(need_pks.values())).values_list(
            "pk", "organisation_id"
        )
    )
    # A need scored on its own (one demand per need) is read as such; today's engine scores
    # an SME once, so each need is read from its SME's list.
    per_need = len(by_need) == len(need_pks)
    return {
        row["id"]: by_need[need_pks[row["id"]]]
        if per_need
        else by_sme.get(sme_of[need_pks[row["id"]]], [])
        for row in rows
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-use", action="store_true", help="skip the USE v3 baseline")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_judged")
    common.setup_django()
    note = common.ensure_schema()

    from django.conf import settings

    from matching.embedders import get_embedder
    from matching.models import IpcIndustry
    from matching.services import concordance_load_shipped

    if not IpcIndustry.objects.exists():  # migrations load it; an empty table reloads it
        concordance_load_shipped()
    patents = judged.patents()
    needs = judged.needs()
    loaded = judged.load_patents_into_db(patents)
    others = judged.other_listed_patents(loaded.values())
    if others:
        raise SystemExit(
            f"the bench database lists {others} patents besides the judged ones: use a database "
            "of its own (e.g. bench_judged)"
        )
    pk_to_id = {pk: pid for pid, pk in loaded.items()}
    # The patents' search vectors, as the `index` queue computes them (matching reads these;
    # it embeds no patent itself). An up-to-date vector is kept on a rerun.
    from marketplace.search.vectors import patent_vectors_compute

    patent_vectors_compute(patent_ids=list(loaded.values()))
    need_pks = load_smes(needs)
    full_run()
    by_need, by_sme = api_lists(needs, need_pks, pk_to_id)

    lists: dict[str, dict[str, list[str]]] = {
        "matching API ?need=": by_need,
        "matching API, SME list": by_sme,
    }
    weights = dict(settings.MATCHING_WEIGHTS)
    for component in (c for c in TOPICAL if c in weights):
        alone = {name: (1.0 if name == component else 0.0) for name in weights}
        lists[f"{component} only (engine)"] = component_lists(
            needs, need_pks, pk_to_id, alone, minimum=0.0
        )
    bm25 = judged.Bm25Baseline(patents)
    baselines: dict[str, Callable[[str], list[str]]] = {"BM25 bigram (baseline)": bm25.rank}
    embedder = get_embedder()
    baselines[f"embedding {embedder.name}"] = judged.EmbeddingBaseline(embedder, patents).rank
    use = None if args.no_use else judged.use_embedder()
    if use is not None:
        baselines["embedding USE-m3 only"] = judged.EmbeddingBaseline(use, patents).rank
    for name, rank in baselines.items():
        lists[name] = {row["id"]: rank(judged.need_text(row)) for row in needs}

    scores = {name: judged.evaluate(ranking, needs) for name, ranking in lists.items()}
    groups = judged.NEED_GROUPS
    sizes = ", ".join(f"{g} {sum(n['group'] == g for n in needs)}" for g in groups)
    smes = len({n["sme"]["id"] for n in needs})
    empty = sum(1 for ids in by_need.values() if not ids)
    print(
        f"Judged matching set: {len(patents)} patents with announced declarations, {len(needs)} "
        f"needs of {smes} SMEs ({sizes}); grades 0-3, relevant >= {judged.RELEVANT}; "
        f"embedder {embedder.name}; {note}"
    )
    print(f"needs whose ?need= list is empty: {empty} of {len(needs)}")
    print()
    print(judged.table("nDCG@10", scores, groups, extra=("P@5",)))
    print()
    print(judged.per_group_metric(scores, groups, "P@5"))
    full, base = scores["matching API ?need="], scores["BM25 bigram (baseline)"]
    print()
    for group in (*groups, "all"):
        reference = base.get(group, "nDCG@10")
        ratio = f"{full.get(group, 'nDCG@10') / reference:.2f}" if reference else "n/a"
        print(f"matching API ?need= / BM25 nDCG@10, {group}: {ratio} (goal >= 1.15)")
    if args.json:
        args.json.write_text(
            json.dumps({name: s.by_group for name, s in scores.items()}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
