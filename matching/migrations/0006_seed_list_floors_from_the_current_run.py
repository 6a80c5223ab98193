"""Floors for the run already current when ListFloor arrived (0004 creates the table empty, and
only full runs write it): each list that holds top K matches gets its lowest score. Without
this, until the next nightly re-match every SME would count as having a short list, and a new
declaration would be scored exactly against every SME above the minimum."""

from django.conf import settings
from django.db import migrations


def seed(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO matching_listfloor (run_id, sme_id, score) "
            "SELECT m.run_id, m.sme_id, min(m.score) FROM matching_match m "
            "JOIN matching_matchrun r ON r.id = m.run_id "
            "WHERE r.is_current AND r.kind = 'full' "
            "GROUP BY m.run_id, m.sme_id HAVING count(*) >= %s "
            "ON CONFLICT DO NOTHING",
            [settings.MATCHING_TOP_K],
        )


class Migration(migrations.Migration):
    dependencies = [("matching", "0005_matchfeedback_updated_at")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
