"""Key-partitioned correlation: the same correlation hits, computed by several processes.

The groups of one :class:`~scanner.correlate.windows.Tracker` are independent, so when no
correlation reads another's hits (no chain: every tracker's ``delay`` is 0), partition
``p`` of ``P`` can run every tracker over every hit while entering only the hits whose
group key :func:`~scanner.correlate.shard.shard_of` maps to ``p``. Each partition counts
the hits it cannot use exactly as a single pass does (the filter comes after those
checks), so the main process's partition 0 alone reports them and ``plan``'s rejections,
and partitions ``1..P-1`` (:func:`helpers`, worker processes spilling where the main
process does, or tasks of a Dask cluster: :mod:`scanner.execute.cluster`) return only their
correlation hits, as :class:`~scanner.hitruns.Runs`.
:func:`merge_parts` joins the partitions' hits in the engine's output order
(:func:`~scanner.correlate.engine.output_order`), which is total, so the result equals
the single pass's whatever ``P`` is.
:func:`partitions` says when this pays: with ``jobs`` above 1, no chain, and at least
:data:`PARTITION_HITS` hits per partition; otherwise ``1``, the single pass.
"""

from __future__ import annotations

import heapq
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from itertools import chain, islice
from typing import Callable, Iterable, Iterator, Sequence

from scanner.collector import collector_paused
from scanner.columnar import costs
from scanner.correlate.engine import correlate_keyed, output_order, plan
from scanner.correlate.shard import Shard
from scanner.errors import Problems
from scanner.hitruns import RunWriter, Runs, init_process, pool_context, spill_directory
from scanner.model import CorrelationSpec, Hit, Keyed, SortKey

__all__ = ["CORRELATORS", "PARTITION_HITS", "correlate_part", "helpers", "merge_parts",
           "partitions"]

PARTITION_HITS = 50_000  # hits per partition at least, or partitioning does not pay

Correlator = Callable[[Iterable[Keyed], Sequence[CorrelationSpec], Problems, Shard | None],
                      Iterator[tuple[SortKey, Hit]]]


def _columnar(hits: Iterable[Keyed], specs: Sequence[CorrelationSpec], problems: Problems,
              shard: Shard | None) -> Iterator[tuple[SortKey, Hit]]:
    """scanner.correlate.columnar's correlation, imported (with Polars) only when used: on
    fewer than ``costs.MIN_HITS`` hits, the reference trackers' (the same hits, sooner).
    A key partition (there are :data:`PARTITION_HITS` hits a process at least) is always
    correlated in Polars, so every partition process takes the same way."""
    stream = iter(hits)
    if shard is None:
        head = list(islice(stream, costs.MIN_HITS))
        if len(head) < costs.MIN_HITS:
            return correlate_keyed(head, specs, problems, shard)
        stream = chain(head, stream)
    from scanner.correlate.columnar import correlate_columnar
    return correlate_columnar(stream, specs, problems, shard)


#: The correlation of each ``--engine``: the same hits in the same order from either.
CORRELATORS: dict[str, Correlator] = {"reference": correlate_keyed, "columnar": _columnar}

_specs: Sequence[CorrelationSpec] = ()  # a helper process's correlations (set by _remember)
_engine = "reference"  # and the engine that correlates them


def partitions(specs: Sequence[CorrelationSpec], hits: int, jobs: int) -> int:
    """How many partitions to correlate ``hits`` hits in: 1 means the single pass."""
    parts = min(jobs, hits // PARTITION_HITS)
    if parts < 2:
        return 1
    trackers = plan(specs, Problems())  # rejections are reported by the pass itself
    if not trackers or any(tracker.delay for tracker in trackers):
        return 1
    return parts


@contextmanager
def helpers(hits: Runs, specs: Sequence[CorrelationSpec], parts: int,
            engine: str = "reference") -> Iterator[list[Future[Runs]]]:
    """Partitions ``1..parts-1`` of the correlation of ``hits`` by ``engine``, running in
    worker processes during the block (none when ``parts`` is 1), started as
    :func:`~scanner.hitruns.pool_context` says for ``engine``."""
    if parts < 2:
        yield []
        return
    with ProcessPoolExecutor(max_workers=parts - 1, mp_context=pool_context(engine),
                             initializer=init_process,
                             initargs=(spill_directory(), _remember, specs, engine)) as pool:
        futures = [pool.submit(correlate_part, hits, part, parts) for part in range(1, parts)]
        try:
            yield futures
        finally:
            for future in futures:
                future.cancel()


def _remember(specs: Sequence[CorrelationSpec], engine: str) -> None:
    global _specs, _engine
    _specs, _engine = specs, engine


def correlate_part(hits: Runs, part: int, parts: int,
                   specs: Sequence[CorrelationSpec] | None = None,
                   engine: str | None = None) -> Runs:
    """The correlation hits of partition ``part`` of ``parts``: of ``specs`` by ``engine``,
    or in a helper process of those it was started with."""
    found = RunWriter()
    with collector_paused():  # as the main process's partition 0 (pipeline.select_hits)
        found.extend_keyed(CORRELATORS[engine or _engine](
            hits.keyed(), _specs if specs is None else specs, Problems(), (part, parts)))
    return found.close()


def merge_parts(runs: Sequence[Runs]) -> Iterator[Keyed]:
    """The correlation hits of every partition, in the engine's output order."""
    if len(runs) == 1:
        return runs[0].keyed()
    return heapq.merge(*(r.keyed() for r in runs), key=output_order)
