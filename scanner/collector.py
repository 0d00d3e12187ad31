"""CPython's cyclic garbage collector, paused or held back while a pass makes many acyclic
objects."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

__all__ = ["RELAXED_YOUNG", "collector_paused", "collector_relaxed"]

RELAXED_YOUNG = 100_000  # allocations between young collections while relaxed (CPython: 700)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector during the block, then restore its previous state.

    Correlation holds hundreds of thousands of hits and window rows, none of them in a
    reference cycle, which every full collection would traverse again (a third of the
    correlation's time, measured by bench/correlate_speed.py); reference counting frees
    them all the same, and a cycle made meanwhile is collected after the block.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def collector_relaxed() -> Iterator[None]:
    """Collect young objects only every :data:`RELAXED_YOUNG` allocations during the block.

    A worker makes an event, a field dict and a hit per candidate record, all freed by
    reference counting; at CPython's default threshold the collector visits them every
    700 allocations, an eighth of a worker's time on pure brute force. Unlike
    :func:`collector_paused`, cycles are still collected, so memory stays bounded over
    a file of any length.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(RELAXED_YOUNG, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
