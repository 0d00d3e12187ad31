"""Terminals rewritten for speed match exactly what their plain forms matched.

Some terminals of ``grammars/*.lark`` are written with possessive quantifiers or
unrolled loops instead of their plain, slower form (``(?:[^"\\\\]|\\\\.)+`` costs one
regex branch per character). Each row names a terminal and the plain regex it
replaced; at every position of every fixture line, and of seeded mutations of the
lines full of the characters these terminals care about, both must match the same
span (or both fail).
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from lark import Lark

from scanner.resources import grammars_dir

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "formats"

WEB_LOGS = ["nginx_access", "apache_access", "access_log"]
# (grammar, terminal, the plain regex it replaced, fixture logs to read)
REWRITES = [
    ("web_access", "REQUEST", r'(?s:.+?(?=" \d{3} ))', WEB_LOGS),
    ("web_access", "REFERER", r'(?:[^"\\]|\\.)+', WEB_LOGS),
    ("web_access", "USER_AGENT", r'(?:[^"\\]|\\.)+', WEB_LOGS),
    ("nginx_error", "MESSAGE", r"(?s:(?!\*\d+ ).+?(?=, client: \S+, server: |$))", ["nginx_error"]),
    ("nginx_error", "REQUEST", r'(?:[^"\\]|\\.)+', ["nginx_error"]),
    ("syslog", "PROGRAM", r"(?:[^\s\[\]:]+(?=(\[\d+\])?:( |$))|[^\s\[\]:]+(?= (\d+|-) \S+ (-|\[)))",
     ["syslog"]),
]
_NOISE = ['"', '\\', '\\"', '" 200 ', " ", "\n", ", client: a, server: ", "[", "]", ":", "[1]: ",
          " - x [", "*1 "]


def _texts(logs: list[str]) -> list[str]:
    """The fixture lines of ``logs``, each also with a newline or two at its end and with
    30 seeded insertions of noise."""
    lines = [line for log in logs
             for line in (FIXTURES / f"{log}.log").read_text(encoding="utf-8").splitlines()]
    rnd = random.Random(len(lines))
    out = [line + end for line in lines for end in ("", "\n", "\n\n")]
    for line in lines:
        for _ in range(30):
            i = rnd.randrange(len(line) + 1)
            out.append(line[:i] + rnd.choice(_NOISE) + line[i:])
    return out


@pytest.mark.parametrize(("grammar", "terminal", "plain", "logs"), REWRITES,
                         ids=[f"{g}.{t}" for g, t, _p, _l in REWRITES])
def test_rewritten_terminal_matches_like_its_plain_form(grammar: str, terminal: str, plain: str,
                                                        logs: list[str]) -> None:
    source = (grammars_dir() / f"{grammar}.lark").read_text(encoding="utf-8")
    [term] = [t for t in Lark(source, parser="lalr").terminals if t.name == terminal]
    fast, slow = re.compile(term.pattern.to_regexp()), re.compile(plain)
    assert fast.pattern != slow.pattern
    for text in _texts(logs):
        for start in range(len(text)):
            found, expected = fast.match(text, start), slow.match(text, start)
            assert (found and found.span()) == (expected and expected.span()), (text, start)
