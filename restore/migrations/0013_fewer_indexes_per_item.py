"""Fewer indexes on the rows written for every item restored.

In SQLite every index an insert touches is one more page its commit writes: a created item's
statements (three inserts, an update, a read) cost 273-332 us of CPU before, 236-265 us after. The
indexes left out are each covered by another index that starts with the same column
(`uniq_result_item`, `uniq_item_claim`, `idmap_dest_idx`, `uniq_idmapping_source`), except
`added_by`, now indexed only where it is set.

The foreign-key indexes are dropped by name as the database reports them, not through
`AlterField`: on SQLite that would copy each table (twice for the result rows), which on a
long-used instance holds hundreds of thousands of rows.
"""

import django.db.models.deletion
from django.db import migrations, models

# (model, column) whose single-column, non-unique index is dropped.
UNINDEXED = [
    ("idmapping", "destination_instance_id"),
    ("itemclaim", "destination_id"),
    ("restoreitemresult", "added_by_id"),
    ("restoreitemresult", "session_id"),
]


def _single_column_indexes(schema_editor, table, column):
    with schema_editor.connection.cursor() as cursor:
        found = schema_editor.connection.introspection.get_constraints(cursor, table)
    return [
        name
        for name, info in found.items()
        if info["index"]
        and not info["unique"]
        and not info["primary_key"]
        and info["columns"] == [column]
    ]


def drop_indexes(apps, schema_editor):
    for model_name, column in UNINDEXED:
        table = apps.get_model("restore", model_name)._meta.db_table
        for name in _single_column_indexes(schema_editor, table, column):
            schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


def create_indexes(apps, schema_editor):
    for model_name, column in UNINDEXED:
        table = apps.get_model("restore", model_name)._meta.db_table
        if _single_column_indexes(schema_editor, table, column):
            continue
        name = schema_editor._create_index_name(table, [column])
        schema_editor.execute(
            f"CREATE INDEX {schema_editor.quote_name(name)} ON "
            f"{schema_editor.quote_name(table)} ({schema_editor.quote_name(column)})"
        )


def _unindexed(model_name, name, to, related_name, *, null=False):
    """The foreign key as the models declare it now: no index of its own."""
    return migrations.AlterField(
        model_name=model_name,
        name=name,
        field=models.ForeignKey(
            blank=null,
            db_index=False,
            null=null,
            on_delete=django.db.models.deletion.CASCADE,
            related_name=related_name,
            to=f"restore.{to}",
        ),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("restore", "0012_backup_lineage_drift_kind"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="idmapping", name="idmap_pair_idx"),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
            state_operations=[
                _unindexed("idmapping", "destination_instance", "destination", "mappings"),
                _unindexed("itemclaim", "destination", "destination", "+"),
                _unindexed("restoreitemresult", "added_by", "restoresession", "+", null=True),
                _unindexed("restoreitemresult", "session", "restoresession", "results"),
            ],
        ),
        migrations.AddIndex(
            model_name="restoreitemresult",
            index=models.Index(
                condition=models.Q(("added_by__isnull", False)),
                fields=["added_by"],
                name="result_added_by_idx",
            ),
        ),
    ]
