"""Quality gate: precision and recall of the built-in rules on the labelled corpus.

The corpus (``tests/data/safeguarding_corpus.tsv``) is text as a school sees it: every category
in plain and disguised forms, and ordinary text that looks dangerous to a keyword list. These
are counts, not timings: the same rules and corpus always give the same figures.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from resolvers.safeguarding.detect_scoring import Example, parse_corpus, score
from resolvers.safeguarding.matcher import Detector
from resolvers.safeguarding.rules import Category, builtin_rules

CORPUS = Path(__file__).resolve().parents[1] / "data" / "safeguarding_corpus.tsv"
MIN_PRECISION = 0.90
MIN_RECALL = 0.95


@pytest.fixture(scope="module")
def examples() -> list[Example]:
    return parse_corpus(CORPUS.read_text(encoding="utf-8"))


def test_corpus_covers_every_category_with_plain_disguised_and_search_lines(
    examples: list[Example],
) -> None:
    # given
    labels = Counter(e.label for e in examples)
    searches = {e.label for e in examples if "search" in e.text and e.text.startswith("http")}
    disguised = {e.label for e in examples if any(c in e.text for c in "0134!.-") or "  " in e.text}
    # then
    assert len(examples) >= 500
    assert labels[None] >= 200  # hard negatives and ordinary text
    assert all(labels[c] >= 20 for c in Category)
    assert set(Category) <= searches
    assert set(Category) <= disguised


def test_builtin_rules_meet_the_precision_and_recall_targets(examples: list[Example]) -> None:
    # when
    report = score(Detector(builtin_rules()), examples)
    # then
    mistakes = [f"{e.line}: {e.label} -> {sorted(found)}: {e.text}" for e, found in report.mistakes]
    assert report.overall.precision >= MIN_PRECISION, mistakes
    assert report.overall.recall >= MIN_RECALL, mistakes


def test_scoring_counts_wrong_categories_and_misses() -> None:
    # given
    detector = Detector(builtin_rules())
    examples = [
        Example(1, Category.SUICIDE, "i want to kill myself"),
        Example(2, Category.DRUGS, "a completely ordinary sentence"),
        Example(3, None, "kill yourself loser"),
    ]
    # when
    report = score(detector, examples)
    # then
    assert (report.overall.true_positives, report.overall.false_positives) == (1, 1)
    assert report.overall.false_negatives == 1
    assert report.categories[Category.BULLYING].false_positives == 1
    assert report.categories[Category.DRUGS].recall == 0.0
    assert [e.line for e, _ in report.mistakes] == [2, 3]


def test_a_malformed_corpus_line_is_reported() -> None:
    # when / then
    with pytest.raises(ValueError, match="line 2: expected label<TAB>text"):
        parse_corpus("# comment\nSUICIDE no tab here\n")
