from tortoise import migrations
from tortoise.migrations import operations as ops
from models.tracking import BoundaryLevel, TierCode
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_learner_gender')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ExamBoard',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, description='Short upper-case code such as ``AQA`` or ``EDEXCEL``.', max_length=16)),
                ('name', fields.CharField(max_length=100)),
            ],
            options={'table': 'exam_board', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ExamSeries',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('label', fields.CharField(unique=True, description='Like ``June 2024``.', max_length=32)),
                ('year', fields.SmallIntField()),
                ('month', fields.SmallIntField()),
            ],
            options={'table': 'exam_series', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='GradeScale',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=32)),
                ('name', fields.CharField(max_length=100)),
            ],
            options={'table': 'grade_scale', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An ordered list of grades such as GCSE 9-1. U is implied below the lowest grade.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Grade',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('scale', fields.ForeignKeyField('models.GradeScale', source_field='scale_id', db_constraint=True, to_field='id', related_name='grades', on_delete=OnDelete.CASCADE)),
                ('label', fields.CharField(max_length=8)),
                ('rank', fields.SmallIntField(description='1 for the lowest grade of the scale, counting up.')),
                ('a8_points', fields.FloatField(null=True, description='Attainment 8 points per slot, where the grade counts in Attainment 8.')),
                ('ucas_points', fields.SmallIntField(null=True)),
                ('is_pass', fields.BooleanField(default=True)),
            ],
            options={'table': 'grade', 'app': 'models', 'unique_together': (('scale', 'label'), ('scale', 'rank')), 'pk_attr': 'id', 'table_description': 'One grade of a scale. Grades compare by ``rank`` (higher is better), never by label.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Qualification',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, description='The import code: ``GCSE``, ``GCSE_COMBINED``, ``A_LEVEL``, ``AS_LEVEL``, ``BTEC`` and so on.', max_length=32)),
                ('name', fields.CharField(max_length=100)),
                ('scale', fields.ForeignKeyField('models.GradeScale', source_field='scale_id', db_constraint=True, to_field='id', related_name='qualifications', on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'qualification', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A qualification type (GCSE, A level, BTEC Tech Award) and the scale it grades on.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Specification',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('board', fields.ForeignKeyField('models.ExamBoard', source_field='board_id', db_constraint=True, to_field='id', related_name='specifications', on_delete=OnDelete.RESTRICT)),
                ('qualification', fields.ForeignKeyField('models.Qualification', source_field='qualification_id', db_constraint=True, to_field='id', related_name='specifications', on_delete=OnDelete.RESTRICT)),
                ('code', fields.CharField(max_length=16)),
                ('title', fields.CharField(max_length=200)),
                ('subject', fields.CharField(max_length=100)),
                ('qan', fields.CharField(null=True, description='Qualification accreditation number, when known.', max_length=16)),
                ('total_raw_marks', fields.IntField(null=True)),
                ('has_tiers', fields.BooleanField(default=False)),
            ],
            options={'table': 'specification', 'app': 'models', 'unique_together': (('board', 'code'),), 'pk_attr': 'id', 'table_description': "A board's specification, such as AQA 8300 GCSE Mathematics."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Component',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('specification', fields.ForeignKeyField('models.Specification', source_field='specification_id', db_constraint=True, to_field='id', related_name='components', on_delete=OnDelete.CASCADE)),
                ('code', fields.CharField(max_length=24)),
                ('title', fields.CharField(max_length=200)),
                ('tier', fields.CharEnumField(null=True, description='FOUNDATION: FOUNDATION\nHIGHER: HIGHER', enum_type=TierCode, max_length=16)),
                ('max_raw_mark', fields.IntField()),
                ('weighting', fields.FloatField(default=1.0, description="Raw mark x weighting = the component's contribution to the subject mark (Pearson).")),
                ('calculator', fields.BooleanField(null=True)),
                ('is_nea', fields.BooleanField(default=False)),
            ],
            options={'table': 'component', 'app': 'models', 'unique_together': (('specification', 'code'),), 'pk_attr': 'id', 'table_description': 'A paper (or NEA component) of a specification, such as 8300/1H.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='GradeBoundarySet',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('specification', fields.ForeignKeyField('models.Specification', source_field='specification_id', db_constraint=True, to_field='id', related_name='boundary_sets', on_delete=OnDelete.CASCADE)),
                ('series', fields.ForeignKeyField('models.ExamSeries', source_field='series_id', db_constraint=True, to_field='id', related_name='boundary_sets', on_delete=OnDelete.RESTRICT)),
                ('tier', fields.CharEnumField(null=True, description='FOUNDATION: FOUNDATION\nHIGHER: HIGHER', enum_type=TierCode, max_length=16)),
                ('level', fields.CharEnumField(default=BoundaryLevel.SUBJECT, description='SUBJECT: SUBJECT\nCOMPONENT: COMPONENT', enum_type=BoundaryLevel, max_length=16)),
                ('component', fields.ForeignKeyField('models.Component', source_field='component_id', null=True, db_constraint=True, to_field='id', related_name='boundary_sets', on_delete=OnDelete.CASCADE)),
                ('scope_key', fields.CharField(description='Tier and component code in one non-null key (``HIGHER:8300/1H``, ``-:-``): unique', max_length=64)),
                ('max_mark', fields.IntField()),
                ('is_notional', fields.BooleanField(default=False)),
                ('source', fields.CharField(default='', description='Where the figures come from: a URL or a citation.', max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'grade_boundary_set', 'app': 'models', 'unique_together': (('specification', 'series', 'scope_key'),), 'pk_attr': 'id', 'table_description': 'Published (or notional) boundaries of one specification, series and tier.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Boundary',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('boundary_set', fields.ForeignKeyField('models.GradeBoundarySet', source_field='boundary_set_id', db_constraint=True, to_field='id', related_name='boundaries', on_delete=OnDelete.CASCADE)),
                ('grade', fields.ForeignKeyField('models.Grade', source_field='grade_id', db_constraint=True, to_field='id', related_name='boundaries', on_delete=OnDelete.RESTRICT)),
                ('min_mark', fields.IntField()),
            ],
            options={'table': 'boundary', 'app': 'models', 'unique_together': (('boundary_set', 'grade'),), 'pk_attr': 'id', 'table_description': 'The lowest raw mark that earns a grade in one boundary set.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Tier',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('qualification', fields.ForeignKeyField('models.Qualification', source_field='qualification_id', db_constraint=True, to_field='id', related_name='tiers', on_delete=OnDelete.CASCADE)),
                ('code', fields.CharEnumField(description='FOUNDATION: FOUNDATION\nHIGHER: HIGHER', enum_type=TierCode, max_length=16)),
                ('max_grade', fields.CharField(max_length=8)),
                ('min_grade', fields.CharField(max_length=8)),
                ('allowed_grade', fields.CharField(null=True, description='Awarded just below ``min_grade`` (GCSE Higher: 3), below which the result is U.', max_length=8)),
            ],
            options={'table': 'tier', 'app': 'models', 'unique_together': (('qualification', 'code'),), 'pk_attr': 'id', 'table_description': 'What a tier may award: caps, floors and the allowed grade live here, not in code.'},
            bases=['Model'],
        ),
    ]
