"""Prefilter: literal choice tables, the RE2 literal index, and soundness on real lines."""

from __future__ import annotations

import bz2
import gzip
import lzma
import random
import re
from pathlib import Path
from typing import Iterator

import pytest

from scanner.errors import Problems
from scanner.match.matcher import Matcher, Plan
from scanner.match.prefilter import LiteralFinder, LiteralIndex, all_of, any_of, leaf_literals, required_literals
from scanner.model import Event, LogSource
from scanner.rules.load import CompiledRules, load_rules

RULES = Path(__file__).parent / "rules"


@pytest.mark.parametrize("chunks,expected", [
    (["/etc/shadow"], {"/etc/shadow"}),
    (["cat ", "/ETC/Shadow"], {"/etc/shadow"}),      # longest chunk, lower-cased
    (["ab"], None),                                  # too short
    (["password"], None),                            # stop-listed
    (["password", "/dev/tcp"], {"/dev/tcp"}),        # stop-listed chunk skipped
    ([], None),                                      # empty string or only wildcards
    (["σφάλμα"], None),                              # lower() of sigma depends on context
], ids=["one", "longest", "short", "stop", "skip-stop", "none", "sigma"])
def test_leaf_literals(chunks: list[str], expected: set[str] | None) -> None:
    assert leaf_literals(chunks) == (None if expected is None else frozenset(expected))


A, B, C = frozenset({"alpha"}), frozenset({"beta", "gamma"}), frozenset({"longer-literal"})


@pytest.mark.parametrize("children,expected", [
    ([A, B], A | B), ([A, None], None), ([], None),
], ids=["union", "unknown-child", "empty"])
def test_any_of(children: list[frozenset[str] | None], expected: frozenset[str] | None) -> None:
    assert any_of(children) == expected


@pytest.mark.parametrize("children,expected", [
    ([A, B], A), ([B, None], B), ([None, None], None), ([A, C], C),
    ([frozenset({"200"}), B], B), ([frozenset({"200"}), None], frozenset({"200"})),
], ids=["fewest", "known-child", "all-unknown", "longest", "words-before-a-number", "number-alone"])
def test_all_of(children: list[frozenset[str] | None], expected: frozenset[str] | None) -> None:
    assert all_of(children) == expected


def test_literal_index_finds_owners_of_literals() -> None:
    index = LiteralIndex([frozenset({"wget ", "curl "}), frozenset({"curl "}), frozenset({"nc -e"})])
    assert index.owners("x curl http://a") == {0, 1}
    assert index.owners("x nc -e /bin/sh and wget ") == {0, 2}
    assert index.owners("nothing here") == set()
    assert index.owners("lone surrogate \udcff curl ") == {0, 1}
    assert LiteralIndex([]).owners("anything") == set()


@pytest.mark.parametrize(("text", "pos", "expected"), [
    (b"x curl http://a", 0, 2),
    (b"x curl http://a curl", 3, 16),
    (b"wget curl", 0, 0),
    (b"nothing here", 0, -1),
    (b"curl", 4, -1),
    ("\u00e9 nc -e".encode(), 0, 3),  # byte offsets, past a two-byte character
], ids=["first", "from-pos", "at-start", "none", "pos-at-end", "byte-offset"])
def test_literal_finder_gives_the_byte_offset_of_the_next_literal(text: bytes, pos: int,
                                                                  expected: int) -> None:
    # Also the guard on the google-re2 binding calls the finder makes below the wrapper.
    assert LiteralFinder({"wget ", "curl", "nc -e"}).next_at(text, pos) == expected
    assert LiteralFinder(set()).next_at(text, pos) == -1


def test_required_literals_by_rule_id() -> None:
    literals = required_literals(load_rules([RULES], Problems()))
    assert literals["0b0e8b0e-0000-4000-8000-00000000aa01"] == frozenset({"failed password for"})
    web = next(v for k, v in literals.items() if k.startswith("noid-"))
    assert web == frozenset({"/login"})  # sc-status: 200 is a number: no literal


def test_candidates_are_falsy_when_no_literal_occurs() -> None:
    compiled = load_rules([RULES], Problems())
    plan = Matcher(compiled).plan([compiled.rules[0].logsource])
    assert not plan.candidates("Accepted publickey for bob")
    assert plan.candidates("FAILED PASSWORD FOR bob")
    assert Matcher(compiled, prefilter=False).plan([compiled.rules[0].logsource]).candidates("x")


def _lines(path: Path) -> Iterator[str]:
    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(path.suffix, open)
    with opener(path, "rb") as handle:  # type: ignore[operator]
        for line in handle:
            yield line.decode("utf-8", "replace").rstrip("\n")


def _text_logs(corpus: Path) -> Iterator[Path]:
    inventory = (corpus / "INVENTORY.tsv").read_text(encoding="utf-8").splitlines()[1:]
    for row in inventory:
        path, _, lines, *_ = row.split("\t")
        name = Path(path).name.upper()
        if lines and not name.startswith(("LICENSE", "COPYING", "SOURCE", "README", "NOTICE")):
            yield corpus / path


def _hits(plan: Plan, event: Event) -> list[str]:
    candidates = plan.candidates(event.raw)
    return sorted(r.id for r in plan.match(event, candidates)) if candidates else []


def test_prefilter_is_sound_on_corpus_lines_with_keyword_rules(corpus: Path) -> None:
    """Every corpus log line, under every keyword rule's logsource: same hits with and without."""
    everything = load_rules([corpus / "sigmahq"], Problems())
    keyword_rules = tuple(c for c in everything.compiled if "f.get(" not in c.code.expression)
    compiled = CompiledRules(keyword_rules, ())
    sources = tuple({c.info.logsource for c in keyword_rules})
    plans = [Matcher(compiled, prefilter=flag).plan(sources) for flag in (True, False)]
    lines = hits = skipped = 0
    for path in _text_logs(corpus):
        for number, raw in enumerate(_lines(path), 1):
            event = Event(str(path), number, "raw", sources, {}, raw)
            found = [_hits(plan, event) for plan in plans]
            assert found[0] == found[1], f"{path}:{number}: {raw!r}"
            lines, hits = lines + 1, hits + len(found[0])
            skipped += not plans[0].candidates(raw)
    assert len(keyword_rules) >= 30 and lines > 40_000 and hits > 0
    print(f"{lines} lines, {hits} hits, {skipped} ruled out by the prefilter")
    assert skipped > lines // 2  # the prefilter rules out most lines


LEAF = re.compile(r"str_(eq|startswith|endswith|contains)\(f\.get\('([^']+)', MISSING\), '([^'\\]*)'")


def _synthetic_events(compiled: CompiledRules, count: int) -> Iterator[Event]:
    """Events built from the rules' own field values, so that many of them hit."""
    pool: dict[LogSource, dict[str, list[str]]] = {}
    for rule in compiled.compiled:
        fields = pool.setdefault(rule.info.logsource, {})
        for kind, name, value in LEAF.findall(rule.code.expression):
            padded = {"eq": value, "startswith": value + "/x", "endswith": "/x" + value,
                      "contains": "a " + value + " z"}[kind]
            fields.setdefault(name, []).append(padded.upper())
    rng = random.Random(20261125)
    sources = sorted(pool, key=str)
    for number in range(count):
        logsource = rng.choice(sources)
        choices = pool[logsource]
        names = rng.sample(sorted(choices), min(len(choices), rng.randint(1, 4)))
        fields = {name: rng.choice(choices[name]) for name in names}
        raw = " ".join(f"{k}={v}" for k, v in fields.items())
        yield Event("synthetic", number, "synthetic", (logsource,), fields, raw)


def test_prefilter_is_sound_on_synthetic_events_from_corpus_rules(corpus: Path) -> None:
    compiled = load_rules([corpus / "sigmahq"], Problems())
    matchers = [Matcher(compiled, prefilter=flag) for flag in (True, False)]
    hits = 0
    for event in _synthetic_events(compiled, 3000):
        found = [_hits(m.plan(event.logsources), event) for m in matchers]
        assert found[0] == found[1], event
        hits += len(found[0])
    print(f"{hits} hits on 3000 synthetic events")
    assert hits > 300


def test_synthesized_fields_give_no_literal() -> None:
    """A rule on the message kind must not be skipped because the kind is not in the raw line."""
    from scanner.errors import Problems
    from scanner.match.matcher import Matcher
    from scanner.model import SYNTHESIZED_FIELDS, Event, LogSource
    from scanner.normalize.routes import load_routes
    from scanner.rules.load import load_rules

    constants = {key for route in load_routes().values() for extra in route.kinds.values()
                 for key in extra}
    assert constants <= SYNTHESIZED_FIELDS, "a route adds a constant field the prefilter reads"
    rule = Path(__file__).parent / "rules" / "_synth.yml"
    try:
        rule.write_text("title: kind rule\nid: 5d7c6a1e-0000-4000-8000-000000000001\n"
                        "logsource: {product: linux, service: sshd}\n"
                        "detection: {sel: {event: failed_password}, condition: sel}\n")
        compiled = load_rules([rule], Problems())
    finally:
        rule.unlink()
    sshd = LogSource(product="linux", service="sshd")
    plan = Matcher(compiled).plan([sshd])
    raw = "Feb 11 06:25:01 vps sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2"
    candidates = plan.candidates(raw)
    assert candidates
    event = Event("auth.log", 1, "syslog", (sshd,), {"event": "failed_password"}, raw)
    assert [r.title for r in plan.match(event, candidates)] == ["kind rule"]
