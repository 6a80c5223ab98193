"""The supply: announced declarations in force, read as arrays (engine.Supply), and the stamp
that says when a kept supply is out of date."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
from django.db.models import Max
from django.utils import timezone

from licensing.models import Declaration, DeclarationEvent
from marketplace.errors import InvalidInput
from marketplace.models import LegalStatus, PatentVector
from marketplace.patents.ipc import parse_ipc
from matching.embedders import get_embedder
from matching.engine import Supply
from matching.services.concordance import concordance_table, industries_for
from matching.services.vectors import patent_vectors

SUPPLY_FIELDS = (
    "id",
    "patent_id",
    "organisation_id",
    "organisation__region_id",
    "patent__title",
    "patent__abstract",
    "patent__main_ipc",
    "patent__further_ipcs",
    "patent__title_tokens",
    "patent__body_tokens",
    "lump_sum_cny",
    "entry_fee_cny",
)


def load_supply(declaration_ids: list[int] | None = None) -> Supply:
    """Announced declarations whose patent is in force (the hard filters). Reads plain values
    (no model instances: ~60,000 rows in a few seconds)."""
    today = timezone.localdate()
    declarations = (
        Declaration.objects.in_force()
        .filter(patent__legal_status=LegalStatus.IN_FORCE, patent__expiry_date__gte=today)
        .order_by("id")
    )
    if declaration_ids is not None:
        declarations = declarations.filter(pk__in=declaration_ids)
    rows = list(declarations.values_list(*SUPPLY_FIELDS))
    table = concordance_table()
    dim = get_embedder().dim
    vectors = patent_vectors([row[1] for row in rows])
    blank = np.zeros(dim, dtype=np.float32)
    ipcs: dict[tuple[str, ...], dict[str, float]] = {}
    levels: dict[tuple[str, ...], frozenset[str]] = {}
    industries = []
    ipc_levels = []
    for row in rows:
        symbols = (row[6], *row[7])
        if symbols not in ipcs:
            ipcs[symbols] = industries_for(list(symbols), table)
            levels[symbols] = frozenset(
                level for symbol in symbols for level in ipc_area_levels(symbol)
            )
        industries.append(ipcs[symbols])
        ipc_levels.append(levels[symbols])
    return Supply(
        ids=np.array([row[0] for row in rows], dtype=np.int64),
        patent_ids=np.array([row[1] for row in rows], dtype=np.int64),
        patentee_ids=np.array([row[2] for row in rows], dtype=np.int64),
        provinces=[row[3][:2] for row in rows],
        vectors=np.vstack([vectors.get(row[1], blank) for row in rows])
        if rows
        else np.zeros((0, dim), np.float32),
        industries=industries,
        tokens=[set(f"{row[8]} {row[9]}".split()) for row in rows],
        upfront=np.array([float(row[10] or row[11] or 0) for row in rows], dtype=np.float64),
        main_subclass=[row[6][:4] for row in rows],
        ipc_label=[row[6].split(" ")[0] for row in rows],
        titles=[row[4] for row in rows],
        ipc_levels=ipc_levels,
        main_group=[main_group(row[6]) for row in rows],
    )


_COMPACT_IPC = re.compile(r"^([A-H]\d\d)(?:([A-Z])(?:0*(\d+)(?:/\d+)?)?)?$")


def ipc_area_levels(raw: str) -> tuple[str, ...]:
    """An IPC symbol or a need's area (compact, as marketplace.patents.ipc normalises it) as
    its levels down to the main group: "G06T 7/00" or "G06T7" → ("G06", "G06T", "G06T7");
    "G06T" → ("G06", "G06T"); "G06" → ("G06",); a section or not IPC → ()."""
    try:
        return tuple(parse_ipc(raw).prefixes[1:4])
    except InvalidInput:
        pass
    found = _COMPACT_IPC.match((raw or "").replace(" ", "").upper())
    if found is None:
        return ()
    cls, subclass, group = found[1], found[2], found[3]
    if subclass is None:
        return (cls,)
    if group is None:
        return (cls, cls + subclass)
    return (cls, cls + subclass, f"{cls}{subclass}{int(group)}")


def main_group(symbol: str) -> str:
    levels = ipc_area_levels(symbol)
    return levels[2] if len(levels) == 3 else ""


@dataclass(frozen=True)
class SupplyStamp:
    """What the supply is made of: the declarations' timeline and the patents' vectors."""

    declarations: int
    last_event: int | None
    last_vector: datetime | None
    day: date


def supply_stamp() -> SupplyStamp:
    return SupplyStamp(
        Declaration.objects.in_force().count(),
        DeclarationEvent.objects.aggregate(last=Max("id"))["last"],
        PatentVector.objects.aggregate(last=Max("updated_at"))["last"],
        timezone.localdate(),
    )


def supply_rows(supply: Supply, rows: Sequence[int]) -> Supply:
    """A supply of some rows of another (for Supply.extend)."""
    picked = np.array(rows, dtype=np.int64)
    return Supply(
        ids=supply.ids[picked],
        patent_ids=supply.patent_ids[picked],
        patentee_ids=supply.patentee_ids[picked],
        provinces=[supply.provinces[i] for i in rows],
        vectors=supply.vectors[picked],
        industries=[supply.industries[i] for i in rows],
        tokens=[supply.tokens[i] for i in rows],
        upfront=supply.upfront[picked],
        main_subclass=[supply.main_subclass[i] for i in rows],
        ipc_label=[supply.ipc_label[i] for i in rows],
        titles=[supply.titles[i] for i in rows],
        ipc_levels=[supply.ipc_levels[i] for i in rows],
        main_group=[supply.main_group[i] for i in rows],
    )
