"""bench/relaxed_regex.py: the relaxed Rust form of every derived grammar regex compiles in
Polars, keeps none of the constructs Rust's ``regex`` lacks, accepts every text the exact regex
accepts, and is not exact (a conditional relaxed into an alternation takes another way). No
timing is asserted."""

from __future__ import annotations

import re
import sys

import polars as pl
import pytest

from conftest import FIXTURES, REPO
from scanner.normalize.grammars import load_grammar
from scanner.resources import grammars_dir

sys.path.insert(0, str(REPO / "bench"))  # bench/ holds scripts, not a package
from parse_floor import polars_compile, python_only  # noqa: E402
from relaxed_regex import messages, relaxed  # noqa: E402

DERIVED = [path.stem for path in sorted(grammars_dir().glob("*.lark"))
           if load_grammar(path.stem)._fast is not None]


def python_form(rust: str) -> str:
    """A relaxed regex as Python's ``re`` reads it (its end of text ``\\Z``)."""
    return rust.replace("\\z", "\\Z")


def exact(name: str) -> re.Pattern[str]:
    fast = load_grammar(name)._fast
    assert fast is not None
    return fast.pattern


@pytest.mark.parametrize("name", DERIVED)
def test_the_relaxed_regex_has_only_what_rust_reads(name: str) -> None:
    rust = relaxed(exact(name).pattern)
    assert not python_only(python_form(rust))  # re's own parse finds none of those constructs
    assert "\\Z" not in rust
    polars_compile(f"^(?:{rust})")


@pytest.mark.parametrize("name", DERIVED)
def test_the_relaxed_regex_accepts_what_the_exact_one_accepts(name: str) -> None:
    """Relaxing only widens: every fixture line or syslog message the exact regex accepts, the
    relaxed one (in Python's ``re``) accepts too."""
    pattern = exact(name)
    loose = re.compile(f"(?:{python_form(relaxed(pattern.pattern))})")
    texts = [line.rstrip("\n") for path in sorted((FIXTURES / "formats").glob("*.log"))
             for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    texts += messages(sorted((FIXTURES / "formats").glob("syslog*.log")),
                      {"sshd", "sudo", "su", "CRON", "systemd-logind", "useradd", "usermod"})
    accepted = [text for text in texts if pattern.match(text)]
    assert accepted and all(loose.match(text) for text in accepted)


def test_the_relaxed_regex_is_not_exact() -> None:
    """An empty user: Lark's lexer finds no user token, so the grammar's other way (its marker)
    parses the message; relaxed, the alternation's first way accepts it without the marker."""
    text = "input_userauth_request: invalid user  [preauth]"
    match = exact("sshd").match(text)
    assert match is not None and "" in match.groupdict().values()
    rust = f"^(?:{relaxed(exact('sshd').pattern)})"
    column = pl.Series([text], dtype=pl.String)
    assert column.str.contains(rust).item()
    assert set(column.str.extract_groups(rust).item().values()) == {None}
