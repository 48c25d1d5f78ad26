from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from models.alert_routing import ContactKind, DeliveryChannel, DeliveryStatus, RouteHours
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0006_safeguarding')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AlertRoute',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='alert_routes', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('categories', fields.JSONField(default=list, description='Category names the route takes (empty: every category).', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('min_severity', fields.SmallIntField(default=1)),
                ('year_groups', fields.JSONField(default=list, description='Year groups the route takes, 0 for Reception (empty: every year group).', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('hours', fields.CharEnumField(default=RouteHours.ALWAYS, description='ALWAYS: ALWAYS\nSCHOOL_HOURS: SCHOOL_HOURS\nOUT_OF_HOURS: OUT_OF_HOURS', enum_type=RouteHours, max_length=16)),
                ('ack_timeout_minutes', fields.IntField(default=15, description='Minutes a contact has to acknowledge before the next contact is told.')),
                ('enabled', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'alert_route', 'app': 'models', 'unique_together': (('school', 'name'),), 'pk_attr': 'id', 'table_description': 'Which alerts of a school go to whom: matching rules and an ordered contact list.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AlertEscalation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='alert_escalations', on_delete=OnDelete.CASCADE)),
                ('alert', fields.ForeignKeyField('models.Alert', source_field='alert_id', db_constraint=True, to_field='id', related_name='escalations', on_delete=OnDelete.CASCADE)),
                ('route', fields.ForeignKeyField('models.AlertRoute', source_field='route_id', db_constraint=True, to_field='id', related_name='escalations', on_delete=OnDelete.CASCADE)),
                ('step', fields.SmallIntField(default=0, description='Position of the contact last told.')),
                ('notified_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('due_at', fields.DatetimeField(null=True, db_index=True, description='When the next contact is told if nobody acknowledges, null once the list is exhausted.', auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'alert_escalation', 'app': 'models', 'unique_together': (('alert', 'route'),), 'pk_attr': 'id', 'table_description': "How far down one route's contact list an alert has gone, and when it goes further."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RoutedAlert',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='routed_alerts', on_delete=OnDelete.CASCADE)),
                ('alert', fields.OneToOneField('models.Alert', source_field='alert_id', db_constraint=True, to_field='id', related_name='routing', on_delete=OnDelete.CASCADE)),
                ('routed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('routes_matched', fields.SmallIntField(default=0)),
            ],
            options={'table': 'alert_routed', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Marks an alert as routed, so a sweep can route alerts a crash left behind.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookEndpoint',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='webhook_endpoints', on_delete=OnDelete.CASCADE)),
                ('url', fields.CharField(max_length=2048)),
                ('secret_enc', fields.BinaryField(description='AES-GCM envelope of the signing secret, never plaintext.')),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'alert_webhook_endpoint', 'app': 'models', 'unique_together': (('school', 'url'),), 'pk_attr': 'id', 'table_description': "A school's webhook receiver, with the secret that signs every request to it."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RouteContact',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='alert_route_contacts', on_delete=OnDelete.CASCADE)),
                ('route', fields.ForeignKeyField('models.AlertRoute', source_field='route_id', db_constraint=True, to_field='id', related_name='contacts', on_delete=OnDelete.CASCADE)),
                ('position', fields.SmallIntField()),
                ('kind', fields.CharEnumField(description='STAFF: STAFF\nEMAIL: EMAIL\nWEBHOOK: WEBHOOK', enum_type=ContactKind, max_length=16)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name='alert_route_contacts', on_delete=OnDelete.CASCADE)),
                ('email', fields.CharField(null=True, max_length=254)),
                ('webhook', fields.ForeignKeyField('models.WebhookEndpoint', source_field='webhook_id', null=True, db_constraint=True, to_field='id', related_name='contacts', on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'alert_route_contact', 'app': 'models', 'unique_together': (('route', 'position'),), 'pk_attr': 'id', 'table_description': 'One contact of a route, at its place in the escalation order (0 is told first).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AlertDelivery',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='alert_deliveries', on_delete=OnDelete.CASCADE)),
                ('alert', fields.ForeignKeyField('models.Alert', source_field='alert_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('route', fields.ForeignKeyField('models.AlertRoute', source_field='route_id', null=True, db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.SET_NULL)),
                ('contact', fields.ForeignKeyField('models.RouteContact', source_field='contact_id', null=True, db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.SET_NULL)),
                ('step', fields.SmallIntField(default=0, description='Position of the contact in the route when sent: 0 first, higher after escalation.')),
                ('channel', fields.CharEnumField(description='FEED: FEED\nEMAIL: EMAIL\nWEBHOOK: WEBHOOK', enum_type=DeliveryChannel, max_length=16)),
                ('recipient', fields.CharField(description='The address, endpoint URL or staff user id as it was when sent (contacts change).', max_length=2048)),
                ('status', fields.CharEnumField(default=DeliveryStatus.PENDING, description='PENDING: PENDING\nSENDING: SENDING\nSENT: SENT\nRETRYING: RETRYING\nFAILED: FAILED', enum_type=DeliveryStatus, max_length=16)),
                ('attempt', fields.SmallIntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('next_attempt_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('error', fields.CharField(null=True, description="Why the last attempt failed: the server's answer, never the message.", max_length=500)),
            ],
            options={'table': 'alert_delivery', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One message about one alert to one contact, with its attempts: the delivery log.'},
            bases=['Model'],
        ),
    ]
