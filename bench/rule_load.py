"""Cold rule load + compile probe, run by ``run.py`` in a fresh interpreter.

``python bench/rule_load.py RESULT.json RULE_PATH...`` imports the scanner, loads
and compiles the rules with ``scanner.rules.load.load_rules`` as a scan with the
default ``--jobs`` does (rules no input can feed are not compiled) and writes one JSON
object to RESULT.json: ``import_s`` and ``load_s`` (seconds), ``rules`` (rules
with a literal plan), ``problems`` (how many were recorded) and ``literals`` (the
sorted union of every rule's required literals, for the grep floor). A fresh
process per call keeps the figure "cold": nothing is cached between runs.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def probe(result: Path, rule_paths: list[Path]) -> None:
    """Time import and load+compile of ``rule_paths``; write the figures to ``result``."""
    start = time.perf_counter()
    from scanner.errors import Problems
    from scanner.match.prefilter import required_literals
    from scanner.rules.feeds import can_fire
    from scanner.rules.load import load_rules
    imported = time.perf_counter()
    problems = Problems()
    compiled = load_rules(rule_paths, problems, None, can_fire, os.cpu_count() or 1)
    loaded = time.perf_counter()
    plans = required_literals(compiled)
    literals = sorted(set().union(*(lits for lits in plans.values() if lits)))
    result.write_text(json.dumps({
        "import_s": imported - start, "load_s": loaded - imported, "rules": len(plans),
        "problems": len(problems), "literals": literals}), encoding="utf-8")


if __name__ == "__main__":
    probe(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]])
