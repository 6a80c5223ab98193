"""Load the IPC section, class and subclass titles shipped in marketplace/reference_data/."""

from django.db import migrations


def load(apps, schema_editor):
    from marketplace.reference import load_reference_tables

    load_reference_tables(lambda name: apps.get_model("marketplace", name), keys=("ipc",))


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0003_patents_needs_imports_ipc")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
