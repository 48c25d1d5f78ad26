"""Key rotation without downtime: re-wrap, new data key, re-encrypt in batches, retire later.

Other processes cache a school's keys for up to ``keyring.CACHE_SECONDS`` and keep writing with
the version they know until then, so an old data key is deleted only by a later run, once the
grace period has passed and a last re-encryption pass has moved every straggler off it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tortoise.models import Model

from app.security.crypto import FieldContext, envelope_key_version
from models.alert_routing import WebhookEndpoint
from models.classroom import ActivityRecord
from models.learners import Learner
from models.markbook import AchievementRecord, BehaviourRecord
from models.safeguarding import Alert, AlertAction
from models.schools import School, SchoolKey
from resolvers.audit import Entry
from resolvers.context import Services
from resolvers.ingest import ENCRYPTED_HISTORY
from resolvers.keyring import CACHE_SECONDS, DATA
from resolvers.learners import ENCRYPTED
from resolvers.safeguarding.evidence import ACTION_TABLE, ALERT_TABLE, EVIDENCE
from resolvers.safeguarding.webhook_secrets import WEBHOOK_TABLE

#: Longer than any process caches keys, so no one still writes with a retired version.
RETIRE_AFTER = timedelta(seconds=2 * CACHE_SECONDS)


_Sealed = tuple[tuple[type[Model], str, tuple[str, ...]], ...]

#: Every encrypted column that rotation rewrites: (model, table name in the associated data,
#: columns). A test checks that, with KEPT, this names every encrypted column of every model.
SEALED: _Sealed = (
    (Learner, "learner", tuple(ENCRYPTED)),
    (ActivityRecord, "activity_record", ENCRYPTED_HISTORY),
    (BehaviourRecord, BehaviourRecord._meta.db_table, ("note",)),
    (AchievementRecord, AchievementRecord._meta.db_table, ("note",)),
    (WebhookEndpoint, WEBHOOK_TABLE, ("secret", "previous_secret")),
)
#: Encrypted columns of the safeguarding record, which the database keeps append-only: never
#: rewritten, so the data-key versions they were sealed with are kept (wrapped by the master
#: key, which rotates) for as long as they are.
KEPT: _Sealed = (
    (Alert, ALERT_TABLE, EVIDENCE),
    (AlertAction, ACTION_TABLE, ("note",)),
)


async def _reencrypt(services: Services, school_id: int, version: int, batch: int) -> int:
    """Move every sealed field of the school not under ``version`` onto it; readers keep
    working throughout because older versions still decrypt. Returns the rows rewritten."""
    changed = 0
    for model, table, columns in SEALED:
        changed += await _reencrypt_table(
            services, school_id, version, batch, model, table, columns
        )
    return changed


async def _reencrypt_table(
    services: Services,
    school_id: int,
    version: int,
    batch: int,
    model: type[Model],
    table: str,
    columns: tuple[str, ...],
) -> int:
    keyring = services.keyring
    changed, last = 0, None
    while True:
        query = model.filter(school_id=school_id).order_by("id").limit(batch)
        if last is not None:
            query = query.filter(id__gt=last)
        rows = list(await query)
        if not rows:
            return changed
        for row in rows:
            updates = []
            for column in columns:
                envelope = getattr(row, f"{column}_enc")
                if envelope is None or envelope_key_version(bytes(envelope)) == version:
                    continue
                context = FieldContext(school_id, table, column, str(row.pk))
                plaintext = await keyring.decrypt(context, envelope)
                setattr(row, f"{column}_enc", await keyring.encrypt(context, plaintext))
                updates.append(f"{column}_enc")
            if updates:
                await row.save(update_fields=updates)
                changed += 1
        last = rows[-1].pk


async def _retire(services: Services, school: School, batch: int) -> list[int]:
    """Delete data-key versions superseded longer than RETIRE_AFTER ago, after a last pass."""
    active = await SchoolKey.get_or_none(school_id=school.id, purpose=DATA, active=True)
    if active is None or services.now() - active.created_at < RETIRE_AFTER:
        return []
    old: list[int] = await SchoolKey.filter(  # type: ignore[assignment]
        school_id=school.id, purpose=DATA, version__lt=active.version
    ).values_list("version", flat=True)
    if not old:
        return []
    services.keyring.forget(school.id)
    await _reencrypt(services, school.id, active.version, batch)
    retired = sorted(set(old) - await _versions_kept(school.id))
    await services.keyring.retire(school.id, retired)
    return retired


async def _versions_kept(school_id: int) -> set[int]:
    """Data-key versions that sealed something of the safeguarding record (see KEPT)."""
    used: set[int] = set()
    for model, _, columns in KEPT:
        rows = await model.filter(school_id=school_id).values_list(*(f"{c}_enc" for c in columns))
        used.update(envelope_key_version(bytes(e)) for row in rows for e in row if e is not None)
    return used


async def rotate_keys(
    services: Services,
    *,
    school_slug: str | None = None,
    batch: int = 500,
    retire_only: bool = False,
) -> dict[str, Any]:
    keyring = services.keyring
    rewrapped = await keyring.rewrap_all()
    query = School.all() if school_slug is None else School.filter(slug=school_slug)
    report: dict[str, Any] = {"rewrapped_keys": rewrapped, "schools": {}}
    for school in await query.order_by("id"):
        entry: dict[str, Any] = {"retired_versions": await _retire(services, school, batch)}
        if not retire_only:
            version = await keyring.rotate_data_key(school.id, services.now())
            entry["data_key_version"] = version
            entry["rows_reencrypted"] = await _reencrypt(services, school.id, version, batch)
            await services.audit.record(
                Entry(
                    "keys.rotate", school.id, target_type="school_key", target_ids=(str(version),)
                )
            )
        if entry["retired_versions"]:
            await services.audit.record(
                Entry(
                    "keys.retire",
                    school.id,
                    target_type="school_key",
                    target_ids=tuple(str(v) for v in entry["retired_versions"]),
                )
            )
        report["schools"][school.slug] = entry
    return report


__all__ = ["KEPT", "RETIRE_AFTER", "SEALED", "rotate_keys"]
