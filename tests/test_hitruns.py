"""Hit runs: bounded writers, ordered lazy merges, the spill directory's life, and scans
whose hits overflow the in-memory batch writing the same bytes as scans that never spill."""

from __future__ import annotations

import dataclasses
import fcntl
import heapq
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

import pytest

from scanner import hitruns
from scanner.correlate import split
from scanner.cli import main
from scanner.hitruns import RunWriter, Runs, spill_directory, spill_space
from scanner.model import Correlation, Hit, Keyed, LogSource, RuleInfo
from scanner.report import table

from conftest import FIXTURES

DEMO = FIXTURES / "demo" / "var" / "log"
T0 = datetime(2024, 2, 11, tzinfo=timezone.utc)


def rule(rule_id: str) -> RuleInfo:
    return RuleInfo(id=rule_id, title=f"rule {rule_id}", level="high", status="test", tags=(),
                    logsource=LogSource(product="linux"), path="x.yml")


def random_hits(count: int, seed: int) -> list[Hit]:
    """Hits with few distinct sort keys (many ties), each told apart by its ``raw``."""
    rng = random.Random(seed)
    return [Hit(rule=rule(rng.choice("ab")),
                timestamp=rng.choice([None, T0, T0 + timedelta(seconds=rng.randrange(5))]),
                source=rng.choice(["auth.log", "syslog"]), line=rng.randrange(3),
                logsource=(LogSource(product="linux"),), fields={"n": n}, raw=f"hit {n}")
            for n in range(count)]


@pytest.fixture
def spill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A spill space under ``tmp_path`` (as TMPDIR) with tiny batches, frames and run caps."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(hitruns, "BATCH_HITS", 5)
    monkeypatch.setattr(hitruns, "FRAME_HITS", 2)
    with spill_space() as path:
        yield path


@pytest.mark.parametrize(("count", "writers", "max_runs"), [
    (0, 1, 32),  # empty
    (4, 1, 32),  # under one batch: kept in memory
    (5, 1, 32),  # exactly one batch
    (53, 1, 32),  # many runs and a tail
    (53, 1, 3),  # runs merged into one past the cap
    (53, 4, 32),  # writers joined with add(), in order
    (200, 3, 2),  # joined and merged
])
def test_runs_give_every_hit_in_stable_sort_order(spill: Path, monkeypatch: pytest.MonkeyPatch,
                                                  count: int, writers: int, max_runs: int) -> None:
    monkeypatch.setattr(hitruns, "MAX_RUNS", max_runs)
    hits = random_hits(count, seed=count + writers)
    joined = RunWriter()
    for share in range(writers):
        writer = RunWriter()
        writer.extend(hits[share::writers])
        joined.add(writer.close())
    runs = joined.close()
    expected = sorted((h for share in range(writers) for h in hits[share::writers]),
                      key=Hit.sort_key)
    assert len(runs) == count
    assert list(runs) == expected
    assert list(runs) == expected  # runs can be read again
    assert list(pickle.loads(pickle.dumps(runs))) == expected  # and travel between processes
    assert len(runs.disk) <= max_runs
    assert len(runs.memory) < hitruns.BATCH_HITS or not runs.disk
    if count < hitruns.BATCH_HITS:
        assert not runs.disk and not list(spill.iterdir())  # small results never touch disk


@pytest.mark.parametrize(("raw", "listed", "frames"), [
    (10, 0, 3), (1_000, 0, 5), (5_000, 0, 20),
    (10, 10, 5), (10, 50, 20),  # correlation hits: their contributors count as raw text
])
def test_long_raw_text_makes_shorter_frames(spill: Path, monkeypatch: pytest.MonkeyPatch,
                                            raw: int, listed: int, frames: int) -> None:
    monkeypatch.setattr(hitruns, "FRAME_HITS", 8)
    monkeypatch.setattr(hitruns, "FRAME_CHARS", 4_000)
    monkeypatch.setattr(hitruns, "CONTRIBUTOR_CHARS", 99)
    monkeypatch.setattr(hitruns, "BATCH_HITS", 20)
    correlation = Correlation((), T0, T0, listed, tuple(("auth.log", n) for n in range(listed)))
    hits = [dataclasses.replace(h, raw="x" * raw, correlation=correlation if listed else None)
            for h in random_hits(20, seed=raw + listed)]
    writer = RunWriter()
    writer.extend(hits)
    runs = writer.close()
    assert [run.frames for run in runs.disk] == [frames] and not runs.memory
    assert list(runs) == sorted(hits, key=Hit.sort_key)


def test_merged_runs_leave_no_old_file(spill: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hitruns, "MAX_RUNS", 3)
    writer = RunWriter()
    writer.extend(random_hits(40, seed=1))
    runs = writer.close()
    assert len(runs.disk) <= 3 and set(spill.iterdir()) == {run.path for run in runs.disk}


@pytest.mark.parametrize(("batches", "passes"), [(20, 1), (100, 2), (500, 3)])
def test_merges_rewrite_each_hit_a_few_times(spill: Path, monkeypatch: pytest.MonkeyPatch,
                                              batches: int, passes: int) -> None:
    """At most ``passes`` writes per hit with 32 runs kept (merging all into one per
    compaction wrote 3 and 9 for 100 and 500 batches)."""
    monkeypatch.setattr(hitruns, "MAX_RUNS", 32)
    written: list[int] = []  # hits per run written, merged runs included
    dump = hitruns._dump_frames

    def counted(hits: Iterable[Keyed], stream: BinaryIO) -> tuple[int, hitruns.FrameIndex]:
        hits = list(hits)
        written.append(len(hits))
        return dump(hits, stream)

    monkeypatch.setattr(hitruns, "_dump_frames", counted)
    count = batches * hitruns.BATCH_HITS
    hits = random_hits(count, seed=count)
    writer = RunWriter()
    writer.extend(hits)
    runs = writer.close()
    assert list(runs) == sorted(hits, key=Hit.sort_key) and len(runs.disk) <= hitruns.MAX_RUNS
    assert sum(written) <= count * passes


@pytest.mark.parametrize("seed", range(40))
def test_frame_wise_merge_gives_heapq_merge_order(seed: int) -> None:
    """Runs of few distinct keys (ties within and across runs, some runs apart in time, an
    empty one) in frames of any size merge as ``heapq.merge`` merges them: equal keys in
    run order, each run's own in its order."""
    rng = random.Random(seed)
    runs: list[list[Keyed]] = []
    for number in range(rng.randint(1, 7)):
        low = rng.choice([0, rng.randrange(40)])
        high = low + rng.choice([2, 10, 60])
        keys = sorted(rng.randint(low, high) for _ in range(rng.randrange(50)))
        runs.append([((float(key), "auth.log", 0, ""), rule(f"{number}/{n}"))
                     for n, key in enumerate(keys)])
    framed = []
    for run in runs:
        size = rng.randint(1, 8)
        frames = [run[at:at + size] for at in range(0, len(run), size)]
        framed.append((iter(frames), len(frames)))
    expected = list(heapq.merge(*runs, key=itemgetter(0)))
    assert list(hitruns.merge_frames(framed)) == expected


def test_without_a_spill_directory_everything_stays_in_memory(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hitruns, "BATCH_HITS", 2)
    assert spill_directory() is None
    writer = RunWriter()
    hits = random_hits(9, seed=2)
    writer.extend(hits)
    runs = writer.close()
    assert runs == Runs((), [(h.sort_key(), h) for h in sorted(hits, key=Hit.sort_key)], len(hits))


def test_spill_space_is_private_and_removed_after_success(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(hitruns, "BATCH_HITS", 2)
    with spill_space() as path:
        assert path.parent == tmp_path and path.name.startswith("logsigma-")
        assert spill_directory() == path
        writer = RunWriter()
        writer.extend(random_hits(9, seed=3))
        assert len(writer.close().disk) == 5 and list(path.iterdir())  # the tail spills too
    assert spill_directory() is None and not list(tmp_path.iterdir())


def test_spill_space_is_removed_after_an_error(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(hitruns, "BATCH_HITS", 2)
    with pytest.raises(KeyboardInterrupt), spill_space():
        writer = RunWriter()
        writer.extend(random_hits(9, seed=4))
        raise KeyboardInterrupt
    assert spill_directory() is None and not list(tmp_path.iterdir())


def test_spill_space_is_removed_on_sigterm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as stopped, spill_space():
        os.kill(os.getpid(), signal.SIGTERM)
    assert stopped.value.code == 128 + signal.SIGTERM
    assert not list(tmp_path.iterdir()) and signal.getsignal(signal.SIGTERM) == before


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_killed_scans_spill_directory_goes_at_the_next_scan(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A real SIGKILL: the child's directory stays while the child lives and outlives it,
    unlocked; the next spill space removes it once it is older than ORPHAN_SECONDS (a
    younger one may be a scan starting up)."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from scanner.hitruns import spill_space\n"
         "with spill_space() as path:\n    print(path, flush=True); time.sleep(60)"],
        env={**os.environ, "TMPDIR": str(tmp_path)}, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    orphan = Path(child.stdout.readline().strip())
    (orphan / "hits-x.runs").write_bytes(b"runs")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _age(orphan, hitruns.ORPHAN_SECONDS + 1)
    with spill_space():
        assert orphan.is_dir()  # old, but its scan is alive and holds the lock
    child.kill()
    child.wait()
    os.utime(orphan)
    with spill_space():
        assert orphan.is_dir()  # unlocked, but too young to be judged
    _age(orphan, hitruns.ORPHAN_SECONDS + 1)
    with spill_space() as path:
        assert not orphan.exists() and path.parent == tmp_path
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("case", ["locked", "other-name", "a-file"])
def test_spill_space_leaves_what_is_not_an_orphan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  case: str) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    kept = tmp_path / ("logsigma-live" if case != "other-name" else "logsigmax-old")
    if case == "a-file":
        kept.write_text("not ours")
    else:
        kept.mkdir()
    _age(kept, hitruns.ORPHAN_SECONDS + 1)
    lock = os.open(kept, os.O_RDONLY)
    try:
        if case == "locked":  # a running scan holds its directory's lock
            fcntl.flock(lock, fcntl.LOCK_EX)
        with spill_space():
            pass
    finally:
        os.close(lock)
    assert list(tmp_path.iterdir()) == [kept]


# --- whole scans: spilling changes no byte ------------------------------------------------

def scan_bytes(tmp_path: Path, name: str, fmt: str, jobs: str, *extra: str) -> dict[str, str]:
    """The output (and baseline) files of one scan of the demo tree."""
    out, base = tmp_path / f"{name}.{fmt}", tmp_path / f"{name}.baseline"
    assert main(["scan", str(DEMO), "-q", "--jobs", jobs, "-f", fmt, "-o", str(out),
                 "--write-baseline", str(base), *extra]) == 0
    text = out.read_text(encoding="utf-8")
    if fmt == "json":  # the summary's timings differ from run to run
        data = json.loads(text)
        del data["summary"]["seconds"], data["summary"]["lines_per_second"]
        text = text[:text.index('"summary": ')] + json.dumps(data["summary"])
    return {"output": text, "baseline": base.read_text(encoding="utf-8")}


@pytest.mark.parametrize(("fmt", "jobs", "extra"), [
    ("jsonl", "1", ()), ("jsonl", "2", ()), ("csv", "2", ()), ("table", "1", ()),
    ("json", "1", ()), ("jsonl", "1", ("--min-level", "high")),
])
def test_a_scan_that_spills_writes_the_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  fmt: str, jobs: str,
                                                  extra: tuple[str, ...]) -> None:
    spill_root = tmp_path / "tmp"
    spill_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill_root))
    kept = scan_bytes(tmp_path, "kept", fmt, jobs, *extra)
    spilled: list[int] = []
    dump = hitruns._dump_frames
    monkeypatch.setattr(hitruns, "_dump_frames", lambda *a: spilled.append(1) or dump(*a))
    for name, value in (("BATCH_HITS", 3), ("FRAME_HITS", 2), ("MAX_RUNS", 2)):
        monkeypatch.setattr(hitruns, name, value)
    monkeypatch.setattr(split, "HELD_HITS", 3)
    monkeypatch.setattr(table, "_CHUNK_ROWS", 4)
    assert scan_bytes(tmp_path, "spilled", fmt, jobs, *extra) == kept
    assert spilled  # this process spilled too (worker processes are out of sight)
    assert not list(spill_root.glob("logsigma-*"))  # the spill space is gone (pymp-*: a forkserver)


def test_baseline_suppression_is_counted_when_spilling(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hitruns, "BATCH_HITS", 3)
    monkeypatch.setattr(split, "HELD_HITS", 3)
    baseline, out = tmp_path / "known.json", tmp_path / "scan.json"
    summaries = []
    for extra in (("--write-baseline", str(baseline)), ("--baseline", str(baseline))):
        assert main(["scan", str(DEMO), "-q", "--jobs", "1", "-f", "json", "-o", str(out),
                     *extra]) == 0
        summaries.append(json.loads(out.read_text())["summary"])
    first, again = summaries
    assert again["hits"] == 0 and again["suppressed_by_baseline"] == first["hits"] > 0
