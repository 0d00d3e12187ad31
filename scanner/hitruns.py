"""Hits in sorted runs: bounded memory, spilled to a private temp directory past a bound.

A :class:`RunWriter` takes hits in any order and holds at most :data:`BATCH_HITS` of them;
each full batch is sorted (stably) by ``Hit.sort_key`` and appended as one run to the
writer's file in the spill directory. :meth:`RunWriter.close` returns :class:`Runs`, the
runs on disk plus the sorted in-memory tail: small, picklable handles, so a worker process
returns them instead of its hits, and a small result never touches the disk. Iterating
``Runs`` merges its runs lazily, one frame of :data:`FRAME_HITS` hits per run at a time,
into ``sort_key`` order; equal keys come in the order the hits were added. A writer that
gathers more than :data:`MAX_RUNS` runs merges them into one, so a merge never holds more
than that many frames or open files.

A process spills only after :func:`use_directory` named its directory (without one a
writer keeps every hit in memory). :func:`spill_space` makes that directory with
``tempfile.mkdtemp(prefix="logsigma-")`` (under TMPDIR) and removes it with everything in
it when its block ends, on error, Ctrl-C and SIGTERM too (which it turns into
``SystemExit`` in the main thread meanwhile; only SIGKILL leaves it behind); worker
processes join it through :func:`init_process`. Nothing here writes anywhere else.
"""

from __future__ import annotations

import heapq
import os
import pickle
import shutil
import signal
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator

from scanner.errors import LogsigmaError, Location
from scanner.model import Hit

BATCH_HITS = 5_000  # hits a writer holds before it spills a run
FRAME_HITS = 128  # hits per pickle frame: what a merge holds per run
MAX_RUNS = 32  # runs a writer keeps before merging them into one

_directory: Path | None = None  # where this process spills; None: never


@contextmanager
def spill_space() -> Iterator[Path]:
    """A private spill directory for this process (and its workers) during the block."""
    try:
        path = Path(tempfile.mkdtemp(prefix="logsigma-"))
    except OSError as exc:
        raise LogsigmaError(f"cannot make a temporary directory: {exc.strerror}",
                            Location(tempfile.gettempdir())) from None
    use_directory(path)
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if on_main else None
    if on_main:
        signal.signal(signal.SIGTERM, _terminate)
    try:
        yield path
    finally:
        if on_main:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
        use_directory(None)
        shutil.rmtree(path, ignore_errors=True)


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def spill_directory() -> Path | None:
    """The directory this process spills into, if any."""
    return _directory


def use_directory(path: Path | None) -> None:
    """Spill into ``path`` from now on (``None``: keep every hit in memory)."""
    global _directory
    _directory = path


def init_process(path: Path | None, init: Callable[..., None], *args: Any) -> None:
    """A worker-process initializer: spill into ``path``, then run ``init(*args)``.

    SIGTERM kills a worker outright again; the main process removes the directory."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    use_directory(path)
    init(*args)


@dataclass(frozen=True, slots=True)
class Run:
    """One sorted run on disk: ``frames`` pickled lists of hits from byte ``offset``."""

    path: Path
    offset: int
    frames: int

    def __iter__(self) -> Iterator[Hit]:
        with self.path.open("rb") as stream:
            stream.seek(self.offset)
            for _ in range(self.frames):
                yield from pickle.load(stream)


@dataclass(slots=True)
class Runs:
    """A writer's hits: sorted runs on disk, then the sorted tail kept in memory."""

    disk: tuple[Run, ...] = ()
    memory: list[Hit] = field(default_factory=list)
    count: int = 0

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Hit]:
        """Every hit in ``sort_key`` order; equal keys in the order they were added."""
        if not self.disk:
            return iter(self.memory)
        return heapq.merge(*self.disk, self.memory, key=Hit.sort_key)


class RunWriter:
    """Collects hits in bounded memory; :meth:`close` gives them back as :class:`Runs`."""

    def __init__(self) -> None:
        self._directory = _directory
        self._batch: list[Hit] = []
        self._disk: list[Run] = []
        self._count = 0
        self._file: Path | None = None  # this writer's own runs go here

    def append(self, hit: Hit) -> None:
        """Add a hit, spilling a sorted run when the batch is full."""
        self._batch.append(hit)
        if len(self._batch) >= BATCH_HITS and self._directory is not None:
            self._spill()

    def extend(self, hits: Iterable[Hit]) -> None:
        """Add hits."""
        for hit in hits:
            self.append(hit)

    def add(self, runs: Runs) -> None:
        """Add the hits of another writer, after (on equal keys) those added so far; this
        writer takes over their runs (and may delete them once merged)."""
        if runs.disk:
            if self._batch:
                self._spill()
            self._disk += runs.disk
            self._count += runs.count - len(runs.memory)
            self._compact()
        self.extend(runs.memory)

    def close(self) -> Runs:
        """The hits added, as runs; the writer must not be used afterwards."""
        self._batch.sort(key=Hit.sort_key)
        runs = Runs(tuple(self._disk), self._batch, self._count + len(self._batch))
        self._batch, self._disk = [], []
        return runs

    def _spill(self) -> None:
        self._batch.sort(key=Hit.sort_key)
        self._count += len(self._batch)
        self._disk.append(self._write(self._batch))
        self._batch = []
        self._compact()

    def _compact(self) -> None:
        """Merge the runs into one when there are more than :data:`MAX_RUNS`."""
        if len(self._disk) <= MAX_RUNS:
            return
        merged = Runs(tuple(self._disk))
        old = {run.path for run in self._disk}
        self._file = None  # the merged run starts a new file; the old ones go
        self._disk = [self._write(iter(merged))]
        for path in old:
            path.unlink()

    def _write(self, hits: Iterable[Hit]) -> Run:
        """Append the (sorted) ``hits`` to this writer's file as one run."""
        assert self._directory is not None
        try:
            if self._file is None:
                fd, name = tempfile.mkstemp(prefix="hits-", suffix=".runs", dir=self._directory)
                os.close(fd)
                self._file = Path(name)
            with self._file.open("ab") as stream:
                return Run(self._file, stream.tell(), _dump_frames(hits, stream))
        except OSError as exc:
            raise LogsigmaError(f"cannot spill hits to a temporary file: {exc.strerror}",
                                Location(str(self._directory))) from None


def _dump_frames(hits: Iterable[Hit], stream: BinaryIO) -> int:
    """Pickle ``hits`` onto ``stream`` in frames of :data:`FRAME_HITS`; the frame count."""
    frames = 0
    frame: list[Hit] = []
    for hit in hits:
        frame.append(hit)
        if len(frame) == FRAME_HITS:
            pickle.dump(frame, stream, protocol=pickle.HIGHEST_PROTOCOL)
            frames += 1
            frame = []
    if frame:
        pickle.dump(frame, stream, protocol=pickle.HIGHEST_PROTOCOL)
        frames += 1
    return frames


class Replay:
    """A re-iterable view: each iteration calls ``make`` for a fresh stream of hits."""

    def __init__(self, make: Callable[[], Iterator[Hit]]) -> None:
        self._make = make

    def __iter__(self) -> Iterator[Hit]:
        return self._make()
