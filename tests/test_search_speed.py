"""Search speed work (issue 13 point 9): what got faster must answer exactly as before."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import QuerySet

from marketplace.api.patents import PatentHitSerializer, hit_data
from marketplace.models import Patent
from marketplace.search.hits import as_hits, attach_hits, hit_rows
from tests.conftest import World
from tests.declarations_helpers import announced, declarable_patent
from tests.factories import make_patent

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(world: World) -> list[Patent]:
    """Hits of every shape: a declaration with a license, a running royalty, none, no grant."""
    from tests.test_search_hits import _license

    licensed = declarable_patent(world.university, 11, title="一种锂离子电池隔膜的制备方法")
    _license(world, announced(licensed, world.university_admin, world.reviewer))
    royalty = declarable_patent(world.university, 12, title="锂离子电池电解液")
    announced(
        royalty,
        world.university_admin,
        world.reviewer,
        payment_method="running_royalty",
        entry_fee_cny=None,
        royalty_rate_percent="2.5000",
    )
    make_patent(world.university, 13, is_listed=True, title="锂离子电池外壳", grant_date=None)
    return list(Patent.objects.filter(is_listed=True).order_by("pk"))


def test_a_hit_is_built_exactly_as_the_serializer_builds_it(page: list[Patent]) -> None:
    # Given the same page read the old way (every column, summaries by their own statement)
    # and the new way (hit_rows: the hit's columns and its declaration in one statement)
    pks = [patent.pk for patent in page]
    old = list(Patent.objects.select_related("owner").filter(pk__in=pks).order_by("pk"))
    new = list(hit_rows(Patent.objects.filter(pk__in=pks)).order_by("pk"))
    attach_hits(old, ["锂离子", "电池"])
    attach_hits(new, ["锂离子", "电池"])
    # Then the direct representation equals DRF's, field for field, for both readings
    expected = PatentHitSerializer(old, many=True).data
    assert [hit_data(patent) for patent in new] == expected
    assert [hit_data(patent) for patent in old] == expected
    assert PatentHitSerializer(new, many=True).data == expected
    assert {hit["declaration"]["licenses_granted"] for hit in expected if hit["declaration"]} == {
        0,
        1,
    }
    assert sum(hit["declaration"] is None for hit in expected) == 1


def test_hits_read_no_claims_and_no_segmented_text(
    page: list[Patent], django_assert_num_queries: Any
) -> None:
    found = as_hits(Patent.objects.filter(is_listed=True))
    assert isinstance(found, QuerySet)
    with django_assert_num_queries(1):  # rows, owners and declarations together
        rows = list(found)
        attach_hits(rows, ["电池"])
    deferred = rows[0].get_deferred_fields()
    assert {"claims", "title_tokens", "body_tokens", "search_vector", "further_ipcs"} <= deferred
    assert "abstract" not in deferred
