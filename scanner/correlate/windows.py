"""One correlation rule over a time-ordered stream of its referenced hits.

A :class:`Tracker` takes the hits of the rules one :class:`CorrelationSpec` references
(``push``), processes them in timestamp order up to a boundary the engine sets
(``advance``), and yields the correlation hits that boundary completes. Hits are grouped
by the ``group-by`` fields (aliases resolved per rule); each group keeps only the entries
inside its window, and a heap of deadlines drops groups the window has slid past, so state
is bounded by the hits of the last ``timespan`` seconds, not by the stream.

When it fires (decided here, documented for users):

* ``gt``/``gte`` conditions and extended conditions without ``not`` can only become true
  as hits arrive, so they are checked on a SLIDING window ``[t - timespan, t]`` at every
  hit. The first true check opens a *burst* for the group; every later true check extends
  it. The burst closes once the window has fully slid past its last true check (no true
  check for ``timespan`` seconds) and yields ONE hit: window = first contributing hit ..
  last firing hit, value = the peak measure seen, contributors = every hit from the first
  window through the last firing (a 10,000-line brute force is one hit).
* ``lt``/``lte``/``eq``/``neq`` and extended conditions with ``not`` (absence-style) can
  turn false as hits arrive, so they are checked once, when a window closes: a window opens
  at a group's first hit, spans ``[start, start + timespan]`` and is evaluated when the
  stream passes its end (or ends); the next hit of the group opens the next window. Only
  groups with at least one hit exist, so "zero events" cannot fire.

A hit without a timestamp, without a group-by field, or without a usable measured value is
counted, and :meth:`Tracker.report` adds one Problem per cause. This module knows nothing of
other rules: the engine routes hits, orders trackers and sets boundaries.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any, Callable, Iterable, cast

from scanner.correlate.measures import (
    COMPARISONS,
    RISING_OPS,
    Average,
    DistinctValues,
    Entry,
    ExpressionNode,
    Measure,
    Number,
    Percentile,
    RulesInOrder,
    RulesPresent,
    Sum,
    evaluate,
    expression_refs,
    is_negated,
    parse_expression,
)
from scanner.errors import Location, Problems
from scanner.model import Correlation, CorrelationSpec, Hit

CONTRIBUTOR_CAP = 50  # a correlation hit lists the first and the last this many contributors

GroupKey = tuple[tuple[str, Any], ...]

MEASURES: dict[str, Callable[[CorrelationSpec, tuple[str, ...]], Measure]] = {
    "event_count": lambda spec, order: Measure(),
    "value_count": lambda spec, order: DistinctValues(),
    "value_sum": lambda spec, order: Sum(),
    "value_avg": lambda spec, order: Average(),
    "value_percentile": lambda spec, order: Percentile(_percentile(spec)),
    "value_median": lambda spec, order: Percentile(50),
    "temporal": lambda spec, order: RulesPresent(),
    "temporal_ordered": lambda spec, order: RulesInOrder(order),
}
NUMERIC_TYPES = frozenset({"value_sum", "value_avg", "value_percentile", "value_median"})


class SpecError(ValueError):
    """A correlation spec this engine cannot evaluate (reported as a Problem)."""


def _percentile(spec: CorrelationSpec) -> float:
    if spec.percentile is None or not 0 <= spec.percentile <= 100:
        raise SpecError(f"value_percentile needs a percentile in 0..100, got {spec.percentile}")
    return spec.percentile


@dataclass(slots=True)
class Contributors:
    """The (source, line) of contributing hits, capped to the first and last CAP."""

    head: list[tuple[str, int]] = field(default_factory=list)
    tail: deque[tuple[str, int]] = field(default_factory=lambda: deque(maxlen=CONTRIBUTOR_CAP))
    total: int = 0

    def extend(self, entries: Iterable[Entry]) -> None:
        """Record more contributors, in time order."""
        for entry in entries:
            self.total += 1
            if len(self.head) < CONTRIBUTOR_CAP:
                self.head.append(entry.where)
            else:
                self.tail.append(entry.where)

    def listed(self) -> tuple[tuple[str, int], ...]:
        """The kept contributors, time-ordered."""
        return (*self.head, *self.tail)


@dataclass(slots=True)
class Burst:
    """A run of true checks for one group that has not yet closed."""

    first: Entry
    last: Entry
    peak: Number | None
    contributors: Contributors = field(default_factory=Contributors)


@dataclass(slots=True)
class Group:
    """The window of one group: its entries, their measure and any open burst."""

    key: GroupKey
    measure: Measure
    entries: deque[Entry] = field(default_factory=deque)
    burst: Burst | None = None

    def enter(self, entry: Entry) -> None:
        """Add a hit to the window."""
        self.entries.append(entry)
        self.measure.add(entry)

    def evict_before(self, epoch: float) -> None:
        """Drop the entries older than ``epoch``."""
        while self.entries and self.entries[0].epoch < epoch:
            self.measure.remove(self.entries.popleft())


class Tracker:
    """Evaluates one correlation spec; see the module docstring for when it fires.

    Raises:
        SpecError: the spec's type, condition, field or expression cannot be evaluated.
    """

    def __init__(self, spec: CorrelationSpec) -> None:
        if spec.type not in MEASURES:
            raise SpecError(f"unsupported correlation type {spec.type!r}")
        if not spec.timespan > 0:
            raise SpecError(f"timespan must be positive, got {spec.timespan}")
        self.spec = spec
        self.expression: ExpressionNode | None = None
        if spec.expression:
            if not spec.type.startswith("temporal"):
                raise SpecError("an extended condition needs a temporal correlation type")
            self.expression = parse_expression(spec.expression)
        order = spec.rules or (expression_refs(self.expression) if self.expression else ())
        self.refs: tuple[str, ...] = tuple(dict.fromkeys(
            (*order, *(expression_refs(self.expression) if self.expression else ()))))
        if not self.refs:
            raise SpecError("the correlation references no rules")
        self.op, self.count = _condition(spec, len(order))
        if spec.type in NUMERIC_TYPES and len(spec.field) != 1:
            raise SpecError(f"{spec.type} needs exactly one field, got {list(spec.field)}")
        if spec.type == "value_count" and not spec.field:
            raise SpecError("value_count needs a field")
        self.new_measure = lambda: MEASURES[spec.type](spec, order)
        self.new_measure()  # validates type-specific parameters up front
        self.sliding = (not is_negated(self.expression) if self.expression
                        else self.op in RISING_OPS)
        self.delay = 0.0  # set by the engine: how far this tracker trails the input clock
        self.boundary = -math.inf
        self.groups: dict[GroupKey, Group] = {}
        self.deadlines: list[tuple[float, int, GroupKey]] = []
        self.inbox: list[tuple[float, int, Hit]] = []  # arrival order breaks timestamp ties
        self.emitted: list[Hit] = []
        self.seq = 0
        self.skipped = {"untimed": 0, "ungrouped": 0, "unmeasured": 0, "late": 0}

    @property
    def lag(self) -> float:
        """How far behind the input clock this tracker's outputs may be dated."""
        return self.delay + self.spec.timespan

    def push(self, hit: Hit) -> None:
        """Queue a hit of a referenced rule (counted, not queued, when it cannot be used)."""
        if hit.timestamp is None:
            self.skipped["untimed"] += 1
            return
        epoch = hit.timestamp.timestamp()
        if epoch < self.boundary:
            self.skipped["late"] += 1
            return
        self.seq += 1
        heapq.heappush(self.inbox, (epoch, self.seq, hit))

    def advance(self, boundary: float) -> list[Hit]:
        """Process queued hits dated before ``boundary``; return the hits that completes."""
        self.boundary = max(self.boundary, boundary)
        while self.inbox and self.inbox[0][0] < self.boundary:
            epoch, _, hit = heapq.heappop(self.inbox)
            self._expire(epoch)
            self._take(hit, epoch)
        self._expire(self.boundary)
        emitted, self.emitted = self.emitted, []
        return emitted

    def state_size(self) -> int:
        """Entries and deadlines held (bounded by the hits of the last timespan)."""
        return sum(len(g.entries) for g in self.groups.values()) + len(self.deadlines)

    def report(self, problems: Problems) -> None:
        """Add one Problem per cause of hits that could not be correlated."""
        where = Location(self.spec.rule.path, rule=self.spec.rule.id)
        fields = ", ".join(self.spec.field)
        reasons = {
            "untimed": "have no timestamp",
            "ungrouped": f"lack a group-by field ({', '.join(self.spec.group_by)})",
            "unmeasured": f"lack a usable value in field {fields} (missing or not numeric)",
            "late": "arrived out of time order",
        }
        for cause, count in self.skipped.items():
            if count:
                problems.add("correlation", where,
                             f"{count} hit(s) of referenced rules {reasons[cause]} "
                             "and cannot be correlated")

    def _take(self, hit: Hit, epoch: float) -> None:
        key = self._group_key(hit)
        if key is None:
            self.skipped["ungrouped"] += 1
            return
        value = self._measured_value(hit)
        if self.spec.field and value is None:
            self.skipped["unmeasured"] += 1
            return
        refs = tuple(dict.fromkeys(r for r in (hit.rule.id, hit.rule.name) if r in self.refs))
        self.seq += 1
        time = cast(datetime, hit.timestamp)  # push() queues only timed hits
        entry = Entry(epoch, time, self.seq, (hit.source, hit.line), refs, value)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group(key, self.new_measure())
        if self.sliding:
            group.evict_before(epoch - self.spec.timespan)
            group.enter(entry)
            heapq.heappush(self.deadlines, (epoch + self.spec.timespan, self.seq, key))
            if self._holds(group):
                self._fire(group, entry)
        else:
            if not group.entries:
                heapq.heappush(self.deadlines, (epoch + self.spec.timespan, self.seq, key))
            group.enter(entry)

    def _expire(self, now: float) -> None:
        """Settle every group whose deadline is before ``now``."""
        span = self.spec.timespan
        while self.deadlines and self.deadlines[0][0] < now:
            _, _, key = heapq.heappop(self.deadlines)
            group = self.groups.get(key)
            if group is None:
                continue
            if not self.sliding:
                if self._holds(group):
                    first, last = group.entries[0], group.entries[-1]
                    contributors = Contributors()
                    contributors.extend(group.entries)
                    self._emit(group.key, first, last, first.time + timedelta(seconds=span),
                               group.measure.value(group.entries), contributors)
                del self.groups[key]
                continue
            burst = group.burst
            if burst is not None and burst.last.epoch + span < now:
                self._emit(group.key, burst.first, burst.last, burst.last.time, burst.peak,
                           burst.contributors)
                group.burst = None
            group.evict_before(now - span)
            if not group.entries and group.burst is None:
                del self.groups[key]

    def _holds(self, group: Group) -> bool:
        if self.expression is not None:
            return evaluate(self.expression, group.measure.presence(group.entries))
        value = group.measure.value(group.entries)
        return value is not None and COMPARISONS[self.op](value, self.count)

    def _fire(self, group: Group, entry: Entry) -> None:
        value = group.measure.value(group.entries)
        burst = group.burst
        if burst is None:
            burst = group.burst = Burst(first=group.entries[0], last=group.entries[0], peak=value)
            new = list(group.entries)
        else:
            seen = burst.last.seq  # entries after the previous firing are the new ones
            new = list(itertools.takewhile(lambda e: e.seq > seen, reversed(group.entries)))[::-1]
            if value is not None and (burst.peak is None or value > burst.peak):
                burst.peak = value
        burst.contributors.extend(new)
        burst.last = entry

    def _emit(self, key: GroupKey, first: Entry, last: Entry, end: datetime,
              value: Number | None, contributors: Contributors) -> None:
        spec = self.spec
        shown = _plain(value)
        capped = (f"; contributors list keeps the first and last {CONTRIBUTOR_CAP}"
                  if contributors.total > 2 * CONTRIBUTOR_CAP else "")
        condition = spec.expression or f"{self.op} {_plain(self.count)}"
        group_text = ", ".join(f"{k}={v}" for k, v in key) or "all"
        raw = (f"{spec.type} {condition} within {_plain(spec.timespan)}s by {group_text}: "
               f"value {shown} over {contributors.total} hit(s) "
               f"{first.time.isoformat()} .. {end.isoformat()}{capped}")
        self.emitted.append(Hit(
            rule=spec.rule, timestamp=end, source=last.where[0], line=last.where[1],
            logsource=(), fields={spec.type: shown, "events": contributors.total, **dict(key)},
            raw=raw,
            correlation=Correlation(group=key, window_start=first.time, window_end=end,
                                    value=shown, contributors=contributors.listed()),
        ))

    def _field(self, name: str, hit: Hit) -> Any:
        """The value of ``name`` (an alias or a field) in ``hit``'s fields."""
        mapping = self.spec.aliases.get(name, {})
        native = mapping.get(hit.rule.id) or mapping.get(hit.rule.name or "") or name
        return _hashable(hit.fields.get(native))

    def _group_key(self, hit: Hit) -> GroupKey | None:
        key = tuple((name, self._field(name, hit)) for name in self.spec.group_by)
        return None if any(value is None for _, value in key) else key

    def _measured_value(self, hit: Hit) -> Any:
        values = [self._field(name, hit) for name in self.spec.field]
        if any(value is None for value in values):
            return None
        if self.spec.type in NUMERIC_TYPES:
            return _number(values[0])
        return values[0] if len(values) == 1 else tuple(values)


def _condition(spec: CorrelationSpec, referenced: int) -> tuple[str, float]:
    """The (operator, threshold); temporal types default to ``gte`` all referenced rules.

    An extended condition decides by itself, so its threshold is never consulted.
    """
    if spec.expression or (spec.op is None and spec.type.startswith("temporal")):
        return "gte", referenced
    if spec.op not in COMPARISONS or spec.count is None:
        raise SpecError(f"unsupported condition {spec.op!r} {spec.count!r}")
    return spec.op, spec.count


def _number(value: Any) -> Fraction | None:
    """``value`` as an exact number, or ``None`` when it is not a finite number."""
    if isinstance(value, bool):
        return None
    try:
        number = Fraction(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError, ZeroDivisionError):
        return None
    return number


def _hashable(value: Any) -> Any:
    """A field value usable as a dict key (lists become tuples)."""
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def _plain(value: Number | None) -> int | float | None:
    """An exact number shown as int when whole, else float."""
    if value is None:
        return None
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else float(value)
    return int(value) if float(value).is_integer() else value
