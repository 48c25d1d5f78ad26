"""The built-in phrase libraries, and the validation schools' own rules go through."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from app.errors import InvalidInput
from resolvers.safeguarding.matcher import Detector
from resolvers.safeguarding.rules import (
    LIBRARY_VERSION,
    Category,
    Rule,
    builtin_rules,
    parse_library,
    parse_rule,
)

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "resolvers" / "safeguarding" / "library"

#: Ordinary school text that must never raise an alert, whatever the rules become.
HARD_NEGATIVES = [
    "I need to cut my hair before the school photo",
    "this homework is killing me",
    "my feet are killing me",
    "kill the process and restart it",
    "we're going to shoot a photo for the yearbook",
    "drug interactions in biology",
    "the suicide squad film",
    "Scunthorpe United",
    "a weekend in Essex",
    "history lesson on the rise of extremism in 1930s Germany",
    "grapes are my favourite fruit",
    "skills lesson",
    "that test was murder",
    "cut and paste the text",
    "he shot the ball over the bar",
    "the cocktail party in the novel",
    "Diet Coke and a sandwich please",
    "weed the vegetable patch",
    "I bet he forgot his PE kit",
    "ugly sweater day for charity",
    "the Ugly Duckling",
    "Dick Turpin the highwayman",
    "Cockburn is a surname",
    "the bass guitar",
    "class assessment on Thursday",
    "the pen is on the table",
    "the therapist said hello",
    "faggots and peas, a traditional dish",
    "Homo sapiens evolved in Africa",
    "retarded growth in plants lacking nitrogen",
    "ISIS was the Egyptian goddess of magic",
    "the jihad of the soul is an inner struggle",
    "white power cable for the projector",
    "time slots for parents evening",
    "Casino Royale is a Bond film",
    "grooming your dog",
    "i'm home alone, mum is at work",
    "send me the pics from the school trip",
    "keep it a secret, it's a surprise party for Mr Jones",
    "the naked mole rat",
    "Super Bowl XXX",
    "only fans of the band will like this",
    "I hurt myself falling off my bike",
    "i'm starving, what's for lunch",
    "lean muscle",
    "spice rack",
    "high score in the game",
    "the dealer in blackjack",
    "crack an egg into the bowl",
    "acid and alkali practical",
    "I got a triple kill in fortnite",
]


def test_every_file_parses_into_valid_rules_with_unique_ids() -> None:
    # when
    rules = builtin_rules()
    # then
    assert len(rules) >= 300
    assert len({r.id for r in rules}) == len(rules)
    assert all(re.fullmatch(rf"{r.category.lower()}\.\d{{4}}", r.id) for r in rules)
    assert all(1 <= r.severity <= 5 for r in rules)
    assert {r.category for r in rules} == set(Category)
    assert min(sum(r.category is c for r in rules) for c in Category) >= 20


def test_every_category_has_one_file_of_the_current_version() -> None:
    # given
    files = sorted(p.stem for p in LIBRARY.glob("*.toml"))
    # when
    versions = {tomllib.loads(p.read_text())["version"] for p in LIBRARY.glob("*.toml")}
    # then
    assert files == sorted(c.lower() for c in Category)
    assert versions == {LIBRARY_VERSION}


def test_library_files_ship_with_the_package() -> None:
    # given
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    # then
    assert "resolvers.safeguarding" in config["packages"]
    assert config["package-data"]["resolvers.safeguarding"] == ["library/*.toml"]


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(builtin_rules())


@pytest.mark.parametrize("text", HARD_NEGATIVES)
def test_no_builtin_rule_fires_on_a_hard_negative(detector: Detector, text: str) -> None:
    # when
    matches = detector.scan(text)
    # then
    assert [(m.rule_id, m.excerpt) for m in matches] == []


def test_a_school_rule_is_parsed_from_plain_data() -> None:
    # when
    parsed = parse_rule(
        {
            "id": "school-7:0001",
            "category": "self_harm",
            "severity": 3,
            "phrase": "  blade  (buddy|buddies) ",
            "exclusions": ["blade runner"],
            "context": ["cut*"],
        }
    )
    # then
    assert parsed == Rule(
        "school-7:0001",
        Category.SELF_HARM,
        3,
        "blade (buddy|buddies)",
        ("blade runner",),
        ("cut*",),
    )


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"phrase": ""}, "phrase", "must not be blank"),
        ({"phrase": "   "}, "phrase", "must not be blank"),
        ({"phrase": "!!!"}, "phrase", "at least one letter"),
        ({"phrase": "(kill|hurt"}, "phrase", "without a matching `)`"),
        ({"phrase": "kill)"}, "phrase", "without a matching `(`"),
        ({"phrase": "((a|b)|c)"}, "phrase", "cannot be nested"),
        ({"phrase": "a|b"}, "phrase", "only allowed inside"),
        ({"phrase": "ki*ll"}, "phrase", "may only end a word"),
        ({"phrase": "<script>"}, "phrase", "may only contain"),
        ({"phrase": "(a|b|c|d) (a|b|c|d) (a|b|c|d) (a|b|c|d) (a|b)"}, "phrase", "at most 256"),
        ({"phrase": "x" * 201}, "phrase", "at most 200 characters"),
        ({"severity": 7}, "severity", "from 1 (low) to 5"),
        ({"severity": 0}, "severity", "from 1 (low) to 5"),
        ({"severity": "5"}, "severity", "whole number"),
        ({"severity": True}, "severity", "whole number"),
        ({"category": "WEAPONS"}, "category", "must be one of ILLEGAL, BULLYING"),
        ({"category": None}, "category", "is required"),
        ({"id": ""}, "id", "must not be blank"),
        ({"id": "Has Spaces"}, "id", "lower-case letters"),
        ({"exclusions": "kill the process"}, "exclusions", "must be a list"),
        ({"exclusions": ["ok", ""]}, "exclusions[1]", "must not be blank"),
        ({"context": ["(a|"]}, "context[0]", "without a matching"),
        ({"colour": "red"}, "colour", "Unknown rule field"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_field(
    changes: dict[str, object], field: str, message: str
) -> None:
    # given
    data = {"id": "school.1", "category": "SUICIDE", "severity": 4, "phrase": "kill myself"}
    # when
    with pytest.raises(InvalidInput) as caught:
        parse_rule({**data, **changes})
    # then
    assert caught.value.field == field
    assert message in caught.value.message


def test_missing_severity_and_category_are_required() -> None:
    # when
    with pytest.raises(InvalidInput) as no_severity:
        parse_rule({"id": "a", "category": "DRUGS", "phrase": "weed"})
    with pytest.raises(InvalidInput) as no_category:
        parse_rule({"id": "a", "severity": 2, "phrase": "weed"})
    # then
    assert (no_severity.value.field, no_severity.value.reason) == ("severity", "REQUIRED")
    assert (no_category.value.field, no_category.value.reason) == ("category", "REQUIRED")


def test_a_broken_library_file_names_file_rule_and_problem() -> None:
    # given
    text = f'version = "{LIBRARY_VERSION}"\ncategory = "DRUGS"\n[[rules]]\nid = "drugs.0001"\n'
    text += 'severity = 9\nphrase = "weed"\n'
    # when
    with pytest.raises(ValueError, match=r"drugs\.toml: rule 1: `severity` must be from 1"):
        parse_library("drugs.toml", text)


def test_a_library_file_of_another_version_is_refused() -> None:
    # when / then
    with pytest.raises(ValueError, match="is not"):
        parse_library("drugs.toml", 'version = "0.0.1"\ncategory = "DRUGS"\n')
