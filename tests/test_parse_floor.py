"""bench/parse_floor.py: its recording of the records a scan parses, and its dialect check (which
constructs only Python's ``re`` has, and what Polars' Rust ``regex`` and RE2 (DuckDB's engine) really do
with them). No timing is asserted."""

from __future__ import annotations

import re
import sys
from collections import Counter

import polars as pl
import pytest
from lark import Lark

from conftest import FIXTURES, REPO
from scanner.normalize.binary import READERS
from scanner.normalize.grammars import Grammar, load_grammar
from scanner.normalize.normalizer import RouteParser
from scanner.resources import bundled_rules_dir, grammars_dir

sys.path.insert(0, str(REPO / "bench"))  # bench/ holds scripts, not a package
from parse_floor import (CONSTRUCTS, compile_error, re2_compile, polars_compile,  # noqa: E402
                         python_only, record_candidates, verdict)
from profile_scan import scan_units, scan_worker  # noqa: E402

GRAMMAR_PARSER, ROUTE_PARSE = Grammar.parser, RouteParser.parse

# (pattern, the constructs it uses)
PATTERNS = [
    (r"(?P<user>\w+) from (?P<ip>\S+)", {}),
    (r"a(?=b)c(?!d)", {"lookahead": 2}),
    (r"(?<=a)b(?<!c)", {"lookbehind": 2}),
    (r"(?>ab|a)c", {"atomic group": 1}),
    (r"a*+b++c?+d{2,3}+", {"possessive": 4}),
    (r"(a)\1(?P<n>b)(?P=n)(?(1)x|y)", {"backreference": 3}),
    (r"(?:x(?>y(?=z)[^(?=]*+)|(?<!w))", {"atomic group": 1, "lookahead": 1, "possessive": 1,
                                          "lookbehind": 1}),  # nested, and inside a class: none
    (r"\(\?=\(\?>", {}),  # escaped brackets are literals
]


@pytest.mark.parametrize(("pattern", "expected"), PATTERNS)
def test_python_only_counts_each_construct(pattern: str, expected: dict[str, int]) -> None:
    assert python_only(pattern) == Counter(expected)


@pytest.mark.parametrize("pattern", [p for p, used in PATTERNS if used])
def test_re2_refuses_every_python_only_construct(pattern: str) -> None:
    assert compile_error(re2_compile, pattern) is not None


@pytest.mark.parametrize("pattern", [p for p, used in PATTERNS
                                     if used and "possessive" not in used])
def test_rust_regex_refuses_lookarounds_atomic_groups_and_backreferences(pattern: str) -> None:
    assert compile_error(polars_compile, pattern) is not None


def test_rust_regex_compiles_a_possessive_loop_as_a_greedy_one() -> None:
    """``a*+a`` never matches in ``re`` (the loop keeps every ``a``); Rust reads ``(a*)+a``."""
    pattern = r"^(a*+a)$"
    assert re.match(pattern, "aaa") is None
    assert pl.Series(["aaa"]).str.extract(pattern).to_list() == ["aaa"]
    assert verdict(polars_compile, pattern, python_only(pattern)) == \
        "compiles, possessive read as greedy"


def test_plain_named_groups_compile_in_both_engines() -> None:
    pattern = PATTERNS[0][0]
    assert verdict(polars_compile, pattern, Counter()) == "ok"
    assert verdict(re2_compile, pattern, Counter()) == "ok"


def test_syslog_program_terminal_needs_python_re() -> None:
    """The blocker is in the grammars themselves, not only in the regexes derived from them."""
    source = (grammars_dir() / "syslog.lark").read_text(encoding="utf-8")
    program = next(t.pattern.to_regexp() for t in Lark(source, parser="lalr").terminals
                   if t.name == "PROGRAM")
    assert set(python_only(program)) & set(CONSTRUCTS)
    assert compile_error(polars_compile, program) is not None
    assert compile_error(re2_compile, program) is not None


def test_recorded_candidates_are_the_records_a_scan_parses() -> None:
    """The recording sees every record that reaches ``RouteParser.parse``: as many lines as the
    scan counts parsed or unparsed (with ``prefilter: fields`` also those it skips after parsing),
    each first given to its route's grammar; and it undoes itself."""
    worker = scan_worker([bundled_rules_dir()])
    units = scan_units(FIXTURES / "demo" / "var" / "log")
    candidates, lines = record_candidates(worker, units)
    assert (Grammar.parser, RouteParser.parse) == (GRAMMAR_PARSER, ROUTE_PARSE)
    seen: Counter[str] = Counter()
    for candidate in candidates:
        seen[candidate.route.format] += candidate.text.count("\n") + 1
        if candidate.route.grammar and candidate.fields is None:
            grammar, text = candidate.calls[0]
            assert (grammar, text) == (load_grammar(candidate.route.grammar), candidate.text)
    assert {"syslog", "nginx_access", "audit", "apt_history"} <= set(seen)
    parsed: Counter[str] = Counter()
    routes = {}
    for unit in units:
        stats = worker.scan(unit).stats
        parsed[stats.format] += stats.parsed + stats.unparsed
        routes[stats.format] = unit.choice.route
    for form, route in routes.items():
        if route.records in READERS:
            assert form not in seen
        elif route.prefilter == "raw":
            assert seen[form] == parsed[form]
        else:
            assert parsed[form] <= seen[form] <= lines[form]
