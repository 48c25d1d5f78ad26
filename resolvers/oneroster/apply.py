"""Writing a plan in one transaction: learners through their use-cases (encrypted, audited)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from tortoise.transactions import in_transaction

from app.errors import InvalidInput
from models.groups import Enrolment, TeachingAssignment, TeachingGroup
from models.learners import ExternalId, Learner
from models.roster import RosterKind, RosterLink
from models.staff import Membership, Role, User
from resolvers import learners
from resolvers.audit import AuditLog, Entry
from resolvers.classroom import announce_access_change
from resolvers.context import Context, PrincipalKind, RequestInfo, Services, Viewer
from resolvers.learners import LearnerData
from resolvers.oneroster.plan import CREATE, END, Change, Plan
from resolvers.oneroster.reader import RosterError
from resolvers.oneroster.state import SYSTEM, Current

ACTOR = "import-oneroster"
#: Not an argon2 hash, so no password matches it: imported staff must be given one.
NO_PASSWORD = "!imported: no password set"  # noqa: S105 - matches no password, by design
LEARNER_FIELDS = frozenset(LearnerData.__dataclass_fields__) - {"external_ids", "provided"}


class ImportAudit(AuditLog):
    """Records the use-cases' events as the importer's (a system actor), tagged with the run."""

    def __init__(self, inner: AuditLog) -> None:
        self._inner = inner

    async def record(self, entry: Entry) -> Any:
        return await self._inner.record(
            dataclasses.replace(entry, actor_type="system", actor_id=ACTOR)
        )


class Applier:
    def __init__(
        self,
        services: Services,
        plan: Plan,
        current: Current,
        run_id: str,
        progress: Callable[[], None],
    ) -> None:
        self.plan, self.current, self.progress = plan, current, progress
        self.school_id = plan.school.id
        self.services = dataclasses.replace(services, audit=ImportAudit(services.audit))
        viewer = Viewer(
            PrincipalKind.STAFF,
            self.school_id,
            frozenset({self.school_id}),
            roles=frozenset({Role.ADMIN}),
        )
        self.ctx = Context(self.services, viewer=viewer, request=RequestInfo(request_id=run_id))
        self.now = services.now()
        self.groups = current.local_ids(RosterKind.CLASS)
        self.staff = current.local_ids(RosterKind.STAFF)
        self.learners = {sid: p.id for sid, p in current.learners.items()}
        #: Groups whose membership ended: watchers re-check their access after commit.
        self.ended_groups: set[int] = set()

    async def run(self) -> None:
        async with in_transaction():
            for change in self.plan.writes:
                await self._apply(change)
                self.progress()
            await self.services.audit.record(
                Entry(
                    "roster.import",
                    self.school_id,
                    target_type="school",
                    target_ids=(str(self.school_id),),
                    fields=sorted({c.entity for c in self.plan.writes}),
                    request_id=self.ctx.request.request_id,
                )
            )
        if self.ended_groups:
            await announce_access_change(self.ctx, self.school_id, sorted(self.ended_groups))

    async def _apply(self, change: Change) -> None:
        if change.kind == END and change.link is not None:
            # Dropped by the source: remembered as ended, never deleted.
            change.link.ended_at = self.now
            await change.link.save(update_fields=["ended_at", "updated_at"])
            if change.link.kind == RosterKind.ENROLMENT:
                await self._end_membership(change.link.local_id or "")
            return
        handlers: dict[str, Callable[[Change], Awaitable[None]]] = {
            "org": self._org,
            "academicSession": self._academic_session,
            "course": self._course,
            "class": self._class,
            "staff": self._staff,
            "learner": self._learner,
            "enrolment": self._enrolment,
        }
        await handlers[change.entity](change)

    async def _link(
        self, kind: RosterKind, change: Change, local_id: str | None, data: Any
    ) -> None:
        if change.link is None:
            await RosterLink.create(
                school_id=self.school_id,
                kind=kind,
                sourced_id=change.sourced_id,
                local_id=local_id,
                data=data,
            )
            return
        change.link.local_id, change.link.data, change.link.ended_at = local_id, data, None
        await change.link.save()

    async def _org(self, change: Change) -> None:
        await self._link(RosterKind.ORG, change, str(self.school_id), change.values)

    async def _academic_session(self, change: Change) -> None:
        await self._link(RosterKind.ACADEMIC_SESSION, change, None, change.values)

    async def _course(self, change: Change) -> None:
        await self._link(RosterKind.COURSE, change, None, change.values)

    async def _class(self, change: Change) -> None:
        values = dict(change.values)
        data = values.pop("data")
        if change.kind == CREATE:
            group = await TeachingGroup.create(school_id=self.school_id, **values)
        else:
            group = self.current.groups[int(change.local_id or 0)]
            if any(getattr(group, k) != v for k, v in values.items()):
                await TeachingGroup.filter(id=group.id).update(**values)
        self.groups[change.sourced_id] = group.id
        await self._link(RosterKind.CLASS, change, str(group.id), data)

    async def _staff(self, change: Change) -> None:
        values = change.values
        if change.kind == CREATE:
            user = await User.create(
                email=values["email"],
                display_name=values["display_name"],
                password_hash=NO_PASSWORD,
            )
            action = "staff.create"
        else:
            user = self.current.staff[int(change.local_id or 0)]
            if "display_name" in change.fields:
                user.display_name = values["display_name"]
                await user.save(update_fields=["display_name"])
            action = "staff.update"
        for role in values["roles"]:
            # Roles are only added: removing one is an admin's decision, never an import's.
            if (user.id, role) not in self.current.memberships:
                await Membership.create(school_id=self.school_id, user_id=user.id, role=role)
                self.current.memberships.add((user.id, role))
        self.staff[change.sourced_id] = user.id
        await self._link(RosterKind.STAFF, change, str(user.id), {})
        await self._audit(action, "user", str(user.id), change.fields)

    async def _learner(self, change: Change) -> None:
        try:
            await self._write_learner(change)
        except InvalidInput as problem:
            # The use-cases check a little more than the plan does: still name the line.
            raise RosterError("users.csv", change.line, problem.message) from None

    async def _write_learner(self, change: Change) -> None:
        values = {k: v for k, v in change.values.items() if k in LEARNER_FIELDS}
        if change.kind == CREATE:
            data = LearnerData(**values, external_ids=[(SYSTEM, change.sourced_id)])
            created = await learners.create_learner(self.ctx, data)
            self.learners[change.sourced_id] = created.id
            return
        learner_id = uuid.UUID(change.local_id)
        if change.kind == END:
            await Learner.filter(id=learner_id).update(left_at=self.now, updated_at=self.now)
            await self._audit("learner.leave", "learner", str(learner_id), ("left_at",))
            return
        touched = []
        if change.values.get("rejoin"):
            await Learner.filter(id=learner_id).update(left_at=None, updated_at=self.now)
            touched.append("left_at")
        if change.values.get("adopt"):
            await ExternalId.create(
                school_id=self.school_id,
                learner_id=learner_id,
                system=SYSTEM,
                value=change.sourced_id,
            )
            touched.append("external_ids")
        if touched:
            await self._audit("learner.update", "learner", str(learner_id), touched)
        if values:
            data = LearnerData(**values, provided=frozenset(values))
            await learners.update_learner(self.ctx, learner_id, data)
        self.learners[change.sourced_id] = learner_id

    async def _enrolment(self, change: Change) -> None:
        data = change.values["data"]
        group_id = self.groups[data["class"]]
        if change.values["student"]:
            learner_id = self.learners[data["user"]]
            row_id = self.current.enrolments.get((group_id, learner_id))
            if row_id is None:
                row = await Enrolment.create(
                    school_id=self.school_id, group_id=group_id, learner_id=learner_id
                )
                row_id = self.current.enrolments[(group_id, learner_id)] = row.id
            local = f"enrolment:{row_id}"
        else:
            user_id = self.staff[data["user"]]
            row_id = self.current.assignments.get((group_id, user_id))
            if row_id is None:
                taught = await TeachingAssignment.create(
                    school_id=self.school_id, group_id=group_id, user_id=user_id
                )
                row_id = self.current.assignments[(group_id, user_id)] = taught.id
            local = f"assignment:{row_id}"
        await self._link(RosterKind.ENROLMENT, change, local, data)

    async def _end_membership(self, local_id: str) -> None:
        """An ended enrolment ends the membership it gave: no reach through a past class.

        The enrolment itself is not forgotten: its roster link keeps it with ``ended_at``, and
        the audit trail records the change, as the admin unenrol mutation does.
        """
        kind, _, row_id = local_id.partition(":")
        model: type[Enrolment] | type[TeachingAssignment]
        model, action = (
            (Enrolment, "group.unenrol")
            if kind == "enrolment"
            else (TeachingAssignment, "group.unassign_teacher")
        )
        row = await model.get_or_none(id=int(row_id), school_id=self.school_id)
        if row is None:
            return
        target = str(row.learner_id) if isinstance(row, Enrolment) else str(row.user_id)
        await row.delete()
        self.ended_groups.add(row.group_id)
        await self._audit(action, "learner" if kind == "enrolment" else "user", target, ["group"])

    async def _audit(self, action: str, target: str, target_id: str, fields: Any) -> None:
        await self.services.audit.record(
            Entry(
                action,
                self.school_id,
                target_type=target,
                target_ids=(target_id,),
                fields=tuple(sorted(fields)),
                request_id=self.ctx.request.request_id,
            )
        )


async def apply_plan(
    services: Services, plan: Plan, current: Current, progress: Callable[[], None] = lambda: None
) -> str:
    """Write every change of ``plan`` in one transaction; returns the run id the audit carries."""
    run_id = f"oneroster-{uuid.uuid4().hex[:12]}"
    await Applier(services, plan, current, run_id, progress).run()
    return run_id


__all__ = ["ACTOR", "NO_PASSWORD", "apply_plan"]
