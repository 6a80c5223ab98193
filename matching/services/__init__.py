"""Matching's writes, one module per concept:

- concordance: the IPC ↔ industry table and the industries a symbol relates to;
- vectors: the patents' search vectors as read here, need and profile vectors by parts;
- supply / demand: declarations in force and every SME's lists, as the engine reads them;
- writing / locks: list rows by COPY, and the advisory locks writers take turns on;
- caches: what a `match` worker keeps between tasks (CACHES) and when each part is refreshed;
- snapshot: every list's demand as arrays, for estimating one declaration against all;
- runs: full re-matches in chunks, swapped in at once, resumed, failed;
- incremental: one declaration announced or retired;
- triggers: the lists of SMEs that changed, and the worker's warm-up;
- feedback: an SME's verdict on a match.

Services never import matching.tasks: work for the queues goes through matching.dispatch.
"""

from matching.services.caches import CACHES, live_context, live_context_warm
from matching.services.concordance import (
    concordance_import,
    concordance_load_shipped,
    industries_for,
    ipc_prefixes_for_industry,
)
from matching.services.demand import keyword_terms, load_demand, reference_names, sme_ids
from matching.services.feedback import feedback_give
from matching.services.incremental import declaration_matched, declaration_retired
from matching.services.runs import (
    chunk_run,
    current_run,
    run_fail,
    run_resume,
    run_start,
    runs_resume_stale,
)
from matching.services.snapshot import demand_snapshot
from matching.services.supply import ipc_area_levels, load_supply
from matching.services.triggers import lists_refresh, worker_warm
from matching.services.vectors import embed_parts, need_text, patent_vectors, sme_text, vectors_for

__all__ = [
    "CACHES",
    "chunk_run",
    "concordance_import",
    "concordance_load_shipped",
    "current_run",
    "declaration_matched",
    "declaration_retired",
    "demand_snapshot",
    "embed_parts",
    "feedback_give",
    "industries_for",
    "ipc_area_levels",
    "ipc_prefixes_for_industry",
    "keyword_terms",
    "lists_refresh",
    "live_context",
    "live_context_warm",
    "load_demand",
    "load_supply",
    "need_text",
    "patent_vectors",
    "reference_names",
    "run_fail",
    "run_resume",
    "run_start",
    "runs_resume_stale",
    "sme_ids",
    "sme_text",
    "vectors_for",
    "worker_warm",
]
