"""Who writes a list, one at a time: PostgreSQL advisory locks on the supply, on SMEs and on
the chunks of a running re-match."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

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


def lock_supply(*, exclusive: bool) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_SUPPLY_SQL[exclusive], list(LOCK_SUPPLY))


def lock_each(namespace: int, ids: Sequence[int], *, exclusive: bool) -> None:
    """Advisory locks on (namespace, id) for each id, in id order."""
    if ids:
        with connection.cursor() as cursor:
            cursor.execute(_LOCK_EACH_SQL[exclusive], [namespace, sorted(ids)])
