"""Counts over the reported hits, accumulated one hit at a time.

The run summary and the exit code need only these counts, so the hits themselves can
stream from disk: :class:`HitTally` keeps the number of hits, hits per level and per
rule title (both bounded by the rules loaded), the highest level seen and how many hits a
baseline suppressed, in the order the hits were added (which decides ties in the
summary's lists). :class:`CountedHits` counts them while the output is written, so
the hits are not read back from their runs once more just to be counted.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from scanner.model import Hit, level_rank


@dataclass(slots=True)
class HitTally:
    """What the summary and the exit code know of the reported hits."""

    hits: int = 0
    by_level: Counter[str] = field(default_factory=Counter)
    by_title: Counter[str] = field(default_factory=Counter)
    top_rank: int | None = None  # ``level_rank`` of the highest level; None without hits
    suppressed: int = 0  # hits left out as known to the baseline

    def add(self, hit: Hit) -> None:
        """Count one reported hit."""
        level = hit.rule.level
        self.hits += 1
        self.by_level[level or "unknown"] += 1
        self.by_title[hit.rule.title] += 1
        rank = level_rank(level)
        if self.top_rank is None or rank > self.top_rank:
            self.top_rank = rank


class CountedHits:
    """The reported hits, a view that counts them on the way.

    Each iteration calls ``make`` for a fresh stream of the hits wanted (read again from
    their runs, say) and gives those ``new`` keeps, counting the others as suppressed. The
    first iteration to run to its end leaves its counts for :meth:`tally`, so the output
    counts the hits as it writes them.
    """

    def __init__(self, make: Callable[[], Iterable[Hit]], new: Callable[[Hit], bool]) -> None:
        self._make = make
        self._new = new
        self._tally: HitTally | None = None

    def __iter__(self) -> Iterator[Hit]:
        if self._tally is not None:
            return filter(self._new, self._make())
        return self._counting()

    def tally(self) -> HitTally:
        """The counts of the hits: those of the first complete iteration, or of a pass
        made now when none has run to its end."""
        if self._tally is None:
            deque(self._counting(), maxlen=0)
        assert self._tally is not None
        return self._tally

    def _counting(self) -> Iterator[Hit]:
        tally, new = HitTally(), self._new
        for hit in self._make():
            if new(hit):
                tally.add(hit)
                yield hit
            else:
                tally.suppressed += 1
        if self._tally is None:
            self._tally = tally
