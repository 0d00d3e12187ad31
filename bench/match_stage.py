"""Time the matching stage alone, reference against columnar, on the same events.

Usage: ``python bench/match_stage.py TREE [--rules DIR ...] [--repeats N]``. Normalizes the
tree's largest unit once (events kept in memory: use a small tree), then times each engine's
``_hits`` over those events in turn, ``--repeats`` rounds, in this process: prefilter, rule
evaluation and the hit objects, without reading, parsing or spilling.
"""

from __future__ import annotations

import argparse
import time
from datetime import timezone
from pathlib import Path
from typing import Iterable, Iterator

from scanner.cli import build_parser
from scanner.config import ENGINES, scan_config
from scanner.errors import Problems
from scanner.match.matcher import Plan
from scanner.model import AnyHit, Event
from scanner.pipeline import Scan, Worker, WorkerOptions, new_worker, plan_units
from scanner.resources import bundled_rules_dir
from scanner.rules.load import load_rules

CORPUS_RULES = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "sigmahq"


class _Keeper(Worker):
    """A worker that keeps the plan and events of the first batch it would match."""

    kept: tuple[Plan, list[Event]] | None = None

    def _hits(self, plan: Plan, events: Iterable[Event]) -> Iterator[AnyHit]:
        if self.kept is None:
            self.kept = (plan, list(events))
        return iter(())


def main() -> None:
    """Print seconds and µs per event of each engine's matching stage, per round."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tree", type=Path)
    parser.add_argument("--rules", type=Path, action="append")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rules = load_rules(args.rules or [CORPUS_RULES, bundled_rules_dir()], Problems())
    config = scan_config(build_parser().parse_args(["scan", str(args.tree), "-q", "--jobs", "1"]))
    unit = max(plan_units(Scan(config)), key=lambda u: u.size)
    options = WorkerOptions(True, timezone.utc, None, None)
    keeper = _Keeper(rules, options)
    keeper.scan(unit)
    assert keeper.kept is not None
    plan, events = keeper.kept
    workers = {e: new_worker(rules, WorkerOptions(True, timezone.utc, None, None, e))
               for e in ENGINES}
    print(f"{len(events)} events of {unit.file.source}")
    for round_ in range(args.repeats):
        for engine, worker in workers.items():
            started = time.perf_counter()
            hits = sum(1 for _ in worker._hits(plan, events))
            seconds = time.perf_counter() - started
            print(f"round {round_}  {engine:10} {seconds:6.2f} s  {hits} hits  "
                  f"{seconds / max(len(events), 1) * 1e6:.1f} µs/event")


if __name__ == "__main__":
    main()
