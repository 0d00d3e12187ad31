"""Lines per second of Lark vs the derived-regex fast path, per grammar.

``python bench/grammar_speed.py [LOG ...]`` reads the given text logs (default:
``fixtures/formats/*.log``; ``.gz``/``.bz2``/``.xz`` are decompressed), and gives
each grammar the lines it accepts, plus the ``message`` field of every line
another grammar accepts (so the syslog program grammars get their messages).
For each grammar it times :meth:`Grammar.parse_with_lark` and :meth:`Grammar.parse`
over those lines (cycled to 5,000 calls a run), median of 3 runs, and prints a
table; a grammar that falls back to Lark is listed with its reason. Read-only on
its inputs; no timing is asserted.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import lzma
import statistics
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from tabulate import tabulate

from scanner.normalize.grammars import Grammar, load_grammar
from scanner.resources import grammars_dir

REPO = Path(__file__).resolve().parent.parent
RUNS = 3
CALLS_PER_RUN = 5_000  # a few sample lines are cycled until a run makes this many calls
_OPENERS: dict[str, Callable[..., IO[str]]] = {".gz": gzip.open, ".bz2": bz2.open,
                                               ".xz": lzma.open}


def read_lines(paths: Iterable[Path]) -> list[str]:
    """The distinct lines of the given logs, in order."""
    lines: dict[str, None] = {}
    for path in paths:
        opener = _OPENERS.get(path.suffix, open)
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            lines.update(dict.fromkeys(line.rstrip("\r\n") for line in handle))
    return list(lines)


def samples(grammars: dict[str, Grammar], lines: list[str]) -> dict[str, list[str]]:
    """Per grammar, the lines and syslog messages it accepts."""
    texts = dict.fromkeys(lines)
    for grammar in grammars.values():
        for line in lines:
            result = grammar.parse(line)
            if result is not None and "message" in result[1]:
                texts.setdefault(result[1]["message"])
    return {name: [t for t in texts if g.parse_with_lark(t) is not None]
            for name, g in grammars.items()}


def rate(parse: Callable[[str], object], texts: list[str]) -> float:
    """Median lines per second of ``parse`` over ``texts`` (cycled to ``CALLS_PER_RUN``)."""
    batch = texts * -(-CALLS_PER_RUN // len(texts))
    runs = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for text in batch:
            parse(text)
        runs.append(len(batch) / (time.perf_counter() - start))
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="*", type=Path,
                        default=sorted((REPO / "fixtures" / "formats").glob("*.log")))
    args = parser.parse_args()
    grammars = {p.stem: load_grammar(p.stem) for p in sorted(grammars_dir().glob("*.lark"))}
    rows = []
    for name, texts in samples(grammars, read_lines(args.logs)).items():
        grammar = grammars[name]
        if not texts:
            rows.append([name, 0, "", "", "", grammar.fallback_reason or ""])
            continue
        lark, fast = rate(grammar.parse_with_lark, texts), rate(grammar.parse, texts)
        rows.append([name, len(texts), f"{lark:,.0f}", f"{fast:,.0f}", f"{fast / lark:.1f}x",
                     grammar.fallback_reason or ""])
    print(tabulate(rows, headers=["grammar", "lines", "lark lines/s", "fast lines/s", "speed-up",
                                  "falls back because"]))


if __name__ == "__main__":
    main()
