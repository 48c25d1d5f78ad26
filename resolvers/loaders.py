"""Per-request DataLoaders, named ``<thing>_by_<key>``, each filtered by the viewer's reach."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from strawberry.dataloader import DataLoader
from tortoise.expressions import Subquery

from models.groups import Enrolment, TeachingAssignment, TeachingGroup
from models.learners import ExternalId, Learner
from models.schools import School
from models.staff import Membership, Role, User
from resolvers import access
from resolvers.context import Context

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _loader(fn: Callable[[Sequence[K]], Awaitable[list[V]]], cache: bool) -> DataLoader[K, V]:
    return DataLoader(load_fn=fn, cache=cache)


def _grouped(keys: Sequence[K], pairs: Sequence[tuple[K, V]]) -> list[list[V]]:
    # Uncached loaders do not de-duplicate keys, so answer per position, not per unique key.
    found: dict[K, list[V]] = defaultdict(list)
    for key, value in pairs:
        found[key].append(value)
    return [found.get(key, []) for key in keys]


@dataclass(slots=True)
class Loaders:
    school_by_id: DataLoader[int, School | None]
    learner_by_id: DataLoader[uuid.UUID, Learner | None]
    groups_by_learner: DataLoader[uuid.UUID, list[TeachingGroup]]
    learners_by_group: DataLoader[int, list[Learner]]
    teachers_by_group: DataLoader[int, list[User]]
    roles_by_user: DataLoader[int, list[Role]]
    external_ids_by_learner: DataLoader[uuid.UUID, list[ExternalId]]

    @classmethod
    def create(cls, ctx: Context, *, cache: bool = True) -> Loaders:
        """Loaders for one request (HTTP) or, uncached, for a websocket connection."""

        async def school_by_id(ids: Sequence[int]) -> list[School | None]:
            viewer = access.require_viewer(ctx)
            rows = {s.id: s for s in await School.filter(id__in=set(ids) & viewer.school_ids)}
            return [rows.get(i) for i in ids]

        async def learner_by_id(ids: Sequence[uuid.UUID]) -> list[Learner | None]:
            rows = {r.id: r for r in await access.learners(ctx).filter(id__in=set(ids))}
            return [rows.get(i) for i in ids]

        async def groups_by_learner(ids: Sequence[uuid.UUID]) -> list[list[TeachingGroup]]:
            reachable = access.groups(ctx).filter(enrolments__learner_id__in=set(ids))
            groups = {g.id: g for g in await reachable.distinct()}
            links = await Enrolment.filter(learner_id__in=set(ids), group_id__in=list(groups))
            ordered = sorted(links, key=lambda e: (groups[e.group_id].name, e.group_id))
            return _grouped(ids, [(e.learner_id, groups[e.group_id]) for e in ordered])

        async def learners_by_group(ids: Sequence[int]) -> list[list[Learner]]:
            reachable = {g.id for g in await access.groups(ctx).filter(id__in=set(ids))}
            # A group's learners are learners: the viewer needs READ_LEARNERS reach over each.
            visible = Subquery(access.learners(ctx).values("id"))
            links = (
                await Enrolment.filter(group_id__in=reachable, learner_id__in=visible)
                .order_by("learner__family_name", "learner__given_name", "learner_id")
                .prefetch_related("learner")
            )
            return _grouped(
                ids, [(e.group_id, e.learner) for e in links if e.learner.left_at is None]
            )

        async def teachers_by_group(ids: Sequence[int]) -> list[list[User]]:
            access.require(ctx, access.Op.READ_STAFF)  # staff details are not a partner's
            reachable = {g.id for g in await access.groups(ctx).filter(id__in=set(ids))}
            links = (
                await TeachingAssignment.filter(group_id__in=reachable)
                .order_by("user__display_name", "user_id")
                .prefetch_related("user")
            )
            return _grouped(ids, [(a.group_id, a.user) for a in links])

        async def roles_by_user(ids: Sequence[int]) -> list[list[Role]]:
            viewer = access.require_viewer(ctx)
            rows = await Membership.filter(
                user_id__in=set(ids), school_id=viewer.school_id
            ).order_by("role")
            return _grouped(ids, [(m.user_id, Role(m.role)) for m in rows])

        async def external_ids_by_learner(ids: Sequence[uuid.UUID]) -> list[list[ExternalId]]:
            rows = await ExternalId.filter(learner_id__in=set(ids)).order_by("system", "value")
            return _grouped(ids, [(x.learner_id, x) for x in rows])

        return cls(
            school_by_id=_loader(school_by_id, cache),
            learner_by_id=_loader(learner_by_id, cache),
            groups_by_learner=_loader(groups_by_learner, cache),
            learners_by_group=_loader(learners_by_group, cache),
            teachers_by_group=_loader(teachers_by_group, cache),
            roles_by_user=_loader(roles_by_user, cache),
            external_ids_by_learner=_loader(external_ids_by_learner, cache),
        )


__all__ = ["Loaders"]
