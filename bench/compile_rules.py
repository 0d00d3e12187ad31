"""Median cold load+compile time of a rule set (default: the 393 corpus rules).

Each run is a fresh interpreter (so imports and caches are cold) that times
the imports, ``load_rules`` and building a ``Matcher`` (where ``compile()``
happens) and prints seconds; this script prints every run and the median. Target: ≤ 2 s.

Usage: python bench/compile_rules.py [RULES_PATH] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_RULES = REPO.parent / "shared" / "corpus" / "sigmahq"

ONE_RUN = """
import sys, time
from pathlib import Path
start = time.perf_counter()
from scanner.errors import Problems
from scanner.match.matcher import Matcher
from scanner.rules.load import load_rules
imported = time.perf_counter()
problems = Problems()
compiled = load_rules([Path(sys.argv[1])], problems)
Matcher(compiled)
print(time.perf_counter() - start, imported - start, len(compiled.rules) + len(compiled.correlations), len(problems))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rules", nargs="?", default=str(DEFAULT_RULES))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    times = []
    for run in range(args.runs):
        result = subprocess.run([sys.executable, "-c", ONE_RUN, args.rules], cwd=REPO,
                                capture_output=True, text=True, check=True)
        seconds, imports, rules, problems = result.stdout.split()
        times.append(float(seconds))
        print(f"run {run + 1}: {float(seconds):.3f} s, of which imports {float(imports):.3f} s "
              f"({rules} rules, {problems} problems)")
    print(f"median cold load+compile: {statistics.median(times):.3f} s over {args.runs} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
