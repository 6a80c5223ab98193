"""The sequence that numbers mediation cases (MC + year + 6 digits)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("licensing", "0008_mediation")]

    operations = [
        migrations.RunSQL(
            "CREATE SEQUENCE IF NOT EXISTS licensing_mediation_case_number_seq START 1",
            "DROP SEQUENCE IF EXISTS licensing_mediation_case_number_seq",
        )
    ]
