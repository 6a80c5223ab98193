"""The sequence that numbers announced declarations (OL + year + 7 digits)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("licensing", "0001_declarations")]

    operations = [
        migrations.RunSQL(
            "CREATE SEQUENCE IF NOT EXISTS licensing_declaration_number_seq START 1",
            "DROP SEQUENCE IF EXISTS licensing_declaration_number_seq",
        )
    ]
