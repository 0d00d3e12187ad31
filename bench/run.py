"""One-command benchmark of ``logsigma scan`` against a grep floor, with targets.

``python bench/run.py --size 1G`` generates (once, cached under ``bench/out/``) a
realistic tree of that size and a worst-case tree (``--worst-size``), then times,
each ``--repeats`` times in fresh child processes: ``logsigma scan`` with the corpus
rules plus the bundled ones (``--jobs 2 -f jsonl -o /dev/null -q``), the same with
``--no-prefilter``, each with every engine of ``--engines`` (the scans run in turn within
each round, so the machine's drift touches them alike; ``--skip`` leaves a measurement
out), the floor ``grep -c -F -f <every required literal>`` over the
same decompressed bytes (gz members decompressed once to a scratch copy, outside
the timing), and cold rule load+compile (``rule_load.py``). It prints medians:
wall seconds, MB/s and lines/s over the uncompressed bytes, peak RSS (largest
process of the child's tree, from ``os.wait4``), the ratio to the floor, and a
pass/fail line per target and engine. A failing command is reported with its stderr tail and
the run goes on; it never writes into the scanned trees.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from tabulate import tabulate

from scanner.config import ENGINES
from scanner.resources import bundled_rules_dir

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CORPUS_RULES = REPO.parent / "shared" / "corpus" / "sigmahq"
STDERR_TAIL = 12  # lines of a failed command's stderr shown
RSS_POLL_S = 0.2  # how often a run's session is polled for its processes' RSS
MEASUREMENTS = ("floor", "scan", "no-prefilter", "worst")  # what --skip can leave out


@dataclass(frozen=True)
class Measurement:
    """Median wall time and peak RSS of repeated runs, or why the command failed."""

    name: str
    wall_s: float | None = None
    rss_mb: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class Tree:
    """The decompressed scratch copy of a generated tree, which the floor greps."""

    plain: Path
    bytes: int
    lines: int


def run_once(cmd: Sequence[str], ok_codes: tuple[int, ...], timeout: float | None = None
             ) -> tuple[float, float] | str:
    """Run ``cmd``; ``(wall seconds, peak RSS MB)`` or the error text with its stderr tail.

    The child leads its own process group, so a timeout kills it and its workers together.
    Peak RSS is the larger of ``wait4``'s (processes the child reaped) and the largest RSS
    seen by polling its session: workers forked from a forkserver are not the child's to reap.
    """
    # stdout goes to a real file: GNU grep stops at the first match when it sees /dev/null.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=REPO, start_new_session=True)
        except OSError as exc:
            return f"cannot start {cmd[0]}: {exc.strerror}"
        timer = threading.Timer(timeout or 0, kill_group, (proc.pid,))
        if timeout:
            timer.start()
        watch = SessionWatch(proc.pid)
        watch.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        timer.cancel()
        watch.stop()
        proc.returncode = code = os.waitstatus_to_exitcode(status)  # reaped: keep Popen in step
        if timeout and wall >= timeout:
            return f"timed out after {timeout:.0f} s"
        if code not in ok_codes:
            err.seek(0)
            tail = err.read().decode("utf-8", "replace").splitlines()[-STDERR_TAIL:]
            return f"exit {code}:\n    " + "\n    ".join(tail or ["(no stderr)"])
    return wall, max(usage.ru_maxrss / 1024, watch.peak_mb)


class SessionWatch(threading.Thread):
    """Polls ``/proc`` for the largest RSS of any process of session ``sid``."""

    def __init__(self, sid: int) -> None:
        super().__init__(daemon=True)
        self.sid, self.peak_mb = sid, 0.0
        self._done = threading.Event()

    def run(self) -> None:
        page_mb = os.sysconf("SC_PAGE_SIZE") / (1 << 20)
        while not self._done.wait(RSS_POLL_S):
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as f:
                        fields = f.read().rpartition(")")[2].split()
                except OSError:
                    continue  # gone meanwhile
                if int(fields[3]) == self.sid:  # after "pid (comm)": state ppid pgrp session …
                    self.peak_mb = max(self.peak_mb, int(fields[21]) * page_mb)  # rss pages

    def stop(self) -> None:
        self._done.set()
        self.join()


def kill_group(pgid: int) -> None:
    """SIGKILL the process group of a child this script started (gone already: nothing)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def measure(name: str, cmd: Sequence[str], repeats: int, timeout: float | None = None,
            ok_codes: tuple[int, ...] = (0, 1)) -> Measurement:
    """Median wall and max RSS over ``repeats`` runs; stops at the first failure."""
    return measure_interleaved({name: cmd}, repeats, timeout, ok_codes)[name]


def measure_interleaved(cmds: dict[str, Sequence[str]], repeats: int, timeout: float | None = None,
                        ok_codes: tuple[int, ...] = (0, 1)) -> dict[str, Measurement]:
    """:func:`measure` of several commands, run in turn within each round (so a drift of the
    machine's speed touches them all alike); a failed command drops out of later rounds."""
    walls: dict[str, list[float]] = {name: [] for name in cmds}
    rss: dict[str, list[float]] = {name: [] for name in cmds}
    failed: dict[str, Measurement] = {}
    for _ in range(repeats):
        for name, cmd in cmds.items():
            if name in failed:
                continue
            outcome = run_once(cmd, ok_codes, timeout)
            if isinstance(outcome, str):
                failed[name] = Measurement(name, error=outcome)
                continue
            walls[name].append(outcome[0])
            rss[name].append(outcome[1])
    results = {}
    for name in cmds:
        if name in failed:
            results[name] = failed[name]
            continue
        print(f"  {name}: median {statistics.median(walls[name]):.2f} s", file=sys.stderr)
        results[name] = Measurement(name, statistics.median(walls[name]), max(rss[name]))
    return results


def ensure_tree(root: Path, size: str, worst: bool) -> str | None:
    """Generate ``root`` unless a completed copy exists (``<root>.done``); None or the error.

    The generator runs as a child: in this process its memory would raise the peak RSS that
    every later child inherits at fork (Linux carries the hiwater mark across exec).
    """
    done = root.with_name(root.name + ".done")
    if done.is_file():
        return None
    print(f"generating {root} …", file=sys.stderr)
    shutil.rmtree(root, ignore_errors=True)
    cmd = [sys.executable, str(BENCH / "generate.py"), "--size", size, "--out", str(root)]
    outcome = run_once(cmd + ["--worst"] * worst, (0,))
    if isinstance(outcome, str):
        return f"generating {root} failed: {outcome}"
    done.write_text(f"{size}\n", encoding="utf-8")
    return None


def plain_copy(root: Path, scratch: Path) -> Tree:
    """Hard-link (or copy) every file of ``root`` into ``scratch``, decompressing ``.gz``."""
    total = lines = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        target = scratch / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".gz":
            target = target.with_suffix("")
            with gzip.open(path, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        else:
            try:
                os.link(path, target)
            except OSError:
                shutil.copyfile(path, target)
        total += target.stat().st_size
        if path.name not in ("wtmp", "btmp"):
            lines += count_lines(target)
    return Tree(scratch, total, lines)


def count_lines(path: Path) -> int:
    """Newlines in a file, read in large blocks."""
    with open(path, "rb") as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 22), b""))


def rule_literals(rule_paths: Sequence[Path], scratch: Path, repeats: int
                  ) -> tuple[Measurement, list[str]]:
    """Cold import+load+compile (median over fresh processes) and the rules' literals."""
    result = scratch / "rule_load.json"
    cmd = [sys.executable, str(BENCH / "rule_load.py"), str(result), *map(str, rule_paths)]
    name, seconds, rss = "cold rule load+compile", [], []
    for _ in range(repeats):
        outcome = run_once(cmd, (0,))
        if isinstance(outcome, str):
            return Measurement(name, error=outcome), []
        data = json.loads(result.read_text(encoding="utf-8"))
        seconds.append(data["import_s"] + data["load_s"])
        rss.append(outcome[1])
    print(f"  {name}: median {statistics.median(seconds):.2f} s; {data['rules']} rules, "
          f"{data['problems']} problems, {len(data['literals'])} literals", file=sys.stderr)
    return Measurement(name, statistics.median(seconds), max(rss)), data["literals"]


def scan_cmd(root: Path, rules: Path, jobs: int, *extra: str) -> list[str]:
    """The logsigma command line under test."""
    return [sys.executable, "-m", "scanner", "scan", str(root), "-r", str(rules),
            "--jobs", str(jobs), "-f", "jsonl", "-o", "/dev/null", "-q", *extra]


def grep_cmd(plain: Path, literals_file: Path) -> list[str]:
    """The floor: case-sensitive fixed-string grep for every literal, counting lines."""
    return ["grep", "-c", "-r", "-F", "-f", str(literals_file), str(plain)]


def row(m: Measurement, tree: Tree | None, floor: Measurement | None) -> list[object]:
    """One table row: name, wall, MB/s, lines/s, RSS, ratio to floor (or the error)."""
    if m.error or m.wall_s is None:
        return [m.name, "FAILED", "", "", "", ""]
    rate = (f"{tree.bytes / m.wall_s / 1e6:.1f}", f"{tree.lines / m.wall_s / 1e3:.0f} k") \
        if tree else ("", "")
    ratio = f"{m.wall_s / floor.wall_s:.1f}x" if floor and floor.wall_s and floor is not m else ""
    return [m.name, f"{m.wall_s:.2f}", *rate, f"{m.rss_mb:.0f}" if m.rss_mb else "", ratio]


def check(name: str, value: float | None, ok: bool, shown: str) -> list[str]:
    """One target's row: its name, the measured value, PASS, FAIL or n/a (not measured)."""
    return [name, "n/a" if value is None else shown, "n/a" if value is None else
            ("PASS" if ok else "FAIL")]


def verdicts(scan: Measurement, floor: Measurement, worst: Measurement, real: Tree,
             worst_tree: Tree, engine: str) -> list[list[str]]:
    """The README's speed and memory targets of one engine."""
    speed = real.bytes / scan.wall_s / 1e6 if scan.wall_s else None
    ratio = scan.wall_s / floor.wall_s if scan.wall_s and floor.wall_s else None
    worst_rate = worst_tree.lines / worst.wall_s if worst.wall_s else None
    rss = max((m.rss_mb for m in (scan, worst) if m.rss_mb), default=None)
    return [
        check(f"{engine}: realistic tree >= 100 MB/s wall (--jobs 2)", speed, (speed or 0) >= 100,
              f"{speed or 0:.1f} MB/s"),
        check(f"{engine}: within 3x of the grep floor", ratio, (ratio or 99) <= 3,
              f"{ratio or 0:.1f}x"),
        check(f"{engine}: worst case >= 250 k lines/s", worst_rate, (worst_rate or 0) >= 250_000,
              f"{(worst_rate or 0) / 1e3:.0f} k lines/s"),
        check(f"{engine}: peak RSS <= 256 MB", rss, (rss or 1e9) <= 256, f"{rss or 0:.0f} MB"),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Generate if needed, measure everything, print the tables; 0 unless nothing ran."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1G", help="realistic tree size (default 1G)")
    parser.add_argument("--worst-size", default="100M", help="worst-case tree size (default 100M)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (default 3)")
    parser.add_argument("--jobs", type=int, default=2, help="logsigma --jobs (default 2)")
    parser.add_argument("--rules", type=Path, default=CORPUS_RULES,
                        help=f"extra rules beside the bundled ones (default {CORPUS_RULES})")
    parser.add_argument("--out", type=Path, default=BENCH / "out", help="where trees are cached")
    parser.add_argument("--cluster", metavar="ADDRESS", default=None,
                        help="also time the realistic scan with --cluster ADDRESS (e.g. local:2)")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="kill a scan that runs longer and report it (default: none)")
    parser.add_argument("--engines", default=",".join(ENGINES), type=lambda t: t.split(","),
                        help="logsigma --engine values to time, comma-separated (default: all)")
    parser.add_argument("--skip", action="append", default=[], choices=MEASUREMENTS,
                        help="leave out a measurement (repeatable): the reference engine is slow")
    args = parser.parse_args(argv)
    if unknown := set(args.engines) - set(ENGINES):
        parser.error(f"unknown engine: {', '.join(sorted(unknown))}")
    if not args.rules.exists():
        parser.error(f"rules not found: {args.rules}")

    args.out.mkdir(parents=True, exist_ok=True)
    real_root = args.out / f"tree-{args.size}"
    worst_root = args.out / f"worst-{args.worst_size}"
    for root, size, worst in ((real_root, args.size, False), (worst_root, args.worst_size, True)):
        error = ensure_tree(root, size, worst)
        if error:
            print(error, file=sys.stderr)
            return 2

    with tempfile.TemporaryDirectory(dir=args.out, prefix="scratch-") as tmp:
        scratch = Path(tmp)
        real = plain_copy(real_root, scratch / "real")
        worst_tree = plain_copy(worst_root, scratch / "worst")
        print(f"realistic: {real.bytes / 1e6:.0f} MB, {real.lines:,} lines; worst: "
              f"{worst_tree.bytes / 1e6:.0f} MB, {worst_tree.lines:,} lines", file=sys.stderr)
        load, literals = rule_literals([args.rules, bundled_rules_dir()], scratch, args.repeats)
        literals_file = scratch / "literals.txt"
        literals_file.write_text("".join(f"{lit}\n" for lit in literals), encoding="utf-8")
        no_literals = Measurement("grep floor", error="no literals (rule loading failed)")
        skipped = Measurement("grep floor", error="skipped (--skip floor)")
        want = set(MEASUREMENTS) - set(args.skip) | ({"cluster"} if args.cluster else set())
        floor = worst_floor = no_literals if not literals else skipped
        if literals and "floor" in want:
            floor = measure("grep floor", grep_cmd(real.plain, literals_file), args.repeats)
            worst_floor = measure("grep floor (worst)", grep_cmd(worst_tree.plain, literals_file),
                                  args.repeats)
        runs = {f"{what} {engine}": scan_cmd(root, args.rules, args.jobs, "--engine", engine, *extra)
                for what, root, extra in (("scan", real_root, ()),
                                          ("no-prefilter", real_root, ("--no-prefilter",)),
                                          ("worst", worst_root, ()),
                                          ("cluster", real_root, ("--cluster", args.cluster)))
                if what in want for engine in args.engines}
        timed = measure_interleaved(runs, args.repeats, args.timeout)

    def named(what: str, engine: str) -> Measurement:
        label = {"scan": "logsigma scan", "no-prefilter": "logsigma scan --no-prefilter",
                 "worst": "logsigma scan (worst case)",
                 "cluster": f"logsigma scan --cluster {args.cluster}"}[what]
        found = timed.get(f"{what} {engine}", Measurement("", error="skipped"))
        return Measurement(f"{label} --engine {engine}", found.wall_s, found.rss_mb, found.error)

    headers = ["measurement", "wall s", "MB/s", "lines/s", "peak RSS MB", "vs floor"]
    print(f"\nrealistic tree {real_root} ({real.bytes / 1e6:.0f} MB, {real.lines:,} lines), "
          f"medians of {args.repeats}, --jobs {args.jobs}")
    shown = [named(w, e) for w in ("scan", "no-prefilter", "cluster") for e in args.engines]
    print(tabulate([row(m, real, floor) for m in (*shown, floor) if m.error != "skipped"],
                   headers=headers))
    print(f"\nworst-case tree {worst_root} ({worst_tree.bytes / 1e6:.0f} MB, "
          f"{worst_tree.lines:,} lines)")
    worst = [named("worst", e) for e in args.engines]
    print(tabulate([row(m, worst_tree, worst_floor) for m in (*worst, worst_floor)
                    if m.error != "skipped"], headers=headers))
    print(f"\n{len(literals)} literals; cold load+compile "
          + (f"{load.wall_s:.2f} s" if load.wall_s is not None else "FAILED")
          + f"; RSS floor inherited from this process: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    targets = [v for e in args.engines
               for v in verdicts(named("scan", e), floor, named("worst", e), real, worst_tree, e)]
    targets.append(check("cold load+compile <= 2 s", load.wall_s, (load.wall_s or 99) <= 2,
                         f"{load.wall_s or 0:.2f} s"))
    print("\n" + tabulate(targets, headers=["target", "measured", "verdict"]))
    failures = [m for m in (load, floor, worst_floor, *timed.values()) if m.error]
    for m in failures:
        print(f"\n{m.name} failed: {m.error}")
    return 2 if len(failures) == 3 + len(timed) else 0


if __name__ == "__main__":
    sys.exit(main())
