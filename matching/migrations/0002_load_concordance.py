"""Load the IPC ↔ GB/T 4754 concordance shipped in matching/reference_data/ (if present)."""

import csv
from decimal import Decimal
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "reference_data" / "ipc_industry.csv"


def load(apps, schema_editor):
    if not DATA.exists():
        return
    model = apps.get_model("matching", "IpcIndustry")
    with DATA.open(encoding="utf-8") as handle:
        rows = [
            model(
                ipc_prefix=row["ipc_prefix"].replace(" ", "").upper(),
                industry_code=row["industry_code"].strip().upper(),
                weight=Decimal(row["weight"]),
                source=row["source"].strip()[:200],
                note=row.get("note", "").strip()[:200],
            )
            for row in csv.DictReader(handle)
        ]
    model.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("matching", "0001_matching")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
