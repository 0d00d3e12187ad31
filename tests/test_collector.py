"""The cyclic collector's pause (correlation) and relaxed thresholds (workers) restore its state."""

from __future__ import annotations

import gc
import weakref
from typing import Iterator

import pytest

from scanner.collector import RELAXED_YOUNG, collector_paused, collector_relaxed


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
