"""Rule phrases compiled to regular-expression source over the canonical form.

Phrase syntax (what schools type): words separated by spaces; ``(a|b c|)`` offers alternatives,
multi-word or empty (optional), and may touch a word (``kill(s|ed|ing|)``); a trailing ``*`` lets
the word continue (``suicid*``). Groups do not nest.

Each expansion becomes sequences of *atoms* (small regex strings) read from the padded canonical
text at a word start: every letter may repeat (``kiiilll``), ``i``/``l`` also accept ``1``, words
may be joined by one space or none ("killmyself"), and a second, spaced variant accepts one letter
at a time ("k i l l"). Every sequence ends with the space that closes the last word, so "skill"
never matches "kill". The combined matcher builds one trie from the atoms of all rules.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

from app.errors import InvalidInput
from resolvers.safeguarding.normalise import fold

MAX_PHRASE_LENGTH = 200
MAX_EXPANSIONS = 256
_ALLOWED = re.compile(r"^[\w\s'\u2019\-*()|.&+!@$]+$")
_SEPARATORS = re.compile(r"[\W_]+")
_AMBIGUOUS = {"i": "[i1]", "l": "[l1]"}
GAP = " ?"
SPACE = " "
CONTINUE = "[^ ]*"
CONTINUE_SPACED = "(?: [^ ])*"

Atoms = tuple[str, ...]


def _letter(char: str) -> str:
    return _AMBIGUOUS.get(char) or re.escape(char)


def expansions(field: str, phrase: str) -> list[str]:
    """Every plain phrase that ``phrase`` stands for; refuses malformed syntax naming ``field``."""
    text = phrase.strip()
    if not text:
        raise InvalidInput(field, f"`{field}` must not be blank.", reason="REQUIRED")
    if len(text) > MAX_PHRASE_LENGTH:
        raise InvalidInput(
            field, f"`{field}` must be at most {MAX_PHRASE_LENGTH} characters.", reason="TOO_LONG"
        )
    if not _ALLOWED.match(text):
        raise InvalidInput(
            field,
            f"`{field}` may only contain letters, digits, spaces, apostrophes, hyphens and the "
            "phrase syntax ( | ) *.",
        )
    segments: list[list[str]] = []
    literal: list[str] = []
    group: list[str] | None = None
    for char in text:
        if char == "(":
            if group is not None:
                raise InvalidInput(field, f"`{field}`: alternatives ( ) cannot be nested.")
            segments.append(["".join(literal)])
            literal, group = [], []
        elif char == ")":
            if group is None:
                raise InvalidInput(field, f"`{field}`: `)` without a matching `(`.")
            segments.append([*group, "".join(literal)])
            literal, group = [], None
        elif char == "|":
            if group is None:
                raise InvalidInput(field, f"`{field}`: `|` is only allowed inside ( ).")
            group.append("".join(literal))
            literal = []
        else:
            literal.append(char)
    if group is not None:
        raise InvalidInput(field, f"`{field}`: `(` without a matching `)`.")
    segments.append(["".join(literal)])
    count = 1
    for options in segments:
        count *= len(options)
    if count > MAX_EXPANSIONS:
        raise InvalidInput(
            field, f"`{field}` stands for {count} phrases; at most {MAX_EXPANSIONS} are allowed."
        )
    out: list[str] = []
    for parts in itertools.product(*segments):
        plain = " ".join("".join(parts).split())
        if plain and plain not in out:
            out.append(plain)
    if not out:
        raise InvalidInput(field, f"`{field}` must contain at least one word.", reason="REQUIRED")
    return out


def words(field: str, plain: str) -> list[tuple[str, bool]]:
    """Canonical words of one expansion, each with whether it may continue (``*``)."""
    out: list[tuple[str, bool]] = []
    for raw in plain.split():
        open_ended = raw.endswith("*")
        body = raw[:-1] if open_ended else raw
        if "*" in body:
            raise InvalidInput(field, f"`{field}`: `*` may only end a word, as in `suicid*`.")
        parts = [p for p in _SEPARATORS.split(fold(body)) if p]
        if not parts:
            if open_ended:
                raise InvalidInput(field, f"`{field}`: `*` must follow some letters.")
            continue
        out.extend((p, False) for p in parts[:-1])
        out.append((parts[-1], open_ended))
    if not out:
        raise InvalidInput(field, f"`{field}` must contain at least one letter or digit.")
    return out


#: Words this long ending in "ing" also match without the g, as typed ("cuttin myself"); shorter
#: ones would turn "thing" into "thin".
DROPPED_G_LENGTH = 6


def _compact(word: str, open_ended: bool) -> list[str]:
    atoms = [f"{_letter(c)}{_letter(c)}*" for c in word]
    if open_ended:
        return [*atoms, CONTINUE]
    if len(word) >= DROPPED_G_LENGTH and word.endswith("ing"):
        atoms[-1] = "(?:gg*)?"
    return atoms


def _spaced(word: str, open_ended: bool) -> list[str]:
    atoms: list[str] = []
    for position, char in enumerate(word):
        if position:
            atoms.append(SPACE)
        atoms.append(_letter(char))
    return [*atoms, CONTINUE_SPACED] if open_ended else atoms


def _variants(field: str, plain: str) -> tuple[list[list[str]], list[str]]:
    """The first word's spellings (compact, and spaced when long enough), and the atoms after
    it: ``[GAP, word, GAP, word, ..., SPACE]``, each later word one atom taking either spelling."""
    parsed = words(field, plain)
    rest: list[str] = []
    for word, open_ended in parsed[1:]:
        compact = "".join(_compact(word, open_ended))
        if len(word) > 1:
            compact = f"(?:{compact}|{''.join(_spaced(word, open_ended))})"
        rest.extend((GAP, compact))
    rest.append(SPACE)
    first, open_ended = parsed[0]
    variants = [_compact(first, open_ended)]
    # "a b" spelled out is ordinary text, not an obfuscated word
    if len(first) > 1 and sum(len(word) for word, _ in parsed) >= 3:
        variants.append(_spaced(first, open_ended))
    return variants, rest


def sequences(field: str, phrase: str) -> list[Atoms]:
    """Atom sequences for every expansion of ``phrase``.

    The first word gets separate compact and spaced sequences (so a trie can branch on its first
    letter); each later word is one atom accepting either spelling ("k i l l myself")."""
    out: list[Atoms] = []
    for plain in expansions(field, phrase):
        variants, rest = _variants(field, plain)
        for variant in variants:
            candidate = (*variant, *rest)
            if candidate not in out:
                out.append(candidate)
    return out


def prefixes(field: str, phrase: str) -> list[Atoms]:
    """The sequences cut after their first two words: what the combined pass looks for. Every
    text a sequence matches starts with one of these, so the pass finds every match, while the
    combined pattern stays far smaller than one holding every word of every expansion."""
    out: list[Atoms] = []
    for plain in expansions(field, phrase):
        variants, rest = _variants(field, plain)
        tail = rest if len(rest) <= 3 else rest[:2]  # [GAP, second word] or the whole rest
        for variant in variants:
            candidate = (*variant, *tail)
            if candidate not in out:
                out.append(candidate)
    return out


KEY_LENGTH = 3


def _skeleton(chars: Iterable[str], length: int) -> str:
    out: list[str] = []
    for char in chars:
        if char == " ":
            continue
        folded = "1" if char in "il1" else char
        if not out or out[-1] != folded:
            out.append(folded)
            if len(out) == length:
                break
    return "".join(out)


def bucket_key(canonical: str, start: int) -> str:
    """The bucket of a position in canonical text: its first letters ignoring spaces, repeats
    and the i/l/1 ambiguity. A rule can only match where its own key is a prefix of this."""
    out: list[str] = []
    for index in range(start, len(canonical)):
        char = canonical[index]
        if char == " ":
            continue
        folded = "1" if char in "il1" else char
        if not out or out[-1] != folded:
            out.append(folded)
            if len(out) == KEY_LENGTH:
                break
    return "".join(out)


def rule_keys(field: str, phrase: str) -> set[str]:
    """The bucket keys of ``phrase``: shorter than ``KEY_LENGTH`` when an open-ended first word
    leaves the next letter unknown."""
    keys = set()
    for plain in expansions(field, phrase):
        parsed = words(field, plain)
        first, open_ended = parsed[0]
        letters = first if open_ended else "".join(word for word, _ in parsed)
        keys.add(_skeleton(letters, KEY_LENGTH))
    return keys


class _Node:
    __slots__ = ("children", "terminal")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.terminal = False


def trie_source(all_sequences: Iterable[Atoms]) -> str:
    """One regex for every sequence: a trie, so each step tries only atoms that share a prefix."""
    root = _Node()
    for atoms in all_sequences:
        node = root
        for atom in atoms:
            node = node.children.setdefault(atom, _Node())
        node.terminal = True
    return _emit(root)


def _emit(node: _Node) -> str:
    # Iterative post-order: a 5,000-rule trie is deep enough to make recursion fragile.
    built: dict[int, str] = {}
    stack: list[tuple[_Node, bool]] = [(node, False)]
    while stack:
        current, expanded = stack.pop()
        if not expanded:
            stack.append((current, True))
            stack.extend((child, False) for child in current.children.values())
            continue
        branches = [atom + built.pop(id(child)) for atom, child in current.children.items()]
        if current.terminal and branches:
            branches.append("")
        if not branches:
            built[id(current)] = ""
        elif len(branches) == 1:
            built[id(current)] = branches[0]  # alternatives below are already grouped
        else:
            built[id(current)] = "(?:" + "|".join(branches) + ")"
    return built[id(node)]


__all__ = [
    "KEY_LENGTH",
    "MAX_EXPANSIONS",
    "MAX_PHRASE_LENGTH",
    "Atoms",
    "bucket_key",
    "expansions",
    "prefixes",
    "rule_keys",
    "sequences",
    "trie_source",
    "words",
]
