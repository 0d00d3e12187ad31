"""The cyclic collector's pause (correlation) and relaxed thresholds (workers, and the main
process's tally and output passes) restore its state."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any, Iterator

import pytest

from scanner.cli import main
from scanner.collector import RELAXED_YOUNG, collector_paused, collector_relaxed
from scanner.model import Hit
from scanner.report import jsonl
from scanner.report.tally import HitTally

from test_hitruns import DEMO


@pytest.fixture
def collector_state() -> Iterator[None]:
    enabled, thresholds = gc.isenabled(), gc.get_threshold()
    try:
        yield
    finally:
        (gc.enable if enabled else gc.disable)()
        gc.set_threshold(*thresholds)


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_pause_restores_the_collector_state(enabled: bool,
                                                          collector_state: None) -> None:
    (gc.enable if enabled else gc.disable)()
    with pytest.raises(KeyError), collector_paused():
        assert not gc.isenabled()
        raise KeyError("the block fails")
    assert gc.isenabled() == enabled


def test_relaxed_thresholds_are_restored_even_when_the_block_fails(collector_state: None) -> None:
    gc.set_threshold(700, 11, 12)
    with pytest.raises(KeyError), collector_relaxed():
        assert gc.get_threshold() == (RELAXED_YOUNG, 11, 12)
        raise KeyError("the block fails")
    assert gc.get_threshold() == (700, 11, 12)


class _Node:
    def __init__(self) -> None:
        self.me = self


def test_relaxed_collector_still_frees_cycles_made_in_the_block(collector_state: None) -> None:
    gc.enable()
    with collector_relaxed():
        gone = weakref.ref(_Node())  # a cycle: only the collector frees it
        # young collections count tracked objects made and not yet freed: keep them alive
        kept = [[] for _ in range(2 * RELAXED_YOUNG)]
        assert gone() is None
        del kept


def test_a_scan_tallies_and_writes_its_hits_with_the_collector_relaxed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, collector_state: None) -> None:
    """The main process reads every reported hit once more (the output, which counts them)
    after the workers: at CPython's default thresholds the collector doubled what reading a
    correlation hit costs (bench/corrhit_codec.py)."""
    gc.set_threshold(700, 10, 10)
    seen: dict[str, set[int]] = {"tally": set(), "output": set()}
    add, record = HitTally.add, jsonl.hit_record

    def tallying(self: HitTally, hit: Hit) -> None:
        seen["tally"].add(gc.get_threshold()[0])
        add(self, hit)

    def recording(hit: Hit, *args: Any, **kwargs: Any) -> Any:
        seen["output"].add(gc.get_threshold()[0])
        return record(hit, *args, **kwargs)

    monkeypatch.setattr(HitTally, "add", tallying)
    monkeypatch.setattr(jsonl, "hit_record", recording)
    out = tmp_path / "hits.jsonl"
    main(["scan", str(DEMO), "-q", "--jobs", "1", "-f", "jsonl", "-o", str(out)])
    assert seen == {"tally": {RELAXED_YOUNG}, "output": {RELAXED_YOUNG}}
    assert b'"correlation"' in out.read_bytes() and gc.get_threshold() == (700, 10, 10)
