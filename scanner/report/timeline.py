"""Hits over time by level, as the bars and marks of an SVG chart.

Takes dated hits one at a time (:meth:`TimelineBuilder.add`) and counts them per bucket
and level: an hour when the hits span at most :data:`HOURLY_SPAN`, else a day. The
chart is computed here as plain numbers (bar rectangles stacked by level, tick labels,
marks for the story's key moments) so the template only places them; hits without a
timestamp are counted apart. Knows nothing of HTML.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from scanner.model import LEVELS

HOURLY_SPAN = timedelta(days=7)
WIDTH, HEIGHT = 960.0, 160.0  # the plot area, in SVG user units
MAX_TICKS = 12
MARK_GAP = 20.0  # marks closer than this stack their numbers (rows 20 units apart)


@dataclass(frozen=True, slots=True)
class Bar:
    """One level's share of one bucket: a rectangle and what it stands for."""

    x: float
    y: float
    width: float
    height: float
    level: str
    count: int
    label: str  # the bucket's start, e.g. 2024-02-11 00:00


@dataclass(frozen=True, slots=True)
class Mark:
    """A key moment of the story drawn as a vertical line with a number."""

    x: float
    number: int  # the moment's position in the story's list of key moments
    label: str
    row: int = 0  # marks too close to earlier ones have their numbers stacked above them


@dataclass(frozen=True, slots=True)
class Chart:
    """Everything the SVG needs."""

    unit: str  # "hour" or "day"
    bars: tuple[Bar, ...]
    ticks: tuple[tuple[float, str], ...]
    marks: tuple[Mark, ...]
    peak: int
    undated: int
    width: float = WIDTH
    height: float = HEIGHT

    @property
    def rows(self) -> int:
        """How many rows of stacked mark numbers the chart needs above the plot."""
        return max((mark.row for mark in self.marks), default=0) + 1


class TimelineBuilder:
    """Counts hits per hour and level; :meth:`chart` folds hours into days when needed."""

    def __init__(self) -> None:
        self.hours: Counter[tuple[datetime, str]] = Counter()
        self.undated = 0

    def add(self, when: datetime | None, level: str | None) -> None:
        """Count one hit."""
        if when is None:
            self.undated += 1
            return
        hour = when.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
        self.hours[(hour, level if level in LEVELS else "informational")] += 1

    def chart(self, moments: list[tuple[datetime, str]]) -> Chart | None:
        """The chart of the counted hits with ``moments`` (time, label) marked; ``None``
        without dated hits."""
        if not self.hours:
            return None
        first = min(hour for hour, _ in self.hours)
        last = max(hour for hour, _ in self.hours)
        hourly = last - first <= HOURLY_SPAN
        step = timedelta(hours=1) if hourly else timedelta(days=1)
        start = first if hourly else first.replace(hour=0)
        buckets = int((last - start) / step) + 1
        counts: Counter[tuple[int, str]] = Counter()
        for (hour, level), n in self.hours.items():
            counts[(int((hour - start) / step), level)] += n
        totals = Counter[int]()
        for (index, _), n in counts.items():
            totals[index] += n
        peak = max(totals.values())
        width = WIDTH / buckets
        bars = []
        for index in range(buckets):
            y = HEIGHT
            label = _label(start + index * step, hourly)
            for level in reversed(LEVELS):  # critical at the top of the stack
                n = counts.get((index, level), 0)
                if not n:
                    continue
                height = HEIGHT * n / peak
                y -= height
                bars.append(Bar(round(index * width, 2), round(y, 2), round(max(width - 1, 1), 2),
                                round(height, 2), level, n, label))
        every = max(1, -(-buckets // MAX_TICKS))
        ticks = tuple((round((i + 0.5) * width, 2), _label(start + i * step, hourly))
                      for i in range(0, buckets, every))
        span = buckets * step
        marks: list[Mark] = []
        for number, (when, text) in enumerate(moments, 1):
            if start <= when <= start + span:
                x = round(WIDTH * ((when - start) / span), 2)
                row = sum(1 for mark in marks if abs(mark.x - x) < MARK_GAP)
                marks.append(Mark(x, number, text, row))
        return Chart("hour" if hourly else "day", tuple(bars), ticks, tuple(marks), peak,
                     self.undated)


def _label(moment: datetime, hourly: bool) -> str:
    return moment.strftime("%Y-%m-%d %H:00" if hourly else "%Y-%m-%d")
