"""Executors: where the units of a scan are scanned.

An executor takes the planned :class:`~scanner.pipeline.WorkUnit` list and a picklable
factory of unit scanners (``pipeline.new_worker`` bound to the compiled rules and the
options, so any engine runs anywhere) and yields ``(unit index, UnitResult)`` pairs as
units finish, costliest first; then it runs the correlation partitions the main process
does not (:mod:`scanner.correlate.partition`). Results travel as data: hit runs spilled by a worker
that is not on this host are copied into this process's spill directory before they
are yielded, so the merge sees the same results whatever ran where.
:mod:`.local` runs units here or in ``--jobs`` processes; :mod:`.cluster` on a Dask
cluster (``--cluster``), imported only when asked, since Dask is an optional extra.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, ContextManager, Iterator, Protocol, Sequence

from scanner.errors import UsageError
from scanner.hitruns import Runs
from scanner.model import CorrelationSpec
from scanner.execute.local import LocalExecutor
from scanner.report.progress import Progress

if TYPE_CHECKING:
    from scanner.pipeline import UnitResult, WorkUnit

__all__ = ["Executor", "PartResult", "UnitScanner", "WorkerFactory", "open_executor"]


class UnitScanner(Protocol):
    """What an engine's worker does: scan one unit."""

    def scan(self, unit: WorkUnit) -> UnitResult: ...


WorkerFactory = Callable[[], UnitScanner]  # picklable: built once per worker process


class Executor(Protocol):
    """Runs the units of one scan somewhere."""

    slots: int  # units (or correlation partitions) that run at once
    retried: int  # units run again because their worker died

    def run_units(self, units: Sequence[WorkUnit], make: WorkerFactory,
                  progress: Progress) -> Iterator[tuple[int, UnitResult]]: ...

    def helpers(self, parts: Sequence[Runs], specs: Sequence[CorrelationSpec],
                theirs: Sequence[Sequence[int]]) -> ContextManager[list[PartResult]]:
        """The correlation partitions of each share in ``theirs``, each of its hits
        ``parts[p]``, by the scan's engine running during the block
        (:func:`scanner.correlate.partition.helpers`)."""


class PartResult(Protocol):
    """A share of correlation partitions being computed: their hits when done."""

    def result(self) -> list[Runs]: ...


@contextmanager
def open_executor(jobs: int, cluster: str | None, engine: str) -> Iterator[Executor]:
    """``--jobs`` local processes of ``engine``, or the Dask cluster ``cluster`` names
    (connected, or started for ``local[:N]``) during the block."""
    if cluster is None:
        yield LocalExecutor(jobs, engine)
        return
    try:
        from scanner.execute.cluster import ClusterExecutor
    except ImportError:
        raise UsageError("--cluster needs Dask: pip install 'logsigma[cluster]'") from None
    with ClusterExecutor.open(cluster, engine) as executor:
        yield executor
