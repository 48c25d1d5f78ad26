"""The authorization matrix as data: role x operation x scope (AUTHZ-02, -03, -05, -06).

Every cell of :data:`MATRIX` is one generated check (a subtest). The expectations are written by
hand from the product rules (DESIGN.md "Tenancy" and "Principals", the ``resolvers/access.py``
docstring), never derived from ``access.POLICY``:

* teachers reach the groups they teach and those groups' learners; admins, leaders and
  safeguarding leads reach their whole school;
* UPN, ULN and date of birth: admins, and partners holding LEARNER_IDENTIFIERS_READ;
* SEN details: the learner's teachers, and admins, leaders and safeguarding leads school-wide
  (access.py); no partner scope grants them;
* staff records: staff of the same school; no partner scope grants them;
* devices, API keys, the audit trail and every people mutation: the school's admins;
* the live classroom, watched (``classroom``, ``node(Lesson)``, ``classroomActivity``) or
  controlled (``startLesson``, ``endLesson``, ``sendDeviceCommand``): the teachers of the group and
  the school's admins; no leader, safeguarding lead, partner scope or device; commands go only to
  devices of learners in reach, and a device outside it is NOT_FOUND on ``deviceIds``;
* the school's locked rules (``setSchoolRules``): its admins;
* alert routes (``alertRoutes``, ``createAlertRoute``, ``updateAlertRoute``,
  ``deleteAlertRoute``, ``rotateWebhookSecret``), the delivery log (``alertDeliveries``) and
  exports for CPOMS or MyConcern (``exportAlert``, ``exportLearnerChronology``): the school's
  safeguarding leads only, never admins or partners;
* alerts (``alerts``, ``node(Alert)``, ``alertFeed``), their triage (``acknowledgeAlert``,
  ``updateAlert``), monitoring settings and rule tuning: the school's safeguarding leads only;
  a concern (``raiseConcern``) by any member of staff about a learner in their reach, who then
  sees only their own (``myConcerns``; another's is NOT_FOUND through ``node``); never partners;
* exam-board reference data (``specification``): every member of staff, and partners holding
  TRACKING_READ; it belongs to no school, so the three scopes agree;
* markbooks (``markbook``, ``node(Assessment)``): the group's teachers (a safeguarding lead only
  as a teacher of the group, which the world's is not), leaders and admins school-wide, partners
  holding TRACKING_READ; assessments, marks and grades (``createAssessment``, ``enterMarks``,
  ``setTargets``, ``setGrades``): the group's teachers and the school's admins, never leaders or
  partners;
* behaviour and achievement (``conduct(learnerId)``): like markbooks, the learner's teachers,
  leaders and admins school-wide, partners holding TRACKING_READ (never notes); recording them
  (``recordBehaviour``, ``recordAchievement``): the learner's teachers and the school's admins;
* the school's tracker settings (``trackerSettings``): every member of staff; changing them
  (``updateTrackerSettings``): its admins and leaders; no partner scope grants either; both act
  in the viewer's school, so their three letters agree;
* partners: only their scopes, only in the schools that granted their key;
* the device protocol (``reportActivity``, ``acknowledgeDeviceCommands``, ``deviceCommands``):
  enrolled devices only, each acting on itself (its own events, its own commands); staff and
  partners are FORBIDDEN;
* a device token reads nothing else through this API;
* outside reach answers NOT_FOUND, like a random id; a role that may not perform an operation at
  all gets FORBIDDEN; no credentials gets UNAUTHENTICATED.

Scopes name where the target lives. The world has two schools: Southgate, where every role except
OTHER_SCHOOL_ADMIN works, and Northfield. OWN_CLASS is the Southgate teacher's group and what
belongs to it (its learner, its teacher, that learner's device); OWN_SCHOOL is the rest of
Southgate; OTHER_SCHOOL is Northfield. Partner keys are granted by Southgate only. PARTNER holds
every scope; PARTNER_WITHOUT_SCOPE holds every scope except the one the operation needs.

The device protocol has no target but the device itself, so for its rows the scope names *whose
device* acts: the OWN_CLASS learner's device, the OWN_SCHOOL learner's or Northfield's. Each acts
on itself, so DEVICE is allowed in all three; that it reaches nothing of another device is checked
inside the allowed cells (``acknowledgeDeviceCommands`` sends every device's command and must
acknowledge exactly its own; ``deviceCommands`` must deliver its own pending command). Everywhere
else DEVICE is the OWN_CLASS learner's device.
"""

from __future__ import annotations

import asyncio
import enum
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from graphql import ExecutionResult, GraphQLError, GraphQLInterfaceType
from strawberry.types.execution import ExecutionResult as StreamResult
from tortoise.connection import get_connection

from models.alert_routing import (
    AlertDelivery,
    AlertRoute,
    ContactKind,
    DeliveryChannel,
    DeliveryStatus,
    RouteContact,
    WebhookEndpoint,
)
from models.audit import AuditEvent
from models.classroom import (
    ActivityRecord,
    CommandKind,
    DeviceCommand,
    Lesson,
    LessonMode,
    SchoolRule,
)
from models.credentials import CredentialPurpose, CredentialToken
from models.devices import Device
from models.groups import Enrolment, TeachingAssignment, TeachingGroup
from models.learners import ExternalId, Learner
from models.markbook import (
    AchievementRecord,
    Assessment,
    BehaviourRecord,
    GradeKind,
    GradeRecord,
    Mark,
    TrackerSettings,
)
from models.partners import ApiKey, ApiKeyGrant, Scope
from models.safeguarding import (
    Alert,
    AlertSource,
    AlertStatus,
    CustomRule,
    DisabledRule,
    RuleExclusion,
    SafeguardingSettings,
)
from models.schools import School
from models.staff import Membership, Role, Session, User
from realtime import channels
from resolvers import learners as learner_cases
from resolvers.context import Context, PrincipalKind, Services, Viewer
from resolvers.learners import LearnerData
from resolvers.safeguarding.alerts import Committed, announce
from resolvers.safeguarding.deliveries import alert_ref
from resolvers.safeguarding.detectors import builtin_by_id
from resolvers.safeguarding.webhook_secrets import webhook_secret_context
from schema.common import to_global_id
from tests import factories, waiting
from tests.conftest import SCHEMA, GraphQLRunner, context_for
from tests.safeguarding.routing_helpers import stored_alert
from tests.tracking.reference import aqa_8300


class Outcome(enum.Enum):
    ALLOW = "A"
    NOT_FOUND = "N"
    FORBIDDEN = "F"
    UNAUTHENTICATED = "U"


class Who(enum.Enum):
    ANONYMOUS = "anon"
    TEACHER = "teacher"
    ADMIN = "admin"
    SAFEGUARDING_LEAD = "dsl"
    LEADER = "leader"
    PARTNER = "partner"
    PARTNER_WITHOUT_SCOPE = "partner-"
    DEVICE = "device"
    OTHER_SCHOOL_ADMIN = "oth-admin"


class Where(enum.Enum):
    OWN_CLASS = "OWN_CLASS"
    OWN_SCHOOL = "OWN_SCHOOL"
    OTHER_SCHOOL = "OTHER_SCHOOL"


#: Root fields that need no authorization: who am I, sign in, sign out.
PUBLIC = frozenset({"Query.viewer", "Mutation.login", "Mutation.logout"})
#: Anonymous by design: a set-password link is the credential, and a reset request answers the
#: same for every address (tests/auth/test_credentials.py).
PUBLIC |= {"Mutation.requestPasswordReset", "Mutation.setPassword"}

#: Expected outcome per operation (rows) and role (columns). Each cell has three letters, one per
#: scope, in the order OWN_CLASS, OWN_SCHOOL, OTHER_SCHOOL: A = ALLOW (for lists: the scope's
#: objects are listed), N = NOT_FOUND (for lists: not listed), F = FORBIDDEN,
#: U = UNAUTHENTICATED. Creations and ``setSchoolRules`` have no target (they act in the viewer's
#: school), so their three letters agree; so do the device protocol's for every role but DEVICE.
#: Rows name a root field, or a field reached through one: ``learner.identifiers`` reads upn, uln
#: and dateOfBirth; ``node(Group).learners`` a group's learners through ``node``; a suffix tells
#: two ways of calling one field apart (``sendDeviceCommand(groupId)``, ``(deviceIds)``).
#: Subscriptions are judged when subscribing: allowed, the stream delivers (``classroomActivity``:
#: an event a learner's device reports; ``deviceCommands``: the policy, then a pending command);
#: denied, its first result is the error.
MATRIX = """
operation                    anon  teacher  admin  dsl  leader  partner  partner-  device  oth-admin
markbook(groupId)            UUU   ANN      AAN    NNN  AAN     AAN      FFF       FFF     NNA
node(Assessment)             UUU   ANN      AAN    NNN  AAN     AAN      FFF       FFF     NNA
createAssessment             UUU   ANN      AAN    NNN  FFF     FFF      FFF       FFF     NNA
enterMarks                   UUU   ANN      AAN    NNN  FFF     FFF      FFF       FFF     NNA
setTargets                   UUU   ANN      AAN    NNN  FFF     FFF      FFF       FFF     NNA
setGrades                    UUU   ANN      AAN    NNN  FFF     FFF      FFF       FFF     NNA
conduct(learnerId)           UUU   ANN      AAN    NNN  AAN     AAN      FFF       FFF     NNA
recordBehaviour              UUU   ANN      AAN    NNN  FFF     FFF      FFF       FFF     NNA
recordAchievement            UUU   ANN      AAN    NNN  FFF     FFF      FFF       FFF     NNA
trackerSettings              UUU   AAA      AAA    AAA  AAA     FFF      FFF       FFF     AAA
updateTrackerSettings        UUU   FFF      AAA    FFF  AAA     FFF      FFF       FFF     AAA
learner(id)                  UUU   ANN      AAN    AAN  AAN     AAN      FFF       FFF     NNA
node(Learner)                UUU   ANN      AAN    AAN  AAN     AAN      FFF       FFF     NNA
learners                     UUU   ANN      AAN    AAN  AAN     AAN      FFF       FFF     NNA
learner.identifiers          UUU   FNN      AAN    FFN  FFN     AAN      FFN       FFF     NNA
learner.sendDetails          UUU   ANN      AAN    AAN  AAN     FFN      FFF       FFF     NNA
groups                       UUU   ANN      AAN    AAN  AAN     AAN      FFF       FFF     NNA
node(Group)                  UUU   ANN      AAN    AAN  AAN     AAN      FFF       FFF     NNA
node(Group).learners         UUU   ANN      AAN    AAN  AAN     AAN      FFN       FFF     NNA
node(Group).teachers         UUU   ANN      AAN    AAN  AAN     FFN      FFN       FFF     NNA
staff                        UUU   AAN      AAN    AAN  AAN     FFF      FFF       FFF     NNA
node(StaffMember)            UUU   AAN      AAN    AAN  AAN     FFF      FFF       FFF     NNA
school                       UUU   AAN      AAN    AAN  AAN     AAN      AAN       FFF     NNA
schools                      UUU   AAN      AAN    AAN  AAN     AAN      AAN       FFF     NNA
node(School)                 UUU   AAN      AAN    AAN  AAN     AAN      AAN       FFF     NNA
devices                      UUU   FFF      AAN    FFF  FFF     FFF      FFF       FFF     NNA
node(Device)                 UUU   FFF      AAN    FFF  FFF     FFF      FFF       FFF     NNA
apiKeys                      UUU   FFF      AAN    FFF  FFF     FFF      FFF       FFF     NNA
node(ApiKey)                 UUU   FFF      AAN    FFF  FFF     FFF      FFF       FFF     NNA
auditEvents                  UUU   FFF      AAN    FFF  FFF     FFF      FFF       FFF     NNA
createLearner                UUU   FFF      AAA    FFF  FFF     FFF      FFF       FFF     AAA
updateLearner                UUU   FFF      AAN    FFF  FFF     FFF      FFF       FFF     NNA
createGroup                  UUU   FFF      AAA    FFF  FFF     FFF      FFF       FFF     AAA
updateGroup                  UUU   FFF      AAN    FFF  FFF     FFF      FFF       FFF     NNA
enrolLearners                UUU   FFF      AAN    FFF  FFF     FFF      FFF       FFF     NNA
unenrolLearners              UUU   FFF      AAN    FFF  FFF     FFF      FFF       FFF     NNA
assignTeacher                UUU   FFF      AAN    FFF  FFF     FFF      FFF       FFF     NNA
unassignTeacher              UUU   FFF      AAN    FFF  FFF     FFF      FFF       FFF     NNA
createStaff                  UUU   FFF      AAA    FFF  FFF     FFF      FFF       FFF     AAA
updateStaff                  UUU   FFF      AAN    FFF  FFF     FFF      FFF       FFF     NNA
inviteStaff                  UUU   FFF      AAN    FFF  FFF     FFF      FFF       FFF     NNA
enrolDevice                  UUU   FFF      AAN    FFF  FFF     FFF      FFF       FFF     NNA
revokeDevice                 UUU   FFF      AAN    FFF  FFF     FFF      FFF       FFF     NNA
createApiKey                 UUU   FFF      AAA    FFF  FFF     FFF      FFF       FFF     AAA
revokeApiKey                 UUU   FFF      AAN    FFF  FFF     FFF      FFF       FFF     NNA
classroom(groupId)           UUU   ANN      AAN    FFF  FFF     FFF      FFF       FFF     NNA
node(Lesson)                 UUU   ANN      AAN    FFF  FFF     FFF      FFF       FFF     NNA
classroomActivity(groupId)   UUU   ANN      AAN    FFF  FFF     FFF      FFF       FFF     NNA
startLesson                  UUU   ANN      AAN    FFF  FFF     FFF      FFF       FFF     NNA
endLesson                    UUU   ANN      AAN    FFF  FFF     FFF      FFF       FFF     NNA
sendDeviceCommand(groupId)   UUU   ANN      AAN    FFF  FFF     FFF      FFF       FFF     NNA
sendDeviceCommand(deviceIds) UUU   ANN      AAN    FFF  FFF     FFF      FFF       FFF     NNA
setSchoolRules               UUU   FFF      AAA    FFF  FFF     FFF      FFF       FFF     AAA
reportActivity               UUU   FFF      FFF    FFF  FFF     FFF      FFF       AAA     FFF
acknowledgeDeviceCommands    UUU   FFF      FFF    FFF  FFF     FFF      FFF       AAA     FFF
deviceCommands               UUU   FFF      FFF    FFF  FFF     FFF      FFF       AAA     FFF
alertRoutes                  UUU   FFF      FFF    AAN  FFF     FFF      FFF       FFF     FFF
createAlertRoute             UUU   FFF      FFF    AAA  FFF     FFF      FFF       FFF     FFF
updateAlertRoute             UUU   FFF      FFF    AAN  FFF     FFF      FFF       FFF     FFF
deleteAlertRoute             UUU   FFF      FFF    AAN  FFF     FFF      FFF       FFF     FFF
rotateWebhookSecret          UUU   FFF      FFF    AAN  FFF     FFF      FFF       FFF     FFF
exportAlert(id)              UUU   FFF      FFF    AAN  FFF     FFF      FFF       FFF     FFF
exportLearnerChronology      UUU   FFF      FFF    AAN  FFF     FFF      FFF       FFF     FFF
alertDeliveries(alertId)     UUU   FFF      FFF    AAN  FFF     FFF      FFF       FFF     FFF
alerts                       UUU   FFF      FFF    AAN  FFF     FFF      FFF       FFF     FFF
node(Alert)                  UUU   NNN      NNN    AAN  NNN     FFF      FFF       FFF     NNN
myConcerns                   UUU   AAA      AAA    AAA  AAA     FFF      FFF       FFF     AAA
alertFeed                    UUU   FFF      FFF    AAA  FFF     FFF      FFF       FFF     FFF
safeguardingSettings         UUU   FFF      FFF    AAA  FFF     FFF      FFF       FFF     FFF
acknowledgeAlert             UUU   FFF      FFF    AAN  FFF     FFF      FFF       FFF     FFF
updateAlert                  UUU   FFF      FFF    AAN  FFF     FFF      FFF       FFF     FFF
raiseConcern                 UUU   ANN      AAN    AAN  AAN     FFF      FFF       FFF     NNA
updateSafeguardingSettings   UUU   FFF      FFF    AAA  FFF     FFF      FFF       FFF     FFF
disableSafeguardingRule      UUU   FFF      FFF    AAA  FFF     FFF      FFF       FFF     FFF
enableSafeguardingRule       UUU   FFF      FFF    AAA  FFF     FFF      FFF       FFF     FFF
addSafeguardingRule          UUU   FFF      FFF    AAA  FFF     FFF      FFF       FFF     FFF
removeSafeguardingRule       UUU   FFF      FFF    AAN  FFF     FFF      FFF       FFF     FFF
addSafeguardingExclusion     UUU   FFF      FFF    AAA  FFF     FFF      FFF       FFF     FFF
removeSafeguardingExclusion  UUU   FFF      FFF    AAN  FFF     FFF      FFF       FFF     FFF
specification(board,code)    UUU   AAA      AAA    AAA  AAA     AAA      FFF       FFF     AAA
"""

Row = Mapping[Where, Outcome]


def parse_matrix(text: str) -> dict[str, dict[Who, Row]]:
    """{operation: {role: {scope: outcome}}}; a malformed line raises, so the table cannot rot."""
    header, *lines = [line.split() for line in text.strip().splitlines()]
    roles = [Who(column) for column in header[1:]]
    table: dict[str, dict[Who, Row]] = {}
    for name, *cells in lines:
        assert name not in table, f"{name} appears twice"
        assert len(cells) == len(roles), f"{name}: {len(cells)} cells for {len(roles)} roles"
        table[name] = {
            role: dict(zip(Where, map(Outcome, cell), strict=True))
            for role, cell in zip(roles, cells, strict=True)
        }
    return table


EXPECTED = parse_matrix(MATRIX)


# -- documents, one per operation ----------------------------------------------------------------

LEARNER = "query Learner($id: ID!) { learner(id: $id) { id givenName } }"
LEARNER_NODE = "query Node($id: ID!) { node(id: $id) { id ... on Learner { givenName } } }"
LEARNERS = "query Learners { learners(first: 100) { nodes { id familyName } } }"
LEARNER_IDENTIFIERS = "query Ids($id: ID!) { learner(id: $id) { id upn uln dateOfBirth } }"
LEARNER_SEND = "query Send($id: ID!) { learner(id: $id) { id sendDetails } }"
GROUPS = "query Groups { groups(first: 100) { nodes { id name } } }"
GROUP_NODE = "query Node($id: ID!) { node(id: $id) { id ... on Group { name } } }"
GROUP_LEARNERS = """
query GroupLearners($id: ID!) {
  node(id: $id) { id ... on Group { learners { nodes { id familyName } } } }
}
"""
GROUP_TEACHERS = """
query GroupTeachers($id: ID!) {
  node(id: $id) { id ... on Group { teachers { id displayName email } } }
}
"""
STAFF = "query Staff { staff(first: 100) { nodes { id email } } }"
STAFF_NODE = "query Node($id: ID!) { node(id: $id) { id ... on StaffMember { email } } }"
SCHOOL = "query School { school { id name } }"
SCHOOLS = "query Schools { schools { id name } }"
SCHOOL_NODE = "query Node($id: ID!) { node(id: $id) { id ... on School { name } } }"
DEVICES = "query Devices { devices(first: 100) { nodes { id name } } }"
DEVICE_NODE = "query Node($id: ID!) { node(id: $id) { id ... on Device { name } } }"
API_KEYS = "query ApiKeys { apiKeys(first: 100) { nodes { id name } } }"
API_KEY_NODE = "query Node($id: ID!) { node(id: $id) { id ... on ApiKey { name } } }"
AUDIT_EVENTS = """
query Audit {
  auditEvents(first: 100, filter: {action: "learner.create"}) { nodes { action targetIds } }
}
"""
CREATE_LEARNER = """
mutation CreateLearner($input: CreateLearnerInput!) {
  createLearner(input: $input) { learner { id } errors { field code } }
}
"""
UPDATE_LEARNER = """
mutation UpdateLearner($input: UpdateLearnerInput!) {
  updateLearner(input: $input) { learner { id familyName } errors { field code } }
}
"""
CREATE_GROUP = """
mutation CreateGroup($input: CreateGroupInput!) {
  createGroup(input: $input) { group { id } errors { field code } }
}
"""
UPDATE_GROUP = """
mutation UpdateGroup($input: UpdateGroupInput!) {
  updateGroup(input: $input) { group { id name } errors { field code } }
}
"""
ENROL_LEARNERS = """
mutation Enrol($input: GroupLearnersInput!) {
  enrolLearners(input: $input) { group { id } errors { field code } }
}
"""
UNENROL_LEARNERS = """
mutation Unenrol($input: GroupLearnersInput!) {
  unenrolLearners(input: $input) { group { id } errors { field code } }
}
"""
ASSIGN_TEACHER = """
mutation Assign($input: GroupTeacherInput!) {
  assignTeacher(input: $input) { group { id } errors { field code } }
}
"""
UNASSIGN_TEACHER = """
mutation Unassign($input: GroupTeacherInput!) {
  unassignTeacher(input: $input) { group { id } errors { field code } }
}
"""
CREATE_STAFF = """
mutation CreateStaff($input: CreateStaffInput!) {
  createStaff(input: $input) { staffMember { id } errors { field code } }
}
"""
UPDATE_STAFF = """
mutation UpdateStaff($input: UpdateStaffInput!) {
  updateStaff(input: $input) { staffMember { id displayName } errors { field code } }
}
"""
INVITE_STAFF = """
mutation InviteStaff($input: InviteStaffInput!) {
  inviteStaff(input: $input) { link expiresAt errors { field code } }
}
"""
ENROL_DEVICE = """
mutation EnrolDevice($input: EnrolDeviceInput!) {
  enrolDevice(input: $input) { device { id } token errors { field code } }
}
"""
REVOKE_DEVICE = """
mutation RevokeDevice($id: ID!) {
  revokeDevice(id: $id) { device { id revoked } errors { field code } }
}
"""
CREATE_API_KEY = """
mutation CreateApiKey($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { apiKey { id } key errors { field code } }
}
"""
REVOKE_API_KEY = """
mutation RevokeApiKey($id: ID!) {
  revokeApiKey(id: $id) { apiKey { id } errors { field code } }
}
"""
CLASSROOM = """
query Classroom($groupId: ID!) {
  classroom(groupId: $groupId) {
    group { id }
    lesson { id }
    tiles { learner { id } device { id } }
  }
}
"""
LESSON_NODE = "query Node($id: ID!) { node(id: $id) { id ... on Lesson { mode endsAt } } }"
CLASSROOM_ACTIVITY = """
subscription Live($groupId: ID!) {
  classroomActivity(groupId: $groupId) { groupId deviceId learnerId kind }
}
"""
START_LESSON = """
mutation StartLesson($input: StartLessonInput!) {
  startLesson(input: $input) { lesson { id } errors { field code } }
}
"""
END_LESSON = """
mutation EndLesson($id: ID!) {
  endLesson(id: $id) { lesson { id endedAt } errors { field code } }
}
"""
SEND_DEVICE_COMMAND = """
mutation SendDeviceCommand($input: SendDeviceCommandInput!) {
  sendDeviceCommand(input: $input) { commands { id kind message } errors { field code } }
}
"""
SET_SCHOOL_RULES = """
mutation SetSchoolRules($input: SchoolRulesInput!) {
  setSchoolRules(input: $input) { rules { domains } errors { field code } }
}
"""
REPORT_ACTIVITY = """
mutation ReportActivity($input: ReportActivityInput!) {
  reportActivity(input: $input) { results { eventId status } errors { field code } }
}
"""
ACKNOWLEDGE = """
mutation Acknowledge($ids: [ID!]!) {
  acknowledgeDeviceCommands(ids: $ids) { acknowledged errors { field code } }
}
"""
DEVICE_COMMANDS = "subscription Commands { deviceCommands { id kind policy { version } } }"


# -- the world -----------------------------------------------------------------------------------

#: Valid identifiers (check digits included) and SEN notes of the three target learners.
SECRETS: Mapping[Where, Mapping[str, str]] = {
    Where.OWN_CLASS: {
        "upn": "B801200005001",
        "uln": "1234567899",
        "dateOfBirth": "2011-03-14",
        "sendDetails": "Dyslexia: larger print.",
    },
    Where.OWN_SCHOOL: {
        "upn": "Q801200005002",
        "uln": "2345678916",
        "dateOfBirth": "2012-05-01",
        "sendDetails": "Hearing aid: front row.",
    },
    Where.OTHER_SCHOOL: {
        "upn": "E801200005003",
        "uln": "3456789121",
        "dateOfBirth": "2010-11-30",
        "sendDetails": "EHC plan: 1:1 support.",
    },
}


@dataclass(frozen=True)
class Place:
    """What lives in one scope: a group, its learner and teacher, a device, a key."""

    school: School
    group: TeachingGroup
    learner: Learner
    teacher: User
    #: The learner's device, the principal its token authenticates as, and a command for it.
    device: Device
    device_viewer: Viewer
    command: DeviceCommand
    #: Running lessons of the group, one per role, so that each allowed ``endLesson`` ends its own.
    lessons: Mapping[Who, Lesson]
    #: The key a target-taking operation acts on, and every key the scope's school granted.
    key: ApiKey
    keys: tuple[ApiKey, ...]
    #: A learner of the same school in no group, and a teacher of it teaching nothing.
    newcomer: Learner
    spare_teacher: User
    #: Every learner and member of staff whose objects count as this scope's.
    learners: tuple[Learner, ...]
    staff: tuple[User, ...]


@dataclass(frozen=True)
class RoutingTargets:
    """A scope's alert route and an alert about its learner (routing and export rows)."""

    route_id: int
    alert_id: uuid.UUID


@dataclass(frozen=True)
class World:
    places: Mapping[Where, Place]
    viewers: Mapping[Who, Viewer | None]
    #: PARTNER_WITHOUT_SCOPE: a key granted by Southgate holding every scope but the one named.
    partners_lacking: Mapping[Scope, Viewer]
    #: For subscriptions and effects that need more than the database; and the (frozen) clock.
    services: Services
    now: datetime
    #: Each scope's group's assessment (its id), for the markbook rows.
    assessments: Mapping[Where, int] = field(default_factory=dict)
    #: Each scope's alert route and alert, for the routing and export rows.
    routing: Mapping[Where, RoutingTargets] = field(default_factory=dict)
    #: Each scope's school's own safeguarding rule and exclusion (their ids), for removal rows.
    tuning: Mapping[Where, tuple[int, int]] = field(default_factory=dict)

    def viewer(self, who: Who, needed: Scope) -> Viewer | None:
        if who is Who.PARTNER_WITHOUT_SCOPE:
            return self.partners_lacking[needed]
        return self.viewers[who]

    def __getitem__(self, where: Where) -> Place:
        return self.places[where]

    def ids(self, kind: str, where: Where) -> frozenset[str]:
        """Global ids (or, for audit events, the learner each created) of a scope's objects."""
        place = self.places[where]
        by_kind: dict[str, list[str]] = {
            "Learner": [gid("Learner", r.id) for r in place.learners],
            "StaffMember": [gid("StaffMember", u.id) for u in place.staff],
            "School": [gid("School", place.school.id)],
            "Group": [gid("Group", place.group.id)],
            "Device": [gid("Device", place.device.id)],
            "ApiKey": [gid("ApiKey", k.id) for k in place.keys],
            "LearnerCreated": [str(r.id) for r in place.learners],
            "GroupLearners": [gid("Learner", place.learner.id)],
            "GroupTeachers": [gid("StaffMember", place.teacher.id)],
            "Alert": [gid("Alert", self.routing[where].alert_id)],
            "AlertRoute": [gid("AlertRoute", self.routing[where].route_id)],
        }
        return frozenset(by_kind[kind])

    def every(self, kind: str) -> frozenset[str]:
        return frozenset().union(*(self.ids(kind, w) for w in Where))


def gid(kind: str, pk: object) -> str:
    return str(to_global_id(kind, pk))


async def new_learner(services: Services, admin: Viewer, name: str, **fields: Any) -> Learner:
    """A learner made by ``admin`` through the use-case (factories.learner adds an admin each)."""
    data = LearnerData(given_name="Pupil", family_name=name, year_group=10, **fields)
    return await learner_cases.create_learner(Context(services, viewer=admin), data)


def secrets_of(where: Where) -> dict[str, Any]:
    values = SECRETS[where]
    return {
        "upn": values["upn"],
        "uln": values["uln"],
        "date_of_birth": date.fromisoformat(values["dateOfBirth"]),
        "send_details": values["sendDetails"],
    }


async def build_world(services: Services) -> World:
    """Southgate (OWN_CLASS, OWN_SCHOOL) and Northfield (OTHER_SCHOOL), and a viewer per role."""
    south = await factories.school(services, slug="southgate", name="Southgate Academy")
    north = await factories.school(services, slug="northfield", name="Northfield School")
    admin, teacher, teacher2, spare = (
        await factories.staff(south, Role.ADMIN),
        await factories.staff(south, Role.TEACHER),
        await factories.staff(south, Role.TEACHER),
        await factories.staff(south, Role.TEACHER),
    )
    dsl = await factories.staff(south, Role.SAFEGUARDING_LEAD)
    leader = await factories.staff(south, Role.LEADER)
    north_admin = await factories.staff(north, Role.ADMIN)
    north_teacher = await factories.staff(north, Role.TEACHER)
    north_spare = await factories.staff(north, Role.TEACHER)
    as_admin = factories.viewer(admin, south, Role.ADMIN)
    as_north_admin = factories.viewer(north_admin, north, Role.ADMIN)
    own = await new_learner(services, as_admin, "Adams", **secrets_of(Where.OWN_CLASS))
    mate = await new_learner(services, as_admin, "Baker", **secrets_of(Where.OWN_SCHOOL))
    new_south = await new_learner(services, as_admin, "Clark")
    other = await new_learner(services, as_north_admin, "Dixon", **secrets_of(Where.OTHER_SCHOOL))
    new_north = await new_learner(services, as_north_admin, "Evans")
    every_scope = set(Scope)
    full_key = (await factories.api_key(south, scopes=every_scope))[0]
    lacking = {s: (await factories.api_key(south, scopes=every_scope - {s}))[0] for s in Scope}
    north_key = (await factories.api_key(north, scopes=every_scope))[0]
    own_group = await factories.group(south, name="10S Maths", teachers=[teacher], learners=[own])
    mate_group = await factories.group(
        south, name="10T Science", teachers=[teacher2], learners=[mate]
    )
    other_group = await factories.group(
        north, name="10N Maths", teachers=[north_teacher], learners=[other]
    )
    now = services.now()
    places = {
        Where.OWN_CLASS: Place(
            school=south,
            group=own_group,
            learner=own,
            teacher=teacher,
            **await classroom_of(south, own_group, own, teacher, now),
            key=full_key,
            keys=(full_key,),
            newcomer=new_south,
            spare_teacher=spare,
            learners=(own,),
            staff=(teacher,),
        ),
        Where.OWN_SCHOOL: Place(
            school=south,
            group=mate_group,
            learner=mate,
            teacher=teacher2,
            **await classroom_of(south, mate_group, mate, teacher2, now),
            key=lacking[Scope.LEARNERS_READ],
            keys=tuple(lacking.values()),
            newcomer=new_south,
            spare_teacher=spare,
            learners=(mate, new_south),
            staff=(teacher2, spare, admin, dsl, leader),
        ),
        Where.OTHER_SCHOOL: Place(
            school=north,
            group=other_group,
            learner=other,
            teacher=north_teacher,
            **await classroom_of(north, other_group, other, north_teacher, now),
            key=north_key,
            keys=(north_key,),
            newcomer=new_north,
            spare_teacher=north_spare,
            learners=(other, new_north),
            staff=(north_teacher, north_spare, north_admin),
        ),
    }
    viewers = {
        Who.ANONYMOUS: None,
        Who.TEACHER: factories.viewer(teacher, south, Role.TEACHER),
        Who.ADMIN: as_admin,
        Who.SAFEGUARDING_LEAD: factories.viewer(dsl, south, Role.SAFEGUARDING_LEAD),
        Who.LEADER: factories.viewer(leader, south, Role.LEADER),
        Who.PARTNER: factories.partner_viewer(full_key, south),
        Who.DEVICE: places[Where.OWN_CLASS].device_viewer,
        Who.OTHER_SCHOOL_ADMIN: as_north_admin,
    }
    partners = {s: factories.partner_viewer(key, south) for s, key in lacking.items()}
    await aqa_8300()  # public reference data: every school reads the same rows
    assessments = {where: await assessment_of(place) for where, place in places.items()}
    routing = {where: await routing_targets_of(services, place) for where, place in places.items()}
    tuning = {where: await tuning_of(place, now) for where, place in places.items()}
    return World(places, viewers, partners, services, now, assessments, routing, tuning)


async def classroom_of(
    school: School, group: TeachingGroup, learner: Learner, teacher: User, now: datetime
) -> dict[str, Any]:
    """The live-classroom part of a Place: the learner's device, its command, running lessons."""
    school_id = school.id
    device = (await factories.device(school, learner_row=learner))[0]
    command = await DeviceCommand.create(
        school_id=school_id,
        device_id=device.id,
        kind=CommandKind.MESSAGE,
        payload={"text": "Eyes on the board, please."},
        created_by_id=teacher.id,
        created_at=now,
        expires_at=now + timedelta(hours=1),
    )
    lessons = {
        who: await Lesson.create(
            school_id=school_id,
            group_id=group.id,
            teacher_id=teacher.id,
            mode=LessonMode.BLOCK_LIST,
            rules={"block": {"DOMAIN": ["games.example"]}},
            starts_at=now - timedelta(minutes=5),
            ends_at=now + timedelta(hours=1),
        )
        for who in Who
    }
    device_viewer = Viewer(
        PrincipalKind.DEVICE,
        school_id,
        frozenset({school_id}),
        device_id=device.id,
        learner_id=learner.id,
    )
    return {
        "device": device,
        "device_viewer": device_viewer,
        "command": command,
        "lessons": lessons,
    }


#: Everything a denied mutation must leave exactly as it was.
TRACKED = (
    School,
    User,
    Membership,
    Session,
    Learner,
    ExternalId,
    TeachingGroup,
    Enrolment,
    TeachingAssignment,
    Device,
    ApiKey,
    ApiKeyGrant,
    Lesson,
    SchoolRule,
    DeviceCommand,
    ActivityRecord,
    Assessment,
    Mark,
    GradeRecord,
    BehaviourRecord,
    AchievementRecord,
    TrackerSettings,
    AlertRoute,
    RouteContact,
    WebhookEndpoint,
    CredentialToken,
)


Snapshot = dict[str, list[dict[str, Any]]]


async def snapshot() -> Snapshot:
    """Every row of every tracked table (raw SQL: ten times cheaper than the ORM here)."""
    connection = get_connection("default")
    return {
        model.__name__: await connection.execute_query_dict(
            f"SELECT * FROM {model._meta.db_table} ORDER BY id"  # noqa: S608 - our table names
        )
        for model in TRACKED
    }


# -- operations, and how to judge a response -----------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One (operation, role, scope) cell, in its world."""

    op: Operation
    who: Who
    where: Where
    world: World

    @property
    def expected(self) -> Outcome:
        return EXPECTED[self.op.name][self.who][self.where]

    @property
    def row(self) -> Row:
        return EXPECTED[self.op.name][self.who]

    @property
    def place(self) -> Place:
        return self.world[self.where]

    @property
    def viewer(self) -> Viewer | None:
        if self.op.device_protocol and self.who is Who.DEVICE:
            return self.place.device_viewer
        return self.world.viewer(self.who, self.op.scope)

    @property
    def school_id(self) -> int:
        assert self.viewer is not None
        return self.viewer.school_id

    @property
    def tag(self) -> str:
        """Unique per cell, so creations and renames in one world never collide."""
        return f"{self.who.value} {self.where.value}".replace("_", " ").lower()


Variables = Callable[[Cell], dict[str, Any]]
Judge = Callable[[Cell, Mapping[str, Any]], Awaitable[Outcome]]
Effect = Callable[[Cell], Awaitable[bool]]
Trigger = Callable[[Cell], Awaitable[None]]
Channel = Callable[[Cell], str]
Stream = AsyncGenerator[StreamResult, None]


@dataclass(frozen=True)
class Operation:
    name: str
    #: The root field exercised, as ``Type.field``.
    root: str
    document: str
    variables: Variables
    #: ALLOW or NOT_FOUND for a response without top-level errors, checking what came back.
    judge: Judge
    #: The scope the operation needs: PARTNER_WITHOUT_SCOPE's key holds every other one.
    scope: Scope = Scope.LEARNERS_READ
    #: Device-only, acting on the device itself: DEVICE is then the scope's own device.
    device_protocol: bool = False
    #: Subscriptions: the results an allowed stream must deliver (the judge gets them as a list),
    #: and what makes the first one happen once the stream listens on ``channel``.
    items: int = 1
    trigger: Trigger | None = None
    channel: Channel | None = None

    @property
    def field(self) -> str:
        return self.root.partition(".")[2]

    @property
    def mutation(self) -> bool:
        return self.root.startswith("Mutation.")

    @property
    def subscription(self) -> bool:
        return self.root.startswith("Subscription.")


def by_id(kind: str) -> Variables:
    def variables(cell: Cell) -> dict[str, Any]:
        place = cell.place
        pks = {
            "Learner": place.learner.id,
            "Group": place.group.id,
            "StaffMember": place.teacher.id,
            "School": place.school.id,
            "Device": place.device.id,
            "ApiKey": place.key.id,
            "Lesson": place.lessons[cell.who].id,
            "Assessment": cell.world.assessments.get(cell.where),
        }
        return {"id": gid(kind, pks[kind])}

    return variables


def no_variables(cell: Cell) -> dict[str, Any]:
    return {}


def found(kind: str, *revealed: str) -> Judge:
    """One object: ALLOW when it is the target, with each ``revealed`` field as stored."""

    async def judge(cell: Cell, data: Mapping[str, Any]) -> Outcome:
        node = data[cell.op.field]
        assert node is not None, "null without an error: outside reach must be NOT_FOUND"
        assert node["id"] == by_id(kind)(cell)["id"]
        for name in revealed:
            assert node[name] == SECRETS[cell.where][name], name
        return Outcome.ALLOW

    return judge


def listed(kind: str, extract: Callable[[Any], list[str]]) -> Judge:
    """A list: ALLOW when the scope's objects are listed, NOT_FOUND when none of them are.

    In an allowed cell the list holds exactly the objects of the row's allowed scopes.
    """

    async def judge(cell: Cell, data: Mapping[str, Any]) -> Outcome:
        got = extract(data[cell.op.field])
        assert len(got) == len(set(got)), f"duplicates in {got}"
        shown = set(got)
        assert shown <= cell.world.every(kind), "objects from outside the world were listed"
        mine = cell.world.ids(kind, cell.where)
        if mine & shown and not mine <= shown:
            pytest.fail(f"only some {cell.where.name} objects listed: {sorted(mine & shown)}")
        outcome = Outcome.ALLOW if mine <= shown else Outcome.NOT_FOUND
        if outcome is Outcome.ALLOW is cell.expected:
            allowed = [w for w in Where if cell.row[w] is Outcome.ALLOW]
            exactly = frozenset().union(*(cell.world.ids(kind, w) for w in allowed))
            assert shown == exactly, f"not exactly the {[w.name for w in allowed]} objects"
        return outcome

    return judge


def nodes(connection: Mapping[str, Any]) -> list[str]:
    return [node["id"] for node in connection["nodes"]]


def members(kind: str, field: str) -> Judge:
    """A group's learners or teachers, through ``node``: exactly that group's."""

    async def judge(cell: Cell, data: Mapping[str, Any]) -> Outcome:
        group = data["node"]
        assert group is not None
        assert group["id"] == gid("Group", cell.place.group.id)
        value = group[field]
        got = nodes(value) if isinstance(value, dict) else [m["id"] for m in value]
        assert set(got) == cell.world.ids(kind, cell.where)
        return Outcome.ALLOW

    return judge


def applied(effect: Effect, not_found_on: str | None = None) -> Judge:
    """A mutation: ALLOW when its payload has no errors and the change is in the database.

    Payload errors must all be NOT_FOUND (on the input field ``not_found_on``, when given).
    """

    async def judge(cell: Cell, data: Mapping[str, Any]) -> Outcome:
        payload = data[cell.op.field]
        if payload["errors"]:
            assert {e["code"] for e in payload["errors"]} == {"NOT_FOUND"}, payload["errors"]
            if not_found_on is not None:
                assert {e["field"] for e in payload["errors"]} == {not_found_on}, payload["errors"]
            return Outcome.NOT_FOUND
        assert await effect(cell), "the payload reported success but nothing changed"
        return Outcome.ALLOW

    return judge


def renamed(cell: Cell) -> str:
    return f"Renamed {cell.tag}"


def created(cell: Cell) -> str:
    return f"Created {cell.tag}"


def email(cell: Cell) -> str:
    return f"new.{cell.tag.replace(' ', '.')}@example.test"


def group_and(key: str, value: Callable[[Place], object]) -> Variables:
    return lambda c: {"input": {"groupId": gid("Group", c.place.group.id), key: value(c.place)}}


# Mutation inputs, per cell.


def create_learner_input(cell: Cell) -> dict[str, Any]:
    return {"input": {"givenName": "New", "familyName": created(cell)}}


def update_learner_input(cell: Cell) -> dict[str, Any]:
    return {"input": {"id": gid("Learner", cell.place.learner.id), "familyName": renamed(cell)}}


def create_group_input(cell: Cell) -> dict[str, Any]:
    return {"input": {"name": created(cell), "subject": "Art", "academicYear": "2026/27"}}


def update_group_input(cell: Cell) -> dict[str, Any]:
    group_id = gid("Group", cell.place.group.id)
    fields = {"name": renamed(cell), "subject": "Maths", "academicYear": "2026/27"}
    return {"input": {"id": group_id, **fields}}


def create_staff_input(cell: Cell) -> dict[str, Any]:
    fields = {"displayName": "New Colleague", "roles": ["TEACHER"]}
    return {"input": {"email": email(cell), "password": "a long unusual passphrase 42", **fields}}


def update_staff_input(cell: Cell) -> dict[str, Any]:
    return {
        "input": {"id": gid("StaffMember", cell.place.teacher.id), "displayName": renamed(cell)}
    }


def invite_staff_input(cell: Cell) -> dict[str, Any]:
    return {"input": {"staffId": gid("StaffMember", cell.place.teacher.id)}}


def enrol_device_input(cell: Cell) -> dict[str, Any]:
    learner_id = gid("Learner", cell.place.learner.id)
    return {"input": {"name": created(cell), "platform": "CHROMEOS", "learnerId": learner_id}}


def create_api_key_input(cell: Cell) -> dict[str, Any]:
    return {"input": {"name": created(cell), "scopes": ["LEARNERS_READ"]}}


# Mutation effects: is the change in the database?


async def learner_created(cell: Cell) -> bool:
    return await Learner.exists(family_name=created(cell), school_id=cell.school_id)


async def learner_renamed(cell: Cell) -> bool:
    return (await Learner.get(id=cell.place.learner.id)).family_name == renamed(cell)


async def group_created(cell: Cell) -> bool:
    return await TeachingGroup.exists(name=created(cell), school_id=cell.school_id)


async def group_renamed(cell: Cell) -> bool:
    return (await TeachingGroup.get(id=cell.place.group.id)).name == renamed(cell)


async def newcomer_enrolled(cell: Cell) -> bool:
    place = cell.place
    return await Enrolment.exists(group_id=place.group.id, learner_id=place.newcomer.id)


async def learner_unenrolled(cell: Cell) -> bool:
    place = cell.place
    return not await Enrolment.exists(group_id=place.group.id, learner_id=place.learner.id)


async def spare_assigned(cell: Cell) -> bool:
    place = cell.place
    return await TeachingAssignment.exists(group_id=place.group.id, user_id=place.spare_teacher.id)


async def teacher_unassigned(cell: Cell) -> bool:
    place = cell.place
    return not await TeachingAssignment.exists(group_id=place.group.id, user_id=place.teacher.id)


async def staff_created(cell: Cell) -> bool:
    user = await User.get_or_none(email=email(cell))
    return user is not None and await Membership.exists(
        user_id=user.id, school_id=cell.school_id, role=Role.TEACHER
    )


async def staff_renamed(cell: Cell) -> bool:
    return (await User.get(id=cell.place.teacher.id)).display_name == renamed(cell)


async def staff_invited(cell: Cell) -> bool:
    return await CredentialToken.exists(
        user_id=cell.place.teacher.id,
        purpose=CredentialPurpose.INVITE,
        created_by_id=cell.viewer.user_id if cell.viewer else None,
        used_at=None,
    )


async def device_enrolled(cell: Cell) -> bool:
    return await Device.exists(
        name=created(cell), school_id=cell.school_id, learner_id=cell.place.learner.id
    )


async def device_revoked(cell: Cell) -> bool:
    return (await Device.get(id=cell.place.device.id)).revoked_at is not None


async def key_created(cell: Cell) -> bool:
    return await ApiKeyGrant.exists(api_key__name=created(cell), school_id=cell.school_id)


async def key_revoked(cell: Cell) -> bool:
    return not await ApiKeyGrant.exists(api_key_id=cell.place.key.id, school_id=cell.school_id)


# The live classroom and the device protocol: inputs, effects, judges.


def user_id(cell: Cell) -> int:
    viewer = cell.viewer
    assert viewer is not None
    assert viewer.user_id is not None
    return viewer.user_id


def message(cell: Cell) -> str:
    """A command's text, unique per cell: both sendDeviceCommand rows reach the same devices."""
    return f"{cell.op.name} {cell.tag}"


def domain(cell: Cell) -> str:
    return f"{cell.tag.replace(' ', '-')}.example"


def event_id(cell: Cell) -> str:
    return f"matrix-{cell.op.name}-{cell.who.value}-{cell.where.value}"


def in_group(cell: Cell) -> dict[str, Any]:
    return {"groupId": gid("Group", cell.place.group.id)}


def start_lesson_input(cell: Cell) -> dict[str, Any]:
    ends_at = (cell.world.now + timedelta(hours=1)).isoformat()
    return {"input": {**in_group(cell), "endsAt": ends_at, "blockDomains": [domain(cell)]}}


def command_to(target: Callable[[Place], dict[str, Any]]) -> Variables:
    return lambda c: {"input": {"kind": "MESSAGE", "message": message(c), **target(c.place)}}


def school_rules_input(cell: Cell) -> dict[str, Any]:
    return {"input": {"domains": [domain(cell)]}}


def report_input(cell: Cell) -> dict[str, Any]:
    """One event from the scope's device (whoever sends it)."""
    at = cell.world.now.isoformat()
    url = "https://www.bbc.co.uk/bitesize"
    return {
        "input": {
            "events": [
                {"eventId": event_id(cell), "occurredAt": at, "kind": "URL_VISIT", "url": url}
            ]
        }
    }


def acknowledge_input(cell: Cell) -> dict[str, Any]:
    """Every device's command: a device must acknowledge its own and leave the others alone."""
    return {"ids": [gid("DeviceCommand", p.command.id) for p in cell.world.places.values()]}


async def lesson_started(cell: Cell) -> bool:
    """A running lesson of the group, started by the viewer with the cell's rules."""
    running = await Lesson.filter(
        group_id=cell.place.group.id, teacher_id=user_id(cell), ended_at__isnull=True
    )
    return [lesson.rules["block"]["DOMAIN"] for lesson in running] == [[domain(cell)]]


async def lesson_ended(cell: Cell) -> bool:
    """Ended by this very call, as the audit trail says (ending an ended lesson is a no-op)."""
    lesson = await Lesson.get(id=cell.place.lessons[cell.who].id)
    ends = AuditEvent.filter(action="lesson.end", actor_type="user", actor_id=str(user_id(cell)))
    targets = [event.target_ids for event in await ends]
    return lesson.ended_at is not None and [str(cell.place.group.id)] in targets


async def command_sent(cell: Cell) -> bool:
    """The message went to exactly the scope's device (the group's one learner has only it)."""
    sent = await DeviceCommand.filter(created_by_id=user_id(cell))
    got = [command.device_id for command in sent if command.payload.get("text") == message(cell)]
    return got == [cell.place.device.id]


async def rules_set(cell: Cell) -> bool:
    """The viewer's school's locked list is now exactly the cell's domain."""
    rules = await SchoolRule.filter(school_id=cell.school_id)
    return [rule.value for rule in rules] == [domain(cell)]


async def activity_recorded(cell: Cell) -> bool:
    """The event is in the device's history, written in batches: flush, then wait for it."""
    await cell.world.services.history.flush()
    device_id, wanted = cell.place.device.id, event_id(cell)
    return await eventually(lambda: ActivityRecord.exists(device_id=device_id, event_id=wanted))


async def acknowledged_its_own(cell: Cell, data: Mapping[str, Any]) -> Outcome:
    """ALLOW when the device acknowledged its own pending command and none of the others."""
    payload = data[cell.op.field]
    assert payload["errors"] == [], payload["errors"]
    assert payload["acknowledged"] == 1, f"acknowledged {payload['acknowledged']} commands"
    assert (await DeviceCommand.get(id=cell.place.command.id)).acknowledged_at is not None
    return Outcome.ALLOW


async def classroom_shown(cell: Cell, data: Mapping[str, Any]) -> Outcome:
    """ALLOW when it is the group, with a lesson of its own and exactly its learner's tile."""
    room, place = data[cell.op.field], cell.place
    assert room["group"] == {"id": gid("Group", place.group.id)}
    assert room["lesson"]["id"] in {gid("Lesson", lesson.id) for lesson in place.lessons.values()}
    tile = {
        "learner": {"id": gid("Learner", place.learner.id)},
        "device": {"id": gid("Device", place.device.id)},
    }
    assert room["tiles"] == [tile], "not exactly the group's learners and devices"
    return Outcome.ALLOW


def group_channel(cell: Cell) -> str:
    return channels.group_activity(cell.place.school.id, cell.place.group.id)


def device_channel(cell: Cell) -> str:
    return channels.device(cell.place.school.id, cell.place.device.id)


async def report_from_the_group(cell: Cell) -> None:
    """The group's learner's device reports an event, which ingest publishes to the group."""
    context = context_for(cell.world.services, cell.place.device_viewer)
    result = await SCHEMA.execute(
        REPORT_ACTIVITY, variable_values=report_input(cell), context_value=context
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    assert [r["status"] for r in result.data["reportActivity"]["results"]] == ["ACCEPTED"]


async def activity_delivered(cell: Cell, data: Mapping[str, Any]) -> Outcome:
    """ALLOW when the group's event arrives, as the group's learner's device reported it."""
    place = cell.place
    assert data[cell.op.field] == [
        {
            "groupId": gid("Group", place.group.id),
            "deviceId": gid("Device", place.device.id),
            "learnerId": gid("Learner", place.learner.id),
            "kind": "URL_VISIT",
        }
    ]
    return Outcome.ALLOW


async def commands_delivered(cell: Cell, data: Mapping[str, Any]) -> Outcome:
    """ALLOW when the device gets its policy, then its own pending command (no one else's)."""
    policy, command = data[cell.op.field]
    assert policy["kind"] == "POLICY", policy
    assert policy["policy"]["version"], policy
    mine = gid("DeviceCommand", cell.place.command.id)
    assert command == {"id": mine, "kind": "MESSAGE", "policy": None}, command
    return Outcome.ALLOW


_IDS, _GROUPS = Scope.LEARNER_IDENTIFIERS_READ, Scope.GROUPS_READ

PEOPLE_OPERATIONS: tuple[Operation, ...] = (
    Operation("learner(id)", "Query.learner", LEARNER, by_id("Learner"), found("Learner")),
    Operation("node(Learner)", "Query.node", LEARNER_NODE, by_id("Learner"), found("Learner")),
    Operation("learners", "Query.learners", LEARNERS, no_variables, listed("Learner", nodes)),
    Operation(
        "learner.identifiers",
        "Query.learner",
        LEARNER_IDENTIFIERS,
        by_id("Learner"),
        found("Learner", "upn", "uln", "dateOfBirth"),
        scope=_IDS,
    ),
    Operation(
        "learner.sendDetails",
        "Query.learner",
        LEARNER_SEND,
        by_id("Learner"),
        found("Learner", "sendDetails"),
    ),
    Operation("groups", "Query.groups", GROUPS, no_variables, listed("Group", nodes), _GROUPS),
    Operation("node(Group)", "Query.node", GROUP_NODE, by_id("Group"), found("Group"), _GROUPS),
    Operation(
        "node(Group).learners",
        "Query.node",
        GROUP_LEARNERS,
        by_id("Group"),
        members("GroupLearners", "learners"),
    ),
    Operation(
        "node(Group).teachers",
        "Query.node",
        GROUP_TEACHERS,
        by_id("Group"),
        members("GroupTeachers", "teachers"),
    ),
    Operation("staff", "Query.staff", STAFF, no_variables, listed("StaffMember", nodes)),
    Operation(
        "node(StaffMember)", "Query.node", STAFF_NODE, by_id("StaffMember"), found("StaffMember")
    ),
    Operation(
        "school", "Query.school", SCHOOL, no_variables, listed("School", lambda s: [s["id"]])
    ),
    Operation(
        "schools",
        "Query.schools",
        SCHOOLS,
        no_variables,
        listed("School", lambda schools: [s["id"] for s in schools]),
    ),
    Operation("node(School)", "Query.node", SCHOOL_NODE, by_id("School"), found("School")),
    Operation("devices", "Query.devices", DEVICES, no_variables, listed("Device", nodes)),
    Operation("node(Device)", "Query.node", DEVICE_NODE, by_id("Device"), found("Device")),
    Operation("apiKeys", "Query.apiKeys", API_KEYS, no_variables, listed("ApiKey", nodes)),
    Operation("node(ApiKey)", "Query.node", API_KEY_NODE, by_id("ApiKey"), found("ApiKey")),
    Operation(
        "auditEvents",
        "Query.auditEvents",
        AUDIT_EVENTS,
        no_variables,
        listed("LearnerCreated", lambda c: [i for n in c["nodes"] for i in n["targetIds"]]),
    ),
    Operation(
        "createLearner",
        "Mutation.createLearner",
        CREATE_LEARNER,
        create_learner_input,
        applied(learner_created),
    ),
    Operation(
        "updateLearner",
        "Mutation.updateLearner",
        UPDATE_LEARNER,
        update_learner_input,
        applied(learner_renamed),
    ),
    Operation(
        "createGroup",
        "Mutation.createGroup",
        CREATE_GROUP,
        create_group_input,
        applied(group_created),
    ),
    Operation(
        "updateGroup",
        "Mutation.updateGroup",
        UPDATE_GROUP,
        update_group_input,
        applied(group_renamed),
    ),
    Operation(
        "enrolLearners",
        "Mutation.enrolLearners",
        ENROL_LEARNERS,
        group_and("learnerIds", lambda p: [gid("Learner", p.newcomer.id)]),
        applied(newcomer_enrolled),
    ),
    Operation(
        "unenrolLearners",
        "Mutation.unenrolLearners",
        UNENROL_LEARNERS,
        group_and("learnerIds", lambda p: [gid("Learner", p.learner.id)]),
        applied(learner_unenrolled),
    ),
    Operation(
        "assignTeacher",
        "Mutation.assignTeacher",
        ASSIGN_TEACHER,
        group_and("staffId", lambda p: gid("StaffMember", p.spare_teacher.id)),
        applied(spare_assigned),
    ),
    Operation(
        "unassignTeacher",
        "Mutation.unassignTeacher",
        UNASSIGN_TEACHER,
        group_and("staffId", lambda p: gid("StaffMember", p.teacher.id)),
        applied(teacher_unassigned),
    ),
    Operation(
        "createStaff",
        "Mutation.createStaff",
        CREATE_STAFF,
        create_staff_input,
        applied(staff_created),
    ),
    Operation(
        "updateStaff",
        "Mutation.updateStaff",
        UPDATE_STAFF,
        update_staff_input,
        applied(staff_renamed),
    ),
    Operation(
        "inviteStaff",
        "Mutation.inviteStaff",
        INVITE_STAFF,
        invite_staff_input,
        applied(staff_invited),
    ),
    Operation(
        "enrolDevice",
        "Mutation.enrolDevice",
        ENROL_DEVICE,
        enrol_device_input,
        applied(device_enrolled),
    ),
    Operation(
        "revokeDevice",
        "Mutation.revokeDevice",
        REVOKE_DEVICE,
        by_id("Device"),
        applied(device_revoked),
    ),
    Operation(
        "createApiKey",
        "Mutation.createApiKey",
        CREATE_API_KEY,
        create_api_key_input,
        applied(key_created),
    ),
    Operation(
        "revokeApiKey",
        "Mutation.revokeApiKey",
        REVOKE_API_KEY,
        by_id("ApiKey"),
        applied(key_revoked),
    ),
)

_SEND = "Mutation.sendDeviceCommand"

CLASSROOM_OPERATIONS: tuple[Operation, ...] = (
    Operation("classroom(groupId)", "Query.classroom", CLASSROOM, in_group, classroom_shown),
    Operation("node(Lesson)", "Query.node", LESSON_NODE, by_id("Lesson"), found("Lesson")),
    Operation(
        "classroomActivity(groupId)",
        "Subscription.classroomActivity",
        CLASSROOM_ACTIVITY,
        in_group,
        activity_delivered,
        trigger=report_from_the_group,
        channel=group_channel,
    ),
    # Before startLesson: allowed cells run in this order, and starting a lesson ends the group's
    # running ones, the lessons endLesson's cells end included.
    Operation(
        "endLesson", "Mutation.endLesson", END_LESSON, by_id("Lesson"), applied(lesson_ended)
    ),
    Operation(
        "startLesson",
        "Mutation.startLesson",
        START_LESSON,
        start_lesson_input,
        applied(lesson_started),
    ),
    Operation(
        "sendDeviceCommand(groupId)",
        _SEND,
        SEND_DEVICE_COMMAND,
        command_to(lambda p: {"groupId": gid("Group", p.group.id)}),
        applied(command_sent),
    ),
    Operation(
        "sendDeviceCommand(deviceIds)",
        _SEND,
        SEND_DEVICE_COMMAND,
        command_to(lambda p: {"deviceIds": [gid("Device", p.device.id)]}),
        applied(command_sent, not_found_on="deviceIds"),
    ),
    Operation(
        "setSchoolRules",
        "Mutation.setSchoolRules",
        SET_SCHOOL_RULES,
        school_rules_input,
        applied(rules_set),
    ),
    Operation(
        "reportActivity",
        "Mutation.reportActivity",
        REPORT_ACTIVITY,
        report_input,
        applied(activity_recorded),
        device_protocol=True,
    ),
    Operation(
        "acknowledgeDeviceCommands",
        "Mutation.acknowledgeDeviceCommands",
        ACKNOWLEDGE,
        acknowledge_input,
        acknowledged_its_own,
        device_protocol=True,
    ),
    Operation(
        "deviceCommands",
        "Subscription.deviceCommands",
        DEVICE_COMMANDS,
        no_variables,
        commands_delivered,
        device_protocol=True,
        items=2,
        channel=device_channel,
    ),
)

SPECIFICATION = """
query Spec($board: String!, $code: String!) { specification(board: $board, code: $code) { code } }
"""


async def specification_found(cell: Cell, data: Mapping[str, Any]) -> Outcome:
    """ALLOW when the (school-independent) specification comes back."""
    assert data[cell.op.field] == {"code": "8300"}, data
    return Outcome.ALLOW


#: Exam-board reference data: the same for every school, so every scope reads the same rows.
TRACKING_REFERENCE_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "specification(board,code)",
        "Query.specification",
        SPECIFICATION,
        lambda cell: {"board": "AQA", "code": "8300"},
        specification_found,
        scope=Scope.TRACKING_READ,
    ),
)

MARKBOOK = """
query Markbook($groupId: ID!) {
  markbook(groupId: $groupId) { rows { nodes { learnerKey marks { status } } } }
}
"""
ASSESSMENT_NODE = "query Node($id: ID!) { node(id: $id) { id ... on Assessment { title } } }"
CREATE_ASSESSMENT = """
mutation CreateAssessment($input: CreateAssessmentInput!) {
  createAssessment(input: $input) { assessment { id } errors { field code } }
}
"""
ENTER_MARKS = """
mutation EnterMarks($input: EnterMarksInput!) {
  enterMarks(input: $input) { marks { rawMark } errors { field code } }
}
"""
SET_TARGETS = """
mutation SetTargets($input: SetTargetsInput!) {
  setTargets(input: $input) { grades { grade } errors { field code } }
}
"""
SET_GRADES = """
mutation SetGrades($input: SetGradesInput!) {
  setGrades(input: $input) { grades { grade } errors { field code } }
}
"""


async def assessment_of(place: Place) -> int:
    """An assessment of the place's group (June 2024, no boundaries needed to enter marks)."""
    from resolvers import tracking_reference

    series = await tracking_reference.ensure_series("June 2024")
    spec = await aqa_8300()
    row = await Assessment.create(
        school_id=place.school.id,
        group_id=place.group.id,
        title=f"Mock of {place.group.name}",
        specification_id=spec.id,
        series_id=series.id,
        tier="HIGHER",
        full_mark=240,
        taken_on=date(2026, 11, 2),
    )
    return row.id


async def markbook_shown(cell: Cell, data: Mapping[str, Any]) -> Outcome:
    """ALLOW when the group's learner has a row (by id: PARTNER also holds LEARNERS_READ)."""
    rows = data[cell.op.field]["rows"]["nodes"]
    assert [r["learnerKey"] for r in rows] == [gid("Learner", cell.place.learner.id)], rows
    return Outcome.ALLOW


def cell_number(cell: Cell) -> int:
    """Distinct per cell, so each allowed write is told apart from the one before it."""
    return list(Who).index(cell.who) * len(Where) + list(Where).index(cell.where)


def create_assessment_input(cell: Cell) -> dict[str, Any]:
    return {
        "input": {
            "groupId": gid("Group", cell.place.group.id),
            "title": created(cell),
            "specification": {"board": "AQA", "code": "8300"},
            "series": "June 2024",
            "takenOn": "2026-11-20",
            "tier": "HIGHER",
        }
    }


def enter_marks_input(cell: Cell) -> dict[str, Any]:
    row = {"learnerId": gid("Learner", cell.place.learner.id), "mark": cell_number(cell)}
    assessment = gid("Assessment", cell.world.assessments[cell.where])
    return {"input": {"assessmentId": assessment, "marks": [row]}}


def grade_of(cell: Cell) -> str:
    return str(1 + cell_number(cell) % 9)


def grades_input(kind: str | None) -> Variables:
    def variables(cell: Cell) -> dict[str, Any]:
        entry = {"learnerId": gid("Learner", cell.place.learner.id), "grade": grade_of(cell)}
        values: dict[str, Any] = {"groupId": gid("Group", cell.place.group.id), "grades": [entry]}
        if kind is not None:
            values["kind"] = kind
        return {"input": values}

    return variables


async def assessment_created(cell: Cell) -> bool:
    return await Assessment.exists(title=created(cell), group_id=cell.place.group.id)


async def marks_entered(cell: Cell) -> bool:
    assessment_id = cell.world.assessments[cell.where]
    return await Mark.exists(
        assessment_id=assessment_id, learner_id=cell.place.learner.id, raw_mark=cell_number(cell)
    )


def grade_set(kind: GradeKind) -> Effect:
    async def effect(cell: Cell) -> bool:
        return await GradeRecord.exists(
            learner_id=cell.place.learner.id, kind=kind, grade=grade_of(cell)
        )

    return effect


CONDUCT = """
query Conduct($learnerId: ID!) {
  conduct(learnerId: $learnerId, kind: BEHAVIOUR) { nodes { points } }
}
"""
RECORD_BEHAVIOUR = """
mutation RecordBehaviour($input: RecordConductInput!) {
  recordBehaviour(input: $input) { record { points } errors { field code } }
}
"""
RECORD_ACHIEVEMENT = """
mutation RecordAchievement($input: RecordConductInput!) {
  recordAchievement(input: $input) { record { points } errors { field code } }
}
"""
TRACKER_SETTINGS = "query Settings { trackerSettings { smallSubgroupThreshold } }"
UPDATE_TRACKER_SETTINGS = """
mutation UpdateSettings($input: UpdateTrackerSettingsInput!) {
  updateTrackerSettings(input: $input) { settings { smallSubgroupThreshold } errors { field code } }
}
"""


def about_learner(cell: Cell) -> dict[str, Any]:
    return {"learnerId": gid("Learner", cell.place.learner.id)}


def conduct_input(cell: Cell) -> dict[str, Any]:
    return {"input": {**about_learner(cell), "points": cell_number(cell), "category": "Matrix"}}


def conduct_recorded(model: type[BehaviourRecord] | type[AchievementRecord]) -> Effect:
    async def effect(cell: Cell) -> bool:
        return await model.exists(learner_id=cell.place.learner.id, points=cell_number(cell))

    return effect


def threshold_of(cell: Cell) -> int:
    return 1 + cell_number(cell)


async def came_back(cell: Cell, data: Mapping[str, Any]) -> Outcome:
    """ALLOW when the field answers (the world has no records and default settings)."""
    assert data[cell.op.field] is not None
    return Outcome.ALLOW


async def settings_updated(cell: Cell) -> bool:
    return await TrackerSettings.exists(small_subgroup=threshold_of(cell))


MARKBOOK_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "markbook(groupId)",
        "Query.markbook",
        MARKBOOK,
        in_group,
        markbook_shown,
        scope=Scope.TRACKING_READ,
    ),
    Operation(
        "node(Assessment)",
        "Query.node",
        ASSESSMENT_NODE,
        by_id("Assessment"),
        found("Assessment"),
        scope=Scope.TRACKING_READ,
    ),
    Operation(
        "createAssessment",
        "Mutation.createAssessment",
        CREATE_ASSESSMENT,
        create_assessment_input,
        applied(assessment_created),
        scope=Scope.TRACKING_READ,
    ),
    Operation(
        "enterMarks",
        "Mutation.enterMarks",
        ENTER_MARKS,
        enter_marks_input,
        applied(marks_entered),
        scope=Scope.TRACKING_READ,
    ),
    Operation(
        "setTargets",
        "Mutation.setTargets",
        SET_TARGETS,
        grades_input(None),
        applied(grade_set(GradeKind.TARGET)),
        scope=Scope.TRACKING_READ,
    ),
    Operation(
        "setGrades",
        "Mutation.setGrades",
        SET_GRADES,
        grades_input("WORKING_AT"),
        applied(grade_set(GradeKind.WORKING_AT)),
        scope=Scope.TRACKING_READ,
    ),
    Operation(
        "conduct(learnerId)",
        "Query.conduct",
        CONDUCT,
        about_learner,
        came_back,
        scope=Scope.TRACKING_READ,
    ),
    Operation(
        "recordBehaviour",
        "Mutation.recordBehaviour",
        RECORD_BEHAVIOUR,
        conduct_input,
        applied(conduct_recorded(BehaviourRecord)),
        scope=Scope.TRACKING_READ,
    ),
    Operation(
        "recordAchievement",
        "Mutation.recordAchievement",
        RECORD_ACHIEVEMENT,
        conduct_input,
        applied(conduct_recorded(AchievementRecord)),
        scope=Scope.TRACKING_READ,
    ),
    Operation(
        "trackerSettings",
        "Query.trackerSettings",
        TRACKER_SETTINGS,
        no_variables,
        came_back,
        scope=Scope.TRACKING_READ,
    ),
    Operation(
        "updateTrackerSettings",
        "Mutation.updateTrackerSettings",
        UPDATE_TRACKER_SETTINGS,
        lambda cell: {"input": {"smallSubgroupThreshold": threshold_of(cell)}},
        applied(settings_updated),
        scope=Scope.TRACKING_READ,
    ),
)

ALERT_ROUTES = "query Routes { alertRoutes(first: 100) { nodes { id name } } }"
CREATE_ALERT_ROUTE = """
mutation CreateRoute($input: CreateAlertRouteInput!) {
  createAlertRoute(input: $input) { route { id } errors { field code } }
}
"""
UPDATE_ALERT_ROUTE = """
mutation UpdateRoute($input: UpdateAlertRouteInput!) {
  updateAlertRoute(input: $input) { route { id name } errors { field code } }
}
"""
DELETE_ALERT_ROUTE = """
mutation DeleteRoute($id: ID!) { deleteAlertRoute(id: $id) { deletedId errors { field code } } }
"""
ROTATE_WEBHOOK_SECRET = """
mutation Rotate($input: RotateWebhookSecretInput!) {
  rotateWebhookSecret(input: $input) { webhookSecret { url } errors { field code } }
}
"""
EXPORT_ALERT = "query Export($id: ID!) { exportAlert(id: $id, format: JSON) { content incidents } }"
ALERT_DELIVERIES = """
query Deliveries($alertId: ID!) { alertDeliveries(alertId: $alertId) { nodes { recipient } } }
"""
EXPORT_CHRONOLOGY = """
query Chronology($learnerId: ID!) {
  exportLearnerChronology(learnerId: $learnerId, format: CSV) { content incidents }
}
"""


async def routing_targets_of(services: Services, place: Place) -> RoutingTargets:
    """An alert route of the place's school (its contact an address) and an alert about the
    place's learner, stored as ingest stores one."""
    now = services.now()
    route = await AlertRoute.create(
        school_id=place.school.id,
        name=f"Route of {place.group.name}",
        created_at=now,
        updated_at=now,
    )
    await RouteContact.create(
        school_id=place.school.id,
        route_id=route.id,
        position=0,
        kind=ContactKind.EMAIL,
        email="dsl.on.call@example.test",
    )
    hook = WebhookEndpoint(school_id=place.school.id, url=hook_url(place), created_at=now)
    hook.secret_enc = await services.keyring.encrypt(webhook_secret_context(hook), "whsec_x")
    await hook.save()
    alert = await stored_alert(services, place.school.id, place.learner.id)
    await AlertDelivery.create(
        school_id=place.school.id,
        alert_id=alert.id,
        route_id=route.id,
        channel=DeliveryChannel.EMAIL,
        recipient=on_call(place),
        status=DeliveryStatus.SENT,
        attempt=1,
        created_at=now,
        sent_at=now,
    )
    return RoutingTargets(route.id, alert.id)


def hook_url(place: Place) -> str:
    return f"https://hooks.example.test/{place.group.id}"


async def secret_rotated(cell: Cell) -> bool:
    endpoint = await WebhookEndpoint.get(url=hook_url(cell.place), school_id=cell.school_id)
    return endpoint.rotated_at is not None


def on_call(place: Place) -> str:
    return f"on.call.{place.group.id}@example.test"


async def delivery_listed(cell: Cell, data: Mapping[str, Any]) -> Outcome:
    """ALLOW when the scope's alert's one delivery is listed (to that place's address)."""
    nodes = data[cell.op.field]["nodes"]
    assert [n["recipient"] for n in nodes] == [on_call(cell.place)], nodes
    return Outcome.ALLOW


def route_id_of(cell: Cell) -> str:
    return gid("AlertRoute", cell.world.routing[cell.where].route_id)


async def route_created(cell: Cell) -> bool:
    return await AlertRoute.exists(name=created(cell), school_id=cell.school_id)


async def route_renamed(cell: Cell) -> bool:
    route = await AlertRoute.get(id=cell.world.routing[cell.where].route_id)
    return route.name == renamed(cell)


async def route_deleted(cell: Cell) -> bool:
    return not await AlertRoute.exists(id=cell.world.routing[cell.where].route_id)


async def exported(cell: Cell, data: Mapping[str, Any]) -> Outcome:
    """ALLOW when the document holds the scope's alert (and so its evidence)."""
    document = data[cell.op.field]
    assert document["incidents"] >= 1, document
    assert alert_ref(cell.world.routing[cell.where].alert_id) in document["content"]
    return Outcome.ALLOW


ROUTING_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "alertRoutes", "Query.alertRoutes", ALERT_ROUTES, no_variables, listed("AlertRoute", nodes)
    ),
    Operation(
        "exportAlert(id)",
        "Query.exportAlert",
        EXPORT_ALERT,
        lambda c: {"id": gid("Alert", c.world.routing[c.where].alert_id)},
        exported,
    ),
    Operation(
        "alertDeliveries(alertId)",
        "Query.alertDeliveries",
        ALERT_DELIVERIES,
        lambda c: {"alertId": gid("Alert", c.world.routing[c.where].alert_id)},
        delivery_listed,
    ),
    Operation(
        "exportLearnerChronology",
        "Query.exportLearnerChronology",
        EXPORT_CHRONOLOGY,
        lambda c: {"learnerId": gid("Learner", c.place.learner.id)},
        exported,
    ),
    Operation(
        "createAlertRoute",
        "Mutation.createAlertRoute",
        CREATE_ALERT_ROUTE,
        lambda c: {"input": {"name": created(c), "contacts": [{"email": email(c)}]}},
        applied(route_created),
    ),
    # Before deleteAlertRoute: allowed cells run in this order, on the same routes.
    Operation(
        "updateAlertRoute",
        "Mutation.updateAlertRoute",
        UPDATE_ALERT_ROUTE,
        lambda c: {"input": {"id": route_id_of(c), "name": renamed(c)}},
        applied(route_renamed),
    ),
    Operation(
        "deleteAlertRoute",
        "Mutation.deleteAlertRoute",
        DELETE_ALERT_ROUTE,
        lambda c: {"id": route_id_of(c)},
        applied(route_deleted),
    ),
    Operation(
        "rotateWebhookSecret",
        "Mutation.rotateWebhookSecret",
        ROTATE_WEBHOOK_SECRET,
        lambda c: {"input": {"url": hook_url(c.place)}},
        applied(secret_rotated),
    ),
)

ALERTS = "query Alerts { alerts(first: 100) { nodes { id } } }"
ALERT_NODE = "query AlertNode($id: ID!) { node(id: $id) { id ... on Alert { category } } }"
MY_CONCERNS = "query Mine { myConcerns { id } }"
ALERT_FEED = "subscription Feed { alertFeed { cursor alert { id } } }"
SAFEGUARDING_SETTINGS = "query Settings { safeguardingSettings { mergeWindowMinutes } }"
_TUNED = "settings { mergeWindowMinutes } errors { field code }"
ACKNOWLEDGE_ALERT = """
mutation Ack($id: ID!) { acknowledgeAlert(id: $id) { alert { status } errors { field code } } }
"""
UPDATE_ALERT = """
mutation Update($input: UpdateAlertInput!) {
  updateAlert(input: $input) { alert { severity } errors { field code } }
}
"""
RAISE_CONCERN = """
mutation Concern($input: RaiseConcernInput!) {
  raiseConcern(input: $input) { alert { id } errors { field code } }
}
"""
UPDATE_SAFEGUARDING_SETTINGS = f"""
mutation Settings($input: UpdateSafeguardingSettingsInput!) {{
  updateSafeguardingSettings(input: $input) {{ {_TUNED} }}
}}
"""
DISABLE_RULE = f"""
mutation Disable($ruleId: String!) {{
  disableSafeguardingRule(ruleId: $ruleId, reason: "noisy") {{ {_TUNED} }}
}}
"""
ENABLE_RULE = f"""
mutation Enable($ruleId: String!) {{ enableSafeguardingRule(ruleId: $ruleId) {{ {_TUNED} }} }}
"""
ADD_RULE = f"""
mutation AddRule($input: AddSafeguardingRuleInput!) {{
  addSafeguardingRule(input: $input) {{ {_TUNED} }}
}}
"""
REMOVE_RULE = f"mutation RemoveRule($id: ID!) {{ removeSafeguardingRule(id: $id) {{ {_TUNED} }} }}"
ADD_EXCLUSION = f"""
mutation AddExclusion($phrase: String!) {{
  addSafeguardingExclusion(phrase: $phrase, reason: "a common phrase") {{ {_TUNED} }}
}}
"""
REMOVE_EXCLUSION = f"""
mutation RemoveExclusion($id: ID!) {{ removeSafeguardingExclusion(id: $id) {{ {_TUNED} }} }}
"""


async def tuning_of(place: Place, now: datetime) -> tuple[int, int]:
    """A safeguarding rule and exclusion of the place's school, for the removal rows."""
    rule = await CustomRule.create(
        school_id=place.school.id,
        category="BULLYING",
        severity=3,
        phrase=f"rule of group {place.group.id}",
        reason="matrix",
        created_at=now,
    )
    exclusion = await RuleExclusion.create(
        school_id=place.school.id,
        phrase=f"exclusion of group {place.group.id}",
        reason="matrix",
        created_at=now,
    )
    return rule.id, exclusion.id


def alert_of(cell: Cell) -> str:
    return gid("Alert", cell.world.routing[cell.where].alert_id)


async def alert_found(cell: Cell, data: Mapping[str, Any]) -> Outcome:
    node = data["node"]
    assert node is not None, "null without an error: outside reach must be NOT_FOUND"
    assert node["id"] == alert_of(cell)
    return Outcome.ALLOW


async def answered(cell: Cell, data: Mapping[str, Any]) -> Outcome:
    """ALLOW for an untargeted read that answered (the viewer's own school or concerns)."""
    assert data[cell.op.field] is not None
    return Outcome.ALLOW


def southgate(cell: Cell) -> int:
    """The feed has no target: its allowed viewer, Southgate's lead, follows Southgate."""
    return cell.world[Where.OWN_CLASS].school.id


async def alert_raised_in_southgate(cell: Cell) -> None:
    services = cell.world.services
    learner = cell.world[Where.OWN_CLASS].learner
    alert = await stored_alert(services, southgate(cell), learner.id)
    await announce(services, southgate(cell), [Committed(alert.id, alert.cursor, False)])


async def alert_delivered(cell: Cell, data: Mapping[str, Any]) -> Outcome:
    (event,) = data[cell.op.field]
    assert event["cursor"]
    assert event["alert"]["id"]
    return Outcome.ALLOW


async def acknowledged(cell: Cell) -> bool:
    alert = await Alert.get(id=cell.world.routing[cell.where].alert_id)
    return alert.status is not AlertStatus.NEW


async def regraded(cell: Cell) -> bool:
    alert = await Alert.get(id=cell.world.routing[cell.where].alert_id)
    return alert.severity == 1


async def concern_raised(cell: Cell) -> bool:
    return await Alert.exists(
        learner_id=cell.place.learner.id, source=AlertSource.CONCERN, excerpt_enc__isnull=False
    )


async def settings_changed(cell: Cell) -> bool:
    return await SafeguardingSettings.exists(school_id=cell.school_id, merge_window_minutes=7)


async def rule_disabled(cell: Cell) -> bool:
    return await DisabledRule.exists(school_id=cell.school_id)


async def rule_enabled(cell: Cell) -> bool:
    return not await DisabledRule.exists(school_id=cell.school_id, rule_id="no-such-rule")


async def rule_added(cell: Cell) -> bool:
    return await CustomRule.exists(school_id=cell.school_id, phrase=created(cell))


async def rule_removed(cell: Cell) -> bool:
    return not await CustomRule.exists(id=cell.world.tuning[cell.where][0])


async def exclusion_added(cell: Cell) -> bool:
    return await RuleExclusion.exists(school_id=cell.school_id, phrase=created(cell).lower())


async def exclusion_removed(cell: Cell) -> bool:
    return not await RuleExclusion.exists(id=cell.world.tuning[cell.where][1])


def a_builtin_rule() -> str:
    return next(iter(builtin_by_id()))


SAFEGUARDING_OPERATIONS: tuple[Operation, ...] = (
    Operation("alerts", "Query.alerts", ALERTS, no_variables, listed("Alert", nodes)),
    Operation("node(Alert)", "Query.node", ALERT_NODE, lambda c: {"id": alert_of(c)}, alert_found),
    Operation("myConcerns", "Query.myConcerns", MY_CONCERNS, no_variables, answered),
    Operation(
        "safeguardingSettings",
        "Query.safeguardingSettings",
        SAFEGUARDING_SETTINGS,
        no_variables,
        answered,
    ),
    Operation(
        "alertFeed",
        "Subscription.alertFeed",
        ALERT_FEED,
        no_variables,
        alert_delivered,
        trigger=alert_raised_in_southgate,
        channel=lambda c: channels.alerts(southgate(c)),
    ),
    Operation(
        "acknowledgeAlert",
        "Mutation.acknowledgeAlert",
        ACKNOWLEDGE_ALERT,
        lambda c: {"id": alert_of(c)},
        applied(acknowledged),
    ),
    Operation(
        "updateAlert",
        "Mutation.updateAlert",
        UPDATE_ALERT,
        lambda c: {"input": {"id": alert_of(c), "severity": 1}},
        applied(regraded),
    ),
    Operation(
        "raiseConcern",
        "Mutation.raiseConcern",
        RAISE_CONCERN,
        lambda c: {
            "input": {
                "learnerId": gid("Learner", c.place.learner.id),
                "category": "BULLYING",
                "description": created(c),
            }
        },
        applied(concern_raised),
    ),
    Operation(
        "updateSafeguardingSettings",
        "Mutation.updateSafeguardingSettings",
        UPDATE_SAFEGUARDING_SETTINGS,
        lambda c: {"input": {"mergeWindowMinutes": 7}},
        applied(settings_changed),
    ),
    Operation(
        "disableSafeguardingRule",
        "Mutation.disableSafeguardingRule",
        DISABLE_RULE,
        lambda c: {"ruleId": a_builtin_rule()},
        applied(rule_disabled),
    ),
    Operation(
        "enableSafeguardingRule",
        "Mutation.enableSafeguardingRule",
        ENABLE_RULE,
        lambda c: {"ruleId": "no-such-rule"},
        applied(rule_enabled),
    ),
    Operation(
        "addSafeguardingRule",
        "Mutation.addSafeguardingRule",
        ADD_RULE,
        lambda c: {
            "input": {"category": "BULLYING", "severity": 2, "phrase": created(c), "reason": "x"}
        },
        applied(rule_added),
    ),
    Operation(
        "removeSafeguardingRule",
        "Mutation.removeSafeguardingRule",
        REMOVE_RULE,
        lambda c: {"id": gid("SafeguardingCustomRule", c.world.tuning[c.where][0])},
        applied(rule_removed),
    ),
    Operation(
        "addSafeguardingExclusion",
        "Mutation.addSafeguardingExclusion",
        ADD_EXCLUSION,
        lambda c: {"phrase": created(c)},
        applied(exclusion_added),
    ),
    Operation(
        "removeSafeguardingExclusion",
        "Mutation.removeSafeguardingExclusion",
        REMOVE_EXCLUSION,
        lambda c: {"id": gid("SafeguardingExclusion", c.world.tuning[c.where][1])},
        applied(exclusion_removed),
    ),
)

OPERATIONS = (
    PEOPLE_OPERATIONS
    + CLASSROOM_OPERATIONS
    + TRACKING_REFERENCE_OPERATIONS
    + MARKBOOK_OPERATIONS
    + ROUTING_OPERATIONS
    + SAFEGUARDING_OPERATIONS
)

DENIALS = frozenset({"UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND"})


def denial(errors: list[GraphQLError]) -> Outcome:
    """The one denial all top-level errors agree on; anything else fails the cell."""
    codes = {(error.extensions or {}).get("code") for error in errors}
    formatted = [error.formatted for error in errors]
    assert len(codes) == 1, f"mixed errors {formatted}"
    code = codes.pop()
    assert code in DENIALS, f"not a denial: {formatted}"
    return Outcome[str(code)]


#: Upper bound for anything a cell waits for; a healthy run needs a small fraction of it.
TIMEOUT = 5.0


async def eventually(condition: Callable[[], bool | Awaitable[bool]]) -> bool:
    """Poll ``condition`` until it holds (True) or TIMEOUT passes (False); no blind sleeps."""
    try:
        await waiting.wait_until(condition, TIMEOUT)
    except TimeoutError:
        return False
    return True


async def first_result(cell: Cell, stream: Stream) -> StreamResult:
    """The stream's first result; with a trigger, pulled once the stream listens (or failed)."""
    op, broker = cell.op, cell.world.services.broker
    first = asyncio.ensure_future(anext(stream))
    try:
        if op.trigger is not None and op.channel is not None:
            channel = op.channel(cell)
            listening = await eventually(
                lambda: first.done() or broker.subscriber_count(channel) > 0
            )
            assert listening, "the stream neither listens nor fails"
            if not first.done():
                await op.trigger(cell)
        async with asyncio.timeout(TIMEOUT):
            return await first
    finally:
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)


async def listen(cell: Cell) -> ExecutionResult:
    """Subscribe as the cell's viewer: the denial, or (allowed) the first ``items`` items as one
    list under the field. The stream is closed and must leave no broker subscription behind."""
    op, services = cell.op, cell.world.services
    context = context_for(services, cell.viewer)
    stream = await SCHEMA.subscribe(
        op.document, variable_values=op.variables(cell), context_value=context
    )
    async with aclosing(stream):
        received = [await first_result(cell, stream)]
        while not received[0].errors and len(received) < op.items:
            async with asyncio.timeout(TIMEOUT):
                received.append(await anext(stream))
    if op.channel is not None:
        left = services.broker.subscriber_count(op.channel(cell))
        assert left == 0, "the closed stream is still subscribed"
    if received[0].errors:
        return ExecutionResult(received[0].data, received[0].errors)
    items = []
    for result in received:
        assert result.errors is None, f"the stream failed after it was allowed: {result.errors}"
        assert result.data is not None
        items.append(result.data[op.field])
    return ExecutionResult({op.field: items})


async def check_cell(gql: GraphQLRunner, cell: Cell, known: Snapshot | None) -> Snapshot | None:
    """Run one cell; for a denied mutation, return the (unchanged) state it was checked against.

    ``known`` is the state left by the previous cell, when it was verified to be unchanged.
    """
    # given
    expected = cell.expected
    before = known or await snapshot() if cell.op.mutation else None
    # when
    if cell.op.subscription:
        result = await listen(cell)
    else:
        result = await gql(cell.op.document, cell.viewer, **cell.op.variables(cell))
    # then
    if result.errors:
        outcome = denial(result.errors)
    else:
        assert result.data is not None
        outcome = await cell.op.judge(cell, result.data)
    errors = [error.formatted for error in result.errors or ()]
    assert outcome is expected, f"got {outcome.name}: {result.data} {errors}"
    if before is None or outcome is Outcome.ALLOW:
        return None
    assert await snapshot() == before, "a denied mutation changed the database"
    return before


READS = tuple(op for op in OPERATIONS if not op.mutation)
MUTATIONS = tuple(op for op in PEOPLE_OPERATIONS if op.mutation)
#: In a world of their own: the people mutations revoke the devices these act with and on.
CLASSROOM_MUTATIONS = tuple(op for op in CLASSROOM_OPERATIONS if op.mutation)
#: In a world of their own too: the people mutations change who teaches which group.
MARKBOOK_MUTATIONS = tuple(op for op in MARKBOOK_OPERATIONS if op.mutation)
#: Routes change nothing the other mutations use; a world of their own keeps them apart.
ROUTING_MUTATIONS = tuple(op for op in ROUTING_OPERATIONS if op.mutation)
#: Alerts and tuning: their own world, since concerns and triage change the alerts listed.
SAFEGUARDING_MUTATIONS = tuple(op for op in SAFEGUARDING_OPERATIONS if op.mutation)


async def check_cells(
    gql: GraphQLRunner, subtests: pytest.Subtests, world: World, ops: tuple[Operation, ...]
) -> None:
    """Each (operation, role, scope) cell is a subtest, all sharing one world.

    Cells expected to be denied run first. A denied mutation must leave the database unchanged,
    so it cannot disturb the cells after it; the allowed cells' targets and names are distinct.
    """
    cells = [Cell(op, who, where, world) for op in ops for who in Who for where in Where]
    known: Snapshot | None = None
    for cell in sorted(cells, key=lambda c: c.expected is Outcome.ALLOW):
        before, known = known, None
        with subtests.test(msg=f"{cell.op.name} as {cell.who.name} on {cell.where.name}"):
            known = await check_cell(gql, cell, before)


@pytest.mark.parametrize(
    "operations",
    [
        READS,
        MUTATIONS,
        MARKBOOK_MUTATIONS,
        CLASSROOM_MUTATIONS,
        ROUTING_MUTATIONS,
        SAFEGUARDING_MUTATIONS,
    ],
    ids=["reads", "mutations", "markbook", "classroom", "alert routes", "safeguarding"],
)
async def test_operations_follow_the_matrix(
    services: Services,
    gql: GraphQLRunner,
    subtests: pytest.Subtests,
    operations: tuple[Operation, ...],
) -> None:
    # given
    world = await build_world(services)
    # when / then: per cell
    await check_cells(gql, subtests, world, operations)


def test_every_cell_of_the_matrix_is_written() -> None:
    # given
    written = {
        (op, who, where) for op, row in EXPECTED.items() for who in row for where in row[who]
    }
    # when
    wanted = {(op.name, who, where) for op in OPERATIONS for who in Who for where in Where}
    # then
    assert sorted(map(str, wanted - written)) == [], "missing cells"
    assert sorted(map(str, written - wanted)) == [], "cells of operations that do not exist"
    assert len({op.name for op in OPERATIONS}) == len(OPERATIONS), "operation names repeat"


def test_a_missing_cell_fails_the_build() -> None:
    # given
    incomplete = MATRIX.replace("  NNA\n", "\n", 1)
    # when / then
    with pytest.raises(AssertionError, match="cells for"):
        parse_matrix(incomplete)


def test_operations_without_a_target_have_one_outcome_whatever_the_scope() -> None:
    # given: creations and the school's rules act in the viewer's school; the device protocol
    # acts on the device itself, so only DEVICE's scope (which device) means anything
    # (createAssessment creates inside a group: its target is the group, so it is not here)
    creations = {
        op.name
        for op in OPERATIONS
        if op.field.startswith("create") and op.name != "createAssessment"
    }
    untargeted = creations | {"setSchoolRules"}
    protocol = {op.name for op in OPERATIONS if op.device_protocol}
    # when
    rows = {(name, who): set(EXPECTED[name][who].values()) for name in untargeted for who in Who}
    rows |= {
        (name, who): set(EXPECTED[name][who].values())
        for name in protocol
        for who in Who
        if who is not Who.DEVICE
    }
    # then
    assert creations == {
        "createLearner",
        "createGroup",
        "createStaff",
        "createApiKey",
        "createAlertRoute",
    }
    assert protocol == {"reportActivity", "acknowledgeDeviceCommands", "deviceCommands"}
    assert {key: seen for key, seen in rows.items() if len(seen) != 1} == {}


def test_every_root_field_is_in_the_matrix_or_public() -> None:
    # given
    graphql_schema = SCHEMA._schema
    roots = (
        graphql_schema.query_type,
        graphql_schema.mutation_type,
        graphql_schema.subscription_type,
    )
    fields = {f"{root.name}.{name}" for root in roots if root is not None for name in root.fields}
    # when
    in_matrix = {op.root for op in OPERATIONS}
    # then
    assert sorted(fields - in_matrix - PUBLIC) == [], "unclassified root fields (AUTHZ-02)"
    assert sorted((in_matrix | PUBLIC) - fields) == [], "classified fields the schema lacks"
    assert not in_matrix & PUBLIC, "a field is both public and in the matrix"


def test_every_node_type_has_a_node_row_in_the_matrix() -> None:
    # given
    graphql_schema = SCHEMA._schema
    node = graphql_schema.get_type("Node")
    assert isinstance(node, GraphQLInterfaceType)
    # when
    implementations = {t.name for t in graphql_schema.get_implementations(node).objects}
    rows = {
        op.name.removeprefix("node(").removesuffix(")")
        for op in OPERATIONS
        if op.name.startswith("node(") and op.name.endswith(")")
    }
    # then
    assert sorted(implementations - rows) == [], "node(id:) reaches types the matrix lacks"
    assert sorted(rows - implementations) == []
