"""A one-line progress bar on stderr: bytes done of total, lines/s.

Shown only when stderr is a terminal and the user did not ask for quiet; it
never writes to stdout, where the hits go.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Accumulates work done and redraws at most ten times a second."""

    def __init__(self, total_bytes: int, enabled: bool, stream: TextIO = sys.stderr) -> None:
        self.total = max(total_bytes, 1)
        self.enabled = enabled and stream.isatty()
        self.stream = stream
        self.done = 0
        self.lines = 0
        self._start = time.monotonic()
        self._drawn = 0.0

    def advance(self, nbytes: int, lines: int) -> None:
        """Record ``nbytes`` and ``lines`` more processed, and redraw if due."""
        self.done += nbytes
        self.lines += lines
        now = time.monotonic()
        if self.enabled and now - self._drawn >= 0.1:
            self._drawn = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        share = min(self.done / self.total, 1.0)
        bar = "#" * int(share * 30)
        rate = self.lines / max(now - self._start, 1e-9)
        self.stream.write(f"\r[{bar:<30}] {share:4.0%} {self.done / 1e6:,.1f}/"
                          f"{self.total / 1e6:,.1f} MB {rate:,.0f} lines/s")
        self.stream.flush()

    def close(self) -> None:
        """Erase the bar."""
        if self.enabled:
            self.stream.write("\r" + " " * 79 + "\r")
            self.stream.flush()
