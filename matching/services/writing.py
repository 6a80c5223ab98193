"""Writing lists: match and floor rows by COPY, in the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from django.conf import settings
from django.db import connection
from django.utils import timezone

from matching.engine import Demand, Scored, Supply

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


def match_rows(
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


def floor_rows(
    run_id: int, demands: list[Demand], ranked: list[list[Scored]]
) -> Iterator[tuple[int, int, int | None, float]]:
    """(run, SME, need, lowest score) of every full list, for ListFloor."""
    top_k = settings.MATCHING_TOP_K
    for demand, scored in zip(demands, ranked, strict=True):
        if len(scored) >= top_k:
            yield run_id, demand.organisation_id, demand.need_id, scored[-1].score


FLOOR_COLUMNS = ("run_id", "sme_id", "need_id", "score")


def copy_rows(table: str, columns: Sequence[str], rows: Iterator[tuple[object, ...]]) -> int:
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
