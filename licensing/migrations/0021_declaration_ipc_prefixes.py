"""The patent's IPC prefixes on the declaration row, with a GIN index of the public register's.

The register's ?ipc= filter joined every declaration it walked (newest first) to its patent and
tested the patent's prefixes: a rare prefix (IPC section D, ~1 % of patents) walked 3,798
declarations and patents for one page at 1,000,000 patents (169 ms p99, BENCHMARKS.md).
With the prefixes on the row, the GIN index finds a rare prefix's few declarations and a common
one is met within a page of the ordered walk, with no patent read.

Triggers keep the copy right on every way of writing (the ORM, an import, the admin, raw SQL),
as marketplace 0007 does for the owner's region: a declaration takes its patent's prefixes when
inserted or moved (a direct write of the column is overwritten by the patent's), and a change of
a patent's prefixes is copied to its declarations. Licensing owns both triggers: marketplace does
not know declarations exist.

Not atomic: the backfill runs in batches of BATCH declarations, each its own transaction (the
triggers exist first, so a declaration written meanwhile is right either way), and the index is
built concurrently; the register never stops answering.
"""

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.operations import AddIndexConcurrently
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
BATCH = 10_000

TRIGGERS = """
CREATE FUNCTION licensing_declaration_ipc_prefixes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.ipc_prefixes := COALESCE(
        (SELECT ipc_prefixes FROM marketplace_patent WHERE id = NEW.patent_id), '{}');
    RETURN NEW;
END $$;

CREATE TRIGGER declaration_ipc_prefixes
BEFORE INSERT OR UPDATE OF patent_id, ipc_prefixes ON licensing_declaration
FOR EACH ROW EXECUTE FUNCTION licensing_declaration_ipc_prefixes();

CREATE FUNCTION licensing_patent_ipc_prefixes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE licensing_declaration SET ipc_prefixes = NEW.ipc_prefixes
    WHERE patent_id = NEW.id AND ipc_prefixes IS DISTINCT FROM NEW.ipc_prefixes;
    RETURN NULL;
END $$;

CREATE TRIGGER patent_ipc_prefixes_to_declarations
AFTER UPDATE OF ipc_prefixes ON marketplace_patent
FOR EACH ROW WHEN (OLD.ipc_prefixes IS DISTINCT FROM NEW.ipc_prefixes)
EXECUTE FUNCTION licensing_patent_ipc_prefixes();
"""

DROP_TRIGGERS = """
DROP TRIGGER patent_ipc_prefixes_to_declarations ON marketplace_patent;
DROP FUNCTION licensing_patent_ipc_prefixes();
DROP TRIGGER declaration_ipc_prefixes ON licensing_declaration;
DROP FUNCTION licensing_declaration_ipc_prefixes();
"""


def copy_prefixes(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Every existing declaration takes its patent's prefixes, BATCH ids at a time."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(min(id), 0), COALESCE(max(id), -1) FROM licensing_declaration")
        low, high = cursor.fetchone()
    for start in range(low, high + 1, BATCH):
        with connection.cursor() as cursor:
            # The row trigger sets the value (from the patent); the SET names the column so it fires.
            cursor.execute(
                "UPDATE licensing_declaration d SET ipc_prefixes = p.ipc_prefixes"
                " FROM marketplace_patent p WHERE p.id = d.patent_id"
                " AND d.id >= %s AND d.id < %s AND d.ipc_prefixes IS DISTINCT FROM p.ipc_prefixes",
                [start, start + BATCH],
            )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("licensing", "0020_funnel_snapshot"),
        ("marketplace", "0024_search_vocabulary"),
    ]

    operations = [
        migrations.AddField(
            model_name="declaration",
            name="ipc_prefixes",
            field=ArrayField(
                base_field=models.CharField(max_length=20),
                db_default=models.Value("{}"),
                editable=False,
                size=None,
                verbose_name="IPC prefixes",
            ),
        ),
        migrations.RunSQL(TRIGGERS, DROP_TRIGGERS),
        migrations.RunPython(copy_prefixes, migrations.RunPython.noop, elidable=True),
        AddIndexConcurrently(
            model_name="declaration",
            index=GinIndex(
                condition=models.Q(("status__in", PUBLIC)),
                fields=["ipc_prefixes"],
                name="declaration_public_ipc",
                fastupdate=False,
            ),
        ),
    ]
