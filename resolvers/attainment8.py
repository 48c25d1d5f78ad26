"""Attainment 8, pure: a learner's eight best qualifications in three buckets, as points.

The rules (docs/tracking.md, reference section 4):

* **English** fills a double-weighted slot with the better of English language and English
  literature, *if the learner has both*; with only one of them it counts once (the published
  DfE rule, quoted by Pearson, SSAT and 4Matrix). The other English grade may fill an open slot.
* **Maths** fills a double-weighted slot.
* **EBacc**: the best three of the sciences, computer science, geography, history and languages.
* **Open**: the best three of what is left, EBacc subjects and the spare English included.
* Empty slots score 0; the total is out of 90 (10 weighted slots x 9) and ``average`` is it / 10.
* Points: a reformed GCSE grade N scores N; legacy letters (2017 onwards) G 1, F 1.5, E 2, D 3,
  C 4, B 5.5, A 7, A* 8.5; BTEC-style level grades L2D* 8.5 ... L1P 1 (unverified); U 0.
  A double award grade ``6-5`` fills two slots, each with the mean of its two grades
  (unverified DfE detail).

Not modelled: DfE discounting (the same subject in two qualifications) and the cap of three
non-GCSE qualifications in the open bucket. An *estimate* from current or predicted grades.

Example:
    >>> e = estimate([Result("Maths", "6"), Result("English Language", "5"),
    ...               Result("English Literature", "4"), Result("Biology", "6")])
    >>> e.total, e.english_double_weighted
    (32.0, True)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum


class Bucket(StrEnum):
    """Which slots a qualification may fill."""

    ENGLISH_LANGUAGE = "ENGLISH_LANGUAGE"
    ENGLISH_LITERATURE = "ENGLISH_LITERATURE"
    MATHS = "MATHS"
    EBACC = "EBACC"
    OPEN = "OPEN"


class Element(StrEnum):
    """The four parts of the measure."""

    ENGLISH = "ENGLISH"
    MATHS = "MATHS"
    EBACC = "EBACC"
    OPEN = "OPEN"


MAX_TOTAL = 90
EBACC_SLOTS = 3
OPEN_SLOTS = 3

LEGACY_POINTS = {"A*": 8.5, "A": 7.0, "B": 5.5, "C": 4.0, "D": 3.0, "E": 2.0, "F": 1.5, "G": 1.0}
VOCATIONAL_POINTS = {
    "L2D*": 8.5,
    "L2D": 7.0,
    "L2M": 5.5,
    "L2P": 4.0,
    "L1D": 2.0,
    "L1M": 1.5,
    "L1P": 1.0,
}
_NUMERIC = re.compile(r"^[1-9]$")
_DOUBLE = re.compile(r"^([1-9])-([1-9])$")

#: Subject words that make a qualification EBacc-eligible (matched on whole words).
EBACC_WORDS = frozenset(
    {
        "biology",
        "chemistry",
        "physics",
        "computer",
        "computing",
        "geography",
        "history",
        "french",
        "german",
        "spanish",
        "italian",
        "mandarin",
        "chinese",
        "japanese",
        "arabic",
        "urdu",
        "bengali",
        "punjabi",
        "polish",
        "portuguese",
        "russian",
        "turkish",
        "gujarati",
        "hebrew",
        "greek",
        "latin",
        "welsh",
        "irish",
    }
)


def points(grade: str) -> float:
    """Points per slot for one grade; ValueError for a label no known scale has."""
    label = grade.strip().upper()
    if label == "U":
        return 0.0
    if _NUMERIC.match(label):
        return float(label)
    double = _DOUBLE.match(label)
    if double:
        return (int(double[1]) + int(double[2])) / 2
    if label in LEGACY_POINTS:
        return LEGACY_POINTS[label]
    if label in VOCATIONAL_POINTS:
        return VOCATIONAL_POINTS[label]
    raise ValueError(f"grade {grade!r} has no Attainment 8 points")


def slots_of(grade: str) -> int:
    """How many slots a grade fills: two for a double award (``6-5``), otherwise one."""
    return 2 if _DOUBLE.match(grade.strip()) else 1


def bucket_for(subject: str) -> Bucket:
    """The bucket a subject's qualification belongs to, from its name."""
    words = set(re.findall(r"[a-z]+", subject.casefold()))
    if "english" in words:
        return Bucket.ENGLISH_LITERATURE if "literature" in words else Bucket.ENGLISH_LANGUAGE
    if words & {"maths", "mathematics", "math"} and not words & {"further", "statistics"}:
        return Bucket.MATHS
    if words & EBACC_WORDS or _is_science(words):
        return Bucket.EBACC
    return Bucket.OPEN


#: Words a general science qualification's name may hold ("Combined Science: Trilogy"), so
#: that "Sports Science" or "Food Science" stay in the open bucket.
_SCIENCE_NAME = frozenset(
    {"science", "sciences", "combined", "double", "triple", "award", "trilogy", "synergy", "gcse"}
)


def _is_science(words: set[str]) -> bool:
    return bool(words & {"science", "sciences"}) and words <= _SCIENCE_NAME


@dataclass(frozen=True, slots=True)
class Result:
    """One qualification's grade; the bucket comes from the subject's name unless given."""

    subject: str
    grade: str
    bucket: Bucket | None = None

    @property
    def kind(self) -> Bucket:
        return self.bucket if self.bucket is not None else bucket_for(self.subject)


@dataclass(frozen=True, slots=True)
class Slot:
    """One filled slot: what fills it, its points and its weight (2 for English and maths)."""

    element: Element
    subject: str
    grade: str
    points: float
    weight: int

    @property
    def score(self) -> float:
        return self.points * self.weight


@dataclass(frozen=True, slots=True)
class Estimate:
    total: float
    slots: tuple[Slot, ...]
    english_double_weighted: bool

    @property
    def average(self) -> float:
        """The total over the ten weighted slots, as AQA expresses it."""
        return self.total / 10

    def element(self, element: Element) -> float:
        return sum(s.score for s in self.slots if s.element is element)


@dataclass(frozen=True, slots=True)
class _Unit:
    subject: str
    grade: str
    points: float
    kind: Bucket


def _units(results: Iterable[Result]) -> list[_Unit]:
    """One unit per slot a result may fill, the best grade per subject, best first."""
    best: dict[str, Result] = {}
    for result in results:
        key = result.subject.strip().casefold()
        held = best.get(key)
        if held is None or points(result.grade) > points(held.grade):
            best[key] = result
    units = [
        _Unit(r.subject, r.grade, points(r.grade), r.kind)
        for r in best.values()
        for _ in range(slots_of(r.grade))
    ]
    # Best first; the subject name breaks ties so the choice never depends on input order.
    return sorted(units, key=lambda u: (-u.points, u.subject.casefold()))


def _take(units: list[_Unit], allowed: frozenset[Bucket], count: int) -> list[_Unit]:
    taken = [u for u in units if u.kind in allowed][:count]
    for unit in taken:
        units.remove(unit)
    return taken


def estimate(results: Iterable[Result]) -> Estimate:
    """The Attainment 8 of these grades (a learner's current, predicted or actual ones)."""
    units = _units(results)
    slots: list[Slot] = []
    english = [u for u in units if u.kind in {Bucket.ENGLISH_LANGUAGE, Bucket.ENGLISH_LITERATURE}]
    double = {u.kind for u in english} == {Bucket.ENGLISH_LANGUAGE, Bucket.ENGLISH_LITERATURE}
    if english:
        units.remove(english[0])
        slots.append(_slot(Element.ENGLISH, english[0], 2 if double else 1))
        # The other English may count in the open bucket only, never in EBacc.
        for spare in english[1:]:
            units[units.index(spare)] = _Unit(spare.subject, spare.grade, spare.points, Bucket.OPEN)
    for unit in _take(units, frozenset({Bucket.MATHS}), 1):
        slots.append(_slot(Element.MATHS, unit, 2))
    for unit in _take(units, frozenset({Bucket.EBACC}), EBACC_SLOTS):
        slots.append(_slot(Element.EBACC, unit, 1))
    for unit in _take(units, frozenset(Bucket) - _ENGLISH, OPEN_SLOTS):
        slots.append(_slot(Element.OPEN, unit, 1))
    return Estimate(sum(s.score for s in slots), tuple(slots), double)


_ENGLISH = frozenset({Bucket.ENGLISH_LANGUAGE, Bucket.ENGLISH_LITERATURE})


def _slot(element: Element, unit: _Unit, weight: int) -> Slot:
    return Slot(element, unit.subject, unit.grade, unit.points, weight)


def mean(totals: Sequence[float]) -> float | None:
    """The mean of some learners' totals; None for nobody (never 0, which would be a score)."""
    return sum(totals) / len(totals) if totals else None


__all__ = [
    "EBACC_SLOTS",
    "EBACC_WORDS",
    "LEGACY_POINTS",
    "MAX_TOTAL",
    "OPEN_SLOTS",
    "VOCATIONAL_POINTS",
    "Bucket",
    "Element",
    "Estimate",
    "Result",
    "Slot",
    "bucket_for",
    "estimate",
    "mean",
    "points",
    "slots_of",
]
