"""The correlation stage: time-ordered hits in, correlation hits out, in one pass.

:func:`correlate` takes the match stage's hits sorted by ``Hit.sort_key()`` and the
:class:`CorrelationSpec` list, and yields only correlation hits, in timestamp order, as
soon as no later input can precede them; :func:`correlate_keyed` does the same on hits
paired with their sort keys (as the hit runs carry them), so no timestamp is converted
twice. Each spec gets a :class:`Tracker` (windows.py says when one fires). Specs are
ordered topologically so that a correlation over a correlation (chaining) sees its
upstream hits; a spec on a reference cycle is reported as a Problem and not evaluated.
Because an upstream tracker yields a hit up to its timespan after that hit's timestamp,
every downstream tracker trails the input clock by the upstream lag (``Tracker.delay``),
which keeps its input time-ordered with memory bounded by the windows. The clock moves
once per distinct input instant, and only trackers with work due before it
(``Tracker.due``) are advanced. Equal input gives equal output, whatever process
produced the hits; correlation hits come in :func:`output_order`, a total order, so the
partitions of a key-partitioned run (scanner.correlate.partition) merge into the same.
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import Callable, Iterable, Iterator, Sequence

from scanner.correlate.details import READ_FIELDS
from scanner.correlate.shard import Shard
from scanner.correlate.windows import Tracker
from scanner.errors import Location, Problems
from scanner.model import AnyHit, CorrelationSpec, Hit, Keyed, SortKey

__all__ = ["correlate", "correlate_keyed", "fields_read", "output_order", "plan"]

Ready = tuple[tuple[SortKey, str], int, Hit]  # (output order, tie, hit)
Planner = Callable[[Sequence[CorrelationSpec], Problems], list[Tracker]]
TIE = itertools.count()  # tie-breaker so equal sort keys never compare Hit objects
_UNDATED = -math.inf  # the instant in the sort key of a hit without a timestamp


def correlate(hits: Iterable[AnyHit], specs: Sequence[CorrelationSpec],
              problems: Problems) -> Iterator[Hit]:
    """Yield the correlation hits of ``specs`` over ``hits`` (sorted by sort_key)."""
    keyed = correlate_keyed(((hit.sort_key(), hit) for hit in hits), specs, problems)
    return (hit for _, hit in keyed)


def correlate_keyed(hits: Iterable[Keyed], specs: Sequence[CorrelationSpec],
                    problems: Problems, shard: Shard | None = None,
                    planner: Planner | None = None) -> Iterator[tuple[SortKey, Hit]]:
    """:func:`correlate` over ``(sort key, hit)`` pairs (in key order), yielding pairs in
    :func:`output_order`; with a ``shard``, only the hits of that partition's groups (for
    specs without chains: scanner.correlate.partition). ``planner`` makes the trackers
    (default :func:`plan`; scanner.correlate.columnar swaps some for columnar ones)."""
    trackers = (planner or plan)(specs, problems)
    if not trackers:
        return
    for tracker in trackers:
        tracker.shard = shard
    routes: dict[str, list[Tracker]] = {}
    for tracker in trackers:
        for ref in tracker.refs:
            routes.setdefault(ref, []).append(tracker)
    lag = max(t.lag for t in trackers)
    chained = any(t.delay for t in trackers)  # then every boundary follows the clock
    soonest = math.inf  # the clock past which a tracker has work (Tracker.due + delay)
    known: dict[str, tuple[str | None, list[Tracker]]] = {}  # by rule id: (name, targets)
    ready: list[Ready] = []
    clock = -math.inf
    for key, hit in hits:
        rule = hit.rule
        cached = known.get(rule.id)
        if cached is None or cached[0] != rule.name:
            cached = known[rule.id] = (rule.name, targets_of(hit, routes))
        targets = cached[1]
        if not targets:
            continue
        epoch = key[0]
        if epoch == _UNDATED:
            for tracker in targets:
                tracker.push(hit, None)
            continue
        for tracker in targets:
            tracker.push(hit, epoch)
            if tracker.due + tracker.delay < soonest:
                soonest = tracker.due + tracker.delay
        if epoch > clock:
            clock = epoch
            if chained or clock > soonest:
                soonest = _advance(trackers, routes, clock, ready)
            if ready and ready[0][0][0][0] < clock - lag:
                yield from release(ready, clock - lag)
    _advance(trackers, routes, math.inf, ready)
    yield from release(ready, math.inf)
    for tracker in trackers:
        tracker.report(problems)


def output_order(keyed: Keyed) -> tuple[SortKey, str]:
    """The order correlation hits come out in: by sort key, then (two groups of one rule
    closing at one line) by group; total, whatever the process or partition."""
    key, hit = keyed
    assert type(hit) is Hit and hit.correlation is not None
    return key, repr(hit.correlation.group)


def plan(specs: Sequence[CorrelationSpec], problems: Problems) -> list[Tracker]:
    """Trackers for ``specs`` in dependency order, each with its ``delay`` set.

    A spec that cannot be evaluated, or that lies on (or depends on) a cycle of
    correlations referencing each other, is left out with a Problem.
    """
    trackers: list[Tracker] = []
    for spec in specs:
        try:
            trackers.append(Tracker(spec))
        except ValueError as error:  # SpecError, or pySigma's SigmaError for an expression
            _reject(problems, spec, f"cannot evaluate this correlation: {error}")
    upstream = {id(t): [u for u in trackers if _names(u) & set(t.refs)] for t in trackers}
    ordered: list[Tracker] = []
    waiting = list(trackers)
    while True:
        done = {id(t) for t in ordered}
        next_ready = [t for t in waiting if all(id(u) in done for u in upstream[id(t)])]
        if not next_ready:
            break
        for tracker in next_ready:
            tracker.delay = max((u.lag for u in upstream[id(tracker)]), default=0.0)
            ordered.append(tracker)
        waiting = [t for t in waiting if t not in next_ready]
    for tracker in waiting:
        _reject(problems, tracker.spec,
                "is on, or depends on, a cycle of correlations referencing each other; "
                "not evaluated")
    return ordered


def fields_read(specs: Sequence[CorrelationSpec]) -> dict[str, frozenset[str]]:
    """The native field names correlation may read from the hits of each referenced rule.

    Keyed by each reference as the specs write it (a rule id or name). Of a base-rule
    hit, correlation reads only ``rule.id``, ``rule.name``, ``timestamp``, ``source``,
    ``line`` and these ``fields`` (missing ones count as missing); the pipeline may drop
    the rest (``raw``, ``logsource``, other fields) before keeping hits. A field named
    by an alias is listed under every field the alias maps to, a safe superset; the
    fields a correlation hit describes its hits by (``details.READ_FIELDS``) are read too.
    """
    read: dict[str, set[str]] = {}
    for spec in specs:
        try:
            refs = Tracker(spec).refs
        except ValueError:  # never evaluated, so reads nothing
            continue
        names = {native for name in (*spec.group_by, *spec.field)
                 for native in (name, *spec.aliases.get(name, {}).values())} | READ_FIELDS
        for ref in refs:
            read.setdefault(ref, set()).update(names)
    return {ref: frozenset(names) for ref, names in read.items()}


def _names(tracker: Tracker) -> set[str]:
    """The references a tracker's own hits answer to."""
    rule = tracker.spec.rule
    return {name for name in (rule.id, rule.name) if name}


def _reject(problems: Problems, spec: CorrelationSpec, message: str) -> None:
    problems.add("correlation", Location(spec.rule.path, rule=spec.rule.id), message)


def targets_of(hit: AnyHit, routes: dict[str, list[Tracker]]) -> list[Tracker]:
    """The trackers that reference ``hit``'s rule by id or by name, once each."""
    found = routes.get(hit.rule.id, [])
    if hit.rule.name and hit.rule.name in routes:
        found = list(dict.fromkeys([*found, *routes[hit.rule.name]]))
    return found


def _advance(trackers: list[Tracker], routes: dict[str, list[Tracker]], clock: float,
             ready: list[Ready]) -> float:
    """Move every tracker to ``clock`` (less its delay), feeding outputs downstream; the
    clock past which a tracker has work next.

    A tracker with nothing due before its boundary only has the boundary raised (all
    that ``advance`` would do), without the call."""
    for tracker in trackers:
        boundary = clock - tracker.delay
        if boundary <= tracker.due:
            if boundary > tracker.boundary:
                tracker.boundary = boundary
            continue
        for out in tracker.advance(boundary):
            key = out.sort_key()  # correlation hits are dated: their window end
            for downstream in targets_of(out, routes):
                downstream.push(out, key[0])
            heapq.heappush(ready, (output_order((key, out)), next(TIE), out))
    return min(tracker.due + tracker.delay for tracker in trackers)


def release(ready: list[Ready], before: float) -> Iterator[tuple[SortKey, Hit]]:
    """Pop the correlation hits dated before ``before``, in order, with their sort keys."""
    while ready and ready[0][0][0][0] < before:
        (key, _), _, hit = heapq.heappop(ready)
        yield key, hit
