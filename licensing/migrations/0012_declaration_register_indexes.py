"""Indexes serving the public register's orderings and a patent's declaration history, built
concurrently (the declaration table holds every declaration ever made); the new status index
is built before the one it replaces is dropped, so the register never runs without one."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models

# The public statuses as they were when this migration was written (licensing.querysets.PUBLIC).
PUBLIC = (
    "announced",
    "withdrawal_requested",
    "withdrawn",
    "terminated",
    "revoked",
    "expired",
    "superseded",
)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("licensing", "0011_notice_sent_event_data"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="declaration",
            index=models.Index(
                fields=["status", "-effective_date", "-id"], name="declaration_register_status"
            ),
        ),
        RemoveIndexConcurrently(model_name="declaration", name="declaration_register"),
        AddIndexConcurrently(
            model_name="declaration",
            index=models.Index(
                condition=models.Q(("status__in", PUBLIC)),
                fields=["-effective_date", "-id"],
                name="declaration_register_public",
            ),
        ),
        AddIndexConcurrently(
            model_name="declaration",
            index=models.Index(
                fields=["patent", "created_at", "id"], name="declaration_patent_created"
            ),
        ),
        AddIndexConcurrently(
            model_name="declaration",
            index=models.Index(
                condition=models.Q(("status__in", PUBLIC)),
                fields=["created_at", "id"],
                name="declaration_public_created",
            ),
        ),
        AddIndexConcurrently(
            model_name="declaration",
            index=models.Index(
                fields=["organisation", "created_at", "id"],
                name="declaration_org_created",
            ),
        ),
    ]
