"""Import grade boundaries from CSV (``pupil-progress import-boundaries FILE``).

Header (API.md): ``board,spec_code,qualification,series,tier,grade,min_mark,max_mark,source``.
One row per grade; the rows of one (board, spec_code, series, tier) form a set. A ``spec_code``
naming a paper (``8300/1H``) makes a notional component-level set whose ``max_mark`` is the
paper's; a plain code (``8300``) is the subject level, ``max_mark`` being the subject total.

All or nothing: the whole file is checked before anything is written, and written in one
transaction. A second import of the same file changes nothing.
"""

from __future__ import annotations

import csv
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

from tortoise.transactions import in_transaction

from app.errors import InvalidInput
from models.tracking import Boundary, BoundaryLevel, Grade, GradeBoundarySet, TierCode
from resolvers import tracking_reference as ref
from resolvers.grading import tier_allowed
from resolvers.tracking_data import QUALIFICATIONS, board_code

HEADER = (
    "board",
    "spec_code",
    "qualification",
    "series",
    "tier",
    "grade",
    "min_mark",
    "max_mark",
    "source",
)
_WHOLE = re.compile(r"^\d+$")


class BoundaryFileError(ValueError):
    """A file that cannot be imported; names the file and the line at fault."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}, line {line}: {message}")
        self.file = file
        self.line = line


@dataclass
class ParsedSet:
    board: str
    spec_code: str
    component: str | None
    qualification: str
    series: str
    tier: TierCode | None
    max_mark: int
    source: str
    line: int
    #: grade -> (min_mark, line)
    marks: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def thresholds(self) -> list[tuple[str, int]]:
        grades = QUALIFICATIONS[self.qualification].grades
        return [(g.label, self.marks[g.label][0]) for g in grades if g.label in self.marks]


@dataclass
class ImportCounts:
    created: int = 0
    unchanged: int = 0
    updated: int = 0

    def __str__(self) -> str:
        return (
            f"Boundary sets: {self.created} created, {self.unchanged} unchanged, "
            f"{self.updated} updated."
        )


def _whole(value: str, column: str) -> int:
    if not _WHOLE.match(value):
        raise ValueError(f"{column} {value!r} is not a whole number of marks")
    return int(value)


def _tier(value: str) -> TierCode | None:
    if not value:
        return None
    try:
        return TierCode(value.upper())
    except ValueError:
        raise ValueError(f"tier {value!r} is not FOUNDATION, HIGHER or empty") from None


def _row(row: dict[str, str], sets: dict[tuple[str, ...], ParsedSet], line: int) -> None:
    values = {key: (row.get(key) or "").strip() for key in HEADER}
    for column in ("board", "spec_code", "qualification", "series", "grade"):
        if not values[column]:
            raise ValueError(f"{column} is empty")
    qualification = values["qualification"].upper()
    info = QUALIFICATIONS.get(qualification)
    if info is None:
        known = ", ".join(QUALIFICATIONS)
        raise ValueError(f"unknown qualification {values['qualification']!r} (known: {known})")
    series, _, _ = ref.parse_series(values["series"])
    tier = _tier(values["tier"])
    rule = info.tier(tier.value) if tier else None
    if tier and rule is None:
        raise ValueError(f"{info.name} has no {tier.value} tier")
    grade = values["grade"]
    if grade not in info.scale.grades:
        raise ValueError(f"grade {grade!r} is not on the {info.scale_name} scale")
    if rule and not tier_allowed(info.scale, rule, grade):
        raise ValueError(f"grade {grade} cannot be awarded on the {rule.code} tier")
    min_mark = _whole(values["min_mark"], "min_mark")
    max_mark = _whole(values["max_mark"], "max_mark")
    if max_mark == 0:
        raise ValueError("max_mark must be at least 1")
    if min_mark > max_mark:
        raise ValueError(f"min_mark {min_mark} is above max_mark {max_mark}")
    board = board_code(values["board"])
    spec_code, _, paper = values["spec_code"].upper().partition("/")
    component = f"{spec_code}/{paper}" if paper else None
    key = (board, values["spec_code"].upper(), series, tier.value if tier else "")
    parsed = sets.setdefault(
        key,
        ParsedSet(
            board,
            spec_code,
            component,
            qualification,
            series,
            tier,
            max_mark,
            values["source"],
            line,
        ),
    )
    if parsed.qualification != qualification:
        raise ValueError(f"qualification {qualification} differs from line {parsed.line}")
    if parsed.max_mark != max_mark:
        raise ValueError(
            f"max_mark {max_mark} differs from {parsed.max_mark} on line {parsed.line} "
            "for the same set"
        )
    if parsed.source != values["source"]:
        raise ValueError(f"source differs from line {parsed.line} for the same set")
    if grade in parsed.marks:
        raise ValueError(f"grade {grade} already given on line {parsed.marks[grade][1]}")
    parsed.marks[grade] = (min_mark, line)


def _check_monotonic(parsed: ParsedSet, file: str) -> None:
    grades = [
        g.label for g in QUALIFICATIONS[parsed.qualification].grades if g.label in parsed.marks
    ]
    for higher, lower in itertools.pairwise(grades):
        high_mark, high_line = parsed.marks[higher]
        low_mark, low_line = parsed.marks[lower]
        if low_mark >= high_mark:
            raise BoundaryFileError(
                file,
                max(high_line, low_line),
                f"grade {lower} needs {low_mark} marks, not fewer than grade {higher} needs "
                f"({high_mark}): boundaries must fall with the grade",
            )


def parse_boundary_file(path: Path) -> list[ParsedSet]:
    """Every set of the file, checked; BoundaryFileError at the first bad line."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise BoundaryFileError(file, 0, f"cannot be read: {error}") from error
    reader = csv.DictReader(text.splitlines())
    if tuple(name.strip() for name in reader.fieldnames or ()) != HEADER:
        raise BoundaryFileError(file, 1, f"the header must be {','.join(HEADER)}")
    sets: dict[tuple[str, ...], ParsedSet] = {}
    subject_of: dict[tuple[str, str], tuple[str, int]] = {}
    for row in reader:
        line = reader.line_num
        if None in row or any(value is None for value in row.values()):
            raise BoundaryFileError(file, line, f"expected {len(HEADER)} columns")
        try:
            _row(row, sets, line)
        except ValueError as error:
            raise BoundaryFileError(file, line, str(error)) from error
    for parsed in sets.values():
        spec_key = (parsed.board, parsed.spec_code)
        first = subject_of.setdefault(spec_key, (parsed.qualification, parsed.line))
        if first[0] != parsed.qualification:
            raise BoundaryFileError(
                file,
                parsed.line,
                f"{parsed.board} {parsed.spec_code} is {first[0]} on line {first[1]}",
            )
        _check_monotonic(parsed, file)
    return list(sets.values())


async def import_boundaries(path: Path) -> ImportCounts:
    """Create or update every set of the file, all or nothing; counts per set."""
    parsed_sets = parse_boundary_file(path)
    counts = ImportCounts()
    async with in_transaction():
        for parsed in parsed_sets:
            try:
                outcome = await _store(parsed)
            except InvalidInput as error:
                raise BoundaryFileError(str(path), parsed.line, error.message) from error
            setattr(counts, outcome, getattr(counts, outcome) + 1)
    return counts


async def _store(parsed: ParsedSet) -> str:
    qualification = await ref.ensure_qualification(parsed.qualification)
    board = await ref.ensure_board(parsed.board)
    spec = await ref.ensure_specification(board, parsed.spec_code, qualification)
    component = None
    if parsed.component:
        component = await ref.ensure_component(spec, parsed.component, parsed.tier, parsed.max_mark)
        if component.max_raw_mark != parsed.max_mark:
            raise InvalidInput(
                "max_mark",
                f"max_mark {parsed.max_mark} differs from {component.code}'s "
                f"{component.max_raw_mark}",
            )
    elif spec.total_raw_marks is not None and spec.total_raw_marks != parsed.max_mark:
        raise InvalidInput(
            "max_mark",
            f"max_mark {parsed.max_mark} differs from the subject total of "
            f"{board.code} {spec.code} ({spec.total_raw_marks})",
        )
    series = await ref.ensure_series(parsed.series)
    grades = {g.label: g for g in await Grade.filter(scale_id=qualification.scale_id)}
    wanted = {grades[label].pk: mark for label, mark in parsed.thresholds}
    fields = {
        "tier": parsed.tier,
        "level": BoundaryLevel.COMPONENT if component else BoundaryLevel.SUBJECT,
        "component": component,
        "max_mark": parsed.max_mark,
        "is_notional": component is not None,
        "source": parsed.source,
    }
    row, created = await GradeBoundarySet.get_or_create(
        specification=spec,
        series=series,
        scope_key=ref.scope_key(parsed.tier, parsed.component),
        defaults=fields,
    )
    stored = dict(await Boundary.filter(boundary_set=row).values_list("grade_id", "min_mark"))
    if created:
        await Boundary.bulk_create(
            [Boundary(boundary_set=row, grade_id=g, min_mark=m) for g, m in wanted.items()]
        )
        return "created"
    same_fields = (row.max_mark, row.source, row.is_notional) == (
        parsed.max_mark,
        parsed.source,
        component is not None,
    )
    if same_fields and stored == wanted:
        return "unchanged"
    row.update_from_dict(fields)
    await row.save()
    # Kept in place (ids stable): grade records may name the set they were computed from.
    await Boundary.filter(boundary_set=row).exclude(grade_id__in=list(wanted)).delete()
    for grade_id, mark in wanted.items():
        await Boundary.update_or_create(
            boundary_set=row, grade_id=grade_id, defaults={"min_mark": mark}
        )
    return "updated"


__all__ = [
    "HEADER",
    "BoundaryFileError",
    "ImportCounts",
    "ParsedSet",
    "import_boundaries",
    "parse_boundary_file",
]
