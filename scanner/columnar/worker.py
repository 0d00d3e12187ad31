"""The columnar engine's worker: the reference normalization, then the rules run on
batches of events as Polars columns (:mod:`scanner.columnar.batch`)."""

from __future__ import annotations

from typing import Iterable, Iterator

from scanner.columnar.batch import BatchMatcher
from scanner.match.matcher import Plan
from scanner.model import AnyHit, Event
from scanner.pipeline import Worker, WorkerOptions
from scanner.rules.load import CompiledRules


class ColumnarWorker(Worker):
    """A :class:`~scanner.pipeline.Worker` whose rules run on batches of events."""

    def __init__(self, compiled: CompiledRules, options: WorkerOptions) -> None:
        super().__init__(compiled, options)
        self._batches = BatchMatcher(compiled, self._kept_fields)

    def _hits(self, plan: Plan, events: Iterable[Event]) -> Iterator[AnyHit]:
        return self._batches.hits(plan, events)
