"""Make the audit trail append-only in the database itself, whatever the application does."""

from tortoise import migrations
from tortoise.migrations import operations as ops

SQLITE = """
CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END;
CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END;
"""

POSTGRES = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit_event is append-only'; END; $$;
CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event
FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
"""

SQLITE_BACK = "DROP TRIGGER audit_event_no_update; DROP TRIGGER audit_event_no_delete;"
POSTGRES_BACK = (
    "DROP TRIGGER audit_event_no_change ON audit_event;"
    " DROP TRIGGER audit_event_no_truncate ON audit_event;"
    " DROP TRIGGER audit_head_no_truncate ON audit_head;"
    " DROP FUNCTION audit_event_append_only();"
)


def _script(schema_editor, sqlite: str, postgres: str) -> str:
    dialect = schema_editor.client.capabilities.dialect
    if dialect == "sqlite":
        return sqlite
    if dialect == "postgres":
        return postgres
    raise RuntimeError(f"No append-only trigger for the {dialect} dialect.")


async def forward(apps, schema_editor) -> None:
    await schema_editor.client.execute_script(_script(schema_editor, SQLITE, POSTGRES))


async def backward(apps, schema_editor) -> None:
    await schema_editor.client.execute_script(_script(schema_editor, SQLITE_BACK, POSTGRES_BACK))


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    operations = [ops.RunPython(forward, backward)]
