"""The project's WSGI application with constants of marketplace.search.query set from the
environment (SEARCH_VARIANT, a JSON object such as {"GRAM_FUSION": "none"}): search_bench.py
serves the ranking before a change beside the product in one run. Never used outside bench/."""

from __future__ import annotations

import json
import os

from marketplace.wsgi import application


def _apply_variant() -> None:
    from marketplace.search import query  # after Django is set up (marketplace.wsgi)

    for name, value in json.loads(os.environ.get("SEARCH_VARIANT") or "{}").items():
        if not hasattr(query, name):
            raise SystemExit(f"marketplace.search.query has no {name}")
        setattr(query, name, value)


_apply_variant()

__all__ = ["application"]
