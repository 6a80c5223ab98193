"""A GIN index on Patent.publication_numbers, for search by publication number.

Built CONCURRENTLY: the patents table is the largest, and imports must not wait for the build."""

import django.contrib.postgres.indexes
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("marketplace", "0011_notification_source_index"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="patent",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["publication_numbers"], name="patent_publication_numbers"
            ),
        ),
    ]
