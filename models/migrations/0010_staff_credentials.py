from tortoise import migrations
from tortoise.migrations import operations as ops
from models.credentials import CredentialPurpose
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0009_safeguarding_hardening')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CredentialToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='credential_tokens', on_delete=OnDelete.CASCADE)),
                ('purpose', fields.CharEnumField(description='INVITE: INVITE\nRESET: RESET', enum_type=CredentialPurpose, max_length=8)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, description='Set when the link is used, or voided by a newer link for the same user.', auto_now=False, auto_now_add=False)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, description='The admin who sent an invitation, null for a reset the person asked for.', db_constraint=True, to_field='id', related_name='issued_credential_tokens', on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'credential_token', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A set-password link: only the SHA-256 of its token is stored, and it works once.'},
            bases=['Model'],
        ),
    ]
