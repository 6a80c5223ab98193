"""Search experiments: the suggested fixes, tried in this process only, never in the app.

Runs the search benchmark's queries in-process (Django test client, every SQL statement timed)
against the table search_bench.py loaded, once per variant:

  app                 the application as it is;
  owners              the page's owners loaded with the page (search_patents builds the ranked
                      queryset from Patent.objects, which drops the caller's select_related,
                      so each row's owner is one more query) and the long text columns deferred;
  owners+region       also the region filter as owner_id IN (the region's organisations);
  owners+region+mem   also work_mem 32MB, so large bitmaps stay exact (no lossy recheck);
  owners+region+mem+facets
                      also the four facet GROUP BY statements (over the candidate ids) as
                      one SELECT of the four columns, counted in Python;
  owners+region+unsorted
                      owners+region, and the candidates without the ORDER BY they inherit
                      from Patent.Meta.ordering (the docstring of search_patents says "no
                      sort"): the scan can stop at RANK_CAP matches. This one changes which
                      matches get ranked when there are more than RANK_CAP of them.

Each variant's answers (count, page ids, facets) are compared with the app's. The variants
wrap the application's own functions (marketplace.api.patents.search_patents and
marketplace.search.query._filtered / _candidate_ids are swapped while a variant runs).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_marketplace \\
    REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python bench/experiments.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.generate import DEFAULT_SEED, BenchQuery, make_queries  # noqa: E402
from bench.search_bench import (  # noqa: E402
    SEARCH_PATH,
    STATEMENT_KINDS,
    StatementTimer,
    ensure_organisations,
    prewarm,
)

HEAVY_COLUMNS = ("abstract", "claims", "title_tokens", "body_tokens", "search_vector")


def _owners_only(base: Any, params: Any) -> Any:
    """The app's search, with the page's owners joined and the long columns deferred."""
    from marketplace.search import query as search

    result = search.search_patents(base, params)
    result.queryset = result.queryset.select_related("owner").defer(*HEAVY_COLUMNS)
    return result


def owner_id_filters(original: Callable[..., Any]) -> Callable[..., Any]:
    """The app's filters, but a region becomes owner_id IN (that region's organisations).

    PostgreSQL can then AND the owner_id btree bitmap with the GIN bitmaps (text, IPC) and
    visit only the heap pages of real matches, instead of every text+IPC match's page for the
    join with marketplace_organisation.
    """

    def filtered_by_owner_ids(base: Any, params: Any, today: Any) -> Any:
        from marketplace.models import Organisation

        filtered = original(base, dataclasses.replace(params, region=""), today)
        if not params.region:
            return filtered
        code = params.region
        organisations = Organisation.objects.all()
        if code.endswith("0000"):
            organisations = organisations.filter(region__code__startswith=code[:2])
        elif code.endswith("00"):
            organisations = organisations.filter(region__code__startswith=code[:4])
        else:
            organisations = organisations.filter(region__code=code)
        return filtered.filter(owner_id__in=list(organisations.values_list("pk", flat=True)))

    return filtered_by_owner_ids


def unsorted_candidates(filtered: Any, query: Any) -> list[int]:
    """The first RANK_CAP matches in the order the bitmap scan meets them (no ORDER BY).

    _candidate_ids's values_list(...)[:RANK_CAP] inherits Patent.Meta.ordering
    (-created_at, -id), so PostgreSQL reads every match to sort them before the LIMIT.
    """
    from marketplace.search.query import RANK_CAP

    matches = filtered.filter(search_vector=query).order_by()
    return list(matches.values_list("id", flat=True)[:RANK_CAP])


def one_query_facets(original: Callable[..., Any]) -> Callable[..., Any]:
    """Facets over the candidates from one query (four GROUP BYs become one SELECT)."""

    def facets(queryset: Any, *, sample: bool = True) -> dict[str, list[dict[str, Any]]]:
        if sample:
            return dict(original(queryset, sample=sample))
        rows = list(
            queryset.order_by().values_list(
                "patent_type", "main_ipc", "owner__region_id", "listed_payment_method"
            )
        )
        by_type = Counter(row[0] for row in rows)
        by_section = Counter(row[1][:1] for row in rows)
        by_province = Counter(row[2][:2] for row in rows)
        by_payment = Counter(row[3] for row in rows if row[3])

        def ranked(counter: Counter[str], suffix: str = "") -> list[dict[str, Any]]:
            ordered = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
            return [{"value": f"{value}{suffix}", "count": count} for value, count in ordered]

        return {
            "patent_type": ranked(by_type),
            "ipc_section": [{"value": v, "count": by_section[v]} for v in sorted(by_section)],
            "region": ranked(by_province, "0000"),
            "payment_method": ranked(by_payment),
        }

    return facets


@dataclasses.dataclass(frozen=True)
class Variant:
    owners: bool = False  # owners joined to the page, long columns deferred
    region_ids: bool = False  # region as owner_id IN (ids)
    unsorted: bool = False  # candidates without the inherited ORDER BY
    work_mem: str | None = None
    facets: bool = False  # the four facet GROUP BYs as one SELECT


VARIANTS: dict[str, Variant] = {
    "app": Variant(),
    "owners": Variant(owners=True),
    "owners+region": Variant(owners=True, region_ids=True),
    "owners+region+mem": Variant(owners=True, region_ids=True, work_mem="32MB"),
    "owners+region+unsorted": Variant(owners=True, region_ids=True, unsorted=True),
    "owners+region+mem+facets": Variant(owners=True, region_ids=True, work_mem="32MB", facets=True),
}


@contextmanager
def variant(name: str) -> Iterator[None]:
    """Swap the view's search function, the filters, the candidates and work_mem."""
    from django.db import connection

    import marketplace.api.patents as view_module
    from marketplace.search import query as search

    chosen = VARIANTS[name]
    saved = (view_module.search_patents, search._filtered, search._candidate_ids, search._facets)
    if chosen.owners:
        view_module.search_patents = _owners_only
    if chosen.region_ids:
        search._filtered = owner_id_filters(saved[1])
    if chosen.unsorted:
        search._candidate_ids = unsorted_candidates
    if chosen.facets:
        search._facets = one_query_facets(saved[3])
    with connection.cursor() as cursor:
        if chosen.work_mem:
            cursor.execute(f"SET work_mem = '{chosen.work_mem}'")
        else:
            cursor.execute("RESET work_mem")
    try:
        yield
    finally:
        (
            view_module.search_patents,
            search._filtered,
            search._candidate_ids,
            search._facets,
        ) = saved
        with connection.cursor() as cursor:
            cursor.execute("RESET work_mem")


def answer_key(body: dict[str, Any]) -> tuple[Any, ...]:
    """What a user sees: total, the page's ids in order, facet counts (ties in any order)."""
    facets = {
        name: sorted((item["value"], item["count"]) for item in items)
        for name, items in body["facets"].items()
    }
    return body["count"], [row["id"] for row in body["results"]], facets


def run(
    name: str, queries: Sequence[BenchQuery], passes: int
) -> tuple[dict[str, list[float]], list[tuple[Any, ...]]]:
    from django.db import connection
    from django.test import Client

    client = Client()
    timings: dict[str, list[float]] = {}
    answers: list[tuple[Any, ...]] = []
    with variant(name):
        for number in range(passes):
            timings = {}
            answers = []
            for query in queries:
                timer = StatementTimer()
                began = time.perf_counter()
                with connection.execute_wrapper(timer):
                    response = client.get(
                        SEARCH_PATH,
                        query.params(),
                        HTTP_ACCEPT="application/json",
                        HTTP_HOST="127.0.0.1",
                    )
                total = time.perf_counter() - began
                assert response.status_code == 200, response.content[:300]
                answers.append(answer_key(response.json()))
                sql = sum(timer.spent.values())
                timings.setdefault("request", []).append(total)
                timings.setdefault("sql", []).append(sql)
                timings.setdefault("python", []).append(total - sql)
                timings.setdefault("statements", []).append(float(sum(timer.counts.values())))
                for kind in STATEMENT_KINDS:
                    timings.setdefault(f"sql:{kind}", []).append(timer.spent.get(kind, 0.0))
            print(f"    {name}: pass {number + 1} done", flush=True)
    return timings, answers


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="for the results file name")
    parser.add_argument("--queries", type=int, default=240)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--passes", type=int, default=2, help="the last pass is reported")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args(argv)

    common.setup_django()
    from marketplace.models import Patent

    listed = Patent.objects.filter(is_listed=True).count()
    print(f"{listed} listed patents; prewarmed in {prewarm():.0f} s")
    organisations = ensure_organisations(args.seed)
    provinces = sorted({province for _, province in organisations})
    queries = make_queries(args.queries, seed=args.seed + 7, provinces=provinces)

    results: dict[str, Any] = {}
    reference: list[tuple[Any, ...]] | None = None
    for name in args.variants.split(","):
        timings, answers = run(name, queries, args.passes)
        if reference is None:
            reference = answers
        differing = [
            query.label() for query, a, b in zip(queries, reference, answers, strict=True) if a != b
        ]
        statements = timings.pop("statements")
        results[name] = {
            "summary": {key: common.summary(values) for key, values in timings.items()},
            "statements_per_request": round(sum(statements) / len(statements), 1),
            "answers_differing_from_app": differing[:10],
            "answers_differing_count": len(differing),
        }
        print(f"\n{name}: {len(differing)} answers differ from the app's")
        for key in ("request", "sql", "python"):
            print(common.format_summary(f"  {key}", timings[key]))
        for kind in STATEMENT_KINDS:
            if any(timings[f"sql:{kind}"]):
                print(common.format_summary(f"    SQL {kind}", timings[f"sql:{kind}"]))
        for label in differing[:3]:
            print(f"    differs: {label}")
    saved = common.save_results(
        f"experiments-{args.rows}",
        {"date": time.strftime("%Y-%m-%d %H:%M"), "listed": listed, "variants": results},
    )
    print(f"results: {saved.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
