"""One import: read and check the whole set, plan the changes, then write them all or nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.errors import InvalidInput
from models.schools import School
from resolvers.context import Services
from resolvers.oneroster import state
from resolvers.oneroster.apply import apply_plan
from resolvers.oneroster.enrolments import plan_enrolments
from resolvers.oneroster.people import plan_people
from resolvers.oneroster.plan import ENTITIES, KINDS, Plan, plan_structure, school_org
from resolvers.oneroster.reader import read_set
from resolvers.oneroster.rows import parse

#: Lines of detail a report shows before it only counts.
DETAIL_LINES = 20


@dataclass(frozen=True, slots=True)
class Outcome:
    plan: Plan
    version: str
    applied: bool
    run_id: str | None = None


async def import_oneroster(
    services: Services,
    path: Path,
    school_slug: str,
    *,
    dry_run: bool = False,
    progress: Callable[[int], Callable[[], None]] | None = None,
) -> Outcome:
    """Import a set into the school; ``progress(total)`` gives a callback ticked per write.

    Every row is checked and every reference resolved before the first write, so a bad row
    (RosterError: file, line and reason) leaves the database exactly as it was.
    """
    school = await School.get_or_none(slug=school_slug)
    if school is None:
        raise InvalidInput("--school", f"No school has the slug {school_slug!r}.")
    parsed = parse(read_set(path))
    emails = {u.email.strip().lower() for u in parsed.users.values() if u.email}
    current = await state.load(school.id, emails)
    plan = Plan(school, school_org(parsed, school, current))
    plan_structure(parsed, plan, current)
    people = await plan_people(parsed, plan, current, services.keyring, services.now().date())
    plan_enrolments(parsed, plan, current, people)
    if dry_run or not plan.writes:
        return Outcome(plan, parsed.roster.version, applied=False)
    tick = progress(len(plan.writes)) if progress else (lambda: None)
    run_id = await apply_plan(services, plan, current, tick)
    return Outcome(plan, parsed.roster.version, applied=True, run_id=run_id)


def report(outcome: Outcome, *, detail_lines: int = DETAIL_LINES) -> str:
    """Counts per entity and kind, then the first changes (sourcedIds and field names only)."""
    plan = outcome.plan
    if not plan.writes:
        head = f"OneRoster {outcome.version} set for {plan.school.slug}: nothing to change."
    elif outcome.applied:
        head = (
            f"Imported OneRoster {outcome.version} set into {plan.school.slug} ({outcome.run_id})."
        )
    else:
        head = f"Dry run: OneRoster {outcome.version} set for {plan.school.slug}; nothing written."
    lines = [head, f"{'entity':<16}" + "".join(f"{k:>10}" for k in KINDS)]
    counts = plan.counts()
    for entity in ENTITIES:
        lines.append(f"{entity:<16}" + "".join(f"{counts[entity][k]:>10}" for k in KINDS))
    for what, count in sorted(plan.skipped.items()):
        lines.append(f"skipped: {count} {what}")
    writes = plan.writes
    if writes:
        lines.append("Changes:" if outcome.applied else "Planned changes:")
        lines += [f"  {c.describe()}" for c in writes[:detail_lines]]
        if len(writes) > detail_lines:
            lines.append(f"  … and {len(writes) - detail_lines} more")
    return "\n".join(lines)


__all__ = ["DETAIL_LINES", "Outcome", "import_oneroster", "report"]
