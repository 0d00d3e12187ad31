"""The correlation fast paths change no output: trackers skipped until work is due
(``Tracker.due``), reduced hits (``model.Reduced``) in place of full ones, and hits read
back from spilled runs with the sort keys they carry."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pytest

from scanner import hitruns
from scanner.correlate.engine import correlate, correlate_keyed
from scanner.correlate.windows import Tracker
from scanner.errors import Problems
from scanner.hitruns import RunWriter, spill_space
from scanner.model import Hit, Reduced

from test_correlate import RANDOM_SPECS, project, random_stream


def reduce(hit: Hit) -> Reduced:
    return Reduced(hit.rule, hit.timestamp, hit.source, hit.line, hit.fields)


def check_due(tracker: Tracker) -> None:
    """No boundary up to ``due`` has work: nothing queued or due earlier, nothing emitted."""
    heads = [queue[0][0] for queue in (tracker.inbox, tracker.deadlines) if queue]
    assert tracker.due <= min(heads, default=math.inf)
    assert not tracker.emitted or tracker.due == -math.inf


@pytest.mark.parametrize("delay", [0.0, 7.0])
@pytest.mark.parametrize("correlation", RANDOM_SPECS, ids=lambda s: s.rule.name)
def test_due_bounds_the_work_of_a_tracker(correlation: object, delay: float) -> None:
    tracker = Tracker(correlation)  # type: ignore[arg-type]
    tracker.delay = delay
    for h in random_stream(5, 600):
        if h.rule.id not in tracker.refs:
            continue
        epoch = None if h.timestamp is None else h.timestamp.timestamp()
        tracker.push(h, epoch)
        check_due(tracker)
        boundary = (epoch or -math.inf) - delay
        if boundary <= tracker.due:  # what the engine skips: advance would do nothing
            size = tracker.state_size()
            assert tracker.advance(boundary) == () and tracker.state_size() == size
        else:
            tracker.advance(boundary)
        check_due(tracker)


@pytest.mark.parametrize("seed", range(3))
def test_reduced_hits_correlate_like_full_hits(seed: int) -> None:
    hits = random_stream(seed, 1_500)
    reduced = [reduce(h) for h in hits]
    assert [r.sort_key() for r in reduced] == [h.sort_key() for h in hits]
    whole = [project(h) for h in correlate(hits, RANDOM_SPECS, Problems())]
    assert whole and [project(h) for h in correlate(reduced, RANDOM_SPECS, Problems())] == whole


def test_spilled_keyed_runs_correlate_like_the_sorted_hits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for name, value in (("BATCH_HITS", 50), ("FRAME_HITS", 8), ("MAX_RUNS", 4)):
        monkeypatch.setattr(hitruns, name, value)
    hits = random_stream(11, 2_000)
    expected = [project(h) for h in correlate(hits, RANDOM_SPECS, Problems())]
    with spill_space():
        writer = RunWriter()
        for share in range(3):  # three "workers", each a mix of full and reduced hits
            part = RunWriter()
            part.extend(h if h.line % 2 else reduce(h) for h in hits[share::3])
            writer.add(part.close())
        runs = writer.close()
        assert runs.disk and all(key == h.sort_key() for key, h in runs.keyed())
        got = [(key, project(h)) for key, h in
               correlate_keyed(runs.keyed(), RANDOM_SPECS, Problems())]
    assert [p for _, p in got] == expected
    assert all(key[0] == p[3].timestamp() for key, p in got)  # keyed by the window end
