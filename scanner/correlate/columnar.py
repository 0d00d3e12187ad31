"""Columnar correlation: the reference trackers' windows and bursts, computed on columns.

:func:`correlate_columnar` is :func:`~scanner.correlate.engine.correlate_keyed` with a
:class:`ColumnarTracker` in place of each :class:`~scanner.correlate.windows.Tracker` it
can stand for: when all are columnar, in a pass of its own that routes a chunk of hits
at a time, else in the engine's per-hit pass beside the reference trackers. Either way
correlation hits leave in the engine's total output order, so only the windows are
computed differently. A columnar tracker takes each hit's group key, measured value and
references exactly as the reference does (``Tracker._admit``, which also counts the
unusable hits; string values of a plainly read rule without the call), numbers its
group (whose partition it decides once), reads the hit's tallied fields while the hit
is at hand, and buffers them; every :data:`BATCH_ROWS` rows, or before a pending
result could be released late (results are held up to :data:`HOLD_SECONDS` of stream
time longer than the reference holds them), it evaluates the buffered rows together with
the rows still inside a window (its *carry*) as Polars columns, sorted by group then
arrival:

* sliding windows (gt/gte, rising expressions): per row its window start (the first row
  of its group not older than ``timespan``), the measure over [start, row] and the
  check. Firing rows fall into bursts (a new one when a group's firings are more than
  ``timespan`` apart); a burst's contributors are the contiguous rows from its first
  window's start to its last firing, its value the peak at its firings, its group key
  that of the row that opened the group (the first with none of its group in the window
  before it), as the reference's ``Group`` keeps it.
* closing windows (lt/lte/eq/neq, negated expressions): per group, windows [first,
  first + timespan] chained greedily, judged at their last row once the stream is past
  their end.

The measures hold over any [start, row] whose starts never decrease: the count is
``row - start + 1``; distinct values (value_count, and temporal over each hit's first
reference) are the rows whose previous equal value lies before the start, counted with
prefix sums plus a sweep over (previous, row) links; a reference is present when its
last row so far is not before the start; temporal_ordered keeps ``RulesInOrder.starts``
as cumulative maxima; sums and averages are prefix sums of the values scaled to exact
Int128 integers (exact Python fractions when that could overflow). Percentiles and
medians, and trackers on a chain (reading or read by another correlation), stay
reference trackers. The result is the reference's, hit for hit (tests/test_columnar.py).
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from itertools import accumulate, islice
from operator import attrgetter
from typing import Any, Callable, Iterable, Iterator, Sequence, cast

import polars as pl
from sigma.correlations import CorrelationConditionAND, CorrelationConditionNOT

from scanner.correlate.engine import (
    TIE,
    Ready,
    correlate_keyed,
    output_order,
    plan,
    release,
    targets_of,
)
from scanner.correlate.measures import COMPARISONS, ExpressionNode, SigmaRuleReference
from scanner.correlate.shard import Shard, shard_of
from scanner.correlate.details import ValueCounter, tallied_texts
from scanner.correlate.windows import (CONTRIBUTOR_CAP, NUMERIC_TYPES, Plain, Tracker,
                                       correlation_hit)
from scanner.errors import Problems
from scanner.model import AnyHit, CorrelationSpec, Hit, Keyed, SortKey

__all__ = ["BATCH_ROWS", "ColumnarTracker", "columnar_plan", "correlate_columnar"]

BATCH_ROWS = 50_000  # rows a tracker buffers before evaluating them (at least its carry)
GROUPS_KEPT = 100_000  # group keys a tracker numbers before forgetting those it no longer holds
CHUNK_HITS = 4_096  # input hits the columnar driver hands its trackers at a time
HOLD_SECONDS = 6 * 3600.0  # stream time a tracker may buffer beyond its timespan
REFERENCE_TYPES = frozenset({"value_percentile", "value_median"})  # sliding order statistics
_SAFE = 1 << 125  # Int128 products and sums stay below this, or the exact Python path runs

# epoch, key, value, refs, hit, the key's number (ColumnarTracker.gids), then the hit's values of
# the tallied fields, read as the hit comes
Row = tuple[Any, ...]
Where = tuple[str, int]
_WHERE = attrgetter("source", "line")  # a hit's (source, line)
Measured = pl.Series | Callable[[int], Fraction]  # a measure per position


def correlate_columnar(hits: Iterable[Keyed], specs: Sequence[CorrelationSpec],
                       problems: Problems,
                       shard: Shard | None = None) -> Iterator[tuple[SortKey, Hit]]:
    """:func:`~scanner.correlate.engine.correlate_keyed`, its trackers columnar where
    :func:`columnar_plan` can make them so; the same hits in the same order. When every
    tracker is columnar, hits go to them :data:`CHUNK_HITS` at a time, not through the
    engine's per-hit loop. Its caller pauses the cyclic collector
    (``partition.correlate_part``, for every partition), as for the reference."""
    trackers = columnar_plan(specs, problems)
    if not all(type(t) is ColumnarTracker for t in trackers):
        yield from correlate_keyed(hits, specs, problems, shard, planner=lambda *_: trackers)
    elif trackers:
        yield from _drive(hits, cast(list[ColumnarTracker], trackers), problems, shard)


def _drive(hits: Iterable[Keyed], trackers: list[ColumnarTracker], problems: Problems,
           shard: Shard | None) -> Iterator[tuple[SortKey, Hit]]:
    """The engine's pass for columnar trackers only: each chunk's hits routed to them at
    once, results released in output order once no later result can precede them."""
    routes: dict[str, list[Tracker]] = {}
    for tracker in trackers:
        tracker.shard = shard
        for ref in tracker.refs:
            routes.setdefault(ref, []).append(tracker)
    known: dict[str, tuple[str | None, list[list[Keyed]]]] = {}  # by rule id: name, inputs
    inputs: list[list[Keyed]] = [[] for _ in trackers]
    slot = {id(tracker): inputs[n] for n, tracker in enumerate(trackers)}
    ready: list[Ready] = []
    lag = max(t.lag for t in trackers)
    clock = -math.inf
    source = iter(hits)
    while chunk := list(islice(source, CHUNK_HITS)):
        clock = max(clock, chunk[-1][0][0])
        for pair in chunk:  # each hit to the trackers referencing its rule
            rule = pair[1].rule
            cached = known.get(rule.id)
            if cached is None or cached[0] != rule.name:
                cached = known[rule.id] = (rule.name, [slot[id(t)] for t in
                                                       targets_of(pair[1], routes)])
            for taken in cached[1]:
                taken.append(pair)
        for tracker, taken in zip(trackers, inputs):
            tracker.take(taken, clock)
            taken.clear()
            if clock > tracker.due:
                _queue(tracker.advance(clock), ready)
        yield from release(ready, clock - lag)
    for tracker in trackers:
        _queue(tracker.advance(math.inf), ready)
    yield from release(ready, math.inf)
    for tracker in trackers:
        tracker.report(problems)


def _queue(found: Sequence[Hit], ready: list[Ready]) -> None:
    for hit in found:
        heapq.heappush(ready, (output_order((hit.sort_key(), hit)), next(TIE), hit))


def columnar_plan(specs: Sequence[CorrelationSpec], problems: Problems) -> list[Tracker]:
    """:func:`~scanner.correlate.engine.plan`, with a :class:`ColumnarTracker` for each
    tracker off any chain whose type is not an order statistic."""
    trackers = plan(specs, problems)
    read = {ref for tracker in trackers for ref in tracker.refs}
    return [ColumnarTracker(t.spec) if _columnar(t, read) else t for t in trackers]


def _columnar(tracker: Tracker, read: set[str]) -> bool:
    rule = tracker.spec.rule
    return (not tracker.delay and tracker.spec.type not in REFERENCE_TYPES
            and not {rule.id, rule.name} & read)


@dataclass(slots=True)
class Listing:
    """A window's contributors kept as :class:`~scanner.correlate.windows.Contributors`
    keeps them (the first and last CAP, the tallies of their values), added a contiguous
    run of a batch's rows at a time."""

    values: ValueCounter
    head: list[AnyHit] = field(default_factory=list)
    tail: deque[AnyHit] = field(default_factory=lambda: deque(maxlen=CONTRIBUTOR_CAP))
    total: int = 0

    def extend(self, batch: Batch, start: int, count: int) -> None:
        """Add the ``count`` rows of ``batch`` from position ``start`` on."""
        hits, stop = batch.hits, start + count
        room = min(CONTRIBUTOR_CAP - len(self.head), count)
        self.head.extend(hits[start:start + room])
        self.tail.extend(hits[max(start + room, stop - CONTRIBUTOR_CAP):stop])
        self.total += count
        for name in self.values.counts:
            texts = batch.texts(name)
            if texts is not None:
                self.values.count(name, texts[start:stop])

    def listed(self) -> tuple[Where, ...]:
        return tuple(map(_WHERE, (*self.head, *self.tail)))


@dataclass(slots=True)
class OpenBurst:
    """A burst still open after a batch: what its hit needs, and its last firing row
    (``carried``: that row's index in the tracker's carry)."""

    key: tuple[Any, ...]
    start: datetime
    last: AnyHit
    epoch: float
    peak: Any
    listing: Listing
    carried: int = 0


@dataclass(slots=True)
class Batch:
    """One evaluation's rows as columns, sorted by group then arrival.

    ``frame`` has ``rid`` (the row's index in ``rows``), ``gid``, ``e`` (epoch) and the
    measure's inputs; ``keys[gid]`` is a group key; ``rid[position]`` and
    ``position[rid]`` map between rows and positions, ``hits[position]`` is a row's hit,
    ``values[field][rid]`` its value of a tallied field."""

    rows: list[Row]
    keys: list[tuple[Any, ...]]
    frame: pl.DataFrame
    rid: list[int] = field(default_factory=list)
    position: list[int] = field(default_factory=list)
    hits: list[AnyHit] = field(default_factory=list)
    values: dict[str, Sequence[Any]] = field(default_factory=dict)
    tallied: dict[str, list[str | None] | None] = field(default_factory=dict)  # texts, when asked

    def texts(self, name: str) -> list[str | None] | None:
        """The texts of the tallied field ``name`` by position (``tallied_texts``), or
        ``None`` when no row has the field; made when first asked."""
        if name not in self.tallied:
            values = self.values[name]
            self.tallied[name] = (None if values.count(None) == len(values)
                                  else list(map(tallied_texts(values).__getitem__, self.rid)))
        return self.tallied[name]


class ColumnarTracker(Tracker):
    """A :class:`~scanner.correlate.windows.Tracker` for a correlation off any chain,
    evaluated a batch of rows at a time (see the module docstring).

    Results are known up to a batch late, so the engine holds its results ``hold``
    longer (``lag``), and the tracker asks to be advanced (``due``) before a pending
    result could be released out of order."""

    def __init__(self, spec: CorrelationSpec) -> None:
        super().__init__(spec)
        self.order = tuple(getattr(self.new_measure(), "order", ()))
        self.buffer: list[Row] = []
        self.carry: list[Row] = []  # rows still inside a window, in arrival order
        self.bursts: dict[tuple[Any, ...], OpenBurst] = {}
        self.gids: dict[tuple[Any, ...], int] = {}  # group keys numbered as rows come
        self.keys: list[tuple[Any, ...]] = []  # and by number
        self.mine: list[bool] = []  # by number: whether the key is of this tracker's shard
        self.plain: dict[str, Plain | tuple[()]] = {}  # by rule id, once _admit read one
        self.tallied = tuple(self._listing().values.counts)  # the fields its hits show tallies of

    @property
    def lag(self) -> float:
        return self.delay + self.span + self.hold

    @property
    def hold(self) -> float:
        """How long (stream time) a row may wait to be evaluated."""
        return max(self.span, HOLD_SECONDS)

    def push(self, hit: AnyHit, epoch: float | None) -> None:
        """Take a hit (in time order: a columnar tracker has no upstream correlation)."""
        if epoch is None:
            self.skipped["untimed"] += 1
        else:
            self.take([((epoch,), hit)], epoch)  # type: ignore[list-item]

    def take(self, taken: list[Keyed], clock: float) -> None:
        """Take hits of the referenced rules (in time order; the stream is at ``clock``).

        A hit of a rule read plainly (:data:`Plain`) whose group and measured values are
        strings is taken as ``Tracker._admit`` takes it, without the call, its group's
        partition looked up by the group's number; any other goes through ``_admit``."""
        buffer, gids, mine, plain = self.buffer, self.gids, self.mine, self.plain
        tallied = self.tallied
        for key, hit in taken:
            epoch = key[0]
            if epoch == -math.inf:
                self.skipped["untimed"] += 1
                continue
            rule = hit.rule
            reader = plain.get(rule.id)
            if reader and reader[0] == rule.name:
                fields = hit.fields
                part = fields.get(reader[1])
                value = fields.get(reader[2]) if reader[2] else None
                if type(part) is str and (not reader[2] or type(value) is str):
                    group = (part,)
                    gid = gids.get(group)
                    if gid is None:
                        gid = self._number(group)
                    if mine[gid]:
                        buffer.append((epoch, group, value, reader[3], hit, gid,
                                       *map(fields.get, tallied)))
                    continue
            admitted = self._admit(hit)
            if reader is None:
                plain[rule.id] = self.plain_reader(rule)
            if admitted is not None:
                gid = gids.get(admitted[0])
                if gid is None:
                    gid = self._number(admitted[0])
                fields = hit.fields
                buffer.append((epoch, *admitted, hit, gid, *map(fields.get, tallied)))
        self.boundary = clock
        if len(buffer) >= max(BATCH_ROWS, len(self.carry)):
            self._evaluate(clock)
        elif buffer:
            self.due = min(self.due, buffer[0][0] + self.span + self.hold)

    def _number(self, key: tuple[Any, ...]) -> int:
        """Number a new group key; past :data:`GROUPS_KEPT` keys, first forget those of
        rows no longer held, so that the numbers stay bounded by the rows held."""
        if len(self.keys) >= max(GROUPS_KEPT, 2 * (len(self.carry) + len(self.buffer))):
            self.gids.clear()
            self.keys.clear()
            self.mine.clear()
            for rows in (self.carry, self.buffer):
                rows[:] = [(*row[:5], self._gid(row[1]), *row[6:]) for row in rows]
        return self._gid(key)

    def _gid(self, key: tuple[Any, ...]) -> int:
        gid = self.gids.get(key)
        if gid is None:
            gid = self.gids[key] = len(self.keys)
            self.keys.append(key)
            self.mine.append(self.shard is None or shard_of(key, self.shard[1]) == self.shard[0])
        return gid

    def advance(self, boundary: float) -> Sequence[Hit]:
        """Evaluate what is buffered; return the hits completed before ``boundary``."""
        if boundary > self.boundary:
            self.boundary = boundary
        self._evaluate(self.boundary)
        emitted, self.emitted = self.emitted, []
        self.due = self._due()
        return emitted

    def state_size(self) -> int:
        return len(self.buffer) + len(self.carry) + len(self.bursts)

    def _evaluate(self, bound: float) -> None:
        """Evaluate the buffer knowing every later row is dated ``bound`` or after."""
        rows, self.buffer = self.carry + self.buffer, []
        if self.sliding:
            self._slide(rows, len(self.carry), bound)
        else:
            self._close(rows, bound)
        self.due = -math.inf if self.emitted else self._due()

    def _due(self) -> float:
        """When the engine must advance this tracker: before a result dated at the
        earliest a pending one can be is released (``lag`` after it)."""
        pending = [b.epoch for b in self.bursts.values()]
        for rows in (self.buffer, [] if self.sliding else self.carry):
            pending.extend(row[0] for row in rows[:1])
        return min(pending, default=math.inf) + self.span + self.hold

    def _batch(self, rows: list[Row]) -> Batch:
        """The columns of ``rows`` this tracker's measure reads."""
        epochs, _, values, refs, hits, gids, *tallied = zip(*rows)
        columns: dict[str, Any] = {"gid": gids, "e": epochs}
        kind = self.spec.type
        if kind == "value_count":
            columns["vid"] = list(map(_numbered(values).__getitem__, values))
        if kind == "temporal":
            columns["vid"] = [self.refs.index(r[0]) for r in refs]
        if kind.startswith("temporal"):
            for n, ref in enumerate(self.refs):
                columns[f"m{n}"] = [ref in r for r in refs]
        frame = (pl.DataFrame(columns, schema_overrides={"e": pl.Float64})
                 .with_row_index("rid").with_columns(pl.col("rid").cast(pl.Int64))
                 .sort("gid", maintain_order=True))
        batch = Batch(rows, self.keys, frame, values=dict(zip(self.tallied, tallied)))
        batch.rid = frame["rid"].to_list()
        batch.position = frame["rid"].arg_sort().to_list()
        batch.hits = list(map(hits.__getitem__, batch.rid))
        return batch

    def _measure(self, batch: Batch, s: pl.Series) -> tuple[Measured, pl.Series]:
        """The measure at each position over [s, position] (a column, or a lookup of
        exact fractions), and whether the condition holds there."""
        frame, kind = batch.frame, self.spec.type
        pos = pl.int_range(0, frame.height, dtype=pl.Int64, eager=True)
        if kind in NUMERIC_TYPES:
            return self._numeric(batch, pos, s)
        if kind == "event_count":
            value = pos - s + 1
        elif kind == "temporal_ordered":
            value = _ordered(frame, [self.refs.index(r) for r in self.order], pos, s)
        else:
            value = _distinct(frame, pos, s)
        if self.expression is None:
            holds = COMPARISONS[self.op](value, self.count)
        elif kind == "temporal_ordered":
            holds = _truth(self.expression, lambda ref: value > self.order.index(ref)
                           if ref in self.order else pl.repeat(False, len(pos), eager=True))
        else:
            holds = _truth(self.expression, lambda ref: _present(
                frame[f"m{self.refs.index(ref)}"], pos, s))
        return value, holds

    def _numeric(self, batch: Batch, pos: pl.Series, s: pl.Series) -> tuple[Measured, pl.Series]:
        """Sums and averages, exact: Int128 prefix sums of the values over a common
        denominator, compared across multiplied-out thresholds."""
        numbers = [batch.rows[r][2] for r in batch.rid]
        scale = math.lcm(*{n.denominator for n in numbers})
        scaled = [n.numerator * (scale // n.denominator) for n in numbers]
        count = pos - s + 1
        average = self.spec.type == "value_avg"
        threshold = Fraction(self.count) * scale
        sums = [0, *accumulate(scaled)]
        width = sum(map(abs, scaled)) * max(threshold.denominator, abs(threshold.numerator), 1)
        if width * len(scaled) >= _SAFE:
            exact = [Fraction(sums[p + 1] - sums[a], scale * (p - a + 1 if average else 1))
                     for p, a in enumerate(s.to_list())]
            compare = COMPARISONS[self.op]
            holds = pl.Series([compare(v, self.count) for v in exact], dtype=pl.Boolean)
            return exact.__getitem__, holds
        prefix = pl.Series(sums, dtype=pl.Int128)
        total = prefix.gather(pos + 1) - prefix.gather(s)
        # total / (scale * [count]) op threshold / scale  <=>  total * den op num * [count]
        left = pl.lit(total) * pl.lit(threshold.denominator, dtype=pl.Int128)
        right = pl.lit(threshold.numerator, dtype=pl.Int128)
        holds = pl.select(COMPARISONS[self.op](
            left, right * pl.lit(count).cast(pl.Int128) if average else right)).to_series()
        totals, counts = total.to_list(), count.to_list()
        return (lambda p: Fraction(totals[p], scale * (counts[p] if average else 1))), holds

    def _slide(self, rows: list[Row], old: int, bound: float) -> None:
        """Sliding windows: check the new rows, grow, open and close bursts."""
        if len(rows) > old:
            batch = self._batch(rows)
            frame = batch.frame
            s = _first_at(frame["gid"], frame["e"], frame["e"] - self.span, "left")
            value, holds = self._measure(batch, s)
            fire = holds & (frame["rid"] >= old)
            # A group lives (the reference's Group, whose key its hits show) from a row
            # with no other of its group in the window before it, as long as it has rows.
            pos = pl.int_range(0, frame.height, dtype=pl.Int64, eager=True)
            run = pl.select(pl.when(s == pos).then(pos).otherwise(-1).cum_max()).to_series()
            runs = run.to_list()

            def shown(position: int) -> tuple[Any, ...]:
                return rows[batch.rid[runs[position]]][1]

            self._bursts(batch, s, value, fire, shown)
        for key, burst in list(self.bursts.items()):
            if burst.epoch + self.span < bound:
                self._emit_burst(burst)
                del self.bursts[key]
        start = min([bound - self.span, *(b.epoch for b in self.bursts.values())])
        first = bisect.bisect_left(rows, start, key=lambda row: row[0])
        if len(rows) > old:  # a group's first kept row holds the key its group shows
            firsts = (batch.frame.filter(pl.col("rid") >= first)
                      .group_by("gid").agg(pl.col("rid").min())["rid"].to_list())
            for n in firsts:
                row = rows[n]
                rows[n] = (row[0], shown(batch.position[n]), *row[2:])  # the same number
        else:  # nothing new: keep the carry whole, whose first rows hold their groups' keys
            first = 0
        self.carry = rows[first:]
        for burst in self.bursts.values():
            burst.carried -= first

    def _bursts(self, batch: Batch, s: pl.Series, value: Measured, fire: pl.Series,
                shown: Callable[[int], tuple[Any, ...]]) -> None:
        """Cut the firing positions into bursts and fold them into the open ones; a new
        burst shows the group key ``shown`` at its first firing."""
        frame = batch.frame.with_row_index("pos").with_columns(pl.col("pos").cast(pl.Int64))
        if isinstance(value, pl.Series):
            frame = frame.with_columns(value=value)
        frame = frame.filter(fire)
        if not frame.height:
            return
        gid, e = frame["gid"], frame["e"]
        first = gid != gid.shift(1, fill_value=-1)
        opened = [(g, self.bursts[batch.keys[g]].epoch) for g in gid.filter(first).to_list()
                  if batch.keys[g] in self.bursts]
        carried = frame.select("gid").join(
            pl.DataFrame(opened, schema={"gid": gid.dtype, "open": pl.Float64}, orient="row"),
            on="gid", how="left", maintain_order="left")["open"]
        new = pl.select(pl.when(first).then(carried.is_null() | (carried + self.span < e))
                        .otherwise(e.shift(1) + self.span < e)).to_series()
        peak = (pl.col("value").max() if isinstance(value, pl.Series)
                else pl.col("pos").alias("firing"))
        cuts = (frame.with_columns(cut=(new | first).cum_sum(), new=new)
                .group_by("cut", maintain_order=True)
                .agg(pl.col("gid").first(), pl.col("new").first(),
                     pl.col("pos").first().alias("at"),
                     pl.col("pos").last().alias("last"), peak)
                .drop("cut"))
        starts = s.to_list()
        pending: OpenBurst | None = None
        for group, fresh, at, last, top in cuts.iter_rows():
            key = batch.keys[group]
            if pending is not None:
                if pending.key == key:
                    self._emit_burst(pending)  # a later burst of its group closed it
                else:
                    self.bursts[pending.key] = pending
            if not isinstance(value, pl.Series):
                top = max(map(value, top))
            if fresh:
                if key in self.bursts:
                    self._emit_burst(self.bursts.pop(key))
                begin = starts[at]
                opened = cast(datetime, batch.hits[begin].timestamp)
                pending = OpenBurst(shown(at), opened, batch.hits[last], 0.0, top,
                                   self._listing())
                pending.listing.extend(batch, begin, last - begin + 1)
            else:
                pending = self.bursts.pop(key)
                after = batch.position[pending.carried] + 1
                pending.listing.extend(batch, after, last - after + 1)
                pending.peak = max(pending.peak, top)
                pending.last = batch.hits[last]
            pending.carried = batch.rid[last]
            pending.epoch = batch.rows[pending.carried][0]
        if pending is not None:
            self.bursts[pending.key] = pending

    def _listing(self) -> Listing:
        """An empty contributor listing for one window of this correlation."""
        return Listing(ValueCounter(self.grouped))

    def _emit_burst(self, burst: OpenBurst) -> None:
        last = burst.last
        self.emitted.append(correlation_hit(
            self, tuple(zip(self.spec.group_by, burst.key)), burst.start,
            last.timestamp, last, burst.peak,  # type: ignore[arg-type]
            burst.listing.listed(), burst.listing.total, burst.listing.values.tallies()))

    def _close(self, rows: list[Row], bound: float) -> None:
        """Closing windows: chain each group's windows, judge those the stream passed."""
        if not rows:
            return
        batch = self._batch(rows)
        frame = batch.frame
        following = _first_at(frame["gid"], frame["e"], frame["e"] + self.span, "right").to_list()
        starts, at = [], 0
        while at < frame.height:
            starts.append(at)
            at = following[at]
        begins = pl.Series([False] * frame.height).scatter(starts, True)
        s = pl.Series(starts, dtype=pl.Int64).gather(begins.cast(pl.Int64).cum_sum() - 1)
        value, holds = self._measure(batch, s)
        epochs = frame["e"]
        closed = epochs.gather(s) + self.span < bound
        ends = begins.shift(-1, fill_value=True)
        span = timedelta(seconds=self.span)
        starts_of = s.to_list()
        lookup = value.to_list().__getitem__ if isinstance(value, pl.Series) else value
        for end in (ends & closed & holds).arg_true().to_list():
            begin = starts_of[end]
            listing = self._listing()
            listing.extend(batch, begin, end - begin + 1)
            first = batch.hits[begin].timestamp
            self.emitted.append(correlation_hit(
                self, tuple(zip(self.spec.group_by, batch.rows[batch.rid[begin]][1])),
                first, first + span, batch.hits[end], lookup(end),  # type: ignore[operator]
                listing.listed(), listing.total, listing.values.tallies()))
        kept = sorted(frame["rid"].filter(~closed).to_list())
        self.carry = [rows[r] for r in kept]


def _numbered(values: Sequence[Any]) -> dict[Any, int]:
    """The distinct ``values`` numbered in order of first appearance."""
    return {value: n for n, value in enumerate(dict.fromkeys(values))}


def _first_at(gid: pl.Series, epoch: pl.Series, threshold: pl.Series, side: str) -> pl.Series:
    """Per row, the first position of its group (rows sorted by group, epochs not
    decreasing within one) whose epoch is at least (``left``) or above (``right``) the
    row's ``threshold``; the group's end when none is. Exact: floats compared by rank."""
    ranks = pl.concat([epoch, threshold]).rank("dense").cast(pl.Int64)
    width = int(ranks.max() or 0) + 1  # type: ignore[arg-type]
    base = gid.cast(pl.Int64) * width
    rows = len(epoch)
    keys = base + ranks[:rows]
    found = keys.search_sorted(base + ranks[rows:], side=side)  # type: ignore[arg-type]
    return found.cast(pl.Int64)


def _distinct(frame: pl.DataFrame, pos: pl.Series, s: pl.Series) -> pl.Series:
    """Distinct ``vid`` values over [s, pos] per position: the rows whose previous equal
    value in the group lies before the start. Rows whose previous lies before their own
    start are prefix-summed (``s`` never decreases, so they count for every later start
    too); each other row counts for the positions whose start falls after its previous
    and at or before it, a range of positions, swept with two sorted lists."""
    prev = (frame.with_columns(pos=pos)
            .select(pl.col("pos").shift(1).over("gid", "vid").fill_null(-1)).to_series())
    alone = pl.concat([pl.Series([0], dtype=pl.Int64), (prev < s).cast(pl.Int64).cum_sum()])
    counted = alone.gather(pos + 1) - alone.gather(s)
    linked = pl.DataFrame({"pos": pos, "prev": prev}).filter(prev >= s)
    low = s.search_sorted(linked["prev"], side="right").cast(pl.Int64)
    high = s.search_sorted(linked["pos"], side="right").cast(pl.Int64)
    begin = pl.select(pl.max_horizontal(low, linked["pos"])).to_series()
    keep = begin < high
    opens = begin.filter(keep).sort()
    shuts = high.filter(keep).sort()
    return (counted + opens.search_sorted(pos, side="right").cast(pl.Int64)
            - shuts.search_sorted(pos, side="right").cast(pl.Int64))


def _present(member: pl.Series, pos: pl.Series, s: pl.Series) -> pl.Series:
    """Whether a row with ``member`` set lies in [s, pos], per position."""
    last = pl.select(pl.when(member).then(pos).otherwise(-1).cum_max()).to_series()
    return last >= s


def _ordered(frame: pl.DataFrame, order: list[int], pos: pl.Series, s: pl.Series) -> pl.Series:
    """temporal_ordered: ``RulesInOrder.starts`` after each position as cumulative
    maxima (``starts[j]`` takes ``starts[j-1]`` before the last row of ``order[j-1]``;
    values from earlier groups stay below any start of a later one), and the longest
    prefix of ``order`` whose starts are within [s, pos]."""
    matched = pl.repeat(0, len(pos), dtype=pl.Int64, eager=True)
    going = pl.repeat(True, len(pos), eager=True)
    before = pos + 1
    for n, ref in enumerate(order):
        member = frame[f"m{ref}"]
        starts = pl.select(pl.when(member).then(before if n == 0 else before.shift(1, fill_value=0))
                           .otherwise(0).cum_max()).to_series()
        going = going & (starts >= s + 1)
        matched = matched + going.cast(pl.Int64)
        before = starts
    return matched


def _truth(node: ExpressionNode, present: Callable[[str], pl.Series]) -> pl.Series:
    """An extended condition over columns of reference presence."""
    if isinstance(node, SigmaRuleReference):
        return present(node.reference)
    if isinstance(node, CorrelationConditionNOT):
        return ~_truth(node.args[0], present)
    parts = [_truth(arg, present) for arg in node.args]
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part if isinstance(node, CorrelationConditionAND) else combined | part
    return combined

