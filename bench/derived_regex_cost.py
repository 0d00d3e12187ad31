"""µs per line of each grammar's derived regex, against the derivation of another checkout.

``PYTHONPATH=. python bench/derived_regex_cost.py --baseline OLD.py [LOG ...]`` derives
every grammar's fast parser twice: with this checkout's :mod:`scanner.normalize.lark_regex`
and with ``OLD.py``, another version of that module (e.g. ``git show
86790ea:scanner/normalize/lark_regex.py > /tmp/old.py``). Each grammar gets the lines and
syslog messages it accepts among the given logs (as in ``bench/grammar_speed.py``;
default ``fixtures/formats/*.log``; the first ``--lines`` distinct lines of each); both
parsers must give the same (kind, fields) on every one. ``re.Pattern.match`` and ``FastParser.parse`` of
both are then timed in turns (CPU time of this process, the least per chunk of
``CHUNK`` lines over ``--rounds`` rounds, summed: steady on a shared machine), and a
table gives the groups and µs per line of each. Read-only on its inputs; asserts no timing.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from grammar_speed import REPO, read_lines, samples
from tabulate import tabulate

from scanner.normalize.grammars import load_grammar
from scanner.resources import grammars_dir

CHUNK = 2_000  # lines timed at a time; the least time of each chunk over the rounds is kept


def load_module(path: Path) -> ModuleType:
    """The derivation module at ``path``, imported under a name of its own."""
    spec = importlib.util.spec_from_file_location("baseline_lark_regex", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def least_times(calls: dict[str, Callable[[str], object]], texts: list[str],
                rounds: int) -> dict[str, float]:
    """µs per text of each call: the least CPU time of each chunk over the rounds, calls in turn."""
    chunks = [texts[i:i + CHUNK] for i in range(0, len(texts), CHUNK)]
    best = {name: [float("inf")] * len(chunks) for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            for i, chunk in enumerate(chunks):
                start = time.process_time()
                for text in chunk:
                    call(text)
                best[name][i] = min(best[name][i], time.process_time() - start)
    return {name: sum(times) / len(texts) * 1e6 for name, times in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="*", type=Path,
                        default=sorted((REPO / "fixtures" / "formats").glob("*.log")))
    parser.add_argument("--baseline", type=Path, required=True,
                        help="another version of scanner/normalize/lark_regex.py")
    parser.add_argument("--lines", type=int, default=10_000, help="distinct lines read per log")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    baseline = load_module(args.baseline)
    grammars = {p.stem: load_grammar(p.stem) for p in sorted(grammars_dir().glob("*.lark"))}
    rows = []
    lines = [line for log in args.logs for line in read_lines([log])[:args.lines]]
    for name, texts in samples(grammars, lines).items():
        fast = grammars[name]._fast  # the derived parser is what is measured
        if fast is None or not texts:
            continue
        old = baseline.derive(grammars[name]._lark)
        differ = sum(old.parse(text) != fast.parse(text) for text in texts)
        gc.disable()
        cost = least_times({"old match": old.pattern.match, "new match": fast.pattern.match,
                            "old parse": old.parse, "new parse": fast.parse}, texts, args.rounds)
        gc.enable()
        rows.append([name, len(texts), f"{old.pattern.groups} → {fast.pattern.groups}",
                     f"{cost['old match']:.3f} → {cost['new match']:.3f}",
                     f"{cost['old parse']:.3f} → {cost['new parse']:.3f}", differ])
    print(tabulate(rows, headers=["grammar", "lines", "groups", "match µs", "parse µs",
                                  "results differ"]))


if __name__ == "__main__":
    main()
