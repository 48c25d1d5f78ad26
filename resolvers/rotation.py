"""Key rotation without downtime: re-wrap, new data key, re-encrypt in batches, retire."""

from __future__ import annotations

from typing import Any

from app.security.crypto import envelope_key_version
from models.learners import Learner
from models.schools import School
from resolvers.audit import Entry
from resolvers.context import Services
from resolvers.learners import ENCRYPTED, field_context


async def _reencrypt_school(services: Services, school_id: int, version: int, batch: int) -> int:
    """Re-encrypt every learner field not yet under ``version``; readers keep working throughout
    because old versions still decrypt until they are retired at the end."""
    keyring = services.keyring
    changed, last = 0, None
    while True:
        query = Learner.filter(school_id=school_id).order_by("id").limit(batch)
        if last is not None:
            query = query.filter(id__gt=last)
        rows = list(await query)
        if not rows:
            return changed
        for row in rows:
            updates = []
            for column in ENCRYPTED:
                envelope = getattr(row, f"{column}_enc")
                if envelope is None or envelope_key_version(bytes(envelope)) == version:
                    continue
                context = field_context(row, column)
                plaintext = await keyring.decrypt(context, envelope)
                setattr(row, f"{column}_enc", await keyring.encrypt(context, plaintext))
                updates.append(f"{column}_enc")
            if updates:
                await row.save(update_fields=updates)
                changed += 1
        last = rows[-1].id


async def rotate_keys(
    services: Services, *, school_slug: str | None = None, batch: int = 500
) -> dict[str, Any]:
    keyring = services.keyring
    rewrapped = await keyring.rewrap_all()
    query = School.all() if school_slug is None else School.filter(slug=school_slug)
    report: dict[str, Any] = {"rewrapped_keys": rewrapped, "schools": {}}
    for school in await query.order_by("id"):
        version = await keyring.rotate_data_key(school.id)
        rows = await _reencrypt_school(services, school.id, version, batch)
        await keyring.retire_unused(school.id, keep_version=version)
        await services.audit.record(
            Entry("keys.rotate", school.id, target_type="school_key", target_ids=(str(version),))
        )
        report["schools"][school.slug] = {"data_key_version": version, "learners_reencrypted": rows}
    return report


__all__ = ["rotate_keys"]
