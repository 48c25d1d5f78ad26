"""The detector: obfuscations, word boundaries, exclusions, excerpts and device events."""

from __future__ import annotations

import pytest

from resolvers.safeguarding.detect_urls import search_query
from resolvers.safeguarding.matcher import Detector, Match
from resolvers.safeguarding.rules import Category, Rule


def rule(rule_id: str, phrase: str, **extra: object) -> Rule:
    return Rule(rule_id, extra.pop("category", Category.SUICIDE), 5, phrase, **extra)  # type: ignore[arg-type]


DETECTOR = Detector(
    [
        rule("t.kill-myself", "(kill|killing) (myself|my self)"),
        rule("t.suicide", "suicid*", exclusions=("suicide squad",)),
        rule("t.kill", "kill", category=Category.VIOLENCE, exclusions=("kill the process",)),
        rule("t.rape", "rape", category=Category.VIOLENCE),
        rule("t.cunt", "cunt", category=Category.BULLYING),
        rule("t.sex", "sex", category=Category.PORNOGRAPHY),
        rule("t.weed", "weed", category=Category.DRUGS, context=("smoke*", "buy")),
    ]
)


def ids(matches: list[Match]) -> list[str]:
    return [m.rule_id for m in matches]


@pytest.mark.parametrize(
    "text",
    [
        "I want to kill myself",
        "i want to KILL MYSELF",
        "i want to k1ll mys3lf",  # leetspeak
        "i want to ki11 myse1f",  # 1 read as l
        "i want to k!ll myself",
        "i want to kiiiillll myyyyself",  # repeated letters
        "i want to k i l l myself",  # spaced letters
        "i want to k.i.l.l m.y.s.e.l.f",
        "i want to k-i-l-l my-self",
        "#killmyself",  # words run together
        "i want to kïll mysélf",  # accents
        "i want to кill myself",  # look-alike letters
        "i want to ki\u200bll myself",  # invisible characters
        "i keep killin myself in my head",  # the g of "-ing" dropped, as typed
    ],
)
def test_obfuscated_spellings_match(text: str) -> None:
    # when
    matches = DETECTOR.scan(text)
    # then
    assert "t.kill-myself" in ids(matches)


@pytest.mark.parametrize(
    "text",
    ["what a skill", "grapes and drapes", "Scunthorpe United", "we went to Essex", "kilo"],
)
def test_words_inside_other_words_do_not_match(text: str) -> None:
    # when / then
    assert DETECTOR.scan(text) == []


def test_an_exclusion_around_the_match_cancels_it() -> None:
    # given / when
    excluded = DETECTOR.scan("just kill the process and restart")
    kept = DETECTOR.scan("i will kill him")
    squad = DETECTOR.scan("the suicide squad film")
    # then
    assert excluded == []
    assert ids(kept) == ["t.kill"]
    assert squad == []


def test_a_rule_with_context_words_needs_one_nearby() -> None:
    # given / when
    garden = DETECTOR.scan("we weed the vegetable patch")
    smoking = DETECTOR.scan("lets smoke some w33d later")
    # then
    assert garden == []
    assert ids(smoking) == ["t.weed"]


def test_school_exclusions_apply_to_every_rule() -> None:
    # given
    detector = Detector(DETECTOR.rules, extra_exclusions=("macbeth",))
    # when
    matches = detector.scan("in Macbeth he wants to kill him")
    # then
    assert matches == []
    assert ids(DETECTOR.scan("in Macbeth he wants to kill him")) == ["t.kill"]


def test_each_rule_matches_at_most_once_and_overlapping_rules_all_match() -> None:
    # given
    text = "kill myself, kill myself, kill myself"
    # when
    matches = DETECTOR.scan(text)
    # then
    assert sorted(ids(matches)) == ["t.kill", "t.kill-myself"]


def test_match_carries_category_severity_and_source() -> None:
    # when
    (match,) = DETECTOR.scan("feeling suicidal", source="TITLE")
    # then
    assert match == Match("t.suicide", Category.SUICIDE, 5, "feeling suicidal", "TITLE")


def test_excerpt_quotes_about_100_original_characters_cut_between_words() -> None:
    # given
    before = " ".join(f"before{n}" for n in range(30))
    after = " ".join(f"after{n}" for n in range(30))
    text = f"{before} I want to K-I-L-L MYSELF tonight {after}"
    # when
    (match, _) = DETECTOR.scan(text)
    # then
    assert "K-I-L-L MYSELF" in match.excerpt  # the original spelling, not the canonical one
    assert 80 <= len(match.excerpt) <= 100
    assert match.excerpt.split()[0] in before.split()
    assert match.excerpt.split()[-1] in after.split()


def test_excerpt_of_a_short_text_is_the_whole_text() -> None:
    # when
    matches = DETECTOR.scan("  honestly i want to kill myself  ")
    # then
    assert matches[0].excerpt == "honestly i want to kill myself"


@pytest.mark.parametrize(
    ("url", "query"),
    [
        ("https://www.google.co.uk/search?q=how+to+kill+myself&hl=en", "how to kill myself"),
        ("https://www.google.com/#q=suicide+methods", "suicide methods"),
        ("https://www.bing.com/search?q=kill%20myself", "kill myself"),
        ("https://duckduckgo.com/?q=weed&ia=web", "weed"),
        ("https://uk.search.yahoo.com/search?p=suicidal", "suicidal"),
        ("https://www.youtube.com/results?search_query=kill+myself", "kill myself"),
        ("https://www.ecosia.org/search?q=rape", "rape"),
        ("https://example.org/search?q=anything", "anything"),
        ("https://www.bbc.co.uk/news?q=not+a+search", None),
        ("not a url at all", None),
    ],
)
def test_search_queries_are_decoded_from_search_urls(url: str, query: str | None) -> None:
    # when / then
    assert search_query(url) == query


def test_an_event_reports_search_then_text_title_and_url_once_per_rule() -> None:
    # given
    url = "https://www.google.co.uk/search?q=how+to+kill+myself"
    # when
    matches = DETECTOR.scan_event(text="buy weed", url=url, title="suicidal - Google Search")
    # then
    assert [(m.rule_id, m.source) for m in matches] == [
        ("t.kill", "SEARCH"),  # same position: by rule id
        ("t.kill-myself", "SEARCH"),
        ("t.weed", "TEXT"),
        ("t.suicide", "TITLE"),
    ]
    assert matches[0].excerpt == "how to kill myself"


def test_a_plain_url_is_scanned_decoded() -> None:
    # when
    matches = DETECTOR.scan_event(
        text=None, url="https://forum.example/how-to-kill%20myself", title=None
    )
    # then
    assert [(m.rule_id, m.source) for m in matches] == [
        ("t.kill", "URL"),
        ("t.kill-myself", "URL"),
    ]


def test_an_empty_event_or_detector_finds_nothing() -> None:
    # when / then
    assert DETECTOR.scan_event(text=None, url=None, title=None) == []
    assert DETECTOR.scan("") == []
    assert Detector([]).scan("kill myself") == []


def test_five_thousand_rules_are_matched_in_one_combined_pattern() -> None:
    # given many rules that share first letters with the one that matters
    rules = [rule(f"t.{n}", f"kil{n:04d}word", category=Category.GAMBLING) for n in range(4999)]
    detector = Detector([*rules, rule("t.target", "kill myself")])
    # when
    matches = detector.scan("i could kill myself, also kil0042word and kil4998word")
    # then
    assert ids(matches) == ["t.target", "t.42", "t.4998"]
