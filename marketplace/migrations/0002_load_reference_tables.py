"""Load the GB/T 4754-2017 and GB/T 2260 tables shipped in marketplace/reference_data/."""

from django.db import migrations


def load(apps, schema_editor):
    from marketplace.reference import load_reference_tables

    load_reference_tables(
        lambda name: apps.get_model("marketplace", name), keys=("gbt4754", "gbt2260")
    )


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
