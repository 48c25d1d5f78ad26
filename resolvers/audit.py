"""The append-only, hash-chained audit trail: writing, reading and verifying it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.audit import AuditEvent, AuditHead
from resolvers.context import RequestInfo, Viewer

GENESIS = "0" * 64
INSTALLATION_CHAIN = 0


@dataclass(frozen=True, slots=True)
class Entry:
    """What to record: names and ids only, never the data itself."""

    action: str
    school_id: int | None
    actor_type: str = "system"
    actor_id: str | None = None
    target_type: str | None = None
    target_ids: Sequence[str] = ()
    fields: Sequence[str] = ()
    outcome: str = "success"
    ip: str | None = None
    request_id: str | None = None


def entry_for(
    viewer: Viewer | None,
    request: RequestInfo,
    action: str,
    *,
    target_type: str | None = None,
    target_ids: Sequence[str] = (),
    fields: Sequence[str] = (),
    outcome: str = "success",
    school_id: int | None = None,
) -> Entry:
    actor_type, actor_id = viewer.actor if viewer else ("anonymous", None)
    return Entry(
        action=action,
        school_id=school_id if school_id is not None else (viewer.school_id if viewer else None),
        actor_type=actor_type,
        actor_id=actor_id,
        target_type=target_type,
        target_ids=tuple(sorted(target_ids)),
        fields=tuple(sorted(fields)),
        outcome=outcome,
        ip=request.ip,
        request_id=request.request_id,
    )


def _digest(prev_hash: str, chain: int, seq: int, at: datetime, entry: Entry) -> str:
    body = {
        "chain": chain,
        "seq": seq,
        # Microseconds since the epoch: identical on every backend, unlike formatted text.
        "at": round(at.timestamp() * 1_000_000),
        "action": entry.action,
        "actor": [entry.actor_type, entry.actor_id],
        "target": [entry.target_type, list(entry.target_ids)],
        "fields": list(entry.fields),
        "outcome": entry.outcome,
        "from": [entry.ip, entry.request_id],
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}|{canonical}".encode()).hexdigest()


class AuditLog:
    """Appends events to one chain per school; the chain head row serialises writers."""

    async def record(self, entry: Entry) -> AuditEvent:
        chain = entry.school_id if entry.school_id is not None else INSTALLATION_CHAIN
        for attempt in range(3):
            try:
                return await self._append(chain, entry)
            except IntegrityError:
                # Two processes created the same chain head at once: the loser retries.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _append(self, chain: int, entry: Entry) -> AuditEvent:
        async with in_transaction() as conn:
            head = await AuditHead.select_for_update().using_db(conn).get_or_none(chain=chain)
            if head is None:
                head = await AuditHead.create(chain=chain, seq=0, hash=GENESIS, using_db=conn)
            at = datetime.now(UTC)
            seq = head.seq + 1
            digest = _digest(head.hash, chain, seq, at, entry)
            event = await AuditEvent.create(
                chain=chain,
                seq=seq,
                at=at,
                actor_type=entry.actor_type,
                actor_id=entry.actor_id,
                action=entry.action,
                target_type=entry.target_type,
                target_ids=list(entry.target_ids),
                fields_touched=list(entry.fields),
                outcome=entry.outcome,
                ip=entry.ip,
                request_id=entry.request_id,
                prev_hash=head.hash,
                hash=digest,
                using_db=conn,
            )
            head.seq, head.hash = seq, digest
            await head.save(using_db=conn, update_fields=["seq", "hash"])
        return event


@dataclass(frozen=True, slots=True)
class ChainReport:
    chain: int
    events: int
    problem: str | None = None


def _as_entry(row: AuditEvent) -> Entry:
    return Entry(
        action=row.action,
        school_id=row.chain,
        actor_type=row.actor_type,
        actor_id=row.actor_id,
        target_type=row.target_type,
        target_ids=tuple(row.target_ids),
        fields=tuple(row.fields_touched),
        outcome=row.outcome,
        ip=row.ip,
        request_id=row.request_id,
    )


async def verify_chain(chain: int, batch: int = 1000) -> ChainReport:
    """Recompute every link of one chain; the report names the first broken event."""
    prev, expected_seq, count, last_id = GENESIS, 1, 0, 0
    while True:
        rows = await AuditEvent.filter(chain=chain, id__gt=last_id).order_by("id").limit(batch)
        for row in rows:
            if row.seq != expected_seq:
                return ChainReport(
                    chain, count, f"event {row.id}: seq {row.seq}, expected {expected_seq}"
                )
            if row.prev_hash != prev:
                return ChainReport(
                    chain, count, f"event {row.id}: does not follow the previous event"
                )
            if _digest(prev, chain, row.seq, row.at, _as_entry(row)) != row.hash:
                return ChainReport(chain, count, f"event {row.id}: contents were altered")
            prev, expected_seq, count, last_id = row.hash, expected_seq + 1, count + 1, row.id
        if len(rows) < batch:
            break
    head = await AuditHead.get_or_none(chain=chain)
    if head is not None and (head.seq != count or head.hash != prev):
        return ChainReport(chain, count, "events are missing from the end of the chain")
    return ChainReport(chain, count)


async def verify_all() -> list[ChainReport]:
    chains = {h.chain for h in await AuditHead.all()}
    found: list[int] = await AuditEvent.all().distinct().values_list("chain", flat=True)  # type: ignore[assignment]
    chains |= set(found)
    return [await verify_chain(chain) for chain in sorted(chains)]


__all__ = ["AuditLog", "ChainReport", "Entry", "entry_for", "verify_all", "verify_chain"]
