"""Counts over the reported hits, accumulated one hit at a time.

The run summary and the exit code need only these counts, so the hits themselves can
stream from disk: :class:`HitTally` keeps the number of hits, hits per level and per
rule title (both bounded by the rules loaded), the highest level seen and how many hits a
baseline suppressed, in the order the hits were added (which decides ties in the
summary's lists). :class:`CountedHits` counts them while the output is written, so
the hits are not read back from their runs once more just to be counted; two processes
writing a half each count theirs, joined after (:meth:`HitTally.joined`).
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from itertools import takewhile
from operator import itemgetter
from typing import Callable, Iterable, Iterator

from scanner.model import Hit, Keyed, SortKey, level_rank


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

    def joined(self, later: HitTally) -> HitTally:
        """These counts, then ``later``'s: what one pass over both runs of hits counts."""
        ranks = [rank for rank in (self.top_rank, later.top_rank) if rank is not None]
        return HitTally(self.hits + later.hits, self.by_level + later.by_level,
                        self.by_title + later.by_title, max(ranks, default=None),
                        self.suppressed + later.suppressed)


class CountedHits:
    """The reported hits, a view that counts them on the way.

    Each iteration calls ``make`` for a fresh stream of the hits wanted with their sort keys
    (read again from their runs, say), from the key ``since`` on when set, takes those below
    ``until`` (when set) and gives those ``new`` keeps, counting the others as suppressed.
    The first iteration to run to its end leaves its counts for :meth:`tally`, so the output
    counts the hits as it writes them. With a ``middle`` key, the view splits into the hits
    below it and those from it on (:meth:`halves`), for two processes to write.
    """

    def __init__(self, make: Callable[[SortKey | None], Iterable[Keyed]],
                 new: Callable[[Hit], bool], middle: SortKey | None = None,
                 since: SortKey | None = None, until: SortKey | None = None) -> None:
        self._make = make
        self._new = new
        self.middle = middle
        self._since = since
        self._until = until
        self._tally: HitTally | None = None

    def __iter__(self) -> Iterator[Hit]:
        if self._tally is not None:
            return filter(self._new, self._hits())
        return self._counting()

    def halves(self) -> tuple[CountedHits, CountedHits] | None:
        """The hits below :attr:`middle` and those from it on, each a view of its own
        (``None`` without a middle)."""
        if self.middle is None:
            return None
        return (CountedHits(self._make, self._new, None, self._since, self.middle),
                CountedHits(self._make, self._new, None, self.middle, self._until))

    def tally(self) -> HitTally:
        """The counts of the hits: those of the first complete iteration (or set by
        :meth:`settle`), or of a pass made now when none has run to its end."""
        if self._tally is None:
            deque(self._counting(), maxlen=0)
        assert self._tally is not None
        return self._tally

    def settle(self, tally: HitTally) -> None:
        """Take ``tally`` as the counts of the hits (those of its halves, joined)."""
        if self._tally is None:
            self._tally = tally

    def _hits(self) -> Iterator[Hit]:
        pairs: Iterable[Keyed] = self._make(self._since)
        if self._until is not None:
            until = self._until
            pairs = takewhile(lambda keyed: keyed[0] < until, pairs)
        return map(itemgetter(1), pairs)

    def _counting(self) -> Iterator[Hit]:
        tally, new = HitTally(), self._new
        for hit in self._hits():
            if new(hit):
                tally.add(hit)
                yield hit
            else:
                tally.suppressed += 1
        self.settle(tally)
