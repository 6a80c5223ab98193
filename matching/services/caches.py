"""What a `match` worker process keeps between tasks, in one object that says when each part is
read, patched or dropped (CACHES). Everything kept is only ever a faster way to the database's
state: a stamp read from the database decides, on every use, whether a kept part still holds."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from licensing.models import DeclarationEvent
from marketplace.models import PatentVector
from matching.embedders import get_embedder
from matching.engine import IndustryCache, Supply
from matching.services.demand import reference_names
from matching.services.supply import SupplyStamp, load_supply, supply_rows, supply_stamp

if TYPE_CHECKING:
    from matching.services.snapshot import DemandSnapshot

ListKey = tuple[int, int | None]  # (SME id, need id): one list

# Declaration events up to this many ids before the last one seen are read again when the
# supply is patched: a transaction that took a lower id may commit after a higher one.
EVENT_OVERLAP = 50


@dataclass
class RunContext:
    """A supply with what scoring against it needs: its industry rows and the reference names,
    and the stamp it was read or patched at."""

    run_id: int  # the full re-match it serves; 0 for the live supply of the triggers
    supply: Supply
    industries: IndustryCache
    names: tuple[dict[str, str], dict[str, str]]
    stamp: SupplyStamp | None = None


@dataclass
class WorkerCaches:
    """The worker's kept state, and when each part is refreshed:

    - `run`: the supply of the full re-match this process is scoring chunks of; read by the
      run's first chunk here, patched with the declarations announced or ended since whenever
      the supply stamp moved (supply_patch), read whole when no event explains the change or
      another run starts (run_context);
    - `live`: the supply now, for the triggers; patched or read whole the same way, on every
      trigger (live_context) and right after each declaration task (live_context_warm);
    - `snapshot`: every list's demand as arrays (matching.services.snapshot.demand_snapshot):
      patched with the SMEs changed since its stamp, read whole on a new day, after a deletion,
      or SNAPSHOT_SECONDS after the last full read;
    - `run_floors` and `floors`: the current run's ListFloor rows, and the bar each snapshot
      row sets for a newcomer; read by the first announcement of a run (or of a snapshot);
      a list refresh patches the run's floors of its SMEs (floors_patch) and drops the bars.

    One thread at a time (`lock`): the warm-up thread at start and a trigger arriving meanwhile
    must not both read them."""

    run: RunContext | None = None
    live: RunContext | None = None
    snapshot: DemandSnapshot | None = None
    run_floors: dict[int, dict[ListKey, float]] = field(default_factory=dict)
    floors: dict[tuple[int, float], np.ndarray] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def floors_changed(self) -> None:
        """Lists were rewritten: their floors are read again by the next announcement."""
        self.run_floors.clear()
        self.floors.clear()

    def floors_patch(
        self, run_id: int, sme_ids: Sequence[int], floors: dict[ListKey, float]
    ) -> None:
        """These SMEs' lists of the run were rewritten with these floors (their full lists):
        the kept floors of the run take them; the per-snapshot bars are made again from them."""
        with self.lock:
            kept = self.run_floors.get(run_id)
            if kept is not None:
                wanted = set(sme_ids)
                for key in [key for key in kept if key[0] in wanted]:
                    del kept[key]
                kept.update(floors)
            self.floors.clear()

    def forget(self) -> None:
        """Drop everything (the next task reads from the database)."""
        with self.lock:
            self.run = self.live = None
            self.snapshot = None
            self.floors_changed()


CACHES = WorkerCaches()


def run_context(run_id: int) -> RunContext:
    """The run's supply in this worker, patched with the declarations announced or ended
    since it was read (as the live supply is): a chunk scored later in a run scores the
    supply as it is then, and the declaration tasks add to (or take from) the chunks written
    before."""
    context = CACHES.run if CACHES.run is not None and CACHES.run.run_id == run_id else None
    stamp = supply_stamp()
    if context is not None and context.stamp != stamp:
        if context.stamp is not None and supply_patch(context.stamp, stamp, context):
            context.stamp = stamp
        else:
            context = None
    if context is None:
        CACHES.run = None
        supply = load_supply()
        context = RunContext(run_id, supply, IndustryCache(supply), reference_names(), stamp=stamp)
        CACHES.run = context
    return context


def declarations_moved(old: SupplyStamp | None, new: SupplyStamp) -> bool:
    """Whether declarations were announced or ended between two stamps (not only vectors)."""
    return old is None or (old.declarations, old.last_event, old.day) != (
        new.declarations,
        new.last_event,
        new.day,
    )


def live_context() -> RunContext:
    """The supply as it is now, kept in the worker between triggers: patched with the
    declarations announced or ended since (their events) and the patent vectors changed since,
    read whole on a new day (patents expire), on a change no event explains, or the first time."""
    with CACHES.lock:
        stamp = supply_stamp()
        live = CACHES.live
        if live is not None and live.stamp != stamp:
            if live.stamp is not None and supply_patch(live.stamp, stamp, live):
                live.stamp = stamp
            else:
                live = None
        if live is None:
            supply = load_supply()
            live = RunContext(0, supply, IndustryCache(supply), reference_names(), stamp=stamp)
            CACHES.live = live
        return live


def live_context_warm() -> None:
    """After a declaration task: patch the kept supply now, when this worker keeps one, so
    the next SME's trigger does not pay for it."""
    if CACHES.live is not None:
        live_context()


def supply_patch(old: SupplyStamp, new: SupplyStamp, context: RunContext) -> bool:
    """Bring a kept supply from `old` to `new` in place (milliseconds: one declaration's row
    added or retired, a few vectors replaced); False when only a full read will do."""
    old_event, new_event = old.last_event or 0, new.last_event or 0  # None: no event yet
    if new.day != old.day:
        return False
    if new_event < old_event or (new_event == old_event and new.declarations != old.declarations):
        return False  # rows deleted, or declarations changed without an event
    if new.last_vector is None and old.last_vector is not None:
        return False  # vectors deleted
    supply = context.supply
    changed = sorted(
        set(
            DeclarationEvent.objects.filter(id__gt=old_event - EVENT_OVERLAP).values_list(
                "declaration_id", flat=True
            )
        )
    )
    if changed:
        fresh = load_supply(changed)
        in_force = set(fresh.ids.tolist())
        for declaration_id in changed:
            if declaration_id not in in_force:
                supply.retire(declaration_id)
        added = [i for i, pk in enumerate(fresh.ids.tolist()) if supply.row_of(pk) is None]
        if added:
            start = len(supply)
            supply.extend(supply_rows(fresh, added))
            context.industries.extend(start)
    if new.last_vector != old.last_vector:
        vectors = PatentVector.objects.filter(model=get_embedder().name)
        if old.last_vector is not None:
            vectors = vectors.filter(updated_at__gte=old.last_vector)
        updated = dict(vectors.values_list("patent_id", "vector"))
        if updated:
            rows = np.flatnonzero(np.isin(supply.patent_ids, list(updated)))
            for row in rows.tolist():
                raw = updated[int(supply.patent_ids[row])]
                supply.vectors[row] = np.frombuffer(bytes(raw), dtype=np.float16)
    return True
