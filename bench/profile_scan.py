"""Profile one worker scanning a tree in this process: where the time of ``Worker.scan`` goes.

Usage: ``python bench/profile_scan.py TREE [--rules DIR ...] [--no-prefilter] [--top N]
[--engine E]``.
Loads the rules (default: the corpus SigmaHQ rules plus the bundled ones), plans the
units as ``logsigma scan`` does, scans them one by one under ``cProfile`` and prints
the seconds and lines per file and the top functions by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from datetime import timezone
from pathlib import Path

from scanner.cli import build_parser
from scanner.config import ENGINES, scan_config
from scanner.errors import Problems
from scanner.pipeline import Scan, Worker, WorkerOptions, WorkUnit, new_worker, plan_units
from scanner.resources import bundled_rules_dir
from scanner.rules.load import load_rules

CORPUS_RULES = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "sigmahq"


def scan_worker(rules: list[Path] | None = None, prefilter: bool = True,
                engine: str = ENGINES[0]) -> Worker:
    """A worker as ``logsigma scan`` makes one per process (default: corpus + bundled rules)."""
    compiled = load_rules(rules or [CORPUS_RULES, bundled_rules_dir()], Problems())
    return new_worker(compiled, WorkerOptions(prefilter, timezone.utc, None, None, engine))


def scan_units(tree: Path) -> list[WorkUnit]:
    """The units ``logsigma scan TREE`` plans, in its order."""
    return plan_units(Scan(scan_config(build_parser().parse_args(["scan", str(tree), "-q"]))))


def main() -> None:
    """Profile a scan of the tree named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tree", type=Path)
    parser.add_argument("--rules", type=Path, action="append")
    parser.add_argument("--no-prefilter", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--engine", choices=ENGINES, default=ENGINES[0])
    args = parser.parse_args()
    worker = scan_worker(args.rules, not args.no_prefilter, args.engine)
    units = scan_units(args.tree)
    profile = cProfile.Profile()
    for unit in units:
        started = time.perf_counter()
        profile.enable()
        result = worker.scan(unit)
        profile.disable()
        seconds = time.perf_counter() - started
        stats = result.stats
        print(f"{stats.source:40} {stats.format:14} {seconds:7.2f} s {stats.lines:9} lines "
              f"{stats.parsed + stats.unparsed:8} parsed {len(result.hits):6} hits")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
