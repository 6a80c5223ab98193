"""Helpers for the search tests: the public search endpoint, listed patents named by what
they are about, and their vectors computed and published."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marketplace.models import Organisation, Patent
from marketplace.search.vectors import patent_vectors_compute, vector_index_publish
from tests.conftest import client_for
from tests.factories import make_patent

# Patents several search tests find or leave out, by the words of their title and abstract.
PLASTIC = {
    "title": "一种可降解塑料薄膜",
    "abstract": "一种可降解塑料。",
    "main_ipc": "C08L 67/04",
    "further_ipcs": [],
}
VALVE = {
    "title": "一种可靠的阀门",
    "abstract": "阀门可以关闭。",
    "main_ipc": "F16K 1/00",
    "further_ipcs": [],
}


def search(params: dict[str, Any]) -> dict[str, Any]:
    """GET /api/v1/search/patents/ as anonymous; the answer's body (it must be a 200)."""
    response = client_for(None).get("/api/v1/search/patents/", params)
    assert response.status_code == 200, response.json()
    return dict(response.json())


def ids(body: dict[str, Any]) -> list[int]:
    return [item["id"] for item in body["results"]]


def listed_patents(
    owner: Organisation, specs: Mapping[str, Mapping[str, Any]]
) -> dict[str, Patent]:
    """One listed patent of `owner` per named spec (make_patent's fields), numbered in order."""
    return {
        name: make_patent(owner, number, is_listed=True, **spec)
        for number, (name, spec) in enumerate(specs.items(), start=1)
    }


def publish_vectors() -> None:
    """Embed every patent and publish the index (the `index` worker's two steps, in-process)."""
    patent_vectors_compute(patent_ids=None)
    vector_index_publish()
