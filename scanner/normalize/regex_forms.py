"""Cheaper regexes that match exactly like a terminal's regex where the derived parser embeds it.

The derived parser (:mod:`scanner.normalize.lark_regex`) embeds every terminal's
regex in one large regex. Python's ``re`` pays there for each capturing group (at
every branch and repeat of the whole regex), and for every repeat of a group
(``(?:...)?``, ``(?:...)*``): each try of its body saves all the capture marks set
so far, so it costs in proportion to the derived regex's groups (measured by
``bench/derived_regex_cost.py``). :func:`embeddable` and :func:`atomic` give the
forms that avoid those costs and match the same text, with the same backtracking.
"""

from __future__ import annotations

import re._constants as C  # noqa: N812 -- the stdlib's own opcode table
import re._parser as sre_parse

_ONE_CHAR = (C.LITERAL, C.NOT_LITERAL, C.ANY, C.IN)
_ONE_WAY = (*_ONE_CHAR, C.AT, C.ASSERT, C.ASSERT_NOT)
_TAIL_TEXTS = (".*(?:\\n.*)*", ".*(?:\n.*)*")  # as written, and with Lark's escape resolved


def embeddable(regexp: str) -> str:
    """``regexp`` with every plain group ``(...)`` made ``(?:...)`` and every optional
    group ``(?:X)?`` made the branch ``(?:X|)``, matching the same text.

    Nothing reads a terminal's inner groups (backreferences are refused). A greedy
    ``(?:X)?`` tries ``X`` and then nothing, as ``(?:X|)`` does, backtracking alike;
    the branch saves no marks (outside a repeat), the repeat does. Lazy ``??`` and
    possessive ``?+`` stay as written.
    """
    out: list[str] = []
    opened: list[bool] = []  # per open group: whether it is a plain or (?:) group
    i, in_class = 0, False
    while i < len(regexp):
        char = regexp[i]
        if char == "\\":
            out.append(regexp[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            # a "]" right after "[" or "[^" is a literal member of the class
            close = i + 2 if regexp.startswith("^", i + 1) else i + 1
            if regexp.startswith("]", close):
                out.append(regexp[i:close + 1])
                i = close + 1
                continue
        elif char == "(":
            plain = not regexp.startswith("?", i + 1)
            opened.append(plain or regexp.startswith("?:", i + 1))
            char = "(?:" if plain else char
        elif char == ")" and opened.pop() and _greedy_optional(regexp, i + 1):
            char = "|)"
            i += 1  # the "?"
        out.append(char)
        i += 1
    return "".join(out)


def _greedy_optional(regexp: str, at: int) -> bool:
    """Whether a greedy ``?`` (not ``??`` nor ``?+``) stands at ``regexp[at]``."""
    return regexp.startswith("?", at) and not regexp.startswith(("??", "?+"), at)


def atomic(regexp: str) -> str:
    """A regex matching at each position exactly what ``(?>regexp)`` matches there.

    Two forms have a cheaper equivalent, found on the stdlib's own parse of
    ``regexp`` (``re._parser``), so the text rewritten is exactly what ``re`` reads:

    * a run of single characters and lookarounds ending in a greedy repeat of one
      character set (``\\d+``, ``[^\\s:]+``, ``\\d{1,3}``, ``x=\\S+``, ``(?!root)\\S+``):
      what comes before it matches one way, its first match is its longest and
      nothing follows it in the group, so the atomic group keeps that longest match;
      the possessive ``\\d++`` is the same;
    * a sequence ending in ``.*(?:\\n.*)*`` (the rest of the text, line breaks and
      all): the greedy first try of that tail takes everything to the end of the
      text and, as it ends the group, is the one kept; ``(?s:.*)`` takes the same
      text without a repeated group (possessive and bare after a one-way start).
    """
    items = list(sre_parse.parse(regexp).data)  # Lark compiled it: it parses
    if not items:
        return f"(?>{regexp})"
    if (_is_greedy_char_repeat(items[-1]) and _one_way(items[:-1])
            and regexp.endswith(("+", "*", "}"))):
        return regexp + "+"
    if _ends_with_rest_of_text(items):
        for tail in _TAIL_TEXTS:
            if regexp.endswith(tail):
                head = regexp[:-len(tail)]
                if _one_way(items[:-2]):
                    return f"{head}(?s:.*+)"
                return f"(?>{head}(?s:.*))"
    return f"(?>{regexp})"


def _one_way(items: list[tuple[object, object]]) -> bool:
    """Each of ``items`` matches in one way only: one character, an anchor or a lookaround
    (which ``re`` never backtracks into)."""
    return all(op in _ONE_WAY for op, _av in items)


def _is_greedy_char_repeat(item: tuple[object, object]) -> bool:
    """``item`` is a greedy repeat of a single-character item, e.g. ``[^\\s:]+``."""
    if item[0] is not C.MAX_REPEAT:
        return False
    _low, _high, sub = item[1]  # type: ignore[misc]
    return len(sub) == 1 and sub[0][0] in _ONE_CHAR


def _ends_with_rest_of_text(items: list[tuple[object, object]]) -> bool:
    """``items`` ends with ``.*`` then ``(?:\\n.*)*``, both greedy and unbounded."""
    if len(items) < 2:
        return False
    dots, lines = items[-2], items[-1]
    body = _star_body(lines)
    return (_star_body(dots) == [(C.ANY, None)] and body is not None and len(body) == 2
            and body[0] == (C.LITERAL, ord("\n")) and _star_body(body[1]) == [(C.ANY, None)])


def _star_body(item: tuple[object, object]) -> list[tuple[object, object]] | None:
    """The items ``X`` of a greedy unbounded ``X*``; ``None`` for anything else."""
    if item[0] is not C.MAX_REPEAT:
        return None
    low, high, sub = item[1]  # type: ignore[misc]
    return list(sub) if (low, high) == (0, C.MAXREPEAT) else None
