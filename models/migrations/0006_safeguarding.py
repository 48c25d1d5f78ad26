from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from models.safeguarding import AlertActionKind, AlertSource, AlertStatus, MonitoringWindow
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0005_markbook')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Alert',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='alerts', on_delete=OnDelete.RESTRICT)),
                ('learner', fields.ForeignKeyField('models.Learner', source_field='learner_id', db_constraint=True, to_field='id', related_name='alerts', on_delete=OnDelete.RESTRICT)),
                ('device', fields.ForeignKeyField('models.Device', source_field='device_id', null=True, db_constraint=True, to_field='id', related_name='alerts', on_delete=OnDelete.SET_NULL)),
                ('rule_id', fields.CharField(description="A built-in rule id, ``custom:<n>`` for a school's own rule, or ``concern``.", max_length=64)),
                ('category', fields.CharField(max_length=32)),
                ('severity', fields.SmallIntField(description='1 (lowest) to 5 (imminent risk).')),
                ('status', fields.CharEnumField(default=AlertStatus.NEW, description='NEW: NEW\nACKNOWLEDGED: ACKNOWLEDGED\nESCALATED: ESCALATED\nRESOLVED: RESOLVED\nFALSE_POSITIVE: FALSE_POSITIVE', enum_type=AlertStatus, max_length=16)),
                ('count', fields.IntField(default=1, description='Matches merged into this alert (same rule and learner within the merge window).')),
                ('first_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('in_lesson', fields.BooleanField(default=False)),
                ('out_of_hours', fields.BooleanField(default=False)),
                ('source', fields.CharEnumField(description='TEXT: TEXT\nSEARCH: SEARCH\nURL: URL\nTITLE: TITLE\nCONCERN: CONCERN', enum_type=AlertSource, max_length=16)),
                ('app', fields.CharField(null=True, max_length=128)),
                ('assignee', fields.ForeignKeyField('models.User', source_field='assignee_id', null=True, db_constraint=True, to_field='id', related_name='assigned_alerts', on_delete=OnDelete.SET_NULL)),
                ('raised_by', fields.ForeignKeyField('models.User', source_field='raised_by_id', null=True, description='The member of staff who raised a concern (null for detections).', db_constraint=True, to_field='id', related_name='raised_alerts', on_delete=OnDelete.SET_NULL)),
                ('excerpt_enc', fields.BinaryField(null=True, description='Evidence, AES-GCM envelopes bound to school, table, column and row: never plaintext.')),
                ('url_enc', fields.BinaryField(null=True)),
                ('title_enc', fields.BinaryField(null=True)),
                ('screenshot_enc', fields.BinaryField(null=True, description='Base64 JPEG, only when the school turned screenshot capture on.')),
                ('cursor', fields.BigIntField()),
            ],
            options={'table': 'safeguarding_alert', 'app': 'models', 'unique_together': (('school', 'cursor'),), 'indexes': [Index(fields=['school_id', 'learner_id', 'rule_id', 'last_at']), Index(fields=['school_id', 'status'])], 'pk_attr': 'id', 'table_description': 'One safeguarding alert about one learner: a detection (with merged repeats) or a concern.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AlertAction',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='alert_actions', on_delete=OnDelete.RESTRICT)),
                ('alert', fields.ForeignKeyField('models.Alert', source_field='alert_id', db_constraint=True, to_field='id', related_name='actions', on_delete=OnDelete.RESTRICT)),
                ('actor', fields.ForeignKeyField('models.User', source_field='actor_id', null=True, description='Null for the system (detection, escalation timers).', db_constraint=True, to_field='id', related_name='alert_actions', on_delete=OnDelete.SET_NULL)),
                ('kind', fields.CharEnumField(description='CREATED: CREATED\nMERGED: MERGED\nACKNOWLEDGED: ACKNOWLEDGED\nSTATUS_CHANGED: STATUS_CHANGED\nSEVERITY_CHANGED: SEVERITY_CHANGED\nASSIGNED: ASSIGNED\nNOTE_ADDED: NOTE_ADDED\nESCALATED: ESCALATED\nDELIVERED: DELIVERED\nEXPORTED: EXPORTED', enum_type=AlertActionKind, max_length=24)),
                ('from_status', fields.CharField(null=True, max_length=16)),
                ('to_status', fields.CharField(null=True, max_length=16)),
                ('from_severity', fields.SmallIntField(null=True)),
                ('to_severity', fields.SmallIntField(null=True)),
                ('note_enc', fields.BinaryField(null=True, description='Free text from the DSL (a reason, a decision), encrypted like the evidence.')),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'safeguarding_alert_action', 'app': 'models', 'pk_attr': 'id', 'table_description': "One entry of an alert's append-only triage history (the learner's chronology)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AlertCounter',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.OneToOneField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='alert_counter', on_delete=OnDelete.CASCADE)),
                ('last_cursor', fields.BigIntField(default=0)),
            ],
            options={'table': 'safeguarding_alert_counter', 'app': 'models', 'pk_attr': 'id', 'table_description': 'The last feed cursor handed out in one school, locked by each alert write.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AlertHit',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='alert_hits', on_delete=OnDelete.CASCADE)),
                ('alert', fields.ForeignKeyField('models.Alert', source_field='alert_id', db_constraint=True, to_field='id', related_name='hits', on_delete=OnDelete.CASCADE)),
                ('device_id', fields.IntField()),
                ('event_id', fields.CharField(description="The agent's idempotency key.", max_length=64)),
                ('rule_id', fields.CharField(max_length=64)),
                ('occurred_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'safeguarding_alert_hit', 'app': 'models', 'unique_together': (('school', 'device_id', 'event_id', 'rule_id'),), 'pk_attr': 'id', 'table_description': 'One activity event counted into an alert: makes a resent event (after a lost'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CustomRule',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='custom_safeguarding_rules', on_delete=OnDelete.CASCADE)),
                ('category', fields.CharField(max_length=32)),
                ('severity', fields.SmallIntField()),
                ('phrase', fields.CharField(max_length=200)),
                ('exclusions', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('context', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('reason', fields.CharField(max_length=500)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='custom_safeguarding_rules', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'safeguarding_custom_rule', 'app': 'models', 'pk_attr': 'id', 'table_description': "A school's own detection phrase (its rule id is ``custom:<id>``)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DisabledRule',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='disabled_safeguarding_rules', on_delete=OnDelete.CASCADE)),
                ('rule_id', fields.CharField(max_length=64)),
                ('reason', fields.CharField(max_length=500)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='disabled_safeguarding_rules', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'safeguarding_disabled_rule', 'app': 'models', 'unique_together': (('school', 'rule_id'),), 'pk_attr': 'id', 'table_description': 'A built-in rule one school switched off, with who, when and why.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RuleExclusion',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='safeguarding_exclusions', on_delete=OnDelete.CASCADE)),
                ('phrase', fields.CharField(max_length=200)),
                ('reason', fields.CharField(max_length=500)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='safeguarding_exclusions', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'safeguarding_exclusion', 'app': 'models', 'unique_together': (('school', 'phrase'),), 'pk_attr': 'id', 'table_description': 'A phrase that suppresses matches inside it for one school (``ugly sweater``).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SafeguardingSettings',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.OneToOneField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='safeguarding_settings', on_delete=OnDelete.CASCADE)),
                ('monitoring_window', fields.CharEnumField(default=MonitoringWindow.ALWAYS, description='LESSONS_ONLY: LESSONS_ONLY\nSCHOOL_HOURS: SCHOOL_HOURS\nALWAYS: ALWAYS', enum_type=MonitoringWindow, max_length=16)),
                ('day_starts_minute', fields.SmallIntField(default=480, description="School hours in the school's timezone, minutes after midnight.")),
                ('day_ends_minute', fields.SmallIntField(default=960)),
                ('school_days', fields.JSONField(default=[1, 2, 3, 4, 5], description='ISO weekdays (1 is Monday) that are school days.', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('screenshot_capture', fields.BooleanField(default=False)),
                ('merge_window_minutes', fields.SmallIntField(default=10)),
                ('rules_version', fields.IntField(default=0, description='Bumped by every rule or exclusion change, so cached detectors know they are stale.')),
                ('updated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_by', fields.ForeignKeyField('models.User', source_field='updated_by_id', null=True, db_constraint=True, to_field='id', related_name='safeguarding_settings', on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'safeguarding_settings', 'app': 'models', 'pk_attr': 'id', 'table_description': "One school's monitoring choices. A school without a row uses the defaults."},
            bases=['Model'],
        ),
    ]
