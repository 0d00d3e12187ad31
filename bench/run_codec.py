"""What a hit costs between processes: µs a hit to pickle and load hit-run frames and a
worker's in-memory tail, as lists of keyed hits (the old way) and column-wise (issue 11).

``python bench/run_codec.py [TREE ...] [--rules DIR ...] [--rounds N]`` scans each tree
(default ``bench/out/worst-50M`` and ``bench/out/tree-100M``) in this process, unit by unit
with the scan's own workers and rules (the corpus and the bundled ones), keeps the hits
in sort-key order, as the main process reads them, and times, interleaved over
``--rounds`` rounds (the best of each is shown): pickling and loading them in frames of
``FRAME_HITS`` (a run file), and in one piece of ``BATCH_HITS`` (the tail a worker returns
in its result), each the old way (``pickle`` of the list) and the new (``_Columns``), and
checks the loaded hits equal to the scanned ones, of the same types. CPU time
(``time.process_time``), the garbage collector paused as ``select_hits`` pauses it.
Nothing is written; no timing is asserted.
"""

from __future__ import annotations

import argparse
import gc
import pickle
import time
from collections import Counter
from datetime import timezone
from pathlib import Path
from typing import Any, Callable

from tabulate import tabulate

from scanner import hitruns
from scanner.cli import build_parser
from scanner.config import scan_config
from scanner.errors import Problems
from scanner.hitruns import BATCH_HITS, FRAME_HITS, _Columns
from scanner.model import Keyed
from scanner.pipeline import Scan, WorkerOptions, new_worker, plan_units
from scanner.resources import bundled_rules_dir
from scanner.rules.load import load_rules

REPO = Path(__file__).resolve().parent.parent
TREES = (REPO / "bench/out/worst-50M", REPO / "bench/out/tree-100M")
CORPUS_RULES = REPO.parent / "shared" / "corpus" / "sigmahq"
WAYS: dict[str, Callable[[list[Keyed]], Any]] = {"list": lambda hits: hits, "columns": _Columns}


def scanned_hits(tree: Path, rules: list[Path]) -> list[Keyed]:
    """Every hit of a scan of ``tree``, keyed, in sort-key order."""
    compiled = load_rules(rules, Problems())
    config = scan_config(build_parser().parse_args(["scan", str(tree), "-q", "--jobs", "1"]))
    worker = new_worker(compiled, WorkerOptions(True, timezone.utc, None, None))
    hitruns.use_directory(None)  # every unit's hits stay in memory
    hits = [keyed for unit in plan_units(Scan(config)) for keyed in worker.scan(unit).hits.keyed()]
    return sorted(hits, key=hitruns._KEY)


def kinds(pieces: list[list[Keyed]]) -> list[tuple[type, ...]]:
    """The types of each hit and of its timestamp, its timestamp's tzinfo and its fields."""
    return [(type(hit), type(hit.timestamp), type(getattr(hit.timestamp, "tzinfo", None)),
             type(hit.fields)) for piece in pieces for _, hit in piece]


def timed(pieces: list[list[Keyed]], way: Callable[[list[Keyed]], Any]) -> tuple[float, float]:
    """CPU seconds to pickle ``pieces`` (as ``way`` gives them to pickle), then to load them;
    the loaded pieces must equal them, hit for hit and of the same types."""
    started = time.process_time()
    blobs = [pickle.dumps(way(piece), protocol=pickle.HIGHEST_PROTOCOL) for piece in pieces]
    dumped = time.process_time()
    loaded = [pickle.loads(blob) for blob in blobs]
    done = time.process_time()
    assert loaded == pieces and kinds(loaded) == kinds(pieces)
    return dumped - started, done - dumped


def measure(hits: list[Keyed], rounds: int) -> list[list[Any]]:
    """Rows of µs a hit, best of ``rounds`` interleaved rounds, per shape and way."""
    shapes = {"run frames": FRAME_HITS, "worker tail": BATCH_HITS}
    best: dict[tuple[str, str], list[float]] = {}
    with_gc = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            for shape, size in shapes.items():
                pieces = [hits[at:at + size] for at in range(0, len(hits), size)]
                for way, wrap in WAYS.items():
                    times = timed(pieces, wrap)
                    kept = best.setdefault((shape, way), [float("inf")] * 2)
                    best[shape, way] = [min(a, b) for a, b in zip(kept, times)]
    finally:
        if with_gc:
            gc.enable()
    micro = 1e6 / max(1, len(hits))
    return [[shape, way, f"{dump * micro:.3f}", f"{load * micro:.3f}",
             f"{(dump + load) * micro:.3f}"] for (shape, way), (dump, load) in best.items()]


def main() -> None:
    """Print the per-hit table of each tree."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", type=Path, nargs="*", default=list(TREES))
    parser.add_argument("--rules", type=Path, action="append")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    for tree in args.trees:
        hits = scanned_hits(tree, args.rules or [CORPUS_RULES, bundled_rules_dir()])
        kinds = Counter(type(hit).__name__ for _, hit in hits)
        print(f"\n{tree.name}: {len(hits)} hits ({', '.join(f'{n} {k}' for k, n in kinds.items())})")
        print(tabulate(measure(hits, args.rounds),
                       headers=["shape", "way", "dump µs/hit", "load µs/hit", "both"]))


if __name__ == "__main__":
    main()
