from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from models.roster import RosterKind
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_alert_routing')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RosterLink',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='roster_links', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='ORG: ORG\nACADEMIC_SESSION: ACADEMIC_SESSION\nCOURSE: COURSE\nCLASS: CLASS\nSTAFF: STAFF\nENROLMENT: ENROLMENT', enum_type=RosterKind, max_length=24)),
                ('sourced_id', fields.CharField(max_length=255)),
                ('local_id', fields.CharField(null=True, description='The local row: a school, teaching group, staff user, enrolment or teaching assignment id.', max_length=64)),
                ('data', fields.JSONField(default=dict, description='The fields last imported (titles, dates, codes and references), never personal data.', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('ended_at', fields.DatetimeField(null=True, description='Dropped by the source (tobedeleted, or missing from a bulk file) at this time.', auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'roster_link', 'app': 'models', 'unique_together': (('school', 'kind', 'sourced_id'),), 'pk_attr': 'id', 'table_description': 'One OneRoster object of a school and the local row it became.'},
            bases=['Model'],
        ),
    ]
