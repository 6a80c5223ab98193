"""copy_upsert: COPY into a staging table, then one INSERT … ON CONFLICT."""

from __future__ import annotations

import pytest

from marketplace.bulk import copy_upsert
from marketplace.models import OutboundEmail


@pytest.mark.django_db(transaction=True)
def test_copy_upsert_refuses_to_run_outside_a_transaction() -> None:
    # Outside a transaction the staging rows would vanish at the COPY's own commit and the
    # upsert would silently write nothing: it must say so instead.
    with pytest.raises(RuntimeError, match=r"inside transaction\.atomic"):
        copy_upsert(
            OutboundEmail,
            [OutboundEmail(kind="t", to_email="a@example.com", subject="s", body="b")],
            unique_fields=["id"],
            update_fields=["subject"],
        )
    assert not OutboundEmail.objects.exists()
