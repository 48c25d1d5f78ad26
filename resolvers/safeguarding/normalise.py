"""Text normalisation for detection: one canonical form for text and for rule phrases.

The canonical form is lower case, without accents, with unambiguous leetspeak decoded
(``0 3 4 5 7 8 9 @ $`` become ``o e a s t b g a s``), with ``!``/``|`` inside a word turned into
``1`` (which phrases read as either ``i`` or ``l``), and with every run of separators reduced to
one space. Padding it with a space on each side makes every word boundary a literal space, so the
matcher needs no look-around. Repeated and spaced-out letters are left in place: the compiled
phrase patterns accept them (see :mod:`resolvers.safeguarding.detect_patterns`), which keeps
"weed" from matching "wed" the way collapsing letters would.

:func:`padded` is the fast form used on every input; :func:`tracked` builds the same string with
a map back to the original offsets, and only runs when a text has a candidate match.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_LEET = {"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a", "$": "s"}
# Look-alike letters from other scripts, used to dodge keyword lists ("кill").
_LOOK_ALIKES = "авекмнорстухіјѕԁԛԝαεικνορτυχ"
_HOMOGLYPHS = dict(zip(_LOOK_ALIKES, "abekmhopctyxijsdqwaeikvoptux", strict=True))
# Invisible characters inserted inside words to break keyword matching.
_INVISIBLE = {"\u00ad": "", "\u200b": "", "\u200c": "", "\u200d": "", "\u2060": "", "\ufeff": ""}
_TABLE = str.maketrans({**_LEET, **_HOMOGLYPHS, **_INVISIBLE})
_BANG = re.compile(r"[!|](?=[^\W_])")
_SEPARATORS = re.compile(r"[\W_]+")


@lru_cache(maxsize=8192)
def fold_char(char: str) -> str:
    """One original character in canonical form: possibly empty, possibly several characters."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", char).casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.translate(_TABLE)


def fold(text: str) -> str:
    """Case, accents, look-alikes and leetspeak folded; separators untouched."""
    # ASCII: NFKD is the identity and casefold is lower
    ascii_only = text.isascii()
    folded = text.lower().translate(_TABLE) if ascii_only else "".join(map(fold_char, text))
    if "!" in folded or "|" in folded:
        folded = _BANG.sub("1", folded)
    return folded


# ASCII text (most of it) takes one translation: leetspeak, and every separator to a space,
# except ! and | which only the next character can decide.
_ASCII_TABLE = str.maketrans(
    {
        **{chr(c): " " for c in range(128) if not chr(c).isalnum() and chr(c) not in "!|"},
        **_LEET,
    }
)


def padded(text: str) -> str:
    """The canonical form with one space before, after and between words."""
    if not text.isascii():
        return _SEPARATORS.sub(" ", f" {fold(text)} ")
    folded = text.lower().translate(_ASCII_TABLE)
    if "!" in folded or "|" in folded:
        folded = _BANG.sub("1", folded).replace("!", " ").replace("|", " ")
    words = folded.split()
    return f" {' '.join(words)} " if words else " "


def normalise(text: str) -> str:
    """The canonical form of ``text`` (what phrases and text are compared in)."""
    return padded(text)[1:-1]


@dataclass(frozen=True, slots=True)
class Tracked:
    """``padded(original)`` with, for each of its characters, the original span it came from."""

    original: str
    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original ``[start, end)`` that produced canonical ``text[start:end]``."""
        return self.starts[start], self.ends[end - 1]


def tracked(original: str) -> Tracked:
    """The same string as :func:`padded`, built character by character to keep offsets."""
    size = len(original)
    if original.isascii():  # one character for one: the offsets are the positions
        folded = f" {original.lower().translate(_TABLE)} "
        starts = [0, *range(size), size]
        ends = [0, *range(1, size + 1), size]
    else:
        pieces: list[str] = [" "]
        starts = [0]
        ends = [0]
        for index, char in enumerate(original):
            piece = fold_char(char)
            pieces.append(piece)
            starts.extend([index] * len(piece))
            ends.extend([index + 1] * len(piece))
        pieces.append(" ")
        starts.append(size)
        ends.append(size)
        folded = "".join(pieces)
    if "!" in folded or "|" in folded:
        folded = _BANG.sub("1", folded)  # one character for one: offsets still line up
    out: list[str] = []
    out_starts: list[int] = []
    out_ends: list[int] = []
    position = 0
    for run in _SEPARATORS.finditer(folded):
        out.append(folded[position : run.start()])
        out_starts.extend(starts[position : run.start()])
        out_ends.extend(ends[position : run.start()])
        out.append(" ")
        out_starts.append(starts[run.start()])
        out_ends.append(ends[run.end() - 1])
        position = run.end()
    out.append(folded[position:])
    out_starts.extend(starts[position:])
    out_ends.extend(ends[position:])
    return Tracked(original, "".join(out), tuple(out_starts), tuple(out_ends))


__all__ = ["Tracked", "fold", "fold_char", "normalise", "padded", "tracked"]
