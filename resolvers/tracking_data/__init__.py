"""Built-in reference catalogue: qualifications, their grade scales and tiers, boards, known specs.

Data only (tracking.md sections 1.2 and 4). Figures marked "(unverified)" there are kept where
a sensible default beats nothing, and said so in docs/tracking.md. The published boundaries
themselves ship as CSV files in ``boundaries/``, loaded by ``pupil-progress import-boundaries``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from resolvers.grading import GradeScale, TierRule


@dataclass(frozen=True)
class GradeInfo:
    label: str
    a8_points: float | None = None
    ucas_points: int | None = None
    is_pass: bool = True


@dataclass(frozen=True)
class QualificationInfo:
    code: str
    name: str
    scale_code: str
    scale_name: str
    grades: tuple[GradeInfo, ...]  # highest first
    tiers: tuple[TierRule, ...] = ()

    @property
    def scale(self) -> GradeScale:
        return GradeScale(self.scale_name, tuple(g.label for g in self.grades))

    def tier(self, code: str) -> TierRule | None:
        return next((t for t in self.tiers if t.code == code), None)


@dataclass(frozen=True)
class ComponentInfo:
    code: str
    title: str
    max_raw_mark: int
    tier: str | None = None
    calculator: bool | None = None


@dataclass(frozen=True)
class SpecificationInfo:
    board: str
    code: str
    qualification: str
    title: str
    subject: str
    total_raw_marks: int | None = None
    components: tuple[ComponentInfo, ...] = ()


def _combined() -> tuple[GradeInfo, ...]:
    # 9-9, 9-8, 8-8 ... 2-1, 1-1: a double award counts in two Attainment 8 slots, so each
    # slot scores the mean of the pair.
    pairs = []
    for high in range(9, 0, -1):
        pairs.append((high, high))
        if high > 1:
            pairs.append((high, high - 1))
    ordered = sorted(pairs, key=lambda p: (p[0] + p[1], p[0]), reverse=True)
    return tuple(GradeInfo(f"{a}-{b}", a8_points=(a + b) / 2) for a, b in ordered)


_LETTER = ("A*", "A", "B", "C", "D", "E")
_UCAS_A_LEVEL = {"A*": 56, "A": 48, "B": 40, "C": 32, "D": 24, "E": 16}
_UCAS_AS = {"A": 20, "B": 16, "C": 12, "D": 10, "E": 6}
_BTEC_A8 = {"L2D*": 8.5, "L2D": 7, "L2M": 5.5, "L2P": 4, "L1D": 2, "L1M": 1.5, "L1P": 1}

QUALIFICATIONS: dict[str, QualificationInfo] = {
    q.code: q
    for q in (
        QualificationInfo(
            "GCSE",
            "GCSE",
            "GCSE_9_1",
            "GCSE 9-1",
            tuple(GradeInfo(str(n), a8_points=n) for n in range(9, 0, -1)),
            (
                TierRule("FOUNDATION", max_grade="5", min_grade="1"),
                TierRule("HIGHER", max_grade="9", min_grade="4", allowed_grade="3"),
            ),
        ),
        QualificationInfo(
            "GCSE_COMBINED",
            "GCSE Combined Science (double award)",
            "GCSE_COMBINED_9_9",
            "GCSE Combined Science 9-9 to 1-1",
            _combined(),
            (
                TierRule("FOUNDATION", max_grade="5-5", min_grade="1-1"),
                TierRule("HIGHER", max_grade="9-9", min_grade="4-4", allowed_grade="4-3"),
            ),
        ),
        QualificationInfo(
            "A_LEVEL",
            "A level",
            "A_LEVEL",
            "A level A*-E",
            tuple(GradeInfo(g, ucas_points=_UCAS_A_LEVEL[g]) for g in _LETTER),
        ),
        QualificationInfo(
            "AS_LEVEL",
            "AS level",
            "AS_LEVEL",
            "AS A-E",
            tuple(GradeInfo(g, ucas_points=_UCAS_AS[g]) for g in _LETTER[1:]),
        ),
        QualificationInfo(
            "LEVEL_2_CERTIFICATE",
            "Level 2 Certificate (AQA Further Mathematics 8365)",
            "LEVEL_2_9_4",
            "Level 2 Certificate 9-4",
            tuple(GradeInfo(str(n)) for n in range(9, 3, -1)),
        ),
        QualificationInfo(
            "BTEC",
            "BTEC Tech Award",
            "BTEC_TECH_AWARD",
            "BTEC Tech Award L2D* to L1P",
            tuple(GradeInfo(g, a8_points=p) for g, p in _BTEC_A8.items()),
        ),
        QualificationInfo(
            "CAMBRIDGE_NATIONALS",
            "Cambridge Nationals",
            "CAMBRIDGE_NATIONALS",
            "Cambridge Nationals L2D* to L1P",
            tuple(
                GradeInfo(f"L{level}{grade}") for level in (2, 1) for grade in ("D*", "D", "M", "P")
            ),
        ),
    )
}

#: Board code -> name. Lookups also accept the name and "Pearson Edexcel" / "Edexcel".
BOARDS: dict[str, str] = {
    "AQA": "AQA",
    "EDEXCEL": "Pearson Edexcel",
    "OCR": "OCR",
    "WJEC": "WJEC",
    "EDUQAS": "WJEC Eduqas",
    "CCEA": "CCEA",
}


def _maths_papers(prefix: str, calculator_from: int) -> tuple[ComponentInfo, ...]:
    return tuple(
        ComponentInfo(
            f"{prefix}/{paper}{tier[0]}",
            f"Paper {paper} ({tier.title()})",
            80,
            tier=tier,
            calculator=paper >= calculator_from,
        )
        for tier in ("FOUNDATION", "HIGHER")
        for paper in (1, 2, 3)
    )


SPECIFICATIONS: dict[tuple[str, str], SpecificationInfo] = {
    (s.board, s.code): s
    for s in (
        SpecificationInfo(
            "AQA", "8300", "GCSE", "GCSE Mathematics", "Mathematics", 240, _maths_papers("8300", 2)
        ),
        SpecificationInfo(
            "EDEXCEL",
            "1MA1",
            "GCSE",
            "GCSE Mathematics",
            "Mathematics",
            240,
            _maths_papers("1MA1", 2),
        ),
    )
}


def board_code(text: str) -> str:
    """``aqa`` -> ``AQA``, ``Pearson Edexcel`` / ``Edexcel`` -> ``EDEXCEL``; others upper-cased."""
    cleaned = " ".join(text.split()).upper()
    for code, name in BOARDS.items():
        if cleaned in (code, name.upper()):
            return code
    return cleaned.removeprefix("PEARSON ").replace(" ", "_")


def shipped_boundary_files() -> list[Path]:
    """The published boundary CSVs shipped with the package (tracking.md section 3)."""
    folder = resources.files(__package__) / "boundaries"
    return sorted(Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(".csv"))


__all__ = [
    "BOARDS",
    "QUALIFICATIONS",
    "SPECIFICATIONS",
    "ComponentInfo",
    "GradeInfo",
    "QualificationInfo",
    "SpecificationInfo",
    "board_code",
    "shipped_boundary_files",
]
