"""The canonical form that rule phrases and pupils' text are compared in."""

from __future__ import annotations

import random

import pytest

from resolvers.safeguarding.normalise import normalise, padded, tracked


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("KILL Me", "kill me"),
        ("kïll ÿou", "kill you"),  # accents
        ("\uff2b\uff49\uff4c\uff4c", "kill"),  # full-width forms
        ("кill", "kill"),  # Cyrillic look-alike
        ("sh\u200bit", "shit"),  # zero-width space inside a word
        ("w4nt t0 d1e", "want to d1e"),  # 1 stays ambiguous: phrases read it as i or l
        ("$ex @ss 5h0t 7hr3at 8ad", "sex ass shot threat bad"),
        ("k!ll", "k1ll"),  # ! inside a word is a letter
        ("die!!!", "die"),  # ...and punctuation at its end
        ("k.i.l.l  m-y_s/e", "k i l l m y s e"),  # every separator run is one space
        ("straße", "strasse"),
    ],
)
def test_text_is_folded_to_the_canonical_form(text: str, canonical: str) -> None:
    # when / then
    assert normalise(text) == canonical


def test_padded_form_puts_a_space_at_each_word_boundary() -> None:
    # given / when
    result = padded("  Hello, world!  ")
    # then
    assert result == " hello world "


SAMPLES = [
    "",
    "plain ascii text.",
    "Ünïcödé — “quotes” and ligatures ﬁ ﬂ",
    "k!ll|me !!! ||| a|b",
    "ΣΑΣ Straße İstanbul",
    "emoji 😀 in the middle",
    "\u0301leading combining mark",
    "tabs\tand\nnew lines",
]


def _random_texts(count: int, alphabet: str) -> list[str]:
    rng = random.Random(7)  # noqa: S311 - reproducible test data, not secrets
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(count)]


MIXED = "abcdeilo01345789 !|@$.-_,'ÄéİıßΣςкⅷﬁ\u200b\u0301\t😀"
ASCII = "abcilo0134578 !|@$#.-_,'\"/\\\t\n\x00\x1f~"


@pytest.mark.parametrize("text", SAMPLES + _random_texts(300, MIXED) + _random_texts(300, ASCII))
def test_tracked_form_equals_the_fast_form(text: str) -> None:
    # when
    result = tracked(text)
    # then the slow path used for excerpts sees exactly what the matcher saw
    assert result.text == padded(text)
    assert len(result.starts) == len(result.ends) == len(result.text)


def test_offsets_lead_back_to_the_original_characters() -> None:
    # given
    original = "Well... I want to K-I-L-L myself!!"
    result = tracked(original)
    start = result.text.index("k i l l")
    # when
    first, last = result.original_span(start, start + len("k i l l myself"))
    # then
    assert original[first:last] == "K-I-L-L myself"


def test_offsets_survive_characters_that_expand_or_vanish() -> None:
    # given
    original = "ﬁne stra\u200bße kïll"
    result = tracked(original)
    start = result.text.index("kill")
    # when
    first, last = result.original_span(start, start + 4)
    # then
    assert original[first:last] == "kïll"
