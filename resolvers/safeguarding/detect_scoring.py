"""Precision and recall of a detector on a labelled corpus (``label<TAB>text`` lines).

A line's label is a category or ``NONE``. Every category the detector reports for a line counts
once: the label's category is a true positive, any other a false positive; a labelled line
without its category is a false negative. Lines that are URLs are scanned as device events (so
search queries are decoded), the rest as typed text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from resolvers.safeguarding.matcher import Detector
from resolvers.safeguarding.rules import Category

NONE = "NONE"


@dataclass(frozen=True, slots=True)
class Example:
    line: int
    label: Category | None
    text: str


@dataclass
class Tally:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else 1.0


@dataclass
class Report:
    categories: dict[Category, Tally] = field(
        default_factory=lambda: {c: Tally() for c in Category}
    )
    overall: Tally = field(default_factory=Tally)
    #: (example, categories found) for every line with a miss or a false alarm
    mistakes: list[tuple[Example, frozenset[Category]]] = field(default_factory=list)


def parse_corpus(text: str) -> list[Example]:
    """The examples of a corpus file; ``#`` lines and blank lines are skipped."""
    examples = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        label, sep, body = raw.partition("\t")
        if not sep or not body.strip():
            raise ValueError(f"line {number}: expected label<TAB>text")
        examples.append(Example(number, None if label == NONE else Category(label), body))
    return examples


def categories_found(detector: Detector, text: str) -> frozenset[Category]:
    if text.startswith(("http://", "https://")):
        matches = detector.scan_event(text=None, url=text, title=None)
    else:
        matches = detector.scan(text)
    return frozenset(match.category for match in matches)


def score(detector: Detector, examples: Iterable[Example]) -> Report:
    report = Report()
    for example in examples:
        found = categories_found(detector, example.text)
        wrong = found - {example.label} if example.label else found
        for category in wrong:
            report.categories[category].false_positives += 1
            report.overall.false_positives += 1
        if example.label is not None:
            tally = report.categories[example.label]
            if example.label in found:
                tally.true_positives += 1
                report.overall.true_positives += 1
            else:
                tally.false_negatives += 1
                report.overall.false_negatives += 1
        if wrong or (example.label is not None and example.label not in found):
            report.mistakes.append((example, found))
    return report


__all__ = ["NONE", "Example", "Report", "Tally", "categories_found", "parse_corpus", "score"]
