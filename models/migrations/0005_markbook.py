from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from models.markbook import AssessmentKind, GradeKind, MarkStatus
from models.tracking import TierCode
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_tracking')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AchievementRecord',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='achievement_records', on_delete=OnDelete.RESTRICT)),
                ('learner', fields.ForeignKeyField('models.Learner', source_field='learner_id', db_constraint=True, to_field='id', related_name='achievement_records', on_delete=OnDelete.CASCADE)),
                ('points', fields.SmallIntField()),
                ('category', fields.CharField(max_length=64)),
                ('note_enc', fields.BinaryField(null=True, description='AES-GCM envelope (app.security.crypto), never plaintext.')),
                ('recorded_by', fields.ForeignKeyField('models.User', source_field='recorded_by_id', null=True, db_constraint=True, to_field='id', related_name='achievements_recorded', on_delete=OnDelete.SET_NULL)),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'achievement_record', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An achievement (praise points), with an encrypted note.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Assessment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='assessments', on_delete=OnDelete.RESTRICT)),
                ('group', fields.ForeignKeyField('models.TeachingGroup', source_field='group_id', db_constraint=True, to_field='id', related_name='assessments', on_delete=OnDelete.CASCADE)),
                ('title', fields.CharField(max_length=200)),
                ('kind', fields.CharEnumField(default=AssessmentKind.PAST_PAPER, description='PAST_PAPER: PAST_PAPER\nMOCK: MOCK\nCUSTOM: CUSTOM\nEND_OF_UNIT: END_OF_UNIT', enum_type=AssessmentKind, max_length=16)),
                ('specification', fields.ForeignKeyField('models.Specification', source_field='specification_id', db_constraint=True, to_field='id', related_name='assessments', on_delete=OnDelete.RESTRICT)),
                ('series', fields.ForeignKeyField('models.ExamSeries', source_field='series_id', description='The exam series whose boundaries grade it.', db_constraint=True, to_field='id', related_name='assessments', on_delete=OnDelete.RESTRICT)),
                ('tier', fields.CharEnumField(null=True, description='FOUNDATION: FOUNDATION\nHIGHER: HIGHER', enum_type=TierCode, max_length=16)),
                ('full_mark', fields.IntField(description="The covered components' maximum marks added up: what a full-marks script scores.")),
                ('out_of', fields.IntField(null=True, description="A custom test's own maximum, scaled to ``full_mark``, null when marks are out of it.")),
                ('shift_percent', fields.FloatField(default=0.0, description='Percent of the maximum every boundary moves by (positive: harder to reach).')),
                ('standardised_shares', fields.JSONField(null=True, description='Grade shares of the cohort (percent per grade) for standardised boundaries, or null.', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('taken_on', fields.DateField()),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='assessments_created', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'assessment', 'app': 'models', 'pk_attr': 'id', 'table_description': "A test a teaching group sat, graded against one specification's boundaries."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AssessmentComponent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('assessment', fields.ForeignKeyField('models.Assessment', source_field='assessment_id', db_constraint=True, to_field='id', related_name='components', on_delete=OnDelete.CASCADE)),
                ('component', fields.ForeignKeyField('models.Component', source_field='component_id', db_constraint=True, to_field='id', related_name='assessment_links', on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'assessment_component', 'app': 'models', 'unique_together': (('assessment', 'component'),), 'pk_attr': 'id', 'table_description': 'A component (paper) an assessment covers.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BehaviourRecord',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='behaviour_records', on_delete=OnDelete.RESTRICT)),
                ('learner', fields.ForeignKeyField('models.Learner', source_field='learner_id', db_constraint=True, to_field='id', related_name='behaviour_records', on_delete=OnDelete.CASCADE)),
                ('points', fields.SmallIntField()),
                ('category', fields.CharField(max_length=64)),
                ('note_enc', fields.BinaryField(null=True, description='AES-GCM envelope (app.security.crypto), never plaintext.')),
                ('recorded_by', fields.ForeignKeyField('models.User', source_field='recorded_by_id', null=True, db_constraint=True, to_field='id', related_name='behaviour_recorded', on_delete=OnDelete.SET_NULL)),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'behaviour_record', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A behaviour event (negative points by convention), with an encrypted note.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='GradeRecord',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='grade_records', on_delete=OnDelete.RESTRICT)),
                ('learner', fields.ForeignKeyField('models.Learner', source_field='learner_id', db_constraint=True, to_field='id', related_name='grade_records', on_delete=OnDelete.CASCADE)),
                ('specification', fields.ForeignKeyField('models.Specification', source_field='specification_id', db_constraint=True, to_field='id', related_name='grade_records', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='WORKING_AT: WORKING_AT\nTARGET: TARGET\nPREDICTED: PREDICTED\nACTUAL: ACTUAL\nBASELINE: BASELINE', enum_type=GradeKind, max_length=16)),
                ('grade', fields.CharField(description="A label of the specification's grade scale (``7``, ``A*``, ``U``).", max_length=8)),
                ('set_by', fields.ForeignKeyField('models.User', source_field='set_by_id', null=True, db_constraint=True, to_field='id', related_name='grades_set', on_delete=OnDelete.SET_NULL)),
                ('set_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'grade_record', 'app': 'models', 'unique_together': (('learner', 'specification', 'kind'),), 'pk_attr': 'id', 'table_description': "A learner's current grade of one kind in one specification (target, working-at...)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Mark',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='marks', on_delete=OnDelete.RESTRICT)),
                ('assessment', fields.ForeignKeyField('models.Assessment', source_field='assessment_id', db_constraint=True, to_field='id', related_name='marks', on_delete=OnDelete.CASCADE)),
                ('learner', fields.ForeignKeyField('models.Learner', source_field='learner_id', db_constraint=True, to_field='id', related_name='marks', on_delete=OnDelete.CASCADE)),
                ('raw_mark', fields.IntField(null=True)),
                ('status', fields.CharEnumField(default=MarkStatus.PRESENT, description='PRESENT: PRESENT\nABSENT: ABSENT\nNOT_REQUIRED: NOT_REQUIRED', enum_type=MarkStatus, max_length=16)),
                ('entered_by', fields.ForeignKeyField('models.User', source_field='entered_by_id', null=True, db_constraint=True, to_field='id', related_name='marks_entered', on_delete=OnDelete.SET_NULL)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'mark', 'app': 'models', 'unique_together': (('assessment', 'learner'),), 'pk_attr': 'id', 'table_description': "One learner's mark in one assessment. The raw mark is null unless the status is PRESENT."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TrackerSettings',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.OneToOneField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='tracker_settings', on_delete=OnDelete.CASCADE)),
                ('shift_percent', fields.FloatField(default=0.0)),
                ('small_subgroup', fields.SmallIntField(default=10, description='Subgroups with fewer learners are flagged as too small to read much into.')),
            ],
            options={'table': 'tracker_settings', 'app': 'models', 'pk_attr': 'id', 'table_description': "A school's whole-tracker choices: a boundary shift on top of each assessment's own."},
            bases=['Model'],
        ),
    ]
