"""Webhook secret rotation, and the safeguarding record made append-only in the database.

The chronology (``safeguarding_alert_action``) refuses every UPDATE and DELETE, and TRUNCATE on
PostgreSQL. Alerts, concerns included, change status, severity, assignee and merge counts during
triage, so their rows may be updated, but never deleted, and what makes them a record (who, about
whom, by whom, when, and the sealed evidence or the concern's own words) never changes. The
product purges none of these rows (docs/operations.md, Retention), so no path is let through.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

#: Columns of an alert fixed once written.
RECORD = (
    "school_id",
    "learner_id",
    "raised_by_id",
    "source",
    "rule_id",
    "created_at",
    "excerpt_enc",
    "url_enc",
    "title_enc",
    "screenshot_enc",
)
MESSAGE = "the safeguarding record is append-only"

SQLITE_CHANGED = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in RECORD)
SQLITE = f"""
CREATE TRIGGER safeguarding_alert_action_no_update BEFORE UPDATE ON safeguarding_alert_action
BEGIN SELECT RAISE(ABORT, '{MESSAGE}: safeguarding_alert_action'); END;
CREATE TRIGGER safeguarding_alert_action_no_delete BEFORE DELETE ON safeguarding_alert_action
BEGIN SELECT RAISE(ABORT, '{MESSAGE}: safeguarding_alert_action'); END;
CREATE TRIGGER safeguarding_alert_no_delete BEFORE DELETE ON safeguarding_alert
BEGIN SELECT RAISE(ABORT, '{MESSAGE}: safeguarding_alert'); END;
CREATE TRIGGER safeguarding_alert_record_no_update BEFORE UPDATE ON safeguarding_alert
WHEN {SQLITE_CHANGED}
BEGIN SELECT RAISE(ABORT, '{MESSAGE}: safeguarding_alert'); END;
"""

POSTGRES_CHANGED = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in RECORD)
POSTGRES = f"""
CREATE OR REPLACE FUNCTION safeguarding_record_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION '{MESSAGE}: %', TG_TABLE_NAME; END; $$;
CREATE TRIGGER safeguarding_alert_action_no_change
BEFORE UPDATE OR DELETE ON safeguarding_alert_action
FOR EACH ROW EXECUTE FUNCTION safeguarding_record_append_only();
CREATE TRIGGER safeguarding_alert_action_no_truncate BEFORE TRUNCATE ON safeguarding_alert_action
FOR EACH STATEMENT EXECUTE FUNCTION safeguarding_record_append_only();
CREATE TRIGGER safeguarding_alert_no_delete BEFORE DELETE ON safeguarding_alert
FOR EACH ROW EXECUTE FUNCTION safeguarding_record_append_only();
CREATE TRIGGER safeguarding_alert_record_no_update BEFORE UPDATE ON safeguarding_alert
FOR EACH ROW WHEN ({POSTGRES_CHANGED})
EXECUTE FUNCTION safeguarding_record_append_only();
CREATE TRIGGER safeguarding_alert_no_truncate BEFORE TRUNCATE ON safeguarding_alert
FOR EACH STATEMENT EXECUTE FUNCTION safeguarding_record_append_only();
"""

SQLITE_BACK = (
    "DROP TRIGGER safeguarding_alert_action_no_update;"
    " DROP TRIGGER safeguarding_alert_action_no_delete;"
    " DROP TRIGGER safeguarding_alert_no_delete;"
    " DROP TRIGGER safeguarding_alert_record_no_update;"
)
POSTGRES_BACK = (
    "DROP TRIGGER safeguarding_alert_action_no_change ON safeguarding_alert_action;"
    " DROP TRIGGER safeguarding_alert_action_no_truncate ON safeguarding_alert_action;"
    " DROP TRIGGER safeguarding_alert_no_delete ON safeguarding_alert;"
    " DROP TRIGGER safeguarding_alert_record_no_update ON safeguarding_alert;"
    " DROP TRIGGER safeguarding_alert_no_truncate ON safeguarding_alert;"
    " DROP FUNCTION safeguarding_record_append_only();"
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
    dependencies = [('models', '0008_roster')]

    initial = False

    operations = [
        ops.AddField(
            model_name='WebhookEndpoint',
            name='previous_secret_enc',
            field=fields.BinaryField(null=True, description='The secret the last rotation replaced, sealed the same way.'),
        ),
        ops.AddField(
            model_name='WebhookEndpoint',
            name='rotated_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.RunPython(forward, backward),
    ]
