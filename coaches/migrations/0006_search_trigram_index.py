"""A trigram index for the directory's free-text search (LIKE '%word%') on PostgreSQL.

Other databases (SQLite in development) have no trigram index; the search still works there,
by scanning, which is fine at development sizes.
"""

from django.db import migrations

INDEX = "coaches_search_text_trgm"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON coaches_coachprofile USING gin (search_text gin_trgm_ops)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("coaches", "0005_search_text")]

    operations = [migrations.RunPython(create, drop)]
