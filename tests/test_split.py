"""Big plain files cut into byte ranges across workers give exactly what a whole scan gives.

``SPLIT_BYTES`` is patched small before each scan (workers fork, so they see it);
``--jobs 1`` never splits, so it is the reference. Files are our own: the demo tree,
a generated sshd log with continued records, invalid UTF-8 in several parts and
a silence whose two sides fall in different parts, and a generated year-less one whose
Dec→Jan rollover falls exactly on a part boundary.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pytest

from scanner import pipeline
from scanner.cli import build_parser, main
from scanner.config import scan_config
from scanner.normalize.normalizer import begins_record
from scanner.pipeline import Scan, plan_units
from scanner.sources.open import merge_part_problems
from scanner.errors import Location, Problem

from conftest import FIXTURES

DEMO = FIXTURES / "demo" / "var" / "log"
SPLIT = 4096  # the patched SPLIT_BYTES: many parts
BOUNDARY = 16 * 1024  # where the generated logs' silence or rollover sits: with SPLIT_BYTES = BOUNDARY
# and --jobs 2, a file of a little over 3 * BOUNDARY is cut in 3 parts of a little over BOUNDARY
# (the record across BOUNDARY ends well after that), so the first cut is right after it


def scan_outputs(tree: Path, jobs: int, tmp: Path) -> tuple[bytes, dict]:
    """The JSONL bytes and the JSON summary (less timings) of one scan."""
    jsonl, summary = tmp / f"hits-{jobs}.jsonl", tmp / f"scan-{jobs}.json"
    main(["scan", "-q", "--jobs", str(jobs), "-f", "jsonl", "-o", str(jsonl), str(tree)])
    main(["scan", "-q", "--jobs", str(jobs), "-f", "json", "-o", str(summary), str(tree)])
    counts = json.loads(summary.read_text())["summary"]
    for timing in ("seconds", "lines_per_second"):
        counts.pop(timing)
    return jsonl.read_bytes(), counts


def units_of(tree: Path, jobs: int, slots: int | None = None) -> dict[str, list[pipeline.WorkUnit]]:
    """The work units of a scan of ``tree`` with ``--jobs jobs`` (by ``slots`` processes: a
    cluster's), by source."""
    config = scan_config(build_parser().parse_args(["scan", "-q", "--jobs", str(jobs), str(tree)]))
    units: dict[str, list[pipeline.WorkUnit]] = {}
    for unit in plan_units(Scan(config), slots):
        units.setdefault(unit.file.source, []).append(unit)
    return units


def stamp(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"2024-03-01T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}.000000+00:00"


def sshd_log(path: Path) -> None:
    """An ISO-stamped auth.log: failed logins, continued records, bad UTF-8, a 7 h silence.

    The record before the silence starts just before ``BOUNDARY`` and its continuation
    lines run past it, so the first record start at or after ``BOUNDARY`` (a cut) is the
    first line after the silence.
    """
    out, second, n = bytearray(), 0, 0

    def record(text: bytes, cont: int = 0) -> None:
        nonlocal second, n
        second += 2
        n += 1
        out.extend(stamp(second).encode() + b" vps " + text + b"\n")
        out.extend(b"".join(b"    continued detail line %d\n" % i for i in range(cont)))

    def filler(limit: int) -> None:
        while len(out) < limit:
            if n % 97 == 5:
                record(b"sshd[100]: Invalid user \xff\xfe from 198.51.100.7 port 4242")
            elif n % 13 == 0:
                record(b"kernel: [ 1.0] trace follows", cont=2)
            else:
                record(b"sshd[%d]: Failed password for root from 203.0.113.9 port %d ssh2"
                       % (200 + n, 40000 + n))

    filler(BOUNDARY - 200)
    record(b"kernel: [ 2.0] long trace follows", cont=8)  # runs over BOUNDARY
    assert len(out) > BOUNDARY
    second += 7 * 3600
    filler(3 * BOUNDARY)
    path.write_bytes(bytes(out))


def yearless_log(path: Path) -> None:
    """An RFC 3164 auth.log, written Jan 2025: two unstamped lines, then failed logins on Dec 31
    until the last December record, whose continuation lines run over ``BOUNDARY``; the record
    after it (a cut) is the first of Jan 1."""
    out, n = bytearray(b"-- log opened --\n   (no stamp)\n"), 0

    def filler(day: str, limit: int) -> None:
        nonlocal n
        while len(out) < limit:
            n += 1
            hours, rest = divmod(2 * n % 86400, 3600)
            out.extend(b"%s %02d:%02d:%02d vps sshd[%d]: Failed password for root from 203.0.113.9 "
                       b"port %d ssh2\n" % (day.encode(), hours, rest // 60, rest % 60, n, 40000 + n))

    filler("Dec 31", BOUNDARY - 200)
    out.extend(b"Dec 31 23:59:59 vps kernel: [ 2.0] trace follows\n" + b"    detail line\n" * 16)
    assert len(out) > BOUNDARY
    n = 0
    filler("Jan  1", 3 * BOUNDARY)
    path.write_bytes(bytes(out))
    written = datetime(2025, 1, 1, 12, tzinfo=timezone.utc).timestamp()
    os.utime(path, (written, written))


def tree_with_auth_log(tree: Path, write: Callable[[Path], None]) -> Path:
    """``tree`` made, holding an ``auth.log`` that ``write`` writes."""
    tree.mkdir()
    write(tree / "auth.log")
    return tree


@pytest.fixture()
def yearless(tmp_path: Path) -> Path:
    return tree_with_auth_log(tmp_path / "yearless", yearless_log)


@pytest.fixture()
def generated(tmp_path: Path) -> Path:
    return tree_with_auth_log(tmp_path / "log", sshd_log)


@pytest.fixture()
def small_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "SPLIT_BYTES", SPLIT)


@pytest.mark.parametrize("tree_name, jobs, split_bytes",
                         [("demo", 4, SPLIT), ("generated", 4, SPLIT), ("generated", 2, BOUNDARY),
                          ("yearless", 4, SPLIT), ("yearless", 2, BOUNDARY)])
def test_split_scan_matches_whole_scan(tree_name: str, jobs: int, split_bytes: int, tmp_path: Path,
                                       request: pytest.FixtureRequest,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "SPLIT_BYTES", split_bytes)
    tree = DEMO if tree_name == "demo" else request.getfixturevalue(tree_name)
    split = [s for s, units in units_of(tree, jobs).items() if len(units) > 1]
    assert split, "nothing was split: the test would prove nothing"
    whole_hits, whole_summary = scan_outputs(tree, 1, tmp_path)
    split_hits, split_summary = scan_outputs(tree, jobs, tmp_path)
    assert whole_hits and split_hits == whole_hits
    assert split_summary == whole_summary


def test_silence_across_a_part_boundary_is_reported(generated: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "SPLIT_BYTES", BOUNDARY)
    units = units_of(generated, 2)["auth.log"]
    text = (generated / "auth.log").read_bytes()
    after = text.index(b"2024-03-01T07:")  # the first record after the 7 h silence
    silence_line = 1 + text[:after].count(b"\n")
    assert units[1].span.start == after > BOUNDARY and units[1].span.first_line == silence_line
    hits = [json.loads(line) for line in scan_outputs(generated, 2, tmp_path)[0].splitlines()]
    silences = [h for h in hits if h.get("fields", {}).get("anomaly") == "silence"]
    assert [(h["source"], h["line"]) for h in silences] == [("auth.log", silence_line)]


def test_yearless_parts_start_in_the_year_of_their_first_stamp(yearless: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "SPLIT_BYTES", BOUNDARY)
    units = units_of(yearless, 2)["auth.log"]
    text = (yearless / "auth.log").read_bytes()
    assert units[1].span.start == text.index(b"Jan  1 ")  # the rollover is on the boundary
    assert [unit.start_year for unit in units] == [2024] + [2025] * (len(units) - 1)
    hits = [json.loads(line) for line in scan_outputs(yearless, 2, tmp_path)[0].splitlines()]
    years = {h["timestamp"][:10] for h in hits if h.get("timestamp")}
    assert {"2024-12-31", "2025-01-01"} <= years and all(y[:4] in ("2024", "2025") for y in years)


@pytest.mark.parametrize("name", ["auth.log", "nginx/access.log.1"])
def test_parts_start_at_records_with_absolute_line_numbers(name: str, small_split: None) -> None:
    units = units_of(DEMO, 4)[name]
    data = (DEMO / name).read_bytes()
    assert len(units) > 1
    assert units[0].span.start == 0 and units[-1].span.end is None
    for before, after in zip(units, units[1:]):
        assert before.span.end == after.span.start  # no gap, no overlap
    for unit in units:
        start = unit.span.start
        head = data[start:data.index(b"\n", start)].decode()
        assert start == 0 or data[start - 1:start] == b"\n"
        assert begins_record(unit.choice.route)(head)
        assert unit.span.first_line == 1 + data[:start].count(b"\n")


def test_compressed_and_single_job_files_are_never_split(tmp_path: Path, small_split: None) -> None:
    tree = tmp_path / "log"
    tree.mkdir()
    sshd_log(tree / "auth.log")
    (tree / "auth.log.1.gz").write_bytes(gzip.compress((tree / "auth.log").read_bytes()))
    yearless = b"".join(b"Mar  1 10:%02d:%02d vps sshd[1]: Failed password for root from 203.0.113.9 "
                        b"port 22 ssh2\n" % divmod(i % 3600, 60) for i in range(2000))
    (tree / "secure").write_bytes(yearless)
    shutil.copy(DEMO / "nginx" / "access.log.1", tree / "access.log")
    parts = {source: len(units) for source, units in units_of(tree, 4).items()}
    assert parts["auth.log"] > 1 and parts["access.log"] > 1 and parts["secure"] > 1
    assert parts["auth.log.1.gz"] == 1
    assert all(len(units) == 1 for units in units_of(tree, 1).values())


def test_parts_follow_the_processes_that_scan_not_the_clients_jobs(small_split: None) -> None:
    """Under ``--cluster`` the cluster's worker threads, not the client's ``--jobs``, set how
    many parts a big file is cut into (2 per process, as locally)."""
    alone = units_of(DEMO, 1)["auth.log"]
    on_cluster = units_of(DEMO, 1, 4)["auth.log"]
    assert len(alone) == 1 and len(on_cluster) == len(units_of(DEMO, 4)["auth.log"]) > 1


def test_a_compressed_member_is_scheduled_by_the_text_it_holds(tmp_path: Path) -> None:
    tree = tmp_path / "log"
    tree.mkdir()
    sshd_log(tree / "auth.log")
    packed = gzip.compress((tree / "auth.log").read_bytes())
    (tree / "auth.log.1.gz").write_bytes(packed)
    units = {source: whole for source, (whole,) in units_of(tree, 1).items()}
    assert units["auth.log.1.gz"].cost == len(packed) * pipeline.COMPRESSION_GUESS
    assert units["auth.log"].cost == units["auth.log"].size


def test_planning_reads_the_costliest_files_first(tmp_path: Path, small_split: None) -> None:
    """Planning reads the files cut into parts and those of year-less routes (line counts of
    parts, month spans) in one ``map``, costliest first (a compressed one by the text it
    holds), so no process is left alone with the longest read at the end; others not at all."""
    tree = tmp_path / "log"
    tree.mkdir()
    noise = random.Random(7)  # text gzip cannot shrink much: a .gz holding less but costing more
    yearless = b"".join(b"Mar  1 10:%02d:%02d vps sshd[1]: Invalid user %s from 203.0.113.9\n"
                        % (*divmod(i % 3600, 60), noise.randbytes(24).hex().encode())
                        for i in range(2000))
    (tree / "auth.log").write_bytes(yearless)
    (tree / "auth.log.1.gz").write_bytes(gzip.compress(yearless[:len(yearless) // 2]))
    shutil.copy(DEMO / "nginx" / "access.log.1", tree / "access.log")
    shutil.copy(DEMO / "dpkg.log", tree / "dpkg.log")
    config = scan_config(build_parser().parse_args(["scan", "-q", "--jobs", "2", str(tree)]))
    scan = Scan(config)
    units = plan_units(scan)
    files = {u.file.source: u.file for u in units}
    choices = {u.file.source: u.choice for u in units}
    counts = {source: sum(u.file.source == source for u in units) for source in files}
    reads = [f.source for f in pipeline.planning_reads(list(files.values()), choices, counts)]
    assert counts["auth.log"] > 1 and counts["access.log"] > 1 and counts["auth.log.1.gz"] == 1
    assert sorted(reads) == ["access.log", "auth.log", "auth.log.1.gz"]
    assert reads == sorted(reads, key=lambda s: pipeline.text_bytes(files[s], files[s].size),
                           reverse=True)
    assert reads.index("auth.log.1.gz") < reads.index("auth.log")  # 8 times its size
    assert {u.start_year for u in units if u.file.source.startswith("auth.log")} != {None}


def test_line_defects_of_parts_merge_into_one_problem_per_kind() -> None:
    label = "line(s) with invalid UTF-8 (kept with \\x escapes)"
    parts = [Problem("source", Location("auth.log", 7), f"2 {label}, first at line 7"),
             Problem("source", Location("auth.log", 90), "1 line(s) with NUL bytes, first at line 90"),
             Problem("source", Location("auth.log", 120), f"3 {label}, first at line 120")]
    assert [str(p) for p in merge_part_problems(parts)] == [
        f"auth.log:7: 5 {label}, first at line 7",
        "auth.log:90: 1 line(s) with NUL bytes, first at line 90"]


@pytest.mark.parametrize("tree_name", ["demo", "yearless"])
def test_planning_in_processes_plans_what_planning_here_does(
        tree_name: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A big tree's line counts of parts and month spans are read by --jobs processes
    (``planning_map``): the same units, parts, start years and notes as read here."""
    monkeypatch.setattr(pipeline, "SPLIT_BYTES", SPLIT if tree_name == "demo" else BOUNDARY)
    tree = DEMO if tree_name == "demo" else request.getfixturevalue(tree_name)

    def planned() -> tuple[list[tuple], list[str]]:
        scan = Scan(scan_config(build_parser().parse_args(["scan", "-q", "--jobs", "2", str(tree)])))
        units = [(u.file.source, u.span, u.start_year) for u in plan_units(scan)]
        return units, scan.time_notes

    here = planned()
    monkeypatch.setattr(pipeline, "PLAN_POOL_BYTES", 0)
    pooled: list[object] = []
    real_pool = pipeline.ProcessPoolExecutor
    monkeypatch.setattr(pipeline, "ProcessPoolExecutor",
                        lambda **kw: pooled.append(kw) or real_pool(**kw))
    assert planned() == here and pooled, "the planning pool was not used"
    assert any(len([u for u in here[0] if u[0] == s]) > 1 for s, _, _ in here[0])
    assert tree_name == "demo" or {year for _, _, year in here[0]} == {2024, 2025}
