"""Units scanned on a Dask cluster (``--cluster``), with the results of a local scan.

``--cluster ADDRESS`` connects to a running ``dask scheduler``; ``local`` or ``local:N``
starts a ``LocalCluster`` of N single-threaded worker processes on 127.0.0.1 (N: the CPU
count) for the scan and stops it afterwards.

What travels: the unit scanner factory (the compiled rules and the options, built by the
client alone) goes once to every worker as a worker plugin (:class:`Shipment`), and is
built once per worker process (:func:`_scanner`); each task carries this logsigma's version; each unit is one task (its priority
its rank by cost, so the costliest start first), whose worker opens the unit's file by
its absolute path: a shared filesystem, or the same copy at the same path on every host.
A task returns its :class:`~scanner.pipeline.UnitResult` as data: hits kept in memory
travel with it (at most :data:`scanner.correlate.split.HELD_HITS` in all), hits the worker
spilled into its own scratch directory are then copied as they are, :data:`FETCH_BYTES` at a
time, into this process's spill directory and deleted there (:meth:`ClusterExecutor._fetch`).
Never a log.
Correlation partitions other than the client's own (:mod:`scanner.correlate.partition`)
are tasks too, each on one worker: while the client runs its partition, it sends the
bytes of its hit runs straight to that worker (:data:`FETCH_BYTES` a chunk, each appended
to a file of its scratch by a task after the one before), then submits the partition
there. A partition whose worker leaves is computed on the client.

Faults: Dask runs the tasks of a worker that died on another one; the scheduler counts
them (``TaskState.suspicious``) and :attr:`ClusterExecutor.retried` adds them up. A unit
whose spilled hits died with their worker is submitted again here (and counted). Each
unit's result is taken once, so no hit is lost or counted twice. A worker with another
logsigma version is refused when the scan starts and by every task (a worker that joins
later), ending the scan with one message.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import os
import signal
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from distributed import Client, Future, LocalCluster, WorkerPlugin, as_completed, get_worker
from distributed import wait as distributed_wait
from distributed.scheduler import KilledWorker

import scanner
from scanner.correlate.partition import correlate_part
from scanner.errors import LogsigmaError, Problem
from scanner.execute.local import costliest_first
from scanner.hitruns import Run, Runs, copy_run, use_directory
from scanner.model import CorrelationSpec, Keyed
from scanner.report.progress import Progress

if TYPE_CHECKING:
    from scanner.execute import UnitScanner, WorkerFactory
    from scanner.pipeline import UnitResult, WorkUnit

CONNECT_SECONDS = 10  # to reach the scheduler, and for a first worker to join it
FETCH_BYTES = 16 << 20  # bytes of a spilled run copied per call
WATCH_SECONDS = 1.0  # how often a correlation task's worker is looked for while it runs

_scanner_lock = threading.Lock()
_current: tuple[str, UnitScanner] | None = None  # a worker process's scanner, by shipment name


class VersionRefused(Exception):
    """A worker runs another logsigma version than the client (raised in the worker)."""


class Shipment(WorkerPlugin):
    """What every worker gets once per scan: the unit scanner factory. A worker plugin: the
    scheduler installs it on every worker, those that join later too, so the death of a
    worker cannot lose it (scattered data can: the scheduler may keep one replica only)."""

    def __init__(self, make: WorkerFactory) -> None:
        self.make = make
        self.name = f"logsigma-{uuid.uuid4().hex}"


def refusal(address: str, version: str) -> str:
    """The one message for a worker running logsigma ``version`` (another than ours)."""
    return (f"Dask worker {address} runs logsigma {version}, this client {scanner.__version__}: "
            f"refused (install logsigma {scanner.__version__} on every worker)")


def logsigma_version() -> str:
    """This process's logsigma version (called on each worker at the start)."""
    return scanner.__version__


def _scanner(shipment: str, version: str) -> UnitScanner:
    """In a worker: the scanner of the :class:`Shipment` named ``shipment`` from a client of
    logsigma ``version`` (refused unless ours), built on first use."""
    global _current
    _use_scratch(version)
    with _scanner_lock:
        if _current is None or _current[0] != shipment:
            _current = (shipment, get_worker().plugins[shipment].make())
        return _current[1]


def _use_scratch(version: str) -> None:
    """In a worker, for a client of logsigma ``version`` (refused unless ours): spill into
    the worker's own scratch directory."""
    if version != scanner.__version__:
        raise VersionRefused(refusal(get_worker().address, scanner.__version__))
    scratch = Path(get_worker().local_directory) / "logsigma-hits"
    scratch.mkdir(exist_ok=True)
    use_directory(scratch)


def scan_unit(shipment: str, version: str, unit: WorkUnit) -> tuple[str, UnitResult]:
    """The task: scan ``unit`` on this worker with the scanner of ``shipment`` (a client of
    logsigma ``version``); its address and the result. A problem reading the file names the
    worker (another host may lack it)."""
    address = get_worker().address
    result = _scanner(shipment, version).scan(unit)
    result.problems = [Problem(p.kind, p.location, f"{p.message} (on worker {address})")
                       if p.kind == "source" else p for p in result.problems]
    return address, result


def correlate_remote(version: str, specs: Sequence[CorrelationSpec], engine: str,
                     runs: Sequence[tuple[str, int]], memory: list[Keyed], count: int,
                     part: int, parts: int, uploaded: str | None) -> tuple[str, Runs]:
    """The task of correlation partition ``part`` of ``parts`` by ``engine``, on the worker the client
    uploaded the hits to, after the last upload (``uploaded``, a dependency): ``runs``, the
    names of files of its scratch and their frames (deleted after), and the in-memory
    tail; its address and its hits."""
    _use_scratch(version)
    local = Runs(tuple(Run(_scratch_file(name), frames) for name, frames in runs), memory,
                 count)
    try:
        return get_worker().address, correlate_part(local, part, parts, specs, engine)
    finally:
        for run in local.disk:
            run.path.unlink()


def append_chunk(name: str, chunk: bytes, after: str | None) -> str:
    """The task appending ``chunk`` to the file ``name`` of this worker's scratch, after
    ``after`` (the task of the chunk before, a dependency); the file's path."""
    path = _scratch_file(name)
    path.parent.mkdir(exist_ok=True)
    with path.open("ab") as stream:
        stream.write(chunk)
    return str(path)


def _scratch_file(name: str) -> Path:
    """The file ``name`` of this worker's scratch directory."""
    return Path(get_worker().local_directory) / "logsigma-hits" / name


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


@dataclass(slots=True)
class _RemotePart:
    """A correlation partition running as a task on one worker; computed here instead if
    that worker leaves the cluster (or the upload fails)."""

    executor: ClusterExecutor
    task: concurrent.futures.Future[tuple[str, Future]]  # its worker and task, once uploaded
    hits: Runs
    specs: Sequence[CorrelationSpec]
    part: int
    parts: int

    def result(self) -> Runs:
        try:
            address, task = self.task.result()
            while not task.done():  # a task bound to a worker that left would wait forever
                if address not in self.executor.client.scheduler_info()["workers"]:
                    raise _HitsLost(address)
                distributed_wait(task, timeout=WATCH_SECONDS, return_when="FIRST_COMPLETED")
            return self.executor._fetch(*task.result())
        except (OSError, KilledWorker, concurrent.futures.CancelledError, _HitsLost):
            return correlate_part(self.hits, self.part, self.parts, self.specs,
                                  self.executor.engine)


@dataclass(frozen=True, slots=True)
class _RemoteShare:
    """The partitions of one share, each a task on the worker the share went to."""

    parts: list[_RemotePart]

    def result(self) -> list[Runs]:
        return [part.result() for part in self.parts]


class ClusterExecutor:
    """Scans units as tasks of the Dask cluster ``client`` is connected to."""

    def __init__(self, client: Client, engine: str) -> None:
        self.client = client
        self.engine = engine  # the scan's, which its correlation partitions run
        self.retried = 0

    @classmethod
    @contextmanager
    def open(cls, address: str, engine: str) -> Iterator[ClusterExecutor]:
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
                yield cls._checked(client, engine)
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
            yield cls._checked(client, engine)

    @classmethod
    def _checked(cls, client: Client, engine: str) -> ClusterExecutor:
        """An executor on ``client``, once every worker has proved to run our version."""
        try:
            versions = client.run(logsigma_version)
        except (ImportError, AttributeError, OSError) as exc:  # no logsigma, or an old one
            raise LogsigmaError(f"a Dask worker cannot run logsigma {scanner.__version__}: "
                                f"{type(exc).__name__}: {exc}") from None
        for address, version in sorted(versions.items()):
            if version != scanner.__version__:
                raise LogsigmaError(refusal(address, version))
        return cls(client, engine)

    @property
    def slots(self) -> int:
        """The threads of the cluster's workers."""
        return sum(self.client.nthreads().values())

    @contextmanager
    def helpers(self, parts: Sequence[Runs], specs: Sequence[CorrelationSpec],
                theirs: Sequence[Sequence[int]]) -> Iterator[list[_RemoteShare]]:
        """The correlation partitions of each share in ``theirs``, each of its hits
        ``parts[p]``, as tasks on the worker the share is dealt to during the block; the
        hits are uploaded meanwhile, :data:`FETCH_BYTES` at a time (:meth:`_correlate`)."""
        if not theirs:
            yield []
            return
        workers = sorted(self.client.scheduler_info()["workers"])
        held: list[Future] = []
        dealt = [(workers[n % len(workers)], part) for n, share in enumerate(theirs)
                 for part in share]
        with concurrent.futures.ThreadPoolExecutor(1) as uploader:
            tasks = {part: uploader.submit(self._correlate, address, parts[part], specs, part,
                                           len(parts), held) for address, part in dealt}
            try:
                yield [_RemoteShare([_RemotePart(self, tasks[part], parts[part], specs, part,
                                                 len(parts)) for part in share])
                       for share in theirs]
            finally:
                for task in tasks.values():
                    task.cancel()
                concurrent.futures.wait(tasks.values())
                self.client.cancel(held)

    def _correlate(self, address: str, hits: Runs, specs: Sequence[CorrelationSpec],
                   part: int, parts: int, held: list[Future]) -> tuple[str, Future]:
        """Upload the runs of ``hits`` to the worker at ``address``, straight to it,
        :data:`FETCH_BYTES` at a time, each chunk appended by a task after the one before;
        then submit partition ``part`` there; the worker and the task."""
        token, runs, last = uuid.uuid4().hex, [], None
        for number, run in enumerate(hits.disk):
            name = f"upload-{token}-{number}.runs"
            with run.path.open("rb") as stream:
                for chunk in iter(lambda: stream.read(FETCH_BYTES), b""):
                    data = self.client.scatter(chunk, workers=[address], direct=True, hash=False)
                    last = self._pinned(held, address, append_chunk, name, data, last)
            runs.append((name, run.frames))
        return address, self._pinned(held, address, correlate_remote, scanner.__version__,
                                     specs, self.engine, runs, hits.memory, len(hits), part, parts,
                                     last)

    def _pinned(self, held: list[Future], address: str, *task: Any) -> Future:
        """Submit ``task`` to the worker at ``address`` alone; its future, also in ``held``."""
        held.append(self.client.submit(*task, workers=[address], allow_other_workers=False,
                                       pure=False))
        return held[-1]

    def run_units(self, units: Sequence[WorkUnit], make: WorkerFactory,
                  progress: Progress) -> Iterator[tuple[int, UnitResult]]:
        """Scan every unit on the cluster; ``(unit index, result)`` pairs as units finish.
        Leaving early (an error, Ctrl-C) cancels the scan's tasks on the cluster."""
        client = self.client
        shipment = Shipment(make)
        client.register_plugin(shipment)
        shipped = [portable(unit) for unit in units]
        priority = {index: len(units) - rank for rank, index in enumerate(costliest_first(units))}

        def submit(index: int) -> Future:
            return client.submit(scan_unit, shipment.name, scanner.__version__, shipped[index],
                                 priority=priority[index], pure=False)

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
            client.cancel(list(pending))
            client.unregister_worker_plugin(shipment.name)

    def _result(self, future: Future) -> UnitResult:
        """A finished unit's result, its spilled hits copied here."""
        try:
            address, result = future.result()
        except VersionRefused as exc:
            raise LogsigmaError(str(exc)) from None
        except KilledWorker as exc:
            raise LogsigmaError(f"Dask workers died running one unit again and again: {exc}") \
                from None
        result.hits = result.hits.each(partial(self._fetch, address))
        return result

    def _fetch(self, address: str, runs: Runs) -> Runs:
        """``runs`` with the runs spilled on the worker at ``address`` copied into this
        process's spill directory (and deleted there)."""
        if not runs.disk:
            return runs
        return dataclasses.replace(runs, disk=tuple(
            copy_run(run, self._chunks(address, str(run.path))) for run in runs.disk))

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
