"""What parsing the syslog family in Polars could save a worker, at most, on an auth.log.

``python bench/parse_share.py TREE [--repeats 3]`` takes the ``auth.log`` of a generated
tree (``generate.py --worst``: every line a candidate) and times per line, in one process,
the steps interleaved, medians of ``--repeats``:

* the columnar worker's whole scan of the file (``Worker.scan``, grammars already loaded);
* the reference parse of every line (``RouteParser.parse``: header, PRI, program grammars);
* its grammar regexes alone with their fields dicts (syslog header, then the program's
  grammars in order): the part a vectorized parse would replace;
* a floor for that part in Polars: ``str.extract_groups`` of a header and one message shape
  per grammar with plain regexes (no lookarounds, so no fallback decided, no kinds, no PRI),
  then the columns turned back into one dict per line, which every ``Event`` needs.

The saving a Polars parse could bring is at most (regexes − Polars floor) / worker.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import timezone
from pathlib import Path
from typing import Callable

import polars as pl
from tabulate import tabulate

from scanner.cli import build_parser
from scanner.config import scan_config
from scanner.errors import Problems
from scanner.normalize.grammars import load_grammar
from scanner.normalize.normalizer import RouteParser
from scanner.normalize.routes import load_routes
from scanner.pipeline import Scan, WorkerOptions, new_worker, plan_units
from scanner.resources import bundled_rules_dir
from scanner.rules.load import load_rules

CORPUS_RULES = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "sigmahq"
HEADER = (r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) "
          r"(?P<host>[^\s:]+) +(?P<program>[^\s\[\]:]+)\[(?P<pid>\d+)\]: +(?P<message>\S.*)$")
MESSAGES = (  # the worst case's two shapes, sshd then pam_unix
    r"^Failed (?P<auth_method>[a-z][\w/-]*) for (?:invalid user )?(?P<user>[^\s()]+) from "
    r"(?P<src_ip>[0-9A-Fa-f.:]*[0-9A-Fa-f]) port (?P<src_port>\d+)(?: +ssh2(?:: .*)?)?$",
    r"^pam_unix\(sshd:auth\): authentication failure; logname=(?P<logname>\S*) uid=(?P<uid>\d+)"
    r" euid=(?P<euid>\d+) tty=(?P<tty>\S*) ruser=(?P<ruser>\S*) rhost=(?P<rhost>\S*)"
    r"(?: +user=(?P<pam_user>\S+))? *$",
)


def _worker_scan(tree: Path) -> Callable[[], object]:
    rules = load_rules([CORPUS_RULES, bundled_rules_dir()], Problems())
    worker = new_worker(rules, WorkerOptions(True, timezone.utc, None, None, "columnar"))
    scan = Scan(scan_config(build_parser().parse_args(["scan", str(tree), "-q"])))
    units = [unit for unit in plan_units(scan) if unit.file.path.name == "auth.log"]
    worker.scan(units[0])  # loads the grammars
    return lambda: [worker.scan(unit) for unit in units]


def _reference_parse(lines: list[str]) -> Callable[[], object]:
    parse = RouteParser(load_routes()["syslog"]).parse
    return lambda: [parse(line) for line in lines]


def _grammar_regexes(lines: list[str]) -> Callable[[], object]:
    header = load_grammar("syslog").parser
    programs = [load_grammar(name).parser
                for name in load_routes()["syslog"].programs["sshd"].grammars]
    messages = [parsed[1]["message"] for line in lines if (parsed := header(line))]

    def run() -> None:
        [header(line) for line in lines]
        for message in messages:
            for parse in programs:
                if parse(message) is not None:
                    break
    return run


def _polars_floor(lines: list[str]) -> Callable[[], object]:
    def run() -> list[dict[str, str | None]]:
        head = pl.Series("line", lines).str.extract_groups(HEADER).struct.unnest()
        frames = [head, *(head["message"].str.extract_groups(shape).struct.unnest()
                          for shape in MESSAGES)]
        names = [name for frame in frames for name in frame.columns]
        columns = [column.to_list() for frame in frames for column in frame.iter_columns()]
        return [dict(zip(names, row)) for row in zip(*columns)]
    return run


def main() -> None:
    """Time the steps on the tree named on the command line and print the bound."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tree", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    lines = (args.tree / "auth.log").read_text(encoding="utf-8").splitlines()
    steps = {"columnar worker, whole scan": _worker_scan(args.tree),
             "reference parse (RouteParser.parse)": _reference_parse(lines),
             "its grammar regexes + fields dicts": _grammar_regexes(lines),
             "Polars floor: extract_groups + dicts": _polars_floor(lines)}
    seconds: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.repeats):
        for name, step in steps.items():
            started = time.perf_counter()
            step()
            seconds[name].append(time.perf_counter() - started)
    per_line = {name: statistics.median(times) / len(lines) * 1e6 for name, times in seconds.items()}
    print(tabulate([(name, f"{value:.2f}") for name, value in per_line.items()],
                   headers=(f"{len(lines):,} lines", "µs/line")))
    worker, regexes, floor = (per_line[name] for name in list(steps)[:1] + list(steps)[2:])
    print(f"a Polars parse saves at most {(regexes - floor) / worker:.0%} of the worker's time")


if __name__ == "__main__":
    main()
