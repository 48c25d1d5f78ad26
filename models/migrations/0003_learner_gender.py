from tortoise import migrations
from tortoise.migrations import operations as ops
from models.learners import Gender
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_audit_append_only')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Learner',
            name='gender',
            field=fields.CharEnumField(default=Gender.UNSPECIFIED, description='FEMALE: FEMALE\nMALE: MALE\nOTHER: OTHER\nUNSPECIFIED: UNSPECIFIED', enum_type=Gender, max_length=16),
        ),
    ]
