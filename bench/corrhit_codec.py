"""What a correlation hit costs between correlation and output (issue 11): µs a hit to pickle
it into a run and to load it back frame by frame, each frame freed after, as the tally and
output passes of the main process read it, with the collector at CPython's default
thresholds (as those passes ran before), relaxed (``collector_relaxed``, as they run now) or
paused (``collector_paused``); and the same with a compact form of ``Correlation`` that was
tried and dropped (``columns``: contributors pickled as one source and a column of lines,
rebuilt by ``zip``, and ``FieldValues`` by ``tuple.__new__``): it writes 23% fewer bytes
and dumps a little faster, but loads slower, as rebuilding the pairs costs what pickle's own
loading of them does, and a hit is read about three times for one write.

``python bench/corrhit_codec.py [TREE] [--rules DIR ...] [--rounds N]`` scans ``TREE``
(default ``bench/out/worst-50M``, with the corpus SigmaHQ rules) with ``logsigma scan``
itself, output to /dev/null, keeps the correlation hits ``select_hits`` gives, then times,
over ``--rounds`` interleaved rounds (the best of each shown), ``hitruns._dump_frames``
(the collector paused, as a correlation partition writes its runs) and loading every frame
of the result, each checked equal to the scanned hits, of the same types. CPU time
(``time.process_time``). Nothing is written; no timing is asserted.
"""

from __future__ import annotations

import argparse
import copyreg
import gc
import io
import pickle
import time
from contextlib import contextmanager, nullcontext
from itertools import repeat
from pathlib import Path
from typing import Any, ContextManager, Iterator

from tabulate import tabulate

from scanner import hitruns, pipeline
from scanner.cli import main as scan
from scanner.collector import collector_paused, collector_relaxed
from scanner.model import Correlation, FieldValues, Hit, Keyed

REPO = Path(__file__).resolve().parent.parent
TREE = REPO / "bench/out/worst-50M"
CORPUS_RULES = REPO.parent / "shared" / "corpus" / "sigmahq"
COLLECTORS: dict[str, Any] = {"default": nullcontext, "relaxed": collector_relaxed,
                              "paused": collector_paused}


def correlation_hits(tree: Path, rules: list[Path]) -> list[Keyed]:
    """The correlation hits a scan of ``tree`` reports, keyed, in output order."""
    captured: list[Keyed] = []
    select = pipeline.select_hits

    def capturing(*args: Any) -> Any:
        shown = select(*args)
        captured.extend((h.sort_key(), h) for h in shown if h.correlation is not None)
        return shown

    pipeline.select_hits = capturing
    try:
        scan(["scan", str(tree), "-q", "-f", "jsonl", "-o", "/dev/null",
              *(arg for path in rules for arg in ("--rules", str(path)))])
    finally:
        pipeline.select_hits = select
    return captured


def _columns(correlation: Correlation) -> tuple[Any, tuple[Any, ...]]:
    """The tried compact form: contributors as a column of sources (one text when they
    share it) and one of lines."""
    sources: Any = ()
    lines: tuple[int, ...] = ()
    if correlation.contributors:
        sources, lines = zip(*correlation.contributors)
        if sources.count(sources[0]) == len(sources):
            sources = sources[0]
    return _from_columns, (correlation.group, correlation.window_start, correlation.window_end,
                           correlation.value, sources, lines, correlation.closing,
                           correlation.values)


def _from_columns(group: Any, start: Any, end: Any, value: Any, sources: Any,
                  lines: tuple[int, ...], closing: Any, values: Any) -> Correlation:
    pairs = zip(repeat(sources) if type(sources) is str else sources, lines)
    return Correlation(group, start, end, value, tuple(pairs), closing, values)


@contextmanager
def columns_form() -> Iterator[None]:
    """Correlations and their tallies pickled in the tried compact form during the block."""
    table = copyreg.dispatch_table
    table[Correlation] = _columns
    table[FieldValues] = lambda values: (tuple.__new__, (FieldValues, tuple(values)))
    try:
        yield
    finally:
        del table[Correlation], table[FieldValues]


def kinds(hits: list[Keyed]) -> list[tuple[type, ...]]:
    """The types of each correlation hit's contributors and tallies."""
    return [(type(c.contributors), *map(type, c.contributors), *map(type, c.values))
            for _, hit in hits for c in (hit.correlation,) if c is not None]


def timed(hits: list[Keyed], form: ContextManager[None], collector: Any
          ) -> tuple[float, float, int]:
    """CPU seconds to write ``hits`` in run frames and to load them, and the bytes."""
    stream = io.BytesIO()
    with form, collector_paused():
        started = time.process_time()
        frames, _ = hitruns._dump_frames(hits, stream)
        dumped = time.process_time() - started
    stream.seek(0)
    gc.collect()
    read, at = 0.0, 0
    with collector():
        for _ in range(frames):  # each frame checked, then freed, as a reading pass frees it
            started = time.process_time()
            frame = pickle.load(stream)
            read += time.process_time() - started
            expected, at = hits[at:at + len(frame)], at + len(frame)
            assert frame == expected and kinds(frame) == kinds(expected)
    assert at == len(hits)
    return dumped, read, len(stream.getvalue())


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tree", nargs="?", type=Path, default=TREE)
    parser.add_argument("--rules", type=Path, action="append")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    hits = correlation_hits(args.tree, args.rules or [CORPUS_RULES])
    contributors = sum(len(h.correlation.contributors) for _, h in hits
                       if isinstance(h, Hit) and h.correlation)
    forms = {"pairs": nullcontext, "columns": columns_form}
    best: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for form, make in forms.items():
            for collector in COLLECTORS:
                dumped, read, size = timed(hits, make(), COLLECTORS[collector])
                row = best.setdefault((form, collector), [dumped, read, size])
                row[:2] = min(row[0], dumped), min(row[1], read)
    print(f"{args.tree.name}: {len(hits):,} correlation hits, {contributors / len(hits):.0f} "
          f"contributors each on average; best of {args.rounds} rounds, µs a hit")
    print(tabulate([[form, collector, f"{d / len(hits) * 1e6:.2f}", f"{r / len(hits) * 1e6:.2f}",
                     f"{s / len(hits):.0f}"] for (form, collector), (d, r, s) in best.items()],
                   headers=["form", "collector reading", "dump", "load", "bytes"]))


if __name__ == "__main__":
    main()
