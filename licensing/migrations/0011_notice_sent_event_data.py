"""The "notice_sent" license event stored its data nested once too deep ({"data":
{"declaration": 7}}); it is {"declaration": 7} now, like every other event's data."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("licensing", "0010_mediation_deadline_kinds_and_waiting_index")]

    operations = [
        migrations.RunSQL(
            sql=(
                "UPDATE licensing_licenseevent SET data = data -> 'data' "
                "WHERE verb = 'notice_sent' AND jsonb_typeof(data -> 'data') = 'object'"
            ),
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
