"""The columnar engine's worker: the reference normalization, then the rules run on
batches of events as Polars columns (:mod:`scanner.columnar.batch`).

A batch too small for Polars to pay (fewer events than ``costs.MIN_ROWS``, where no
rule can reach that many candidate rows) is matched event by event as the reference
worker matches it, and the lines of a chunk are marked in Polars
(:mod:`scanner.columnar.lines`) only after a chunk dense with literals, so a scan of
small files never loads Polars.
"""

from __future__ import annotations

from functools import cached_property, partial
from itertools import chain, islice
from typing import TYPE_CHECKING, Iterable, Iterator

from scanner.columnar import costs
from scanner.match.matcher import Plan
from scanner.match.prefilter import LiteralFinder
from scanner.model import AnyHit, Event
from scanner.normalize.derive import with_derived
from scanner.normalize.normalizer import LineMarks, Marked
from scanner.normalize.routes import Route
from scanner.pipeline import Worker, WorkerOptions, event_hits
from scanner.rules.load import CompiledRules

if TYPE_CHECKING:
    from scanner.columnar.batch import BatchMatcher
    from scanner.columnar.lines import DenseLines

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

    def _line_marks(self, route: Route, finder: LiteralFinder | None) -> LineMarks | None:
        return None if finder is None else _LineMarks(route, finder.literals)


class _LineMarks:
    """:class:`~scanner.columnar.lines.DenseLines` of a route, made (with Polars) at first use."""

    def __init__(self, route: Route, literals: tuple[str, ...]) -> None:
        self._route, self._literals = route, literals

    @cached_property
    def _dense(self) -> DenseLines | None:
        from scanner.columnar.lines import DenseLines
        return DenseLines.of(self._route, self._literals)

    def marked(self, text: str) -> Marked | None:
        if text.count("\n") < costs.MIN_LINES:
            return None
        dense = self._dense
        return None if dense is None else dense.marked(text)
