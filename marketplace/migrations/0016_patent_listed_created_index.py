"""The anonymous patent list's index: WHERE is_listed ORDER BY created_at DESC, built without
locking the patent table against writes (CREATE INDEX CONCURRENTLY, so not in a transaction)."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("marketplace", "0012_patent_publication_numbers_index"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="patent",
            index=models.Index(
                condition=models.Q(("is_listed", True)),
                fields=["created_at", "id"],
                name="patent_listed_created",
            ),
        ),
    ]
