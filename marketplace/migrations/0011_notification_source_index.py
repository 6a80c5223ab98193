"""An index on Notification.source for the sweep of events whose notification was lost.

Built CONCURRENTLY: the table holds every match notification (millions at pilot scale), and
writes to it must not wait for the build."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("marketplace", "0010_patent_search_one_gin_index"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="notification",
            index=models.Index(fields=["source"], name="notification_source"),
        ),
    ]
