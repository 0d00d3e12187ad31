"""Every route's annotated samples parse as expected (one test per format).

``fixtures/formats/<format>.log`` holds records each preceded by a line
``# expect: {json}``: ``{"parsed": false}``, or a ``kind`` (the grammar alias; for
the syslog family the program grammar's alias when one matched), a subset of the
``fields`` and optionally a subset of the ``logsources``. Lines before the first
expectation are comments. A record may span several lines (multi-line formats).
Every alias of every grammar a route uses must have a sample.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scanner.model import LogSource
from scanner.normalize.normalizer import RouteParser
from scanner.normalize.records import RECORD_KINDS, assemble
from scanner.normalize.routes import Route, load_routes
from scanner.resources import grammars_dir

FORMATS = Path(__file__).resolve().parent.parent / "fixtures" / "formats"
EXPECT = "# expect: "
TEXT_ROUTES = sorted(r.format for r in load_routes().values() if r.records in RECORD_KINDS)


@dataclass(frozen=True)
class Sample:
    """One expectation and the lines of the record under it."""

    where: str
    expect: dict[str, Any]
    lines: tuple[tuple[int, str], ...]


def read_samples(path: Path) -> list[Sample]:
    """The samples of a fixture file, in order."""
    samples: list[Sample] = []
    expect: dict[str, Any] | None = None
    where, lines = "", []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if text.startswith(EXPECT):
            if expect is not None:
                samples.append(Sample(where, expect, tuple(lines)))
            expect, where, lines = json.loads(text[len(EXPECT):]), f"{path.name}:{number + 1}", []
        elif expect is not None:
            lines.append((number, text))
    if expect is not None:
        samples.append(Sample(where, expect, tuple(lines)))
    return samples


def grammar_aliases(name: str) -> set[str]:
    """The ``-> alias`` names of ``grammars/<name>.lark`` (comments ignored)."""
    source = (grammars_dir() / f"{name}.lark").read_text(encoding="utf-8")
    return set(re.findall(r"->\s*(\w+)", re.sub(r"//[^\n]*", "", source)))


def route_grammars(route: Route) -> set[str]:
    """Every grammar a route parses with: its own and its programs'."""
    names = {g for program in route.programs.values() for g in program.grammars}
    return names | ({route.grammar} if route.grammar else set())


def check_sample(parser: RouteParser, sample: Sample) -> str | None:
    """``None`` when the sample meets its expectation, else why not."""
    records = list(assemble(parser.route.records, sample.lines, parser.route.record_start))
    if len(records) != 1:
        return f"{sample.where}: {len(records)} records, expected one"
    record = records[0]
    parsed = parser.parse(record.text, record.fields)
    if sample.expect.get("parsed", True) is False:
        return None if parsed is None else f"{sample.where}: parsed as {parsed.kind}, expected unparsed"
    if parsed is None:
        return f"{sample.where}: not parsed, expected {sample.expect}: {record.text!r}"
    if parsed.kind != sample.expect["kind"]:
        return f"{sample.where}: kind {parsed.kind}, expected {sample.expect['kind']}: {record.text!r}"
    wrong = {k: parsed.fields.get(k) for k, v in sample.expect.get("fields", {}).items()
             if parsed.fields.get(k) != v}
    if wrong:
        return f"{sample.where}: fields {wrong} differ from {sample.expect['fields']}"
    missing = [ls for ls in map(LogSource.from_dict, sample.expect.get("logsources", ()))
               if ls not in parsed.logsources and ls not in parser.route.logsources]
    return f"{sample.where}: logsources {missing} missing" if missing else None


@pytest.mark.parametrize("name", TEXT_ROUTES)
def test_samples_parse_as_expected(name: str) -> None:
    path = FORMATS / f"{name}.log"
    assert path.is_file(), f"format {name} has no sample file {path}"
    route = load_routes()[name]
    parser = RouteParser(route)
    samples = read_samples(path)
    assert samples, f"{path} has no '{EXPECT}' sample"
    failures = [f for f in (check_sample(parser, s) for s in samples) if f]
    assert not failures, "\n".join(failures)


GRAMMARS = sorted(set().union(*(route_grammars(load_routes()[n]) for n in TEXT_ROUTES)))


@pytest.mark.parametrize("grammar", GRAMMARS)
def test_every_alias_has_a_sample(grammar: str) -> None:
    files = [FORMATS / f"{n}.log" for n in TEXT_ROUTES if grammar in route_grammars(load_routes()[n])]
    kinds = {s.expect.get("kind") for f in files if f.is_file() for s in read_samples(f)}
    unsampled = grammar_aliases(grammar) - kinds
    assert not unsampled, f"{grammar}.lark aliases without a sample in {[f.name for f in files]}: {sorted(unsampled)}"


def test_every_grammar_belongs_to_a_route() -> None:
    used = set().union(*(route_grammars(r) for r in load_routes().values()))
    unused = {p.stem for p in grammars_dir().glob("*.lark")} - used
    assert not unused, f"grammars no route uses: {sorted(unused)}"
