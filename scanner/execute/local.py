"""Units scanned in this process, or in a pool of ``--jobs`` processes on this host.

Pool workers spill hits where this process does (:func:`scanner.hitruns.init_process`),
so a result is a small handle; each builds its unit scanner once, in
:func:`_init_worker`, and keeps it in :data:`_WORKER`.
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from itertools import islice
from typing import TYPE_CHECKING, ContextManager, Iterator, Sequence

from scanner.correlate.partition import helpers
from scanner.hitruns import Runs, init_process, pool_context, spill_directory
from scanner.model import CorrelationSpec
from scanner.report.progress import Progress

if TYPE_CHECKING:
    from scanner.execute import UnitScanner, WorkerFactory
    from scanner.pipeline import UnitResult, WorkUnit

_WORKER: UnitScanner | None = None  # a pool process's scanner


def _init_worker(make: WorkerFactory) -> None:
    global _WORKER
    _WORKER = make()


def _scan_in_worker(unit: WorkUnit) -> UnitResult:
    assert _WORKER is not None, "worker not initialized"
    return _WORKER.scan(unit)


def costliest_first(units: Sequence[WorkUnit]) -> list[int]:
    """Unit indexes, the costliest (:attr:`WorkUnit.cost`) first."""
    return sorted(range(len(units)), key=lambda i: -units[i].cost)


class LocalExecutor:
    """``jobs`` processes on this host (this process alone for one job or one unit)."""

    def __init__(self, jobs: int, engine: str) -> None:
        self.slots = jobs
        self.engine = engine  # how its processes start (hitruns.pool_context) and correlate
        self.retried = 0  # a pool process that dies ends the scan: nothing is retried

    def helpers(self, parts: Sequence[Runs], specs: Sequence[CorrelationSpec],
                theirs: Sequence[Sequence[int]]) -> ContextManager[list[Future[list[Runs]]]]:
        """Correlation partitions in processes of their own (scanner.correlate.partition)."""
        return helpers(parts, specs, theirs, self.engine)

    def run_units(self, units: Sequence[WorkUnit], make: WorkerFactory,
                  progress: Progress) -> Iterator[tuple[int, UnitResult]]:
        """Scan every unit; ``(unit index, result)`` pairs as units finish.

        The costliest units start first, so a big compressed member never runs alone at
        the end while the other workers idle, and a finished unit makes room for the next
        at once: at most ``2 * jobs`` units are queued or running.
        """
        if self.slots <= 1 or len(units) <= 1:
            worker = make()
            for index, unit in enumerate(units):
                result = worker.scan(unit)
                progress.advance(result.stats.bytes, result.stats.lines)
                yield index, result
            return
        with ProcessPoolExecutor(max_workers=self.slots, mp_context=pool_context(self.engine),
                                 initializer=init_process,
                                 initargs=(spill_directory(), _init_worker, make)) as pool:
            waiting = iter(costliest_first(units))
            running = {pool.submit(_scan_in_worker, units[i]): i
                       for i in islice(waiting, 2 * self.slots)}
            try:
                while running:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        index = running.pop(future)
                        result = future.result()
                        running.update((pool.submit(_scan_in_worker, units[i]), i)
                                       for i in islice(waiting, 1))
                        progress.advance(result.stats.bytes, result.stats.lines)
                        yield index, result
            finally:
                for future in running:
                    future.cancel()
