"""The columnar engine's worker: the reference normalization, then the rules run on
batches of events as Polars columns (:mod:`scanner.columnar.batch`).

A batch too small for Polars to pay (fewer events than ``costs.MIN_ROWS``, where no
rule can reach that many candidate rows) is matched event by event as the reference
worker matches it, so a scan of small files never loads Polars.
"""

from __future__ import annotations

from functools import partial
from itertools import chain, islice
from typing import TYPE_CHECKING, Iterable, Iterator

from scanner.columnar import costs
from scanner.match.matcher import Plan
from scanner.model import AnyHit, Event
from scanner.normalize.derive import with_derived
from scanner.pipeline import Worker, WorkerOptions, event_hits
from scanner.rules.load import CompiledRules

if TYPE_CHECKING:
    from scanner.columnar.batch import BatchMatcher

BATCH = 8192  # events matched together (bounds the memory of a batch)


class ColumnarWorker(Worker):
    """A :class:`~scanner.pipeline.Worker` whose rules run on batches of events."""

    def __init__(self, compiled: CompiledRules, options: WorkerOptions) -> None:
        super().__init__(compiled, options)
        self._compiled = compiled
        self._batches: BatchMatcher | None = None  # made, with Polars, for the first big batch

    def _hits(self, plan: Plan, events: Iterable[Event]) -> Iterator[AnyHit]:
        rows = with_derived(events)
        batches = iter(lambda: list(islice(rows, BATCH)), [])
        # chained, not yielded from: no Python frame resumed per hit
        return chain.from_iterable(map(partial(self._batch_hits, plan), batches))

    def _batch_hits(self, plan: Plan, batch: list[Event]) -> Iterator[AnyHit]:
        """The hits of one batch: event by event when it is too small for Polars to pay."""
        if len(batch) < costs.MIN_ROWS:
            return event_hits(plan, self._kept_fields, batch)
        return self._matcher().hits(plan, batch)

    def _matcher(self) -> BatchMatcher:
        if self._batches is None:
            from scanner.columnar.batch import BatchMatcher
            self._batches = BatchMatcher(self._compiled, self._kept_fields)
        return self._batches
