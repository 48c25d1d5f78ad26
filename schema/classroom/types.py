"""Classroom types: tiles, lessons, activity events and device commands."""

from __future__ import annotations

import datetime
from enum import Enum

import strawberry

from models import classroom as db
from models.classroom import LessonMode, RuleKind
from resolvers.classroom import Activity, Tile, TileView
from resolvers.policy import Policy
from schema.common import Node, UserError, to_global_id
from schema.devices import Device
from schema.groups import Group
from schema.learners import Learner

strawberry.enum(
    LessonMode,
    description="BLOCK_LIST blocks listed sites and apps; ALLOW_ONLY "
    "(focus mode) allows only listed ones.",
)


@strawberry.enum(description="What a device reports.")
class ActivityKind(Enum):
    APP_FOCUS = "APP_FOCUS"
    URL_VISIT = "URL_VISIT"
    SEARCH = "SEARCH"
    TYPED_TEXT = "TYPED_TEXT"
    SCREENSHOT = "SCREENSHOT"
    IDLE = "IDLE"
    LOGIN = "LOGIN"
    LOGOUT = "LOGOUT"


@strawberry.enum(description="An instruction to a device; POLICY carries its new access policy.")
class DeviceCommandKind(Enum):
    LOCK = "LOCK"
    UNLOCK = "UNLOCK"
    OPEN_URL = "OPEN_URL"
    CLOSE_TAB = "CLOSE_TAB"
    MESSAGE = "MESSAGE"
    POLICY = "POLICY"


def _flag(tile: Tile | None, name: str) -> bool:
    return tile is not None and tile.fields.get(name) == "1"


def _text(tile: Tile | None, name: str) -> str | None:
    # An empty value was cleared (e.g. a page title once an app without pages has focus).
    return (tile.fields.get(name) or None) if tile is not None else None


@strawberry.type(description="One learner's square on the teacher's screen.")
class ClassroomTile:
    learner: Learner
    device: Device | None
    online: bool
    app: str | None
    url: str | None
    title: str | None
    thumbnail: str | None = strawberry.field(description="Latest screenshot, base64 JPEG.")
    idle: bool
    locked: bool
    blocked_attempts: int
    last_blocked: str | None = strawberry.field(description="Why the last attempt was blocked.")
    last_seen_at: datetime.datetime | None

    @classmethod
    def from_view(cls, view: TileView) -> ClassroomTile:
        import base64

        tile = view.live
        seen = _text(tile, "last_seen")
        return cls(
            learner=Learner.from_model(view.learner),
            device=Device.from_model(view.device) if view.device else None,
            online=_flag(tile, "online"),
            app=_text(tile, "app"),
            url=_text(tile, "url"),
            title=_text(tile, "title"),
            thumbnail=base64.b64encode(tile.thumbnail).decode()
            if tile and tile.thumbnail
            else None,
            idle=_flag(tile, "idle"),
            locked=_flag(tile, "locked"),
            blocked_attempts=int(_text(tile, "blocked_attempts") or 0),
            last_blocked=_text(tile, "last_blocked"),
            last_seen_at=datetime.datetime.fromisoformat(seen) if seen else None,
        )


@strawberry.type(description="Web and app rules of a lesson or a school.")
class RuleSet:
    domains: list[str]
    url_prefixes: list[str]
    apps: list[str]

    @classmethod
    def from_lists(cls, lists: dict[str, list[str]]) -> RuleSet:
        return cls(
            domains=list(lists.get(RuleKind.DOMAIN, [])),
            url_prefixes=list(lists.get(RuleKind.URL_PREFIX, [])),
            apps=list(lists.get(RuleKind.APP, [])),
        )


@strawberry.type(description="A teacher's access rules for a group, ending by themselves.")
class Lesson(Node):
    mode: LessonMode
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    ended_at: datetime.datetime | None
    allow: RuleSet
    block: RuleSet

    @classmethod
    def from_model(cls, row: db.Lesson) -> Lesson:
        rules = row.rules or {}
        return cls(
            id=to_global_id("Lesson", row.id),
            mode=row.mode,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            ended_at=row.ended_at,
            allow=RuleSet.from_lists(rules.get("allow", {})),
            block=RuleSet.from_lists(rules.get("block", {})),
        )


@strawberry.type(description="A live snapshot of a teaching group's screens.")
class Classroom:
    group: Group
    lesson: Lesson | None
    tiles: list[ClassroomTile]


@strawberry.type(description="A change to one learner's tile.")
class ClassroomActivity:
    group_id: strawberry.ID
    device_id: strawberry.ID
    learner_id: strawberry.ID | None
    kind: str
    at: datetime.datetime
    online: bool
    idle: bool
    locked: bool | None = strawberry.field(
        description="Set when a command locked or unlocked the screen; null when unchanged."
    )
    app: str | None
    url: str | None
    title: str | None
    blocked: bool = strawberry.field(description="The attempt broke the policy.")
    reason: str | None = strawberry.field(description="Which rule it broke.")
    thumbnail: str | None = strawberry.field(description="Base64 JPEG, on SCREENSHOT events.")

    @classmethod
    def from_event(cls, event: Activity) -> ClassroomActivity:
        return cls(
            group_id=to_global_id("Group", event.group),
            device_id=to_global_id("Device", event.device),
            learner_id=to_global_id("Learner", event.learner) if event.learner else None,
            kind=event.kind,
            at=datetime.datetime.fromisoformat(event.at),
            online=event.online,
            idle=event.idle,
            locked=event.locked,
            app=event.app,
            url=event.url,
            title=event.title,
            blocked=event.blocked,
            reason=event.reason,
            thumbnail=event.thumbnail,
        )


@strawberry.type(description="What a device must enforce now. Block lists include the school's.")
class DevicePolicy:
    version: str
    mode: LessonMode | None
    lesson_ends_at: datetime.datetime | None
    allow_domains: list[str]
    allow_url_prefixes: list[str]
    allow_apps: list[str]
    block_domains: list[str]
    block_url_prefixes: list[str]
    block_apps: list[str]

    @classmethod
    def from_policy(cls, policy: Policy) -> DevicePolicy:
        block, locked, allow = policy.block, policy.locked, policy.allow
        return cls(
            version=policy.version,
            mode=policy.mode,
            lesson_ends_at=policy.ends_at,
            allow_domains=sorted(allow.domains),
            allow_url_prefixes=list(allow.url_prefixes),
            allow_apps=sorted(allow.apps),
            block_domains=sorted(block.domains | locked.domains),
            block_url_prefixes=sorted({*block.url_prefixes, *locked.url_prefixes}),
            block_apps=sorted(block.apps | locked.apps),
        )


@strawberry.type(description="An instruction for a device, or (kind POLICY) its new policy.")
class DeviceCommand:
    id: strawberry.ID
    kind: DeviceCommandKind
    url: str | None = None
    message: str | None = None
    expires_at: datetime.datetime | None = None
    acknowledged_at: datetime.datetime | None = None
    policy: DevicePolicy | None = None

    @classmethod
    def from_model(cls, row: db.DeviceCommand) -> DeviceCommand:
        return cls(
            id=to_global_id("DeviceCommand", row.id),
            kind=DeviceCommandKind(row.kind),
            url=row.payload.get("url"),
            message=row.payload.get("text"),
            expires_at=row.expires_at,
            acknowledged_at=row.acknowledged_at,
        )

    @classmethod
    def from_policy(cls, policy: Policy) -> DeviceCommand:
        return cls(
            id=to_global_id("Policy", policy.version),
            kind=DeviceCommandKind.POLICY,
            policy=DevicePolicy.from_policy(policy),
        )


@strawberry.type
class LessonPayload:
    lesson: Lesson | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)
