"""Key-partitioned correlation: the same correlation hits, computed by several processes.

The groups of one :class:`~scanner.correlate.windows.Tracker` are independent, so when no
correlation reads another's hits (no chain: every tracker's ``delay`` is 0), partition
``p`` of ``P`` can run every tracker while entering only the hits whose group key
:func:`~scanner.correlate.shard.shard_of` maps to ``p``. The scan's workers write each
partition's hits to runs of their own (:mod:`scanner.correlate.split`: a partition reads
its share), hits the trackers cannot use to partition 0, which counts them exactly as a
single pass does and alone reports them and ``plan``'s rejections. With enough hits
(:data:`PARTITION_HITS` a slot) the partitions are shared out by their hit counts
(:func:`shares`): the main process correlates its share, partition 0 among them, while the
others run meanwhile in :func:`helpers` (worker processes spilling where the main process
does, or tasks of a Dask cluster: :mod:`scanner.execute.cluster`) and return their
correlation hits as :class:`~scanner.hitruns.Runs`; with fewer, the main process correlates
them all in turn.
:func:`merge_parts` joins the partitions' hits in the engine's output order
(:func:`~scanner.correlate.engine.output_order`), which is total, so the result equals
the single pass's whatever ``P`` is. :func:`partitions` says how many there are:
:data:`PARTS_PER_SLOT` per slot (``--jobs``, a cluster's threads; at most :data:`MAX_PARTS`),
or ``1``, the single pass, with a chain or one slot.
"""

from __future__ import annotations

import heapq
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, Sequence

from scanner.collector import collector_paused
from scanner.columnar import costs
from scanner.correlate.engine import correlate_keyed, output_order, plan
from scanner.correlate.shard import Shard
from scanner.errors import Problems
from scanner.hitruns import Budget, RunWriter, Runs, init_process, pool_context, spill_directory
from scanner.model import CorrelationSpec, Hit, Keyed, SortKey

__all__ = ["CORRELATORS", "MAX_PARTS", "PARTITION_HITS", "PARTS_PER_SLOT", "correlate_part",
           "helpers", "merge_parts", "partitions", "shares"]

FOUND_HITS = 5_000  # correlation hits all partitions' results keep in memory together
PARTITION_HITS = 50_000  # hits per slot at least, or helper processes do not pay
MAX_PARTS = 16  # partitions at most (the main process merges all their runs at once)
# Partitions per slot. Hits pile up on a few group keys (a brute force's loudest addresses),
# so one partition per slot leaves one slot the larger share; more, smaller partitions shared
# out by size even it out. On tree-100M's 253 k correlation hits, 2 slots: the larger share is
# 1.19x an even one with 2 partitions, 1.04x with 4, 1.02x with 8.
PARTS_PER_SLOT = 4

Correlator = Callable[[Iterable[Keyed], Sequence[CorrelationSpec], Problems, Shard | None],
                      Iterator[tuple[SortKey, Hit]]]


def _columnar(hits: Iterable[Keyed], specs: Sequence[CorrelationSpec], problems: Problems,
              shard: Shard | None) -> Iterator[tuple[SortKey, Hit]]:
    """scanner.correlate.columnar's correlation, imported (with Polars) only when used."""
    from scanner.correlate.columnar import correlate_columnar
    return correlate_columnar(hits, specs, problems, shard)


#: The correlation of each ``--engine``: the same hits in the same order from either.
CORRELATORS: dict[str, Correlator] = {"reference": correlate_keyed, "columnar": _columnar}


def correlator(engine: str, hits: int) -> Correlator:
    """How ``engine`` correlates ``hits`` hits: on fewer than ``costs.MIN_HITS``, the
    columnar engine takes the reference trackers (the same hits, sooner)."""
    return CORRELATORS["reference" if hits < costs.MIN_HITS else engine]


_specs: Sequence[CorrelationSpec] = ()  # a helper process's correlations (set by _remember)
_engine = "reference"  # and the engine that correlates them


def partitions(specs: Sequence[CorrelationSpec], slots: int) -> int:
    """How many partitions the correlation of a scan with ``slots`` processes (or cluster
    threads) runs in: :data:`PARTS_PER_SLOT` per slot, at most :data:`MAX_PARTS`; 1, the
    single pass, with one slot, a chain, or nothing to evaluate."""
    if slots < 2:
        return 1
    parts = min(slots * PARTS_PER_SLOT, MAX_PARTS)
    trackers = plan(specs, Problems())  # rejections are reported by the pass itself
    if not trackers or any(tracker.delay for tracker in trackers):
        return 1
    return parts


def shares(parts: Sequence[Runs], slots: int) -> list[list[int]]:
    """The partitions each process correlates, largest first: the main process's share,
    which holds partition 0, then one share a helper. With fewer than
    :data:`PARTITION_HITS` hits a slot, helpers do not pay: all are the main process's.
    Else each partition, largest first, goes to the slot with the fewest hits so far
    (ties: the first), and the main process takes the slot holding partition 0."""
    sizes = list(map(len, parts))
    used = min(slots, len(parts))
    order = sorted(range(len(parts)), key=lambda part: (-sizes[part], part))
    if used < 2 or sum(sizes) < PARTITION_HITS * used:
        return [order]
    loads, slot_of = [0] * used, [0] * len(parts)
    for part in order:
        slot_of[part] = slot = loads.index(min(loads))
        loads[slot] += sizes[part]
    main = slot_of[0]
    return [[part for part in order if slot_of[part] == slot]
            for slot in (main, *(s for s in range(used) if s != main))]


@contextmanager
def helpers(parts: Sequence[Runs], specs: Sequence[CorrelationSpec],
            theirs: Sequence[Sequence[int]], engine: str = "reference"
            ) -> Iterator[list[Future[list[Runs]]]]:
    """The correlation by ``engine`` of each share of partitions in ``theirs`` (each
    partition ``p`` of its own hits ``parts[p]``), one worker process a share, running
    during the block, started as :func:`~scanner.hitruns.pool_context` says for
    ``engine``. A share is one task: the main process, busy with its own share, would
    hand a helper its next partition late."""
    if not theirs:
        yield []
        return
    with ProcessPoolExecutor(max_workers=len(theirs), mp_context=pool_context(engine),
                             initializer=init_process,
                             initargs=(spill_directory(), _remember, specs, engine)) as pool:
        futures = [pool.submit(_correlate_share, [parts[part] for part in share], share,
                               len(parts)) for share in theirs]
        try:
            yield futures
        finally:
            for future in futures:
                future.cancel()


def _correlate_share(hits: Sequence[Runs], share: Sequence[int], parts: int) -> list[Runs]:
    """The correlation hits of each partition of ``share``, of its ``hits``, in a helper."""
    return [correlate_part(runs, part, parts) for runs, part in zip(hits, share)]


def _remember(specs: Sequence[CorrelationSpec], engine: str) -> None:
    global _specs, _engine
    _specs, _engine = specs, engine


def correlate_part(hits: Runs, part: int, parts: int,
                   specs: Sequence[CorrelationSpec] | None = None,
                   engine: str | None = None, problems: Problems | None = None) -> Runs:
    """The correlation hits of partition ``part`` of ``parts`` (the single pass when
    ``parts`` is 1) over its ``hits``: of ``specs`` by ``engine``, or in a helper process
    of those it was started with; the problems of the hits it cannot use go to
    ``problems`` (partition 0's are the ones reported). Its hits kept in memory are
    ``1/parts`` of :data:`FOUND_HITS` at most, the rest spilled: every partition's result
    waits for the others' in the main process, and a correlation hit lists its contributors
    (about 6.6 kB in memory; a worst-case scan's 8 partitions kept 24 k, 150 MB)."""
    found = RunWriter(Budget(max(1, FOUND_HITS // parts)))
    with collector_paused():  # a brute force's hits make no cycles to collect
        found.extend_keyed(correlator(engine or _engine, len(hits))(
            hits.keyed(), _specs if specs is None else specs,
            Problems() if problems is None else problems,
            (part, parts) if parts > 1 else None))
    return found.close()


def merge_parts(runs: Sequence[Runs], since: SortKey | None = None) -> Iterator[Keyed]:
    """The correlation hits of every partition, in the engine's output order (from the sort
    key ``since`` on, when given)."""
    if len(runs) == 1:
        return runs[0].keyed(since)
    return heapq.merge(*(r.keyed(since) for r in runs), key=output_order)
