"""``logsigma rules check`` and ``logsigma rules list``: load rules and show them as tables.

Takes the parsed arguments of ``scanner.cli`` (``paths``, ``placeholders``) and
writes tabulate tables to stdout, problems to stderr. ``check`` exits 0 when every
rule loaded and compiled, 1 when any was skipped; the per-logsource counts say which
formats feed each logsource, so a rule that loads but can never fire is visible; a missing path raises
:class:`~scanner.errors.UsageError`, which ``cli`` turns into exit 2. ``list``
exits 0 and shows id, title, level, status and logsource of every loaded rule and
correlation.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from tabulate import tabulate

from scanner.columnar.expressions import rule_exprs
from scanner.errors import Problems
from scanner.model import LogSource, RuleInfo
from scanner.rules.feeds import feeders
from scanner.rules.load import CompiledRules, load_rules

SKIP_KIND = "rule"


def _load(args: argparse.Namespace) -> tuple[CompiledRules, Problems]:
    problems = Problems()
    placeholders = Path(args.placeholders) if getattr(args, "placeholders", None) else None
    compiled = load_rules([Path(p) for p in args.paths], problems, placeholders)
    return compiled, problems


def _all_rules(compiled: CompiledRules) -> list[RuleInfo]:
    return [*compiled.rules, *(c.rule for c in compiled.correlations)]


def _logsource(info: RuleInfo) -> str:
    return f"correlation ({info.kind})" if info.kind != "rule" else str(info.logsource)


def read_from(logsource: LogSource) -> str:
    """The formats (and logsigma's own events) that feed rules of ``logsource``."""
    return ", ".join(feeders(logsource)) or "nothing logsigma reads: these rules cannot fire"


def check_command(args: argparse.Namespace) -> int:
    """Load and compile the rules under ``args.paths``; list loaded and skipped ones."""
    compiled, problems = _load(args)
    rules = _all_rules(compiled)
    skipped = [p for p in problems if p.kind == SKIP_KIND]
    print(tabulate([(r.id, r.title, _logsource(r), "loaded") for r in rules],
                   headers=("id", "title", "logsource", "state")))
    if skipped:
        print()
        print(tabulate([(p.location.path, p.location.rule or "-", p.message) for p in skipped],
                       headers=("skipped file", "rule", "reason")))
    print()
    counts = Counter(_logsource(r) for r in rules)
    sources = {_logsource(r): r for r in rules}
    print(tabulate([(name, n, read_from(sources[name].logsource) if sources[name].kind == "rule"
                     else "its rules' events") for name, n in sorted(counts.items())],
                   headers=("logsource", "rules", "read from")))
    for p in problems:
        if p.kind != SKIP_KIND:
            print(f"logsigma: {p}", file=sys.stderr)
    _, reference_only = rule_exprs(compiled.compiled)
    if reference_only:
        print()
        print(tabulate(sorted((rule_id, reason) for rule_id, reason in reference_only.items()),
                       headers=("rule run by reference code in --engine columnar", "reason")))
    print(f"\n{len(rules)} loaded, {len(skipped)} skipped, "
          f"{len(reference_only)} without a columnar form (run as reference code)")
    return 1 if skipped else 0


def list_command(args: argparse.Namespace) -> int:
    """Show id, title, level, status and logsource of the rules under ``args.paths``."""
    compiled, problems = _load(args)
    print(tabulate([(r.id, r.title, r.level or "-", r.status or "-", _logsource(r))
                    for r in _all_rules(compiled)],
                   headers=("id", "title", "level", "status", "logsource")))
    for p in problems:
        print(f"logsigma: {p}", file=sys.stderr)
    return 0
