"""``may_overlap``: ``False`` only when two terminals provably cannot start at the same place."""

from __future__ import annotations

import pytest
from lark.lexer import PatternRE, PatternStr, TerminalDef

from scanner.normalize.regex_overlap import may_overlap


def _term(spec: str) -> TerminalDef:
    """``"text"`` or ``"text"i`` is a literal, ``/re/`` or ``/re/i`` a regex."""
    body, flags = spec[1:spec.rindex(spec[0])], frozenset(spec[spec.rindex(spec[0]) + 1:])
    pattern = PatternStr(body, flags) if spec[0] == '"' else PatternRE(body, flags)
    return TerminalDef("T", pattern)


# (a, b, may they both match at one position?)
PAIRS = [
    ('"Failed "', '"Accepted "', False),
    ('"Failed "', '"Failed password "', True),
    ('"port"', '"PORT"i', True),
    ('"port"', '"PORT"', False),
    ("/\\d+/", '"port"', False),
    ("/\\S+/", '"invalid user "', True),
    ("/[a-z]+/", '"Port"', False),
    ("/[a-z]+/i", '"Port"', True),
    ("/(?!invalid )[^\\s()]+/", '"invalid user "', True),  # lookaheads are ignored: "maybe"
    ("/ +ssh2/", "/ *\\[preauth\\]/", True),
    ("/x?y/", '"y"', True),
    ("/x?y/", '"z"', False),
    ("/(ab|cd)+/", '"c"', True),
    ("/(ab|cd)+/", '"e"', False),
    ("/[^a]/", '"a"', False),
    ("/\\w+/", "/\\s+/", True),  # two infinite sets: not compared, assumed to overlap
    ("/(a)?\\1c/", '"b"', True),  # a backreference first: unmodelled, assumed to overlap
]


@pytest.mark.parametrize(("a", "b", "expected"), PAIRS)
def test_may_overlap(a: str, b: str, expected: bool) -> None:
    assert may_overlap(_term(a), _term(b)) is expected
    assert may_overlap(_term(b), _term(a)) is expected
