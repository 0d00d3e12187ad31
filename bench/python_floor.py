"""The least CPython work a candidate line can cost, and the speed ceiling it sets.

``python bench/python_floor.py [TREE] [--jobs 2]`` reads the ``auth.log*`` members of a
generated tree (``.gz`` decompressed in memory; nothing is written) and times, per line,
steps that any per-record Python scanner must take for a line it cannot skip: cut the
text into lines, match one syslog-header regex, build its fields dict, read the
timestamp and keep a record of the line. It uses a hand-written regex far simpler than
our grammars and evaluates no rule, so the figures are floors, not estimates. It then
prints the ceiling they set on the whole tree: its uncompressed bytes over the time
``--jobs`` cores need for the auth.log lines alone (every other file counted as free).
Medians of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import gzip
import re
import statistics
import time
from datetime import datetime
from pathlib import Path
from typing import Callable

from tabulate import tabulate

BENCH = Path(__file__).resolve().parent
HEADER = re.compile(r"(?P<time>\S+) (?P<host>\S+) (?P<program>[^\[: ]+)(?:\[(?P<pid>\d+)\])?: "
                    r"(?P<message>.*)")


def _text(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8", "replace")


def tree_bytes(tree: Path) -> int:
    """The bytes of every file of ``tree``, ``.gz`` members counted decompressed."""
    return sum(len(gzip.decompress(p.read_bytes())) if p.suffix == ".gz" else p.stat().st_size
               for p in tree.rglob("*") if p.is_file())


def _steps(text: str) -> list[tuple[str, Callable[[], object]]]:
    lines = text.splitlines()

    def records() -> list[tuple[float, dict[str, str | None]]]:
        kept = []
        for line in lines:
            match = HEADER.match(line)
            if match is not None:
                fields = match.groupdict()
                kept.append((datetime.fromisoformat(fields.pop("time") or "").timestamp(), fields))
        return kept

    return [
        ("cut into lines", text.splitlines),
        ("+ one header regex match", lambda: [HEADER.match(line) for line in lines]),
        ("+ its fields dict", lambda: [m.groupdict() for line in lines if (m := HEADER.match(line))]),
        ("+ timestamp, kept as a record", records),
    ]


def main() -> None:
    """Time the steps on the tree's auth.log lines and print the ceiling they imply."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tree", type=Path, nargs="?", default=BENCH / "out" / "tree-200M")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    members = sorted(args.tree.glob("auth.log*"))
    if not members:
        parser.error(f"{args.tree}: no auth.log* member (generate it with bench/run.py or generate.py)")
    text = "".join(_text(p) for p in members)
    count, total = text.count("\n"), tree_bytes(args.tree)
    rows = []
    for name, step in _steps(text):
        seconds = statistics.median(_timed(step) for _ in range(args.repeats))
        ceiling = total / (seconds / args.jobs) / 1e6
        rows.append((name, f"{1e6 * seconds / count:.2f}", f"{ceiling:,.0f}"))
    print(f"{args.tree}: {total / 1e6:.0f} MB uncompressed; its auth.log* hold {count:,} lines")
    print(tabulate(rows, headers=("step (cumulative)", "µs per line",
                                  f"ceiling on the tree, MB/s on {args.jobs} cores"),
                   tablefmt="simple", disable_numparse=True))


def _timed(step: Callable[[], object]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
