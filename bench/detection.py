"""Safeguarding detection: quality on the labelled corpus, and throughput against ``in``.

    python -m bench.detection [--rules 5000] [--texts 3000] [--rounds 7]

1. Precision and recall per category and overall on ``tests/data/safeguarding_corpus.tsv``
   with the built-in libraries (a reported category is right when it equals the line's label;
   ``NONE`` lines must report nothing). When ``tests/data/safeguarding_holdout_2.tsv`` exists,
   the same figures for it: the unseen set, lines written before the rules of library 2026.11.2
   and never used to tune them. (The first holdout was studied for 2026.11.2 and moved into the
   corpus; once a holdout's lines have shaped rules, it is tuning data and a fresh one replaces
   it.)
2. Throughput with ``--rules`` rules (the built-in ones plus generated synthetic phrases) over a
   stream of typed messages, page titles and URLs of which a few per cent trigger: the project's
   ``Detector.scan`` (normalisation, every rule, exclusions, excerpts) against a baseline that
   lower-cases the same text and checks each rule's phrase with Python's ``in``. The two take
   turns over the whole stream, each charged this process's CPU time (``time.process_time``), so
   other work on a shared machine tilts neither side.

The last line is ``ratio=<project texts/s / baseline texts/s>``, the median of the rounds' ratios.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from resolvers.safeguarding.detect_patterns import expansions
from resolvers.safeguarding.detect_scoring import Report, parse_corpus, score
from resolvers.safeguarding.matcher import Detector
from resolvers.safeguarding.rules import Category, Rule, builtin_rules

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
CORPUS = DATA / "safeguarding_corpus.tsv"
HOLDOUT = DATA / "safeguarding_holdout_2.tsv"

_SYLLABLES = [c + v for c in "bcdfghjklmnprstvwyz" for v in "aeiou"] + ["bra", "cre", "sto"]
_PROSE = (
    "the a to and of in is it you that for on my with this was are have be at but not so can "
    "what your all just we they me do if up out like get about how when one know think want "
    "homework lesson teacher maths english science history geography class break lunch school "
    "test exam revision essay question answer chapter page book library group project team "
    "football match game play level friend friends mum dad brother sister weekend tomorrow "
    "today tonight later please thanks sorry okay yeah lol omg really very good bad great "
    "funny boring hard easy finished started doing going coming see watch video music song "
    "photo picture link website search help need time bus late early room phone laptop"
)
_WORDS = _PROSE.split()
_SITES = (
    "www.bbc.co.uk/bitesize/guides",
    "classroom.google.com/c",
    "www.youtube.com/watch",
    "en.wikipedia.org/wiki",
    "www.senecalearning.com/en-GB/app",
    "quizlet.com/gb",
    "www.mathsgenie.co.uk",
    "docs.google.com/document/d",
    "www.spotify.com/uk",
    "www.tiktok.com",
)


def pseudo_word(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))


def synthetic_rules(count: int, rng: random.Random) -> list[Rule]:
    """``count`` rules with made-up phrases shaped like the real ones (words, alternatives,
    open endings, exclusions)."""
    categories = list(Category)
    rules = []
    for n in range(count):
        words = [pseudo_word(rng) for _ in range(rng.choice((1, 1, 2, 2, 2, 3)))]
        if rng.random() < 0.3:
            words[-1] = f"({words[-1]}|{pseudo_word(rng)})"
        elif rng.random() < 0.2:
            words[-1] += "*"
        exclusions = (f"{pseudo_word(rng)} {words[0]}",) if rng.random() < 0.2 else ()
        rules.append(
            Rule(
                id=f"synthetic.{n:05d}",
                category=rng.choice(categories),
                severity=rng.randint(1, 5),
                phrase=" ".join(words),
                exclusions=exclusions,
            )
        )
    return rules


def stream(count: int, rng: random.Random, triggering: list[str]) -> list[str]:
    """Typed messages, page titles and URLs; about 3% carry a corpus phrase that triggers."""
    texts = []
    for _ in range(count):
        kind = rng.random()
        words = [rng.choice(_WORDS) for _ in range(rng.randint(4, 30))]
        if rng.random() < 0.03:
            words.insert(rng.randrange(len(words)), rng.choice(triggering))
        if kind < 0.6:
            text = " ".join(words).capitalize() + rng.choice((".", "?", "!", "", " lol"))
        elif kind < 0.8:
            text = " ".join(words[:8]).title() + " - " + rng.choice(("BBC Bitesize", "YouTube"))
        elif kind < 0.9:
            text = f"https://www.google.co.uk/search?q={'+'.join(words[:6])}&hl=en-GB"
        else:
            text = f"https://{rng.choice(_SITES)}/{'-'.join(words[:5])}?id={rng.randint(1, 99999)}"
        texts.append(text)
    return texts


def print_report(title: str, report: Report) -> None:
    print(f"\n{title}")
    print(f"  {'category':<27} {'precision':>9} {'recall':>7} {'tp':>4} {'fp':>4} {'fn':>4}")
    for category, tally in [*report.categories.items(), ("OVERALL", report.overall)]:
        print(
            f"  {category:<27} {tally.precision:9.3f} {tally.recall:7.3f} "
            f"{tally.true_positives:4d} {tally.false_positives:4d} {tally.false_negatives:4d}"
        )


def quality() -> list[str]:
    detector = Detector(builtin_rules())
    examples = parse_corpus(CORPUS.read_text(encoding="utf-8"))
    print(f"built-in rules: {len(builtin_rules())}; corpus lines: {len(examples)}")
    print_report(f"quality on {CORPUS.name}", score(detector, examples))
    if HOLDOUT.exists():
        held = parse_corpus(HOLDOUT.read_text(encoding="utf-8"))
        title = f"quality on {HOLDOUT.name} ({len(held)} lines, unseen)"
        print_report(title, score(detector, held))
    return [e.text for e in examples if e.label is not None and not e.text.startswith("http")]


def throughput(args: argparse.Namespace, triggering: list[str]) -> float:
    rng = random.Random(args.seed)
    builtin = list(builtin_rules())
    rules = builtin + synthetic_rules(max(0, args.rules - len(builtin)), rng)
    texts = stream(args.texts, rng, triggering)
    started = time.perf_counter()
    detector = Detector(rules)
    print(f"\nthroughput: {len(rules)} rules, {len(texts)} texts per round")
    print(f"  detector build (one-off, not timed below): {time.perf_counter() - started:.2f} s")
    # The baseline checks one plain phrase per rule: fewer checks than the rules' alternatives
    # stand for, and no normalisation, so it errs in its own favour.
    phrases = [expansions("phrase", rule.phrase)[0].replace("*", "").lower() for rule in rules]

    def project(batch: list[str]) -> int:
        return sum(len(detector.scan(text)) for text in batch)

    def baseline(batch: list[str]) -> int:
        found = 0
        for text in batch:
            lowered = text.lower()
            found += sum(1 for phrase in phrases if phrase in lowered)
        return found

    # Untimed warm-up: the project compiles each rule's own pattern the first time the combined
    # pass sends a text its way (then shares it process-wide); the baseline warms its caches.
    project(texts)
    baseline(texts)
    ratios = []
    for round_number in range(1, args.rounds + 1):
        # The two sides take turns over the whole stream; each is charged the CPU time this
        # process spent on it, so other processes on a shared machine do not tilt the result.
        seconds = {"project": 0.0, "baseline": 0.0}
        found = {"project": 0, "baseline": 0}
        for name, run in (("project", project), ("baseline", baseline)):
            start = time.process_time()
            found[name] += run(texts)
            seconds[name] += time.process_time() - start
        rates = {name: len(texts) / seconds[name] for name in seconds}
        ratio = rates["project"] / rates["baseline"]
        ratios.append(ratio)
        print(
            f"  round {round_number}: project {rates['project']:9.0f} texts/s "
            f"({found['project']} matches), baseline {rates['baseline']:7.0f} texts/s "
            f"({found['baseline']} substring hits), ratio {ratio:.1f}"
        )
    return statistics.median(ratios)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.detection",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rules", type=int, default=5000, help="rules in the throughput run")
    parser.add_argument("--texts", type=int, default=3000, help="texts per timed round")
    parser.add_argument("--rounds", type=int, default=7, help="alternations of the two sides")
    parser.add_argument("--seed", type=int, default=20261128)
    args = parser.parse_args(argv)
    triggering = quality()
    ratio = throughput(args, triggering)
    print(f"ratio={ratio:.3f}")


if __name__ == "__main__":
    main()
