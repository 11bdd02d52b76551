"""The full-text index over ``search_text`` of projects and investors.

SQLite: FTS5 tables ``catalog_project_fts`` / ``catalog_investor_fts`` (external content, rowid =
id) kept in step by triggers. PostgreSQL: GIN indexes on ``to_tsvector('simple', search_text)``.
The SQL lives in :mod:`ibcloud.catalog.search`, which also re-creates it after a later migration
rebuilds a table on SQLite (a rebuild drops the table's triggers).
"""

from django.db import migrations


def create_index(apps, schema_editor):
    from ibcloud.catalog.search import create_index

    create_index(schema_editor.connection)


def drop_index(apps, schema_editor):
    from ibcloud.catalog.search import drop_index

    drop_index(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_seed_normalization_rules")]
    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
