"""Bulk writes by COPY, for the paths where the ORM's statement building is the bottleneck.

`bulk_create(update_conflicts=True)` of 2,000 patents is one INSERT with ~56,000 parameters:
Django compiles it in ~0.3 s and psycopg binds it client-side in ~0.26 s, about as long as the
server takes to run it (bench/import_bench.py, BENCHMARKS.md). COPY into a temporary staging
table and one INSERT … SELECT … ON CONFLICT writes the same rows, byte for byte, in a third of
the time.
"""

from collections.abc import Sequence

from django.db import connection, models


def _columns(model: type[models.Model]) -> list[models.Field]:
    return [
        field
        for field in model._meta.concrete_fields
        if not field.primary_key and not getattr(field, "generated", False)
    ]


def copy_upsert(
    model: type[models.Model],
    objs: Sequence[models.Model],
    *,
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
) -> None:
    """Insert objs, or update update_fields of the rows that share unique_fields.

    Values are prepared exactly as the ORM prepares them for a save (`pre_save`, then
    `get_db_prep_save`), so defaults, auto_now and field conversions behave as in
    `bulk_create`. Must run inside a transaction. Primary keys are not set on objs.
    """
    if not objs:
        return
    if not connection.in_atomic_block:
        # Outside a transaction the staging rows would vanish at the COPY's own commit.
        raise RuntimeError("copy_upsert must run inside transaction.atomic()")
    fields = _columns(model)
    # Every identifier below comes from the model's metadata, quoted; values go by COPY.
    table = connection.ops.quote_name(model._meta.db_table)
    stage = connection.ops.quote_name(f"stage_{model._meta.db_table}")
    column = {field.name: connection.ops.quote_name(field.column) for field in fields}
    quoted = ", ".join(column.values())
    unique = ", ".join(column[name] for name in unique_fields)
    updates = ", ".join(f"{column[name]} = EXCLUDED.{column[name]}" for name in update_fields)
    with connection.cursor() as cursor:
        # One staging table per connection; ON COMMIT DELETE ROWS empties it at each commit,
        # and the DELETE below empties it between chunks of one transaction.
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "  # noqa: S608
            f"SELECT {quoted} FROM {table} WITH NO DATA"
        )
        with cursor.cursor.copy(f"COPY {stage} ({quoted}) FROM STDIN") as copy:
            for obj in objs:
                copy.write_row(
                    [
                        field.get_db_prep_save(field.pre_save(obj, True), connection)
                        for field in fields
                    ]
                )
        cursor.execute(
            f"INSERT INTO {table} ({quoted}) SELECT {quoted} FROM {stage} "  # noqa: S608
            f"ON CONFLICT ({unique}) DO UPDATE SET {updates}"
        )
        cursor.execute(f"DELETE FROM {stage}")  # noqa: S608
