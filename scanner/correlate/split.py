"""Where a hit goes once matched: to the shown hits, and to the correlation partitions
that read it, each in sorted runs of its own (:mod:`scanner.hitruns`).

The hits of output rules are *shown*; the hits of rules a correlation references are
correlation input. Correlation runs in ``parts`` key partitions
(:mod:`scanner.correlate.partition`), and the process that makes a hit writes it to the
runs of each partition that reads it, so a partition reads its share of the hits, not all
of them: the partition of the hit's group key (:func:`~scanner.correlate.shard.shard_of`)
for each tracker referencing its rule, several when those keys differ; and partition 0
when a tracker cannot use the hit (no timestamp, no group-by field or measured value),
as partition 0 alone counts those and reports them. So the trackers of partition ``p``
see every hit of their groups in the order of the single pass, and give its hits.
With one partition every correlation input goes to it. The writers of all partitions
share one :class:`~scanner.hitruns.Budget` of :data:`HELD_HITS`, so what a process holds
does not grow with the partition count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from scanner.correlate.engine import plan, targets_of
from scanner.correlate.shard import shard_of
from scanner.correlate.windows import Plain, Tracker
from scanner.errors import Problems
from scanner.hitruns import Budget, RunWriter, Runs
from scanner.model import AnyHit, CorrelationSpec, Keyed

__all__ = ["HitRouting", "SplitRuns", "SplitWriter"]

HELD_HITS = 20_000  # hits a SplitWriter's batches hold in all before the largest spills
KEYS_KEPT = 100_000  # group keys whose partition is remembered (then forgotten at once)


@dataclass(slots=True)
class SplitRuns:
    """Hits as sorted runs: those shown, and the correlation input of each partition."""

    shown: Runs
    parts: tuple[Runs, ...]

    def each(self, change: Callable[[Runs], Runs]) -> SplitRuns:
        """These runs with ``change`` applied to each (copied from another host, say)."""
        return SplitRuns(change(self.shown), tuple(map(change, self.parts)))


Way = tuple[Tracker, Plain | tuple[()]]  # a tracker reading a rule's hits, and how plainly


class HitRouting:
    """Which runs a hit goes to, for the correlations ``specs`` in ``parts`` partitions
    (long-lived: what it works out per rule and group key is remembered)."""

    def __init__(self, specs: Iterable[CorrelationSpec], parts: int) -> None:
        self.parts = parts
        self._routes: dict[str, list[Tracker]] = {}
        for tracker in plan(list(specs), Problems()):  # the pass itself reports rejections
            for ref in tracker.refs:
                self._routes.setdefault(ref, []).append(tracker)
        self._ways: dict[str, tuple[str | None, list[Way]]] = {}  # by rule id
        self._keys: dict[tuple[Any, ...], int] = {}  # partitions by group key
        self._plain: dict[str, int] = {}  # and by the value of a one-field key read plainly

    def ways(self, hit: AnyHit) -> list[Way]:
        """The trackers that read ``hit``'s rule, one per way of reading it (those
        reading the same fields the same way keep or refuse its hits alike)."""
        rule = hit.rule
        known = self._ways.get(rule.id)
        if known is None or known[0] != rule.name:
            ways: dict[tuple[Any, ...], Way] = {}
            for tracker in targets_of(hit, self._routes):
                reader = tracker.reader(rule)
                ways.setdefault((reader.group, reader.measured, tracker.numeric),
                                (tracker, tracker.plain_reader(rule)))
            known = self._ways[rule.id] = (rule.name, list(ways.values()))
        return known[1]

    def shard(self, keyed: Keyed, way: Way) -> int:
        """The partition whose correlation reads ``keyed``'s hit the ``way`` it is read:
        that of its group key, 0 when the tracker cannot use it (no timestamp, group-by
        field or measured value). A hit read plainly, as ``Tracker._admit`` reads it."""
        if keyed[0][0] == -math.inf:
            return 0
        tracker, plain = way
        hit = keyed[1]
        if plain:
            fields = hit.fields
            part = fields.get(plain[1])
            if type(part) is str and (plain[2] is None or fields.get(plain[2]) is not None):
                shard = self._plain.get(part)
                if shard is None:
                    shard = _remember(self._plain, part, shard_of((part,), self.parts))
                return shard
        key = tracker.group_of(hit)
        if key is None:
            return 0
        shard = self._keys.get(key)
        return _remember(self._keys, key, shard_of(key, self.parts)) if shard is None else shard


def _remember(known: dict[Any, int], key: Any, shard: int) -> int:
    """``shard``, remembered as ``key``'s in ``known`` (forgetting all past :data:`KEYS_KEPT`)."""
    if len(known) >= KEYS_KEPT:
        known.clear()
    known[key] = shard
    return shard


class SplitWriter:
    """Collects hits in bounded memory into the runs :class:`HitRouting` sends them to;
    :meth:`close` gives them back as :class:`SplitRuns`."""

    def __init__(self, routing: HitRouting) -> None:
        self._routing = routing
        self.budget = Budget(HELD_HITS)
        self._shown = RunWriter(self.budget)
        self._parts = [RunWriter(self.budget) for _ in range(routing.parts)]

    def extend(self, hits: Iterable[AnyHit]) -> None:
        """Add hits."""
        routing, shown, parts = self._routing, self._shown, self._parts
        single = parts[0] if len(parts) == 1 else None
        for hit in hits:
            keyed = (hit.sort_key(), hit)
            if hit.rule.output:
                shown.append_keyed(keyed)
            ways = routing.ways(hit)
            if not ways:
                continue
            if single is not None:
                single.append_keyed(keyed)
            elif len(ways) == 1:
                parts[routing.shard(keyed, ways[0])].append_keyed(keyed)
            else:
                for shard in {routing.shard(keyed, way) for way in ways}:
                    parts[shard].append_keyed(keyed)

    def add(self, runs: SplitRuns) -> None:
        """Add the hits of another writer (see :meth:`~scanner.hitruns.RunWriter.add`)."""
        self._shown.add(runs.shown)
        for writer, part in zip(self._parts, runs.parts, strict=True):
            writer.add(part)

    def close(self) -> SplitRuns:
        """The hits added; the writer must not be used afterwards."""
        return SplitRuns(self._shown.close(), tuple(w.close() for w in self._parts))
