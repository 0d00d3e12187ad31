"""Required literals per rule, and the RE2 set that finds candidate rules in a text.

For every rule the backend derives a *required-literal set*: lower-cased
strings of which at least one occurs in the lower-cased text whenever the rule
can match, or ``None`` when no such set is known (the rule is then always
evaluated). Derivation, bottom up: a string leaf gives its longest literal run
between wildcards (at least 3 characters, not stop-listed); OR gives the union
(``None`` if any child is ``None``); AND gives its most selective child; an
integer compared for equality gives its digits (``404``); NOT, regex, CIDR,
comparisons, other numbers, booleans, null/exists, fieldref and leaves on
synthesized fields (``model.SYNTHESIZED_FIELDS``) give ``None``. Stop-listed tokens (on nearly every line of common logs) never stand
for a leaf, so an AND prefers a rarer sibling, and a rule left with only common
tokens is always evaluated rather than making every line a candidate. This is
sound over "the text given" as long as every field value a rule tests occurs in
that text verbatim (formats that decode values pass ``raw + "\\0" + values``).
:class:`LiteralIndex` compiles the literals of a plan into one ``re2.Set``;
:class:`LiteralFinder` compiles the same literals into one RE2 alternation that
finds where any of them occurs in a large lower-cased chunk of many records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import re2
from re2 import _re2

if TYPE_CHECKING:
    from scanner.rules.load import CompiledRules

Literals = frozenset[str] | None

_UNANCHORED = _re2.RE2.Anchor.UNANCHORED

MIN_LITERAL = 3
# Tokens on (nearly) every line of common Linux and web logs (speed_probe.md: `password` and
# `tty` alone made 32% of auth lines candidates), plus words that format-added constant
# fields spell but raw lines need not (`true`, `false`).
STOP_LIST: frozenset[str] = frozenset({
    "get", "post", "head", "http", "http/1.1", "http/1.0", "https", "html", ".html", ".php",
    "root", "user", "users", "password", "tty", "pts", "session", "sshd", "sudo", "cron",
    "from", "for", "port", "ssh2", "pam_unix", "opened", "closed", "true", "false", "www",
    "com", "mozilla", "mozilla/5.0", "linux", "usr", "bin", "/usr/bin/", "/bin/", "the",
    "and", "log", "type", "msg", "audit", "syscall", "uid", "pid", "exe", "comm", "success",
})


def usable(literal: str) -> bool:
    """Whether a literal may stand for its leaf: long enough, not stop-listed, lower() stable.

    Final-sigma rules make ``str.lower`` context dependent, so literals with a
    sigma are refused to keep ``lower(text) ⊇ lower(literal)`` exact.
    """
    return (len(literal) >= MIN_LITERAL and literal not in STOP_LIST
            and not {"σ", "ς", "Σ"} & set(literal))


def leaf_literals(chunks: Iterable[str]) -> Literals:
    """The best literal of a leaf whose every chunk must occur in the text."""
    candidates = [c.lower() for c in chunks if usable(c.lower())]
    return frozenset({max(candidates, key=len)}) if candidates else None


def any_of(children: Sequence[Literals]) -> Literals:
    """OR: every child must contribute, and any of their literals may occur."""
    if not children or any(c is None for c in children):
        return None
    return frozenset().union(*children)  # type: ignore[arg-type]


def all_of(children: Sequence[Literals]) -> Literals:
    """AND: the most selective child suffices: one without a bare number (a status code's
    ``200`` is on most access lines, in sizes and times too), then fewest, then longest literals."""
    known = [c for c in children if c is not None]
    return min(known, key=_cost) if known else None


def _cost(literals: frozenset[str]) -> tuple[bool, int, int]:
    return any(x.isdigit() for x in literals), len(literals), -min(len(x) for x in literals)


class LiteralIndex:
    """Which of a list of literal sets occur in a text, in one RE2 pass."""

    def __init__(self, literal_sets: Sequence[frozenset[str]]) -> None:
        self._owners: list[list[int]] = []
        positions: dict[str, int] = {}
        options = re2.Options()
        options.literal = True
        options.log_errors = False
        literal_set = re2.Set.SearchSet(options)
        for owner, literals in enumerate(literal_sets):
            for literal in sorted(literals):
                if literal not in positions:
                    positions[literal] = literal_set.Add(literal)
                    self._owners.append([])
                self._owners[positions[literal]].append(owner)
        self._match: Callable[[bytes], list[int]] | None = None
        if positions:
            literal_set.Compile()
            self._match = literal_set._set.Match  # below the wrapper: bytes in, indices out

    def owners(self, lowered: str) -> set[int]:
        """Indices of the literal sets of which some literal occurs in ``lowered``."""
        if self._match is None:
            return set()
        owners = self._owners
        return {owner for i in self._match(lowered.encode("utf-8", "surrogatepass"))
                for owner in owners[i]}


class LiteralFinder:
    """Where the next occurrence of any of a set of literals starts, in one RE2 scan."""

    def __init__(self, literals: Iterable[str]) -> None:
        self.literals = tuple(sorted(literals))
        options = re2.Options()
        options.log_errors = False
        options.max_mem = 64 << 20
        pattern = "|".join(re2.escape(literal) for literal in self.literals)
        # The compiled RE2 object below the wrapper: one call per search, byte offsets out.
        self._regex = re2.compile(pattern, options)._regexp if pattern else None

    def finds(self, text: str) -> bool:
        """Whether one of the literals occurs in ``text`` lower-cased."""
        return self.next_at(text.lower().encode("utf-8", "surrogatepass"), 0) >= 0

    def next_at(self, lowered: bytes, pos: int) -> int:
        """Byte offset of the first literal at or after ``pos`` in UTF-8 ``lowered``, else -1."""
        if self._regex is None:
            return -1
        return self._regex.Match(_UNANCHORED, lowered, pos, len(lowered))[0][0]


def required_literals(compiled: CompiledRules) -> dict[str, frozenset[str] | None]:
    """Rule id → the literals the prefilter uses for it (``None``: always evaluated)."""
    return {rule.info.id: rule.literals for rule in compiled.compiled}
