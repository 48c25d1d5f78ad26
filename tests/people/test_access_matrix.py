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
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from graphql import ExecutionResult, GraphQLError, GraphQLInterfaceType
from strawberry.types.execution import ExecutionResult as StreamResult
from tortoise.connection import get_connection

from models.audit import AuditEvent
from models.classroom import (
    ActivityRecord,
    CommandKind,
    DeviceCommand,
    Lesson,
    LessonMode,
    SchoolRule,
)
from models.devices import Device
from models.groups import Enrolment, TeachingAssignment, TeachingGroup
from models.learners import ExternalId, Learner
from models.partners import ApiKey, ApiKeyGrant, Scope
from models.schools import School
from models.staff import Membership, Role, Session, User
from realtime import channels
from resolvers import learners as learner_cases
from resolvers.context import Context, PrincipalKind, Services, Viewer
from resolvers.learners import LearnerData
from schema.common import to_global_id
from tests import factories, waiting
from tests.conftest import SCHEMA, GraphQLRunner, context_for


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
class World:
    places: Mapping[Where, Place]
    viewers: Mapping[Who, Viewer | None]
    #: PARTNER_WITHOUT_SCOPE: a key granted by Southgate holding every scope but the one named.
    partners_lacking: Mapping[Scope, Viewer]
    #: For subscriptions and effects that need more than the database; and the (frozen) clock.
    services: Services
    now: datetime

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
    return World(places, viewers, partners, services, now)


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

OPERATIONS = PEOPLE_OPERATIONS + CLASSROOM_OPERATIONS

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


async def test_read_operations_follow_the_matrix(
    services: Services, gql: GraphQLRunner, subtests: pytest.Subtests
) -> None:
    # given
    world = await build_world(services)
    # when / then: per cell
    await check_cells(gql, subtests, world, READS)


async def test_mutations_follow_the_matrix(
    services: Services, gql: GraphQLRunner, subtests: pytest.Subtests
) -> None:
    # given
    world = await build_world(services)
    # when / then: per cell
    await check_cells(gql, subtests, world, MUTATIONS)


async def test_classroom_mutations_follow_the_matrix(
    services: Services, gql: GraphQLRunner, subtests: pytest.Subtests
) -> None:
    # given
    world = await build_world(services)
    # when / then: per cell
    await check_cells(gql, subtests, world, CLASSROOM_MUTATIONS)


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
    creations = {op.name for op in OPERATIONS if op.field.startswith("create")}
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
    assert creations == {"createLearner", "createGroup", "createStaff", "createApiKey"}
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
