"""Could a grammar's derived regex run in Polars? A probe for the columnar normalizer.

``PYTHONPATH=. python bench/relaxed_regex.py [--grammar sshd] LOG ...`` takes the syslog
messages of the given logs that the grammar's program logs (the syslog header parsed by our
syslog grammar), and the grammar's derived regex (:mod:`scanner.normalize.lark_regex`) in a
*relaxed* form Rust's ``regex`` (Polars) can read: atomic groups become plain groups,
possessive loops greedy ones, lookarounds are dropped and a conditional ``(?(g)A|B)``
becomes ``(?:A|B)``. The relaxed regex accepts every text the exact one accepts, but it may
take another way through it: it is not exact. The probe counts the messages on which
Polars' captures differ from the exact parse's (both the match and every group, an empty
group told from an unset one), shows a few, and times, best of ``--rounds``: Polars
``str.extract_groups`` and ``str.contains`` of the relaxed regex, and ``re.Pattern.match``
of the exact one. Read-only on its inputs; asserts nothing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, Callable

import polars as pl

from scanner.normalize.grammars import load_grammar

_CONSTRUCTS = ("(?=", "(?!", "(?<=", "(?<!")  # lookarounds: dropped whole


def relaxed(pattern: str) -> str:
    """``pattern`` (a derived regex) in the relaxed form the module docstring describes."""
    out: list[str] = []
    at = 0
    while at < len(pattern):
        if pattern[at] == "\\":
            out.append("\\z" if pattern[at + 1] == "Z" else pattern[at:at + 2])
            at += 2
        elif pattern[at] == "[":
            end = _class_end(pattern, at)
            out.append(pattern[at:end])
            at = end
        elif pattern.startswith(_CONSTRUCTS, at):
            at = _group_end(pattern, at)
        elif pattern.startswith("(?>", at):
            out.append("(?:")
            at += 3
        elif pattern.startswith("(?(", at):  # a conditional: its condition goes
            out.append("(?:")
            at = pattern.index(")", at) + 1
        elif pattern[at] in "+*?}" and pattern[at + 1:at + 2] == "+":  # possessive: greedy
            out.append(pattern[at])
            at += 2
        else:
            out.append(pattern[at])
            at += 1
    return "".join(out)


def _class_end(pattern: str, at: int) -> int:
    """Where the character class opening at ``at`` ends (after its ``]``)."""
    at += 1
    if pattern[at] == "^":
        at += 1
    if pattern[at] == "]":
        at += 1
    while pattern[at] != "]":
        at += 2 if pattern[at] == "\\" else 1
    return at + 1


def _group_end(pattern: str, at: int) -> int:
    """Where the group opening at ``at`` ends (after its ``)``)."""
    depth = 0
    while True:
        if pattern[at] == "\\":
            at += 2
            continue
        if pattern[at] == "[":
            at = _class_end(pattern, at)
            continue
        depth += {"(": 1, ")": -1}.get(pattern[at], 0)
        at += 1
        if depth == 0:
            return at


def messages(paths: list[Path], programs: set[str]) -> list[str]:
    """The syslog messages of ``programs`` in the logs at ``paths``, in order."""
    header = load_grammar("syslog")
    found = []
    for path in paths:
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                parsed = header.parse(line.rstrip("\n"))
                if parsed is not None and parsed[1].get("program") in programs:
                    found.append(parsed[1]["message"])
    return found


def best(rounds: int, run: Callable[[], Any]) -> float:
    """The least wall time of ``rounds`` calls of ``run``."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="+", type=Path)
    parser.add_argument("--grammar", default="sshd")
    parser.add_argument("--programs", default="sshd,sshd-session",
                        help="the programs whose messages the grammar parses (comma-separated)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--show", type=int, default=5, help="differing messages shown")
    args = parser.parse_args()
    fast = load_grammar(args.grammar)._fast  # the derived parser is what is probed
    if fast is None:
        raise SystemExit(f"grammar {args.grammar} has no derived regex (it is parsed by Lark)")
    exact = fast.pattern
    rust = f"^(?:{relaxed(exact.pattern)})"
    texts = messages(args.logs, set(args.programs.split(",")))
    column = pl.Series(texts, dtype=pl.String)
    extracted = column.str.extract_groups(rust)
    matched = column.str.contains(rust).to_list()
    names = list(exact.groupindex)
    values = [extracted.struct.field(name).to_list() for name in names]
    differing = []
    for row, text in enumerate(texts):
        match = exact.match(text)
        want = (match is not None, match.groupdict() if match is not None else {})
        got = (matched[row], {name: column_values[row] for name, column_values
                              in zip(names, values)} if matched[row] else {})
        if want != got:
            differing.append(text)
    print(f"{args.grammar}: {len(texts)} messages, {exact.groups} groups; relaxed regex in "
          f"Polars differs from the exact parse on {len(differing)}")
    for text in differing[:args.show]:
        print(f"  {text!r}")
    timings = {
        "Polars str.extract_groups (relaxed)": best(args.rounds,
                                                    lambda: column.str.extract_groups(rust)),
        "Polars str.contains (relaxed)": best(args.rounds, lambda: column.str.contains(rust)),
        "Python re.Pattern.match (exact)": best(args.rounds,
                                                lambda: [exact.match(t) for t in texts]),
    }
    for name, seconds in timings.items():
        print(f"  {name:38} {seconds:7.3f} s  {seconds / max(len(texts), 1) * 1e6:6.2f} µs a message")


if __name__ == "__main__":
    main()
