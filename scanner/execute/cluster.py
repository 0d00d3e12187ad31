"""Units scanned on a Dask cluster (``--cluster``), with the results of a local scan.

``--cluster ADDRESS`` connects to a running ``dask scheduler``; ``local`` or ``local:N``
starts a ``LocalCluster`` of N single-threaded worker processes on 127.0.0.1 (N: the CPU
count) for the scan and stops it afterwards.

What travels: the unit scanner factory (the compiled rules and the options, built by the
client alone) is scattered once to every worker, with this logsigma's version, and
built once per worker process (:func:`_scanner`); each unit is one task (its priority
its rank by cost, so the costliest start first), whose worker opens the unit's file by
its absolute path: a shared filesystem, or the same copy at the same path on every host.
A task returns its :class:`~scanner.pipeline.UnitResult` as data: hits kept in memory
travel with it (at most :data:`scanner.hitruns.BATCH_HITS`), hits the worker spilled into
its own scratch directory are then copied as they are, :data:`FETCH_BYTES` at a time, into
this process's spill directory and deleted there (:meth:`ClusterExecutor._fetch`). Never a log.

Faults: Dask runs the tasks of a worker that died on another one; the scheduler counts
them (``TaskState.suspicious``) and :attr:`ClusterExecutor.retried` adds them up. A unit
whose spilled hits died with their worker is submitted again here (and counted). Each
unit's result is taken once, so no hit is lost or counted twice. A worker with another
logsigma version is refused when the scan starts and by every task (a worker that joins
later), ending the scan with one message.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from distributed import Client, Future, LocalCluster, as_completed, get_worker
from distributed.scheduler import KilledWorker

import scanner
from scanner.errors import LogsigmaError, Problem
from scanner.execute.local import costliest_first
from scanner.hitruns import Runs, copy_run, use_directory
from scanner.report.progress import Progress

if TYPE_CHECKING:
    from scanner.execute import UnitScanner, WorkerFactory
    from scanner.pipeline import UnitResult, WorkUnit

CONNECT_SECONDS = 10  # to reach the scheduler, and for a first worker to join it
FETCH_BYTES = 16 << 20  # bytes of a spilled run copied per call

_scanner_lock = threading.Lock()
_current: tuple[str, UnitScanner] | None = None  # a worker process's scanner, by shipment token


class VersionRefused(Exception):
    """A worker runs another logsigma version than the client (raised in the worker)."""


@dataclass(frozen=True, slots=True)
class Shipment:
    """What every worker gets once per scan: the scanner factory and the client's version."""

    token: str
    version: str
    make: WorkerFactory


def refusal(address: str, version: str) -> str:
    """The one message for a worker running logsigma ``version`` (another than ours)."""
    return (f"Dask worker {address} runs logsigma {version}, this client {scanner.__version__}: "
            f"refused (install logsigma {scanner.__version__} on every worker)")


def logsigma_version() -> str:
    """This process's logsigma version (called on each worker at the start)."""
    return scanner.__version__


def _scanner(shipment: Shipment) -> UnitScanner:
    """In a worker: the scanner of ``shipment``, built on first use; spilling into the
    worker's own scratch directory from then on."""
    global _current
    if shipment.version != scanner.__version__:
        raise VersionRefused(refusal(get_worker().address, scanner.__version__))
    with _scanner_lock:
        if _current is None or _current[0] != shipment.token:
            scratch = Path(get_worker().local_directory) / "logsigma-hits"
            scratch.mkdir(exist_ok=True)
            use_directory(scratch)
            _current = (shipment.token, shipment.make())
        return _current[1]


def scan_unit(shipment: Shipment, unit: WorkUnit) -> tuple[str, UnitResult]:
    """The task: scan ``unit`` on this worker; its address and the result. A problem
    reading the file names the worker (another host may lack it)."""
    address = get_worker().address
    result = _scanner(shipment).scan(unit)
    result.problems = [Problem(p.kind, p.location, f"{p.message} (on worker {address})")
                       if p.kind == "source" else p for p in result.problems]
    return address, result


def read_chunk(path: str, offset: int) -> bytes:
    """On a worker: :data:`FETCH_BYTES` of a spilled run's file from ``offset``; the file
    is deleted once its end is read."""
    with open(path, "rb") as stream:
        stream.seek(offset)
        chunk = stream.read(FETCH_BYTES)
    if len(chunk) < FETCH_BYTES:
        os.unlink(path)
    return chunk


def _suspicious(dask_scheduler: Any, keys: list[str]) -> int:
    """On the scheduler: how many times the tasks ``keys`` were running on a worker that died."""
    return sum(task.suspicious for key in keys if (task := dask_scheduler.tasks.get(key)))


def portable(unit: WorkUnit) -> WorkUnit:
    """``unit`` with its file's path and root absolute, as every worker must open it."""
    file = unit.file
    return dataclasses.replace(unit, file=dataclasses.replace(
        file, path=Path(os.path.abspath(file.path)), root=Path(os.path.abspath(file.root))))


@contextmanager
def _ctrl_c_ignored() -> Iterator[None]:
    """SIGINT ignored during the block (in the main thread), so that processes started
    meanwhile keep ignoring it (Python leaves an ignored SIGINT ignored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _HitsLost(Exception):
    """The worker holding a result's spilled hits is gone."""


class ClusterExecutor:
    """Scans units as tasks of the Dask cluster ``client`` is connected to."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.retried = 0

    @classmethod
    @contextmanager
    def open(cls, address: str) -> Iterator[ClusterExecutor]:
        """Connected to ``address`` (a cluster of its own for ``local[:N]``) during the block,
        its workers' versions checked."""
        logging.getLogger("distributed").setLevel(logging.ERROR)
        if address.startswith("local"):
            count = int(address.partition(":")[2] or os.cpu_count() or 1)
            with _ctrl_c_ignored():  # inherited by the workers: Ctrl-C reaches this process only
                cluster = LocalCluster(n_workers=count, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None,
                                       silence_logs=logging.ERROR)
            with cluster, Client(cluster) as client:
                yield cls._checked(client)
            return
        try:
            client = Client(address, timeout=CONNECT_SECONDS)
        except (OSError, TimeoutError, ValueError) as exc:
            raise LogsigmaError(f"cannot reach the Dask scheduler at {address}: "
                                f"{' '.join(str(exc).split()) or type(exc).__name__}") from None
        with client:
            try:
                client.wait_for_workers(1, timeout=CONNECT_SECONDS)
            except TimeoutError:
                raise LogsigmaError(f"no Dask worker joined the scheduler at {address} "
                                    f"within {CONNECT_SECONDS} s") from None
            yield cls._checked(client)

    @classmethod
    def _checked(cls, client: Client) -> ClusterExecutor:
        """An executor on ``client``, once every worker has proved to run our version."""
        try:
            versions = client.run(logsigma_version)
        except Exception as exc:  # noqa: BLE001 - anything a worker raises means it cannot scan
            raise LogsigmaError(f"a Dask worker cannot run logsigma {scanner.__version__}: "
                                f"{type(exc).__name__}: {exc}") from None
        for address, version in sorted(versions.items()):
            if version != scanner.__version__:
                raise LogsigmaError(refusal(address, version))
        return cls(client)

    def run_units(self, units: Sequence[WorkUnit], make: WorkerFactory,
                  progress: Progress) -> Iterator[tuple[int, UnitResult]]:
        """Scan every unit on the cluster; ``(unit index, result)`` pairs as units finish.
        Leaving early (an error, Ctrl-C) cancels the scan's tasks on the cluster."""
        client = self.client
        shipment = client.scatter(Shipment(uuid.uuid4().hex, scanner.__version__, make),
                                  broadcast=True, hash=False)
        shipped = [portable(unit) for unit in units]
        priority = {index: len(units) - rank for rank, index in enumerate(costliest_first(units))}

        def submit(index: int) -> Future:
            return client.submit(scan_unit, shipment, shipped[index], priority=priority[index],
                                 pure=False)

        pending = {submit(index): index for index in range(len(units))}
        finished = as_completed(pending)
        try:
            for batch in finished.batches():
                self.retried += client.run_on_scheduler(
                    _suspicious, keys=[f.key for f in batch])
                for future in batch:
                    index = pending.pop(future)
                    try:
                        result = self._result(future)
                    except _HitsLost:
                        self.retried += 1
                        again = submit(index)
                        pending[again] = index
                        finished.add(again)
                        continue
                    progress.advance(result.stats.bytes, result.stats.lines)
                    yield index, result
        finally:
            client.cancel([*pending, shipment])

    def _result(self, future: Future) -> UnitResult:
        """A finished unit's result, its spilled hits copied here."""
        try:
            address, result = future.result()
        except VersionRefused as exc:
            raise LogsigmaError(str(exc)) from None
        except KilledWorker as exc:
            raise LogsigmaError(f"Dask workers died running one unit again and again: {exc}") \
                from None
        result.hits = self._fetch(address, result.hits)
        return result

    def _fetch(self, address: str, runs: Runs) -> Runs:
        """``runs`` with the runs spilled on the worker at ``address`` copied into this
        process's spill directory (and deleted there)."""
        if not runs.disk:
            return runs
        return dataclasses.replace(runs, disk=tuple(
            copy_run(run.frames, self._chunks(address, str(run.path))) for run in runs.disk))

    def _chunks(self, address: str, path: str) -> Iterator[bytes]:
        """The bytes of the file ``path`` on the worker at ``address``, chunk by chunk."""
        offset = 0
        while True:
            try:
                chunk = self.client.run(read_chunk, path, offset, workers=[address])[address]
            except (OSError, KeyError) as exc:
                raise _HitsLost(address) from exc
            yield chunk
            if len(chunk) < FETCH_BYTES:
                return
            offset += len(chunk)
