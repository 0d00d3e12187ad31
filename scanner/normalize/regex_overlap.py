"""Decide cheaply whether two lexer terminals can both match at the same position.

The fast path (:mod:`scanner.normalize.lark_regex`) guards each token with a
negative lookahead over the terminals Lark's lexer would try first; a guard is
only needed for terminals that can start where this one starts. This module
answers that question conservatively: ``False`` only when it is proven (two
literals neither of which is a prefix of the other, or disjoint sets of first
characters); ``True`` whenever it cannot tell. It reads patterns with the
stdlib's own regex parser (``re._parser``), so it sees exactly what ``re`` sees.
"""

from __future__ import annotations

import re
import re._constants as C  # noqa: N812 -- the stdlib's own opcode table
import re._parser as sre_parse
from collections.abc import Callable, Iterable

from lark.lexer import PatternStr, TerminalDef

CharTest = Callable[[str], bool]

_CATEGORY_RE = {
    C.CATEGORY_DIGIT: re.compile(r"\d"), C.CATEGORY_NOT_DIGIT: re.compile(r"\D"),
    C.CATEGORY_SPACE: re.compile(r"\s"), C.CATEGORY_NOT_SPACE: re.compile(r"\S"),
    C.CATEGORY_WORD: re.compile(r"\w"), C.CATEGORY_NOT_WORD: re.compile(r"\W"),
}
_MAX_ENUMERATED = 256  # widest character range enumerated as a finite first set


def may_overlap(a: TerminalDef, b: TerminalDef) -> bool:
    """Whether some text lets both terminals match at its start (``True`` when unsure)."""
    if isinstance(a.pattern, PatternStr) and isinstance(b.pattern, PatternStr):
        return _literals_overlap(a.pattern, b.pattern)
    first_a, first_b = _first_items(a), _first_items(b)
    if first_a is None or first_b is None:
        return True
    for finite, other in ((first_a, first_b), (first_b, first_a)):
        chars = _enumerate(finite)
        if chars is not None:
            return any(_accepts(item, ignore_case, c) for c in chars for item, ignore_case in other)
    return True


def _literals_overlap(a: PatternStr, b: PatternStr) -> bool:
    x, y = a.value, b.value
    if "i" in a.flags or "i" in b.flags:
        x, y = x.casefold(), y.casefold()
    return x.startswith(y) or y.startswith(x)


Item = tuple[tuple[object, object], bool]  # (sre opcode item, ignore-case)


def _first_items(term: TerminalDef) -> list[Item] | None:
    """The single-character items a match can start with; ``None`` when unknown."""
    try:
        parsed = sre_parse.parse(term.pattern.to_regexp())
    except re.error:
        return None
    items: list[Item] = []
    nullable = _collect(parsed.data, bool(parsed.state.flags & re.IGNORECASE), items)
    return None if nullable is None or nullable else items


def _collect(seq: Iterable[tuple[object, object]], ignore_case: bool,
             out: list[Item]) -> bool | None:
    """Append the first items of ``seq`` to ``out``; return whether it can match empty.

    ``None`` means the sequence holds a construct this module does not model.
    """
    for op, av in seq:
        if op in (C.LITERAL, C.NOT_LITERAL, C.ANY, C.IN):
            out.append(((op, av), ignore_case))
            return False
        if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            continue  # zero-width: skipping a constraint only widens the set
        if op is C.SUBPATTERN:
            _group, add, delete, sub = av  # type: ignore[misc]
            flag = (ignore_case or bool(add & re.IGNORECASE)) and not delete & re.IGNORECASE
            nullable = _collect(sub, flag, out)
        elif op is C.ATOMIC_GROUP:
            nullable = _collect(av, ignore_case, out)  # type: ignore[arg-type]
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            low, _high, sub = av  # type: ignore[misc]
            inner = _collect(sub, ignore_case, out)
            nullable = None if inner is None else (low == 0 or inner)
        elif op is C.BRANCH:
            branches = av[1]  # type: ignore[index]
            results = [_collect(branch, ignore_case, out) for branch in branches]
            nullable = None if None in results else any(results)
        else:
            return None
        if nullable is None or not nullable:
            return nullable
    return True


def _enumerate(items: list[Item]) -> set[str] | None:
    """All first characters when every item is a small finite set, else ``None``."""
    chars: set[str] = set()
    for (op, av), ignore_case in items:
        if op is C.LITERAL:
            chars.add(chr(av))  # type: ignore[arg-type]
        elif op is C.IN:
            for sub_op, sub_av in av:  # type: ignore[attr-defined]
                if sub_op is C.LITERAL:
                    chars.add(chr(sub_av))
                elif sub_op is C.RANGE and sub_av[1] - sub_av[0] <= _MAX_ENUMERATED:
                    chars.update(map(chr, range(sub_av[0], sub_av[1] + 1)))
                else:
                    return None
        else:
            return None
        if ignore_case:
            chars |= {v for c in list(chars) for v in (c.lower(), c.upper(), c.casefold())}
    return chars


def _accepts(item: tuple[object, object], ignore_case: bool, char: str) -> bool:
    """Whether the single-character ``item`` may match ``char``."""
    variants = {char, char.lower(), char.upper(), char.casefold()} if ignore_case else {char}
    return any(_accepts_exactly(item, c) for c in variants)


def _accepts_exactly(item: tuple[object, object], char: str) -> bool:
    op, av = item
    if op is C.LITERAL:
        return chr(av) == char  # type: ignore[arg-type]
    if op is C.NOT_LITERAL:
        return chr(av) != char  # type: ignore[arg-type]
    if op is C.ANY:
        return True
    negate = False
    hit = False
    for sub_op, sub_av in av:  # type: ignore[attr-defined]
        if sub_op is C.NEGATE:
            negate = True
        elif sub_op is C.LITERAL:
            hit = hit or chr(sub_av) == char
        elif sub_op is C.RANGE:
            hit = hit or sub_av[0] <= ord(char) <= sub_av[1]
        elif sub_op is C.CATEGORY and sub_av in _CATEGORY_RE:
            hit = hit or bool(_CATEGORY_RE[sub_av].match(char))
        else:
            return True  # unmodelled set member: assume it may match
    return hit != negate
