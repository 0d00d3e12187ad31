"""CPython's cyclic garbage collector, paused while a pass holds many acyclic objects."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

__all__ = ["collector_paused"]


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
