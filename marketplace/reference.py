"""Loading the reference tables shipped in marketplace/reference_data/ (idempotent)."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

DATA_DIR = Path(__file__).resolve().parent / "reference_data"
BATCH_SIZE = 1000


@dataclass(frozen=True)
class TableSpec:
    key: str
    file_name: str
    model_name: str
    columns: tuple[str, ...]
    key_column: str = "code"
    parent_column: str = "parent_code"


TABLES = (
    TableSpec(
        "gbt4754",
        "gbt4754_2017.csv",
        "Industry",
        ("code", "level", "parent_code", "name_zh", "name_en"),
    ),
    TableSpec("gbt2260", "gbt2260.csv", "Region", ("code", "level", "parent_code", "name_zh")),
    TableSpec(
        "ipc",
        "ipc.csv",
        "IpcClass",
        ("symbol", "level", "parent_symbol", "title_en", "title_zh"),
        key_column="symbol",
        parent_column="parent_symbol",
    ),
)


def _as_text(value: Any) -> str:
    return "\n".join(value) if isinstance(value, list) else str(value)


def _sources() -> dict[str, dict[str, Any]]:
    with (DATA_DIR / "sources.json").open(encoding="utf-8") as handle:
        return dict(json.load(handle))


def _read(spec: TableSpec) -> tuple[list[dict[str, str]], str]:
    raw = (DATA_DIR / spec.file_name).read_bytes()
    rows = list(csv.DictReader(raw.decode("utf-8").splitlines()))
    if rows and tuple(rows[0].keys()) != spec.columns:
        raise ValueError(f"{spec.file_name}: columns {tuple(rows[0].keys())} != {spec.columns}")
    return rows, hashlib.sha256(raw).hexdigest()


def _load_table(
    spec: TableSpec,
    get_model: Callable[[str], Any],
    *,
    force: bool,
    progress: Callable[[str, int, int], None] | None,
) -> bool:
    """Upsert one table's rows (parents first); returns False when already up to date."""
    model = get_model(spec.model_name)
    reference_table = get_model("ReferenceTable")
    rows, checksum = _read(spec)
    current = reference_table.objects.filter(key=spec.key).first()
    if current is not None and current.checksum == checksum and not force:
        return False
    source = _sources()[spec.file_name]
    fields = [
        column for column in spec.columns if column not in {spec.key_column, spec.parent_column}
    ]
    # Rows are ordered by code, so a parent (a prefix) always comes before its children.
    for start in range(0, len(rows), BATCH_SIZE):
        batch = rows[start : start + BATCH_SIZE]
        model.objects.bulk_create(
            [
                model(
                    **{spec.key_column: row[spec.key_column]},
                    parent_id=row[spec.parent_column] or None,
                    **{field: row[field] for field in fields},
                )
                for row in batch
            ],
            update_conflicts=True,
            unique_fields=[spec.key_column],
            update_fields=[*fields, "parent"],
        )
        if progress:
            progress(spec.key, min(start + BATCH_SIZE, len(rows)), len(rows))
    defaults = {
        "standard": source["standard"],
        "title_zh": source["title_zh"],
        "title_en": source["title_en"],
        "version": source["version"],
        "source": source["source"],
        "notes": _as_text(source.get("notes", "")),
        "row_count": len(rows),
        "checksum": checksum,
        "loaded_at": timezone.now(),
    }
    # Migrations before marketplace 0019 load with a ReferenceTable that has no Chinese notes.
    if any(field.name == "notes_zh" for field in reference_table._meta.fields):
        defaults["notes_zh"] = _as_text(source.get("notes_zh", ""))
    reference_table.objects.update_or_create(key=spec.key, defaults=defaults)
    return True


def load_reference_tables(
    get_model: Callable[[str], Any],
    *,
    force: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
    keys: tuple[str, ...] | None = None,
) -> list[str]:
    """Load every shipped table (or those named in `keys`) whose file changed since last time.

    Migrations name their keys, because a migration's historical models only know the tables
    that existed at that point.
    """
    loaded = []
    with transaction.atomic():
        for spec in TABLES:
            if keys is not None and spec.key not in keys:
                continue
            if _load_table(spec, get_model, force=force, progress=progress):
                loaded.append(spec.key)
    return loaded


# The reference tables whose rows staff edit in the admin (the others are read-only there).
EDITABLE_TABLES = {"SynonymGroup": "synonyms", "TermTranslation": "search_terms"}


def _row_added(sender: Any, created: bool = False, **kwargs: Any) -> None:
    if created:
        _count_rows(sender, +1)


def _row_removed(sender: Any, **kwargs: Any) -> None:
    _count_rows(sender, -1)


def _count_rows(model: Any, change: int) -> None:
    # In the editing transaction, with F(): two staff adding rows at once both count.
    from django.db.models import F

    from marketplace.models import ReferenceTable

    ReferenceTable.objects.filter(key=EDITABLE_TABLES[model.__name__]).update(
        row_count=F("row_count") + change
    )


def count_edited_rows(*models: Any) -> None:
    """Keep each editable table's row_count right when a row is added or deleted one at a
    time (an admin edit, an import); a full reload sets it from the file (apps' ready())."""
    from django.db.models.signals import post_delete, post_save

    for model in models:
        uid = f"reference-row-count:{model._meta.label}"
        post_save.connect(_row_added, sender=model, dispatch_uid=f"{uid}:save")
        post_delete.connect(_row_removed, sender=model, dispatch_uid=f"{uid}:delete")
