"""The parse floor: what the per-record grammar regexes alone cost, and the ceiling they set.

``PYTHONPATH=. python bench/parse_floor.py [--out bench/out] [--size 100M] [--worst-size 50M]
[--repeats 3] [--rules DIR ...]`` takes the worst-case tree ``OUT/worst-SIZE`` and the
realistic tree ``OUT/tree-SIZE`` (generated as ``run.py`` does when absent; ``--out
/work/main/bench/out`` points at another checkout's) and scans each once with the reference
worker, the corpus plus bundled rules (or ``--rules``), prefilter on (``profile_scan.py``'s
set-up), recording the *candidate records*: those whose text reaches ``RouteParser.parse``
(every record of a ``prefilter: fields`` route), each with the grammar calls its parse makes
(the route grammar, then the program's grammars in order until one accepts). Then it times,
the cyclic collector paused as in a worker, medians of ``--repeats`` interleaved rounds:

* (a) those grammar calls (``Grammar.parser``: the derived regex's match and its fields
  dict), and of them the derived regex's ``match`` alone;
* (b) ``RouteParser.parse`` of every candidate record (PRI, program routing, kinds, nulls);
* (c) ``Worker.scan`` of every unit (reading, prefilter, parse, match: the whole worker).

It prints µs per candidate record per route format and in total, the share of (c) each step
is, and the ceilings on ``CORES`` cores if everything but a step cost nothing, beside issue
11's targets. Last, the dialect check: for every ``grammars/*.lark``, whether its derived
regex and each of its terminals compile in Polars (Rust ``regex``) and in RE2 (DuckDB's regex
engine, here through google-re2, which pySigma installs), and how often they use constructs only
Python's ``re`` has.
"""

from __future__ import annotations

import argparse
import re._constants as sre
import re._parser as sre_parse
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence
from unittest import mock

import re2
import polars as pl
from lark import Lark
from tabulate import tabulate

from profile_scan import scan_units, scan_worker
from python_floor import tree_bytes
from run import BENCH, ensure_tree
from scanner.collector import collector_paused
from scanner.normalize.grammars import Grammar, load_grammar
from scanner.normalize.lark_regex import FastParser
from scanner.normalize.normalizer import Parsed, ParseText, RouteParser
from scanner.normalize.routes import Route
from scanner.pipeline import Worker, WorkUnit
from scanner.resources import grammars_dir

CORES = 2
TARGET_MB_S = 100  # issue 11: the realistic tree, --jobs 2
TARGET_LINES_S = 250_000  # issue 11: the worst case (pure ssh brute force)
CONSTRUCTS = ("lookahead", "lookbehind", "atomic group", "possessive", "backreference")
STEPS = ("(a) grammar calls", "(a) regex match alone", "(b) RouteParser.parse", "(c) Worker.scan")
GrammarCall = tuple[Grammar, str]
Calls = list[tuple[Callable[..., object], tuple[Any, ...]]]  # a batch: functions and their args


@dataclass(frozen=True, slots=True)
class Candidate:
    """A record whose text reached ``RouteParser.parse``, with the grammar calls its parse made."""

    route: Route
    text: str
    fields: dict[str, Any] | None
    calls: tuple[GrammarCall, ...]


@dataclass(frozen=True, slots=True)
class Timed:
    """One tree's median seconds per step and route format, with what they are divided by."""

    name: str
    bytes: int
    lines: Counter[str]
    records: Counter[str]
    seconds: dict[str, dict[str, float]]

    def total(self, step: str) -> float:
        """The seconds of ``step`` over every route format."""
        return sum(self.seconds[step].values())


def record_candidates(worker: Worker, units: Sequence[WorkUnit]
                      ) -> tuple[list[Candidate], Counter[str]]:
    """Scan ``units`` once: the candidate records, and the lines of each route format."""
    candidates: list[Candidate] = []
    calls: list[GrammarCall] = []
    lines: Counter[str] = Counter()
    grammar_parser, route_parse = Grammar.parser, RouteParser.parse

    def recording_parser(grammar: Grammar) -> ParseText:
        parse = grammar_parser.fget(grammar)  # type: ignore[misc]

        def recorded(text: str) -> tuple[str, dict[str, str]] | None:
            calls.append((grammar, text))
            return parse(text)  # type: ignore[no-any-return]
        return recorded

    def recording_parse(parser: RouteParser, text: str,
                        fields: dict[str, Any] | None = None) -> Parsed | None:
        calls.clear()
        parsed = route_parse(parser, text, fields)
        candidates.append(Candidate(parser.route, text, fields, tuple(calls)))
        return parsed

    with (mock.patch.object(Grammar, "parser", property(recording_parser)),
          mock.patch.object(RouteParser, "parse", recording_parse)):
        for unit in units:
            lines[unit.choice.route.format] += worker.scan(unit).stats.lines
    return candidates, lines


def derived_match(grammar: Grammar) -> ParseText | Callable[[str], object]:
    """The ``match`` of the grammar's derived regex (its Lark parse when it has none)."""
    fast = getattr(grammar.parser, "__self__", None)
    return fast.pattern.match if isinstance(fast, FastParser) else grammar.parser


def batches(worker: Worker, units: Sequence[WorkUnit], candidates: Iterable[Candidate]
            ) -> dict[str, dict[str, Calls]]:
    """Per step and route format, the calls a timed run makes."""
    steps: dict[str, dict[str, Calls]] = {step: defaultdict(list) for step in STEPS}
    routes = {id(candidate.route): candidate.route for candidate in candidates}
    parsers = {key: RouteParser(route) for key, route in routes.items()}
    for candidate in candidates:
        form, parser = candidate.route.format, parsers[id(candidate.route)]
        for grammar, text in candidate.calls:
            steps[STEPS[0]][form].append((grammar.parser, (text,)))
            steps[STEPS[1]][form].append((derived_match(grammar), (text,)))
        steps[STEPS[2]][form].append((parser.parse, (candidate.text, candidate.fields)))
    for unit in units:
        steps[STEPS[3]][unit.choice.route.format].append((worker.scan, (unit,)))
    return steps


def seconds_of(calls: Calls) -> float:
    """The time of one tight run of ``calls``, the cyclic collector paused."""
    with collector_paused():
        started = time.perf_counter()
        for function, args in calls:
            function(*args)
        return time.perf_counter() - started


def time_tree(tree: Path, worker: Worker, repeats: int) -> Timed:
    """Record a tree's candidate records, then time every step on them, interleaved."""
    units = scan_units(tree)
    candidates, lines = record_candidates(worker, units)
    steps = batches(worker, units, candidates)
    runs: dict[str, dict[str, list[float]]] = {s: defaultdict(list) for s in STEPS}
    for _ in range(repeats):
        for step, by_format in steps.items():
            for form, calls in by_format.items():
                runs[step][form].append(seconds_of(calls))
    medians = {step: {form: statistics.median(times) for form, times in by_format.items()}
               for step, by_format in runs.items()}
    return Timed(tree.name, tree_bytes(tree), lines,
                 Counter(candidate.route.format for candidate in candidates), medians)


def per_record_table(timed: Timed) -> str:
    """µs per candidate record of each step, per route format and in total."""
    def row(name: str, lines: int, records: int, seconds: dict[str, float]) -> list[object]:
        per = [f"{1e6 * seconds[step] / records:.2f}" if records else "-" for step in STEPS]
        per_line = f"{1e6 * seconds[STEPS[3]] / lines:.2f}" if lines else "-"
        return [name, f"{lines:,}", f"{records:,}", *per, per_line]

    rows = [row(form, timed.lines[form], timed.records[form],
                {step: timed.seconds[step].get(form, 0.0) for step in STEPS})
            for form in sorted(set(timed.lines) | set(timed.records))]
    rows.append(row("total", timed.lines.total(), timed.records.total(),
                    {step: timed.total(step) for step in STEPS}))
    return tabulate(rows, headers=("route format", "lines", "candidates",
                                   *(f"{s} µs" for s in STEPS), "(c) µs/line"),
                    disable_numparse=True)


def ceilings_table(worst: Timed, real: Timed) -> str:
    """The speed on ``CORES`` cores if everything but the step cost nothing, under the time a
    candidate record may take, everything included, at the targets."""
    rows = [(step, f"{CORES * worst.lines.total() / worst.total(step):,.0f}",
             f"{real.bytes / (real.total(step) / CORES) / 1e6:,.1f}") for step in STEPS]
    budget = ("at the targets, a candidate record may cost one core "
              f"{1e6 * CORES / TARGET_LINES_S:.1f} µs in {worst.name} and "
              f"{1e6 * CORES * real.bytes / (TARGET_MB_S * 1e6) / real.records.total():.1f} µs in "
              f"{real.name}, everything included\n")
    return budget + tabulate(rows, headers=(f"only this step, on {CORES} cores",
                                   f"{worst.name} lines/s (target ≥ {TARGET_LINES_S:,})",
                                   f"{real.name} MB/s (target ≥ {TARGET_MB_S})"),
                    disable_numparse=True)


def python_only(pattern: str) -> Counter[str]:
    """How often ``pattern`` uses each of :data:`CONSTRUCTS` (``(?(1)…)`` counts as a
    backreference), read from ``re``'s own parse of it."""
    counts: Counter[str] = Counter()
    pending: list[Any] = [sre_parse.parse(pattern)]
    while pending:
        node = pending.pop()
        if isinstance(node, sre_parse.SubPattern):
            for op, value in node:
                if op in (sre.ASSERT, sre.ASSERT_NOT):
                    counts["lookahead" if value[0] == 1 else "lookbehind"] += 1
                elif op is sre.ATOMIC_GROUP:
                    counts["atomic group"] += 1
                elif op is sre.POSSESSIVE_REPEAT:
                    counts["possessive"] += 1
                elif op in (sre.GROUPREF, sre.GROUPREF_EXISTS):
                    counts["backreference"] += 1
                pending.append(value)
        elif isinstance(node, (tuple, list)):
            pending.extend(node)
    return counts


def polars_compile(pattern: str) -> None:
    pl.Series([""]).str.contains(pattern)


_RE2_QUIET = re2.Options()
_RE2_QUIET.log_errors = False  # the refusal is reported here, not logged by RE2 as well


def re2_compile(pattern: str) -> None:
    re2.compile(pattern, _RE2_QUIET)


def compile_error(compile_: Callable[[str], None], pattern: str) -> str | None:
    """Why an engine refuses ``pattern`` (the head of its message), ``None`` when it compiles."""
    try:
        compile_(pattern)
    except (pl.exceptions.PolarsError, re2.error) as exc:
        message = exc.args[0] if exc.args else ""  # RE2's is bytes
        lines = (message.decode(errors="replace") if isinstance(message, bytes)
                 else str(exc)).splitlines() or [""]
        detail = next((line for line in lines if line.startswith("error: ")), lines[0])
        marked = _marked(lines)
        return detail.rpartition("rror: ")[2] + (f" at {marked}" if marked else "")
    return None


def _marked(lines: list[str]) -> str | None:
    """The text a Rust ``regex`` error underlines with ``^`` (from its ``(?``, if any)."""
    for above, line in pairwise(lines):
        if line.strip() and set(line.strip()) == {"^"}:
            start, end = line.index("^"), line.rindex("^") + 1
            start -= 2 if above[start - 2:start] == "(?" else 0
            return above[start:end]
    return None


def verdict(compile_: Callable[[str], None], pattern: str, counts: Counter[str]) -> str:
    """``ok``, why the engine refuses ``pattern``, or that it compiles with another meaning
    (Rust's ``regex`` reads Python's possessive ``x*+`` as a stacked greedy ``(x*)+``)."""
    error = compile_error(compile_, pattern)
    if error is not None:
        return error
    return "compiles, possessive read as greedy" if counts["possessive"] else "ok"


ENGINES = {"Polars": polars_compile, "RE2 (DuckDB)": re2_compile}


def derived_row(name: str) -> list[object]:
    """A grammar's derived regex: its size, each engine's verdict, its Python-only constructs."""
    grammar = load_grammar(name)
    fast = getattr(grammar.parser, "__self__", None)
    if not isinstance(fast, FastParser):
        return [name, f"none: {grammar.fallback_reason}", "", "", *("" for _ in CONSTRUCTS)]
    pattern = fast.pattern.pattern
    counts = python_only(pattern)
    return [name, f"{len(pattern):,}", *(verdict(compile_, pattern, counts)
                                         for compile_ in ENGINES.values()),
            *(counts[c] for c in CONSTRUCTS)]


def terminals_row(path: Path) -> list[object]:
    """A grammar's terminals: how many, those each engine refuses or misreads, their
    Python-only constructs."""
    terminals = Lark(path.read_text(encoding="utf-8"), parser="lalr").terminals
    counts: Counter[str] = Counter()
    refused: dict[str, list[str]] = {engine: [] for engine in ENGINES}
    for terminal in terminals:
        regexp = terminal.pattern.to_regexp()
        found = python_only(regexp)
        counts += found
        for engine, compile_ in ENGINES.items():
            if verdict(compile_, regexp, found) != "ok":
                refused[engine].append(terminal.name)
    return [path.stem, len(terminals), *(", ".join(names) or "-" for names in refused.values()),
            *(counts[c] for c in CONSTRUCTS)]


def dialect_tables() -> tuple[str, str]:
    """Per grammar, its derived regex and its terminals in each engine (see :func:`verdict`)."""
    paths = sorted(grammars_dir().glob("*.lark"))
    return (tabulate([derived_row(p.stem) for p in paths],
                     headers=("grammar", "derived regex chars", *ENGINES, *CONSTRUCTS),
                     disable_numparse=True),
            tabulate([terminals_row(p) for p in paths],
                     headers=("grammar", "terminals",
                              *(f"{e} refuses or misreads" for e in ENGINES), *CONSTRUCTS),
                     disable_numparse=True))


def main() -> None:
    """Time both trees, print the per-record costs and ceilings, then the dialect check."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=BENCH / "out")
    parser.add_argument("--size", default="100M")
    parser.add_argument("--worst-size", default="50M")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rules", type=Path, action="append",
                        help="rule directory (repeatable; default: the corpus and bundled rules)")
    args = parser.parse_args()
    trees = (args.out / f"worst-{args.worst_size}", args.out / f"tree-{args.size}")
    for tree, size, worst in zip(trees, (args.worst_size, args.size), (True, False)):
        error = ensure_tree(tree, size, worst)
        if error is not None:
            parser.error(error)
    worker = scan_worker(args.rules)
    timed = [time_tree(tree, worker, args.repeats) for tree in trees]
    for result in timed:
        share = ", ".join(f"{step} {result.total(step) / result.total(STEPS[3]):.0%}"
                          for step in STEPS[:3])
        print(f"\n{result.name}: {result.bytes / 1e6:.1f} MB, {result.lines.total():,} lines, "
              f"{result.records.total():,} candidate records; medians of {args.repeats}, µs per "
              f"candidate record\n{per_record_table(result)}\nshare of (c): {share}")
    print(f"\n{ceilings_table(*timed)}")
    derived, terminals = dialect_tables()
    print(f"\nderived regexes (the Grammar fast path's pattern)\n{derived}")
    print(f"\nterminals of each grammar\n{terminals}")


if __name__ == "__main__":
    main()
