"""One correlation rule over a time-ordered stream of its referenced hits.

A :class:`Tracker` takes the hits of the rules one :class:`CorrelationSpec` references
(``push``), processes them in timestamp order up to a boundary the engine sets
(``advance``), and yields the correlation hits that boundary completes. Hits are grouped
by the ``group-by`` fields (aliases resolved once per rule); each group keeps only the
entries inside its window, and a heap holding one deadline per group settles and drops
groups the window has slid past, so state is bounded by the hits of the last ``timespan``
seconds, not by the stream. A tracker fed only by the (time-ordered) input takes each hit
as it is pushed; one fed by other correlations queues them until the engine's boundary.

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
counted, and :meth:`Tracker.report` adds one Problem per cause. A tracker given a ``shard``
counts those alike but enters only the groups of its partition (scanner.correlate.partition).
This module knows nothing of other rules: the engine routes hits, orders trackers and sets
boundaries.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any, Callable, Iterable, Mapping, Sequence

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
from scanner.correlate.details import ValueCounter, closing_fields, grouped_fields
from scanner.correlate.shard import Shard, shard_of
from scanner.errors import Location, Problems
from scanner.model import AnyHit, Correlation, CorrelationSpec, FieldValues, Hit, RuleInfo

CONTRIBUTOR_CAP = 50  # a correlation hit lists the first and the last this many contributors

GroupKey = tuple[tuple[str, Any], ...]
Plain = tuple[str | None, str, str | None, tuple[str, ...]]  # a rule's name, group-by field,
# measured field (non-numeric) and refs, for hits read plainly (Tracker.plain_reader)

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
    """The contributing entries, capped to the first and last CAP, their count and the
    values of their tallied fields (scanner.correlate.details)."""

    values: ValueCounter
    head: list[Entry] = field(default_factory=list)
    tail: deque[Entry] = field(default_factory=lambda: deque(maxlen=CONTRIBUTOR_CAP))
    total: int = 0

    def add(self, entry: Entry) -> None:
        """Record the next contributor, in time order."""
        self.total += 1
        self.values.add(entry.hit.fields)
        if len(self.head) < CONTRIBUTOR_CAP:
            self.head.append(entry)
        else:
            self.tail.append(entry)

    def extend(self, entries: Iterable[Entry]) -> None:
        """Record more contributors, in time order."""
        for entry in entries:
            self.add(entry)

    def listed(self) -> tuple[tuple[str, int], ...]:
        """The (source, line) of the kept contributors, time-ordered."""
        return tuple(entry.where for entry in (*self.head, *self.tail))


@dataclass(slots=True)
class Burst:
    """A run of true checks for one group that has not yet closed."""

    first: Entry
    last: Entry
    peak: Number | None
    contributors: Contributors


@dataclass(slots=True)
class Group:
    """The window of one group: its entries, their measure and any open burst.

    ``fresh`` counts the entries entered since the burst's last firing.
    """

    key: GroupKey
    measure: Measure
    entries: deque[Entry] = field(default_factory=deque)
    burst: Burst | None = None
    fresh: int = 0

    def evict_before(self, epoch: float) -> None:
        """Drop the entries older than ``epoch``."""
        entries = self.entries
        if type(self.measure) is Measure:  # an event count keeps no state to update
            while entries and entries[0].epoch < epoch:
                entries.popleft()
            return
        while entries and entries[0].epoch < epoch:
            self.measure.remove(entries.popleft())


@dataclass(frozen=True, slots=True)
class Reader:
    """Where one referenced rule's hits keep the group-by and measured fields.

    ``name`` is the rule's name, ``group`` and ``measured`` are native field names
    (aliases resolved for the rule), ``refs`` the correlation's references the rule
    answers to.
    """

    name: str | None
    group: tuple[str, ...]
    measured: tuple[str, ...]
    refs: tuple[str, ...]


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
        self.compare = COMPARISONS[self.op]
        self.numeric = spec.type in NUMERIC_TYPES
        self.counting = spec.type == "event_count"  # the measure is len(entries)
        self.span = spec.timespan
        self.grouped = grouped_fields(spec)  # not repeated in a hit's details
        self.sliding = (not is_negated(self.expression) if self.expression
                        else self.op in RISING_OPS)
        self.delay = 0.0  # set by the engine: how far this tracker trails the input clock
        self.shard: Shard | None = None  # set by the engine: enter only this partition's groups
        self.boundary = -math.inf
        # No boundary up to ``due`` gives ``advance`` work: at most the earliest queued hit
        # or deadline, -inf once a hit waits in ``emitted``. The engine skips those calls.
        self.due = math.inf
        self.groups: dict[tuple[Any, ...], Group] = {}  # by group-by values
        self.deadlines: list[tuple[float, int, tuple[Any, ...]]] = []  # one per group
        self.inbox: list[tuple[float, int, AnyHit]] = []  # arrival order breaks timestamp ties
        self.readers: dict[str, Reader] = {}  # by rule id
        self.emitted: list[Hit] = []
        self.seq = 0
        self.skipped = {"untimed": 0, "ungrouped": 0, "unmeasured": 0, "late": 0}

    @property
    def lag(self) -> float:
        """How far behind the input clock this tracker's outputs may be dated."""
        return self.delay + self.span

    def push(self, hit: AnyHit, epoch: float | None) -> None:
        """Take (or queue) a hit of a referenced rule dated ``epoch`` (its POSIX timestamp).

        A tracker with no upstream correlation (``delay`` 0) gets its hits in time order
        straight from the input and takes each at once; the others queue theirs until
        ``advance``. A hit that cannot be used is counted, not kept.
        """
        if epoch is None:
            self.skipped["untimed"] += 1
        elif epoch < self.boundary:
            self.skipped["late"] += 1
        elif self.delay:
            self.seq += 1
            heapq.heappush(self.inbox, (epoch, self.seq, hit))
            if epoch < self.due:
                self.due = epoch
        else:
            self.boundary = epoch
            if self.deadlines and self.deadlines[0][0] < epoch:
                self._expire(epoch)
            self._take(hit, epoch)

    def advance(self, boundary: float) -> Sequence[Hit]:
        """Process queued hits dated before ``boundary``; return the hits that completes."""
        if boundary > self.boundary:
            self.boundary = boundary
        inbox = self.inbox
        while inbox and inbox[0][0] < self.boundary:
            epoch, _, hit = heapq.heappop(inbox)
            self._expire(epoch)
            self._take(hit, epoch)
        if self.deadlines and self.deadlines[0][0] < self.boundary:
            self._expire(self.boundary)
        self.due = min(inbox[0][0] if inbox else math.inf,
                       self.deadlines[0][0] if self.deadlines else math.inf)
        if not self.emitted:
            return ()
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

    def _take(self, hit: AnyHit, epoch: float) -> None:
        """Enter a hit in its group's window; a sliding window is checked at once.

        The hot path of a scan (once per hit and correlation), hence written flat.
        """
        admitted = self._admit(hit)
        if admitted is None:
            return
        key, value, refs = admitted
        self.seq = seq = self.seq + 1
        entry = Entry(epoch, seq, hit, refs, value)
        group = self.groups.get(key)
        if group is None:
            group = self._open(key, epoch)
        entries = group.entries
        if not self.sliding:
            entries.append(entry)
            group.measure.add(entry)
            return
        start = epoch - self.span
        if entries and entries[0].epoch < start:
            group.evict_before(start)
        entries.append(entry)
        group.fresh += 1
        if self.counting:
            if self.compare(len(entries), self.count):
                self._fire(group, entry, len(entries))
            return
        measure = group.measure
        measure.add(entry)
        measured = measure.value(entries)
        if (self._holds(group, measured) if self.expression is not None
                else measured is not None and self.compare(measured, self.count)):
            self._fire(group, entry, measured)

    def _admit(self, hit: AnyHit) -> tuple[tuple[Any, ...], Any, tuple[str, ...]] | None:
        """The (group key, measured value, refs) of a timed hit, or ``None`` when the hit
        is counted as unusable or belongs to another partition."""
        reader = self.reader(hit.rule)
        fields = hit.fields
        names = reader.group
        if len(names) == 1:
            part = fields.get(names[0])
            key = (part if type(part) is str else _hashable(part),)
        else:
            key = tuple(map(fields.get, names))
            try:
                hash(key)
            except TypeError:
                key = tuple(map(_hashable, key))
        if None in key:
            self.skipped["ungrouped"] += 1
            return None
        value = None
        if reader.measured:
            value = self._measured_value(fields, reader.measured)
            if value is None:
                self.skipped["unmeasured"] += 1
                return None
        if (self.shard is not None and key not in self.groups  # (a group held is this shard's)
                and shard_of(key, self.shard[1]) != self.shard[0]):
            return None
        return key, value, reader.refs

    def _open(self, key: tuple[Any, ...], epoch: float) -> Group:
        """A new group for ``key``, first hit at ``epoch``, due when its window has passed."""
        group = self.groups[key] = Group(tuple(zip(self.spec.group_by, key)), self.new_measure())
        deadline = epoch + self.span
        heapq.heappush(self.deadlines, (deadline, self.seq, key))
        if deadline < self.due:
            self.due = deadline
        return group

    def _expire(self, now: float) -> None:
        """Settle every group whose deadline is before ``now``.

        A closing window (absence-style) is judged and its group dropped. A sliding
        group has its burst closed once the window passed the last firing, its old
        entries dropped, and is dropped itself when empty, else due again when its burst
        or its newest entry leaves the window.
        """
        span = self.span
        deadlines = self.deadlines
        while deadlines and deadlines[0][0] < now:
            _, _, key = heapq.heappop(deadlines)
            group = self.groups[key]
            if not self.sliding:
                value = group.measure.value(group.entries)
                if self._holds(group, value):
                    first, last = group.entries[0], group.entries[-1]
                    contributors = self._contributors()
                    contributors.extend(group.entries)
                    self._emit(group.key, first, last, first.time + timedelta(seconds=span),
                               value, contributors)
                del self.groups[key]
                continue
            burst = group.burst
            if burst is not None and burst.last.epoch + span < now:
                self._emit(group.key, burst.first, burst.last, burst.last.time, burst.peak,
                           burst.contributors)
                group.burst = None
            group.evict_before(now - span)
            if group.burst is None and not group.entries:
                del self.groups[key]
                continue
            due = group.burst.last if group.burst is not None else group.entries[-1]
            deadline = due.epoch + span
            self.seq += 1
            heapq.heappush(deadlines, (deadline, self.seq, key))
            if deadline < self.due:
                self.due = deadline

    def _holds(self, group: Group, value: Number | None) -> bool:
        """Whether the condition is true of ``group``, whose measure is ``value``."""
        if self.expression is not None:
            return evaluate(self.expression, group.measure.presence(group.entries))
        return value is not None and self.compare(value, self.count)

    def _fire(self, group: Group, entry: Entry, value: Number | None) -> None:
        burst = group.burst
        if burst is None:
            burst = group.burst = Burst(first=group.entries[0], last=entry, peak=value,
                                        contributors=self._contributors())
            burst.contributors.extend(group.entries)
        else:
            if value is not None and (burst.peak is None or value > burst.peak):
                burst.peak = value
            if group.fresh == 1:
                burst.contributors.add(entry)
            else:  # the entries since the last firing are all still in the window (it is open)
                burst.contributors.extend(group.entries[-n] for n in range(group.fresh, 0, -1))
            burst.last = entry
        group.fresh = 0

    def _emit(self, key: GroupKey, first: Entry, last: Entry, end: datetime,
              value: Number | None, contributors: Contributors) -> None:
        self.due = -math.inf
        self.emitted.append(correlation_hit(self, key, first.time, end, last.hit, value,
                                            contributors.listed(), contributors.total,
                                            contributors.values.tallies()))

    def _contributors(self) -> Contributors:
        """An empty contributor list for one window of this correlation."""
        return Contributors(ValueCounter(self.grouped))

    def group_of(self, hit: AnyHit) -> tuple[Any, ...] | None:
        """The group key of a hit of a referenced rule, or ``None`` when the tracker
        cannot use it (counted as unusable) or it belongs to another partition."""
        admitted = self._admit(hit)
        return None if admitted is None else admitted[0]

    def reader(self, rule: RuleInfo) -> Reader:
        """Where ``rule``'s hits keep each field, and its refs (resolved once per rule)."""
        reader = self.readers.get(rule.id)
        return reader if reader is not None and reader.name == rule.name else self._reader(rule)

    def plain_reader(self, rule: RuleInfo) -> Plain | tuple[()]:
        """How to read ``rule``'s hits plainly, or ``()`` when they need ``_admit``: a
        group-by of several fields, or a numeric measure. A hit read plainly whose group
        value is a string has the group key ``(value,)``, and is usable when it has the
        measured field (if any)."""
        reader = self.reader(rule)
        if len(reader.group) != 1 or len(reader.measured) > 1 or (self.numeric
                                                                  and reader.measured):
            return ()
        return (reader.name, reader.group[0], next(iter(reader.measured), None), reader.refs)

    def _reader(self, rule: RuleInfo) -> Reader:
        """Resolve where ``rule``'s hits keep each field, and its refs."""

        def native(name: str) -> str:
            mapping = self.spec.aliases.get(name, {})
            return mapping.get(rule.id) or mapping.get(rule.name or "") or name

        reader = Reader(
            name=rule.name,
            group=tuple(map(native, self.spec.group_by)),
            measured=tuple(map(native, self.spec.field)),
            refs=tuple(dict.fromkeys(r for r in (rule.id, rule.name) if r in self.refs)))
        self.readers[rule.id] = reader
        return reader

    def _measured_value(self, fields: Mapping[str, Any], names: tuple[str, ...]) -> Any:
        """The measured value, or ``None`` when a field is missing or not numeric."""
        if len(names) == 1:
            value = fields.get(names[0])
            if value is None:
                return None
            return _number(value) if self.numeric else _hashable(value)
        values = tuple(_hashable(fields.get(name)) for name in names)  # value_count only
        return None if None in values else values


def correlation_hit(tracker: Tracker, key: GroupKey, start: datetime, end: datetime,
                    last: AnyHit, value: Number | None, listed: tuple[tuple[str, int], ...],
                    total: int, values: tuple[FieldValues, ...]) -> Hit:
    """The hit of ``tracker``'s correlation for group ``key``: its window ``start`` ..
    ``end``, closed by the contributor ``last``, the ``value`` and ``total`` contributors,
    of which ``listed`` are shown (see :class:`Contributors`), and the tallies of their
    ``values`` (scanner.correlate.details)."""
    spec = tracker.spec
    shown = _plain(value)
    capped = (f"; contributors list keeps the first and last {CONTRIBUTOR_CAP}"
              if total > 2 * CONTRIBUTOR_CAP else "")
    condition = spec.expression or f"{tracker.op} {_plain(tracker.count)}"
    group_text = ", ".join(f"{k}={v}" for k, v in key) or "all"
    raw = (f"{spec.type} {condition} within {_plain(spec.timespan)}s by {group_text}: "
           f"value {shown} over {total} hit(s) {start.isoformat()} .. {end.isoformat()}{capped}")
    return Hit(rule=spec.rule, timestamp=end, source=last.source, line=last.line, logsource=(),
               fields={spec.type: shown, "events": total, **dict(key)}, raw=raw,
               correlation=Correlation(group=key, window_start=start, window_end=end,
                                       value=shown, contributors=listed,
                                       closing=closing_fields(last, tracker.grouped),
                                       values=values))


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
    if type(value) is str:
        return value
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
