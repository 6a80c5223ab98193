"""Load the royalty statistics shipped in licensing/reference_data/royalty_statistics.csv."""

import csv
from decimal import Decimal
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "reference_data" / "royalty_statistics.csv"


def load(apps, schema_editor):
    statistic = apps.get_model("licensing", "RoyaltyStatistic")
    with DATA.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            statistic.objects.update_or_create(
                version=row["version"],
                industry_code=row["industry_code"],
                basis=row["basis"],
                defaults={
                    "statistic": row["statistic"],
                    "low": Decimal(row["low"]) if row["low"] else None,
                    "typical": Decimal(row["typical"]),
                    "high": Decimal(row["high"]) if row["high"] else None,
                    "unit": row["unit"],
                    "sample_size": int(row["sample_size"]) if row["sample_size"] else None,
                    "source": row["source"],
                },
            )


class Migration(migrations.Migration):
    dependencies = [("licensing", "0006_royalty_statistics")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
