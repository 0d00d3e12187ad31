"""Median cold load+compile time of a rule set, as a scan loads it (default: the 393 corpus rules).

Each run is a fresh interpreter (so imports and caches are cold) that times the
imports, ``load_rules`` as ``logsigma scan`` calls it (rules no input can feed are
parsed and counted, not compiled; ``--jobs`` above 1 parses half of the files in a
second process) and building a ``Matcher`` (where ``compile()`` happens), and
prints seconds and its peak RSS; this script prints every run and the median.
Target: ≤ 2 s for the whole SigmaHQ rule tree.

Usage: python bench/compile_rules.py [RULES_PATH...] [--runs N] [--jobs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_RULES = REPO.parent / "shared" / "corpus" / "sigmahq"

ONE_RUN = """
import resource, sys, time
from pathlib import Path
start = time.perf_counter()
from scanner.errors import Problems
from scanner.match.matcher import Matcher
from scanner.rules.feeds import can_fire
from scanner.rules.load import load_rules
imported = time.perf_counter()
problems = Problems()
compiled = load_rules([Path(p) for p in sys.argv[2:]], problems, None, can_fire, int(sys.argv[1]))
Matcher(compiled)
print(time.perf_counter() - start, imported - start, len(compiled.compiled), len(compiled.unfed),
      len(problems), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rules", nargs="*", default=[str(DEFAULT_RULES)])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="processes, as scan --jobs (default: CPU count)")
    args = parser.parse_args()
    times = []
    for run in range(args.runs):
        result = subprocess.run([sys.executable, "-c", ONE_RUN, str(args.jobs), *args.rules],
                                cwd=REPO, capture_output=True, text=True, check=True)
        seconds, imports, compiled, unfed, problems, rss = result.stdout.split()
        times.append(float(seconds))
        print(f"run {run + 1}: {float(seconds):.3f} s, of which imports {float(imports):.3f} s "
              f"({compiled} rules compiled, {unfed} that nothing feeds, {problems} problems; "
              f"peak RSS {float(rss):.0f} MB)")
    print(f"median cold load+compile: {statistics.median(times):.3f} s over {args.runs} runs, "
          f"--jobs {args.jobs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
