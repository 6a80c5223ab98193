"""Load the annual-fee schedule shipped in licensing/reference_data/annual_fees.csv."""

import csv
import json
from decimal import Decimal
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "reference_data"


def load(apps, schema_editor):
    rate = apps.get_model("licensing", "AnnualFeeRate")
    source = json.loads((DATA / "sources.json").read_text(encoding="utf-8"))["annual_fees.csv"]
    with (DATA / "annual_fees.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rate.objects.update_or_create(
                version=row["version"],
                patent_type=row["patent_type"],
                year_from=int(row["year_from"]),
                defaults={
                    "valid_from": row["valid_from"],
                    "year_to": int(row["year_to"]),
                    "amount_cny": Decimal(row["amount_cny"]),
                    "source": source["source"],
                },
            )


class Migration(migrations.Migration):
    dependencies = [("licensing", "0004_annual_fee_rates")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
