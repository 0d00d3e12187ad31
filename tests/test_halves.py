"""The line formats written by two processes, a half of the hits each: runs read from a
sort key on (their frames before it unread), the middle key, and the same bytes and counts
as one process writing every line."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Iterable, TextIO

import pytest

from scanner import hitruns
from scanner.correlate import split
from scanner.cli import main
from scanner.errors import LogsigmaError
from scanner.hitruns import RunWriter, Runs, middle_key
from scanner.model import Hit, Keyed, SortKey
from scanner.report import halves
from scanner.report.csv_out import csv_rows
from scanner.report.jsonl import jsonl_lines
from scanner.report.tally import CountedHits, HitTally

from conftest import FIXTURES
from test_hitruns import random_hits, spill  # noqa: F401  (the fixture used below)

DEMO = FIXTURES / "demo" / "var" / "log"


def written(count: int, writers: int) -> Runs:
    """``count`` random hits (many equal keys) written by ``writers`` writers and joined."""
    hits = random_hits(count, seed=count * 7 + writers)
    joined = RunWriter()
    for share in range(writers):
        writer = RunWriter()
        writer.extend(hits[share::writers])
        joined.add(writer.close())
    return joined.close()


def spill_path() -> Path:
    path = hitruns.spill_directory()
    assert path is not None
    return path


def keys_of(runs: Runs) -> list[SortKey]:
    return sorted({key for key, _ in runs.keyed()})


@pytest.mark.usefixtures("spill")
@pytest.mark.parametrize(("count", "writers"), [(0, 1), (4, 1), (53, 1), (53, 4), (200, 3)])
def test_runs_read_from_a_key_give_the_hits_from_it_on(count: int, writers: int) -> None:
    runs = written(count, writers)
    every = list(runs.keyed())
    loaded: list[int] = []
    framed = hitruns.Run.framed

    def counting(run: hitruns.Run, first: int = 0) -> Iterator[list[Keyed]]:
        for frame in framed(run, first):
            loaded.append(len(frame))
            yield frame

    for since in [*keys_of(runs), (float("inf"), "", 0, "")]:
        hitruns.Run.framed = counting  # type: ignore[method-assign]
        try:
            loaded.clear()
            assert list(runs.keyed(since)) == [k for k in every if k[0] >= since]
        finally:
            hitruns.Run.framed = framed  # type: ignore[method-assign]
        below = sum(1 for key, _ in every if key < since)
        if runs.disk and below > 4 * len(runs.disk) * hitruns.FRAME_HITS:
            assert sum(loaded) < count  # the frames before the key are left unread


@pytest.mark.usefixtures("spill")
def test_a_copied_run_keeps_its_index_and_one_without_is_read_whole() -> None:
    runs = written(53, 1)
    run = runs.disk[0]
    copy = hitruns.copy_run(run, [run.path.read_bytes()])
    assert copy.index == run.index and copy.frames == run.frames and len(run.index) > 1
    since = run.index[len(run.index) // 2][0]
    bare = Runs((hitruns.Run(copy.path, copy.frames), *runs.disk[1:]), runs.memory, runs.count)
    assert list(bare.keyed(since)) == list(runs.keyed(since)) == [
        k for k in runs.keyed() if k[0] >= since]


@pytest.mark.usefixtures("spill")
def test_the_middle_key_halves_the_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    runs = [written(120, 2), written(31, 1)]
    starts = sorted(key for each in runs for run in each.disk for key, _ in run.index)
    monkeypatch.setattr(hitruns, "MIDDLE_FRAMES", len(starts) + 1)
    assert middle_key(runs) is None
    monkeypatch.setattr(hitruns, "MIDDLE_FRAMES", len(starts))
    middle = middle_key(runs)
    assert middle is not None
    below = sum(1 for key in starts if key < middle)
    assert below <= len(starts) // 2 <= len(starts) - sum(1 for key in starts if key > middle)


def view_of(runs: Runs, middle: SortKey | None, new: Any = lambda hit: True) -> CountedHits:
    return CountedHits(runs.keyed, new, middle)


def one_process(runs: Runs, lines: halves.Lines, new: Any) -> tuple[str, HitTally]:
    out, view = io.StringIO(), view_of(runs, None, new)
    lines(view, out)
    return out.getvalue(), view.tally()


@pytest.mark.usefixtures("spill")
@pytest.mark.parametrize("lines", [jsonl_lines, csv_rows])
def test_two_processes_write_the_bytes_and_counts_of_one(monkeypatch: pytest.MonkeyPatch,
                                                         lines: halves.Lines) -> None:
    """Whatever the middle key: every key of the hits (ties across frames among them)."""
    # This test process may hold Polars from other tests; the writer it forks never uses it.
    monkeypatch.setattr(halves, "fork_is_safe", lambda: True)
    runs = written(200, 3)
    new = lambda hit: hit.fields["n"] % 5 != 0  # noqa: E731  (a baseline knowing a fifth)
    text, tally = one_process(runs, lines, new)
    assert tally.suppressed == 40 and tally.hits == 160
    for middle in keys_of(runs)[::3]:
        out, view = io.StringIO(), view_of(runs, middle, new)
        halves.write_lines(view, lines, out)
        assert out.getvalue() == text
        assert view.tally() == tally and list(view.tally().by_title) == list(tally.by_title)
    assert not list(spill_path().glob("lines-*"))  # the later half's file is gone


@pytest.mark.usefixtures("spill")
def test_the_later_half_s_trouble_is_an_error_of_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(halves, "fork_is_safe", lambda: True)
    runs = written(200, 3)
    middle = keys_of(runs)[len(keys_of(runs)) // 2]
    last = max(runs.keyed(), key=lambda keyed: keyed[0])[1]

    def failing(hits: Iterable[Hit], out: TextIO) -> None:
        for hit in hits:
            if hit is last or hit == last:
                raise OSError(28, "No space left on device")
            jsonl_lines([hit], out)

    with pytest.raises(LogsigmaError, match="cannot write the later hits: .*No space left"):
        halves.write_lines(view_of(runs, middle), failing, io.StringIO())
    assert not list(spill_path().glob("lines-*"))


def test_no_fork_beside_another_thread() -> None:
    done = threading.Event()
    other = threading.Thread(target=done.wait)
    other.start()
    try:
        assert not halves.fork_is_safe()
    finally:
        done.set()
        other.join()


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_scan_writing_in_two_processes_writes_the_bytes_of_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    """The demo tree at --jobs 2 with frames of two hits (so its hits split) against
    --jobs 1 (one process writes)."""
    outputs = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"{jobs}.{fmt}"
        assert main(["scan", str(DEMO), "-q", "--jobs", jobs, "-f", fmt, "-o", str(out)]) == 0
        outputs[jobs] = out.read_bytes()
    monkeypatch.setattr(halves, "fork_is_safe", lambda: True)
    monkeypatch.setattr(hitruns, "FRAME_HITS", 2)
    monkeypatch.setattr(hitruns, "BATCH_HITS", 3)
    monkeypatch.setattr(hitruns, "MIDDLE_FRAMES", 2)
    monkeypatch.setattr(split, "HELD_HITS", 3)
    joined: list[HitTally] = []
    join = HitTally.joined
    monkeypatch.setattr(HitTally, "joined", lambda self, later: joined.append(later) or join(
        self, later))
    out = tmp_path / f"split.{fmt}"
    assert main(["scan", str(DEMO), "-q", "--jobs", "2", "-f", fmt, "-o", str(out)]) == 0
    assert out.read_bytes() == outputs["1"] == outputs["2"]
    assert len(joined) == 1 and joined[0].hits > 0  # the later half came from the other process
