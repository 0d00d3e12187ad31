"""The grammar fast path: the regex derived from a Lark grammar parses exactly like Lark.

Table-driven grammars of our own cover each construct the derivation handles (or
refuses); every repository grammar is then checked against Lark on every fixture
line and, when the shared corpus is present, on the first 2,000 lines of each of
its text logs (plus the ``message`` field of every line a grammar parses, so the
syslog program grammars see real messages).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import random
import warnings
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import IO

import pytest

from scanner.errors import GrammarError
from scanner.normalize.grammars import Grammar, load_grammar
from scanner.resources import grammars_dir

from conftest import FIXTURES

Result = tuple[str, dict[str, str]] | None

# (construct, grammar, [(text, expected result)])
CONSTRUCTS: list[tuple[str, str, list[tuple[str, Result]]]] = [
    ("optional pieces: ?, [..] and (..)?", r"""
start: "Failed " METHOD " for " [_INVALID] USER (" port " PORT)? _TAIL? -> failed
_INVALID.2: "invalid user "
METHOD: /[a-z]+/
USER: /\S+/
PORT: /\d+/
_TAIL: / ssh2/
""", [
        ("Failed password for root", ("failed", {"method": "password", "user": "root"})),
        ("Failed password for invalid user bob port 22 ssh2",
         ("failed", {"method": "password", "user": "bob", "port": "22"})),
        ("Failed password for root ssh2", ("failed", {"method": "password", "user": "root"})),
        ("Failed password for root port x", None),
        ("Failed password for", None),
    ]),
    ("helper rules: _inlined, ?maybe-inlined and plain", r"""
start: "user=" _who " " addr " " pair -> login
_who: USER
?addr: IP | "[" IP "]"
pair: KEY "=" VALUE
USER: /\w+/
IP: /[\d.]+/
KEY: /[a-z]+/
VALUE: /\S+/
""", [
        ("user=root 10.0.0.1 tty=pts/0",
         ("login", {"user": "root", "ip": "10.0.0.1", "key": "tty", "value": "pts/0"})),
        ("user=root [10.0.0.1] a=b", ("login", {"user": "root", "ip": "10.0.0.1", "key": "a",
                                                "value": "b"})),
        ("user=root [10.0.0.1 a=b", None),
    ]),
    ("literals with regex metacharacters", r"""
start: "a.b(c)*+?[x]^$|\\" REST -> meta
REST: /.+/
""", [
        ("a.b(c)*+?[x]^$|\\tail", ("meta", {"rest": "tail"})),
        ("aXb(c)*+?[x]^$|\\tail", None),
        ("a.b(c)*+?[x]^$|", None),
    ]),
    ("terminal flags: /../i and \"..\"i", r"""
start: "get"i " " PATH " " PROTO -> request
PATH: /\S+/
PROTO: /http\/1\.[01]/i
""", [
        ("GET /index.html HTTP/1.1", ("request", {"path": "/index.html", "proto": "HTTP/1.1"})),
        ("gEt / http/1.0", ("request", {"path": "/", "proto": "http/1.0"})),
        ("GET / HTTP/2.0", None),
    ]),
    ("priorities, not grammar order, pick the terminal", r"""
start: WORD " " WORD -> plain
     | KEY " " WORD -> keyed
KEY.2: /key\d/
WORD: /\w+/
""", [
        ("key1 x", ("keyed", {"key": "key1", "word": "x"})),
        ("key12 x", None),  # KEY wins at the start, then "2 x" is not " " WORD
        ("keyx x", ("plain", {"word": "keyx"})),
    ]),
    ("alternatives sharing terminals, duplicate names: first wins", r"""
start: "Accepted " USER -> accepted
     | "Accepted " USER " from " IP -> accepted_from
     | IP " -> " IP -> relay
USER: /[^\s]+/
IP: /\d+\.\d+\.\d+\.\d+/
""", [
        ("Accepted root", ("accepted", {"user": "root"})),
        ("Accepted root from 10.0.0.1", ("accepted_from", {"user": "root", "ip": "10.0.0.1"})),
        ("10.0.0.1 -> 10.0.0.2", ("relay", {"ip": "10.0.0.1"})),
    ]),
    ("the lexer never backtracks into a terminal", r"""
start: AS A -> greedy
AS: /a+/
A: "a"
""", [
        ("aaa", None),
        ("a", None),
    ]),
    ("the lexer tries unbounded regexes before literals", r"""
start: "for " NAME -> named
     | "for " "invalid user " NAME -> invalid
NAME: /\S+/
""", [
        ("for root", ("named", {"name": "root"})),
        ("for invalid user bob", None),  # NAME takes "invalid"; a naive regex would say `invalid`
    ]),
    ("a regex token spelling a literal becomes the literal", r"""
start: WORD -> word
     | "port" -> port
     | "Port"i " " WORD -> port_word
WORD: /\w+/
""", [
        ("port", ("port", {})),
        ("ports", ("word", {"word": "ports"})),
        ("PORT x", ("port_word", {"word": "x"})),
        ("PORT", None),
    ]),
    ("%ignore terminals are skipped between tokens", r"""
start: KEY "=" VALUE -> pair
KEY: /[a-z]+/
VALUE: /\d+/
%ignore " "
""", [
        ("a=1", ("pair", {"key": "a", "value": "1"})),
        ("  a =  1 ", ("pair", {"key": "a", "value": "1"})),
        ("a=1x", None),
    ]),
    ("!rules keep literals; _X, literals and inline regexes are dropped", r"""
start: method " " _SEP? /[0-9]+/ " " NUM -> kept
!method: "GET" | "POST"
_SEP: "#"
NUM: /\d+/
""", [
        ("GET #12 34", ("kept", {"get": "GET", "num": "34"})),
        ("POST 12 34", ("kept", {"post": "POST", "num": "34"})),
    ]),
    ("LALR resolves a shift/reduce conflict by shifting", r"""
start: a b -> pair
a: "x" | "x" "y"
b: "y" | "y" "z"
""", [
        ("xyy", ("pair", {})),
        ("xyz", None),  # in the language, but the parser shifted "y" into `a`
    ]),
    ("a captured token is tried once: once it matches, later terminals are not tried", r"""
start: KEY "=" NUM -> pair
     | WORD -> word
     | NUM "/" WORD -> ratio
KEY.2: /[a-z]+/
NUM: /\d+/
WORD: /\w+/
""", [
        ("abc=1", ("pair", {"key": "abc", "num": "1"})),
        ("abc", None),  # KEY takes "abc", then "=" is missing: WORD is never tried
        ("a1", None),
        ("12/ab", ("ratio", {"num": "12", "word": "ab"})),
        ("12", None),
        ("_a1", ("word", {"word": "_a1"})),
    ]),
    ("outcomes whose last field is one token: its group or markers tell them", r"""
start: "a " X -> one
     | "a " X " b" -> two
     | "c " X _END? -> three
X: /\w+/
_END: " ."
""", [
        ("a x", ("one", {"x": "x"})),
        ("a x b", ("two", {"x": "x"})),
        ("c x", ("three", {"x": "x"})),
        ("c x .", ("three", {"x": "x"})),
        ("c x b", None),
    ]),
    ("a literal after the longer literals it begins: Lark tries those first", r"""
start: "ab" WORD -> short
     | "abc" WORD -> long
     | "abcd" -> longest
WORD: /[a-z]+/
""", [
        ("abx", ("short", {"word": "x"})),
        ("abcx", ("long", {"word": "x"})),
        ("abcd", ("longest", {})),
        ("abcdx", None),  # "abcd" is lexed, then nothing may follow
        ("abc", None),
    ]),
    ("an empty text and an optional-only grammar", r"""
start: [WORD] -> maybe
WORD: /\w+/
""", [
        ("", ("maybe", {})),
        ("x", ("maybe", {"word": "x"})),
        (" ", None),
    ]),
]


@pytest.mark.parametrize(("construct", "source", "cases"), CONSTRUCTS,
                         ids=[c[0] for c in CONSTRUCTS])
def test_fast_path_parses_each_construct_like_lark(
        construct: str, source: str, cases: list[tuple[str, Result]]) -> None:
    grammar = Grammar(construct, source)
    assert grammar.fast_path, grammar.fallback_reason
    for text, expected in cases:
        assert grammar.parse_with_lark(text) == expected, text
        assert grammar.parse(text) == expected, text


def _mutations(texts: list[str]) -> set[str]:
    """Near misses of the sample texts: prefixes, suffixes, one character dropped, pairs."""
    out = set(texts)
    for text in texts:
        out.update(text[:i] for i in range(len(text)))
        out.update(text[i:] for i in range(len(text)))
        out.update(text[:i] + text[i + 1:] for i in range(len(text)))
        out.update(text + other for other in texts)
    return out


@pytest.mark.parametrize(("construct", "source", "cases"), CONSTRUCTS,
                         ids=[c[0] for c in CONSTRUCTS])
def test_fast_path_equals_lark_on_near_misses(
        construct: str, source: str, cases: list[tuple[str, Result]]) -> None:
    grammar = Grammar(construct, source)
    for text in sorted(_mutations([text for text, _ in cases])):
        assert grammar.parse(text) == grammar.parse_with_lark(text), text


# (case, grammar, words the fallback reason contains)
FALLBACKS = [
    ("repeated rule", 'start: pair+ -> pairs\npair: KEY "=" KEY " "\nKEY: /\\w+/', "repetition"),
    ("repeated terminal", 'start: "x" NUM* -> nums\nNUM: /\\d/', "repetition"),
    ("right recursion", 'start: item -> items\nitem: "(" item ")" | "x"', "recursive"),
    ("named group in a terminal", 'start: A -> a\nA: /(?P<x>a)b/', "named groups"),
]


@pytest.mark.parametrize(("case", "source", "reason"), FALLBACKS, ids=[f[0] for f in FALLBACKS])
def test_underivable_grammars_fall_back_to_lark(case: str, source: str, reason: str) -> None:
    grammar = Grammar(case, source)
    assert not grammar.fast_path
    assert grammar.fallback_reason is not None and reason in grammar.fallback_reason
    text = {"repeated rule": "a=b c=d ", "repeated terminal": "x123",
            "right recursion": "((x))", "named group in a terminal": "ab"}[case]
    assert grammar.parse(text) == grammar.parse_with_lark(text) is not None


@pytest.mark.parametrize("source", ['start: E "a" -> x\nE: /x*/', 'start: "a" /x*/ -> x'],
                         ids=["named", "inline"])
def test_empty_matching_terminals_are_a_grammar_error(source: str) -> None:
    with pytest.raises(GrammarError, match="zero-width"):
        Grammar("empty", source)


# --- every repository grammar against Lark on real text ---------------------------

GRAMMARS = sorted(p.stem for p in grammars_dir().glob("*.lark"))
CORPUS_LINES_PER_LOG = 2000
_NOT_LOGS = ("LICENSE", "COPYING", "README", "CITATION", "AUTHORS", "NOTICE")
_DATA_SUFFIXES = {".csv", ".tsv", ".json", ".yaml", ".md", ".txt"}  # ground truth, metadata
_OPENERS: dict[str, Callable[..., IO[str]]] = {"gzip": gzip.open, "bzip2": bz2.open,
                                               "xz": lzma.open}


def _with_messages(lines: list[str]) -> tuple[str, ...]:
    """The distinct lines plus every ``message`` field a repository grammar finds in them."""
    texts = dict.fromkeys(lines)
    for name in GRAMMARS:
        grammar = load_grammar(name)
        for line in lines:
            result = grammar.parse(line)
            if result is not None and "message" in result[1]:
                texts.setdefault(result[1]["message"])
    return tuple(texts)


@cache
def _fixture_texts() -> tuple[str, ...]:
    lines = [line for path in sorted((FIXTURES / "formats").glob("*.log"))
             for line in path.read_text(encoding="utf-8").splitlines()]
    return _with_messages(lines)


@cache
def _corpus_texts(corpus: Path) -> tuple[str, ...]:
    """The first lines of every text log in the corpus inventory (decompressed; not the
    ground-truth CSVs, YAML expectations or licence and metadata files)."""
    lines: list[str] = []
    for row in (corpus / "INVENTORY.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        path, _size, line_count, compression, _kind = row.split("\t")
        name = Path(path).name
        if (not line_count or name.startswith(_NOT_LOGS) or Path(name).suffix in _DATA_SUFFIXES
                or compression == "corrupt-gz"):
            continue
        opener = _OPENERS.get(compression, open)
        with opener(corpus / path, "rt", encoding="utf-8", errors="replace") as handle:
            head = zip(range(CORPUS_LINES_PER_LOG), handle)
            lines.extend(line.rstrip("\r\n") for _, line in head)
    return _with_messages(lines)


def _mismatches(name: str, texts: tuple[str, ...]) -> list[str]:
    grammar = load_grammar(name)
    pairs = ((text, grammar.parse(text), grammar.parse_with_lark(text)) for text in texts)
    return [f"{name}: {text[:160]!r}: lark={lark} fast={fast}"
            for text, fast, lark in pairs if fast != lark]


@pytest.mark.parametrize("name", GRAMMARS)
def test_fast_path_equals_lark_on_fixture_lines(name: str) -> None:
    mismatches = _mismatches(name, _fixture_texts())
    assert not mismatches, "\n".join(mismatches[:10])


@pytest.mark.parametrize("name", GRAMMARS)
def test_fast_path_equals_lark_on_corpus_lines(name: str, corpus: Path) -> None:
    texts = _corpus_texts(corpus)
    assert len(texts) > 10_000
    mismatches = _mismatches(name, texts)
    assert not mismatches, "\n".join(mismatches[:10])


def test_repository_grammars_that_fall_back_say_why() -> None:
    fallbacks = {name: load_grammar(name).fallback_reason for name in GRAMMARS
                 if not load_grammar(name).fast_path}
    assert all(fallbacks.values())
    for name, reason in fallbacks.items():
        warnings.warn(f"grammar {name} parses with Lark: {reason}", stacklevel=1)


# --- near misses of real lines: each grammar's accepted lines, edited ---------------

MUTATED_LINES_PER_GRAMMAR = 300  # accepted lines edited per grammar, spread over its lines
EDITS_PER_LINE = 8
# what token boundaries are made of in these logs, to break or fake a token's end
_NOISE = (" ", "  ", ":", ": ", "[", "]", "[1]", "\n", "=", '"', "-", "0", "x", ";", ",", "(",
          ")", "/", ".")


def _edited(text: str, rnd: random.Random) -> str:
    """``text`` with one seeded edit: a character dropped, doubled or replaced, noise
    inserted, or the text cut; at a token boundary (a space or punctuation) half the time."""
    bounds = [i for i, c in enumerate(text) if not c.isalnum()]
    at = rnd.choice(bounds) if bounds and rnd.random() < 0.5 else rnd.randrange(len(text) + 1)
    edit = rnd.randrange(5)
    if edit == 0:
        return text[:at] + text[at + 1:]
    if edit == 1:
        return text[:at + 1] + text[at:]
    if edit == 2:
        return text[:at] + rnd.choice(_NOISE) + text[at + 1:]
    if edit == 3:
        return text[:at] + rnd.choice(_NOISE) + text[at:]
    return text[:at]


def _near_misses(name: str, texts: tuple[str, ...]) -> tuple[str, ...]:
    """Seeded edits of the texts grammar ``name`` accepts (as chosen by its fast path:
    the comparison with Lark comes after), spread over them."""
    grammar = load_grammar(name)
    accepted = [text for text in texts if grammar.parse(text) is not None]
    step = max(1, len(accepted) // MUTATED_LINES_PER_GRAMMAR)
    rnd = random.Random(name)
    return tuple(dict.fromkeys(_edited(text, rnd) for text in accepted[::step]
                               for _ in range(EDITS_PER_LINE)))


@pytest.mark.parametrize("name", GRAMMARS)
def test_fast_path_equals_lark_on_edited_fixture_lines(name: str) -> None:
    mismatches = _mismatches(name, _near_misses(name, _fixture_texts()))
    assert not mismatches, "\n".join(mismatches[:10])


@pytest.mark.parametrize("name", GRAMMARS)
def test_fast_path_equals_lark_on_edited_corpus_lines(name: str, corpus: Path) -> None:
    texts = _near_misses(name, _corpus_texts(corpus))
    mismatches = _mismatches(name, texts)
    assert not mismatches, "\n".join(mismatches[:10])
