"""Word search on PostgreSQL without scanning the table: trigram indexes on the searched text columns.

The search is Django's icontains, i.e. UPPER(column) LIKE UPPER('%words%'); a GIN trigram index on UPPER(column)
serves it. SQLite (laptops) has no such index and scans, which is fine at laptop sizes.
"""

from django.db import migrations

SEARCHED_COLUMNS = ("message", "signature", "client_name", "canonical_name")


def create_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in SEARCHED_COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS securityevent_{column}_trgm "
            f'ON sync_securityevent USING gin (UPPER("{column}"::text) gin_trgm_ops)'
        )


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in SEARCHED_COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS securityevent_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [("sync", "0006_status_time_indexes")]

    operations = [migrations.RunPython(create_trigram_indexes, drop_trigram_indexes)]
