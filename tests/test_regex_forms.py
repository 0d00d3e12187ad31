"""The cheaper forms the derived parser embeds terminal regexes in match exactly like the plain ones.

Each row gives a terminal regex, the form :mod:`scanner.normalize.regex_forms` gives
and texts; both are matched at every position of every text, alone and followed by
pieces that make ``re`` backtrack into them (or try to), and must match the same spans.
"""

from __future__ import annotations

import re

import pytest

from scanner.normalize.regex_forms import atomic, embeddable

# what may follow a token in a derived regex: nothing, the end, a character its own
# class holds or not, a lookahead, a branch
FOLLOWERS = ["", r"\Z", r"\d", "a", " ", r"(?= )", r"(?:x|\s)", r"[ \]]"]


def _same_spans(plain: str, form: str, texts: list[str]) -> None:
    for follower in FOLLOWERS:
        expected, found = re.compile(plain + follower), re.compile(form + follower)
        for text in texts:
            for start in range(len(text) + 1):
                want, got = expected.match(text, start), found.match(text, start)
                assert (want and want.span()) == (got and got.span()), (follower, text, start)


# (terminal regex, its embeddable form, texts both must match alike)
EMBEDDABLE: list[tuple[str, str, list[str]]] = [
    (r"a(b|c)?d", r"a(?:b|c|)d", ["ad", "abd", "acd", "aXd"]),
    (r"\((\d+)\)", r"\((?:\d+)\)", ["(12)", "12", "()"]),
    (r"[(]x(y)", r"[(]x(?:y)", ["(xy", "xy", "(x"]),
    (r"[]()](z)", r"[]()](?:z)", ["]z", "(z", ")z", "z"]),
    (r"[^]()]+(w)", r"[^]()]+(?:w)", ["abw", "a)w", "w"]),
    (r"[\]()](v)", r"[\]()](?:v)", ["]v", "(v", "v"]),
    (r"(?i:ab)(?=c)(?!d)(e)", r"(?i:ab)(?=c)(?!d)(?:e)", ["ABce", "abc", "abde"]),
    (r"\S.*(\n.*)*", r"\S.*(?:\n.*)*", ["x y\nz", "\n"]),
    (r"(\[\d+\])?:( |$)", r"(?:\[\d+\]|):(?: |$)", ["[1]: x", ": x", "[1]:", "[x]: ", "[1] :"]),
    (r"(a(b)?)?b", r"(?:a(?:b|)|)b", ["ab", "abb", "b", "a"]),
    (r"(?:ab)??b|(?:ab)?+b|(?i:ab)?c|\(?x", r"(?:ab)??b|(?:ab)?+b|(?i:ab)?c|\(?x",
     ["abb", "b", "ABc", "c", "(x", "x"]),
]


@pytest.mark.parametrize(("regexp", "expected", "texts"), EMBEDDABLE, ids=[u[0] for u in EMBEDDABLE])
def test_embeddable_terminal_regex_matches_the_same_text(regexp: str, expected: str,
                                                         texts: list[str]) -> None:
    assert embeddable(regexp) == expected
    assert re.compile(expected).groups == 0
    _same_spans(regexp, expected, texts)


# (terminal regex, the form of its atomic group, texts)
ATOMIC: list[tuple[str, str, list[str]]] = [
    (r"\d+", r"\d++", ["123 x", "12a", "x", "1]"]),
    (r"[^\s:]+", r"[^\s:]++", ["web01 sshd", "a:b", ":"]),
    (r"\d{1,3}", r"\d{1,3}+", ["1234", "12 ", "x"]),
    (r"x=\S*", r"x=\S*+", ["x=1 2", "x= ", "x=", "y=1"]),
    (r"(?!(?:invalid|authenticating) user )[^\s()]+",
     r"(?!(?:invalid|authenticating) user )[^\s()]++",
     ["root from", "invalid user x", "invalid users", "a(b)"]),
    (r"\S.*(?:\n.*)*", r"\S(?s:.*+)", ["msg a\nb\n", "x", " x", "a\n\nb"]),
    (r"(?:ab|c).*(?:\n.*)*", r"(?>(?:ab|c)(?s:.*))", ["ab\nx", "cd", "b"]),
    (r"\d+|-", r"(?>\d+|-)", ["12 x", "- x", "x"]),
    (r"a\d+?", r"(?>a\d+?)", ["a12", "a"]),
    (r"\S+(?:: .*|)", r"(?>\S+(?:: .*|))", ["ssh2: RSA", "ssh2"]),
]


@pytest.mark.parametrize(("regexp", "expected", "texts"), ATOMIC, ids=[a[0] for a in ATOMIC])
def test_atomic_form_matches_like_the_atomic_group(regexp: str, expected: str,
                                                   texts: list[str]) -> None:
    assert atomic(regexp) == expected
    _same_spans(f"(?>{regexp})", expected, texts)
