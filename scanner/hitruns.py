"""Hits in sorted runs: bounded memory, spilled to a private temp directory past a bound.

A :class:`RunWriter` takes hits in any order and holds at most :data:`BATCH_HITS` of them,
or, when several writers share a :class:`Budget`, at most the budget's hits all together
(reaching it, the writer holding the most spills); each hit travels with its
``Hit.sort_key``, computed once when it is added (a ``model.Keyed`` pair), so no later sort
or merge calls it again. Each batch spilled is sorted (stably) by key and written as one
run, a file of its own in the spill directory.
:meth:`RunWriter.close` returns :class:`Runs`, the runs on disk plus the sorted in-memory
tail: small, picklable handles, so a worker process returns them instead of its hits, and
a small result never touches the disk. Iterating ``Runs`` (or :meth:`Runs.keyed`, for the
pairs) merges its runs lazily, one frame of :data:`FRAME_HITS` hits per run at a time,
into ``sort_key`` order; equal keys come in the order the hits were added. A writer that
gathers more than :data:`MAX_RUNS` runs merges the smallest neighbouring ones (see
``RunWriter._compact``), so a merge never holds more than that many frames or open files.
A run keeps each frame's first key and offset (:class:`Run`'s index), so reading its hits
from a key on (``Runs.keyed(since)``) leaves the frames before it unread; :func:`middle_key`
cuts the hits of several runs into two halves of about as many frames.

A process spills only after :func:`use_directory` named its directory (without one a
writer keeps every hit in memory). :func:`spill_space` makes that directory with
``tempfile.mkdtemp(prefix="logsigma-")`` (under TMPDIR) and removes it with everything in
it when its block ends, on error, Ctrl-C and SIGTERM too (which it turns into
``SystemExit`` in the main thread meanwhile); worker processes join it through
:func:`init_process`. Only SIGKILL (or the OOM killer) leaves a directory behind: a live
scan holds a lock on its directory, and the next scan removes the ``logsigma-*``
directories of its user that no process holds and that are older than
:data:`ORPHAN_SECONDS`. Nothing here writes anywhere else.

Frames (and the in-memory tail, when ``Runs`` travel to another process) are pickled
column-wise (:class:`_Columns`): a brute force makes about one compact ``Reduced`` hit a
line, and pickling each as an object (its ``__reduce__``, a Python call) was most of
what a hit cost between processes.
"""

from __future__ import annotations

import bisect
import fcntl
import multiprocessing
import os
import pickle
import shutil
import signal
import stat
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain, dropwhile, repeat, starmap
from multiprocessing.context import BaseContext
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Mapping, Sequence

from scanner.errors import LogsigmaError, Location
from scanner.model import AnyHit, Hit, Keyed, Reduced, RuleInfo, SortKey

BATCH_HITS = 5_000  # hits a writer of its own holds before it spills a run
FRAME_HITS = 256  # hits per pickle frame at most: what a merge holds per run
FRAME_CHARS = 1 << 16  # raw text per pickle frame, about: long lines make shorter frames
CONTRIBUTOR_CHARS = 32  # what each listed contributor of a correlation hit counts as raw text
MAX_RUNS = 128  # runs a writer keeps before merging some (a merge opens them all at once)
MIDDLE_FRAMES = 64  # frames on disk at least for hits to be split at a middle key
ORPHAN_SECONDS = 60.0  # a younger unlocked spill directory may be one whose scan is starting

_KEY = itemgetter(0)  # the sort key of a Keyed pair
_HIT = itemgetter(1)  # the hit of a Keyed pair

_directory: Path | None = None  # where this process spills; None: never


@contextmanager
def spill_space() -> Iterator[Path]:
    """A private spill directory for this process (and its workers) during the block,
    locked while it lasts; first, those of killed scans go (:func:`remove_orphans`)."""
    remove_orphans(Path(tempfile.gettempdir()))
    try:
        path = Path(tempfile.mkdtemp(prefix="logsigma-"))
        lock = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise LogsigmaError(f"cannot make a temporary directory: {exc.strerror}",
                            Location(tempfile.gettempdir())) from None
    fcntl.flock(lock, fcntl.LOCK_EX)
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
        os.close(lock)


def remove_orphans(root: Path) -> None:
    """Remove the spill directories under ``root`` that scans killed outright left: this
    user's ``logsigma-*`` directories older than :data:`ORPHAN_SECONDS` whose lock no
    process holds (a lock dies with its process, whatever killed it)."""
    now = time.time()
    for path in root.glob("logsigma-*"):
        try:
            info = path.lstat()
            if (not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid()
                    or now - info.st_mtime < ORPHAN_SECONDS):
                continue
            lock = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            shutil.rmtree(path, ignore_errors=True)
        except OSError:  # held: its scan is running
            pass
        finally:
            os.close(lock)


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


def pool_context(engine: str) -> BaseContext | None:
    """How the worker processes of ``engine`` start: by the platform's default (a fork here),
    unless Polars is loaded in this process and ``engine`` is the columnar one: then from a
    fork server that has imported its batch matcher, as a process forked while Polars'
    threads hold its locks deadlocks in its first Polars call. A scan's main process loads
    Polars only once its units are scanned (columnar correlation of many hits), so its scan
    workers are forked (and load Polars themselves, for a big batch), which starts them
    sooner and passes them the rules unpickled."""
    if engine != "columnar" or "polars" not in sys.modules:
        return None
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["scanner.columnar.batch"])
    return context


FrameIndex = tuple[tuple[SortKey, int], ...]  # each frame's first sort key and byte offset


@dataclass(frozen=True, slots=True)
class Run:
    """One sorted run on disk: the file ``path`` of ``frames`` pickled lists of keyed hits,
    and where each frame starts (empty for a run copied from a scratch file: read whole)."""

    path: Path
    frames: int
    index: FrameIndex = ()

    def framed(self, first: int = 0) -> Iterator[list[Keyed]]:
        """The run's frames, in order, from frame ``first`` on."""
        with self.path.open("rb") as stream:
            if first:
                stream.seek(self.index[first][1])
            for _ in range(self.frames - first):
                yield pickle.load(stream)

    def first_frame(self, since: SortKey) -> int:
        """The first frame that may hold a key from ``since`` on (0 without an index)."""
        return max(0, bisect.bisect_left(self.index, since, key=_KEY) - 1)


@dataclass(slots=True)
class Runs:
    """A writer's hits: sorted runs on disk, then the sorted tail kept in memory."""

    disk: tuple[Run, ...] = ()
    memory: list[Keyed] = field(default_factory=list)
    count: int = 0

    def __len__(self) -> int:
        return self.count

    def __reduce__(self) -> tuple[type[Runs], tuple[Any, ...]]:
        # The tail travels column-wise too, when a worker process returns its result.
        return Runs, (self.disk, _Columns(self.memory), self.count)

    def __iter__(self) -> Iterator[AnyHit]:
        """Every hit in ``sort_key`` order; equal keys in the order they were added."""
        return map(_HIT, self.keyed())

    def keyed(self, since: SortKey | None = None) -> Iterator[Keyed]:
        """Every hit with its sort key, in the order of :meth:`__iter__`; with ``since``,
        those whose key is not below it, the frames before them left unread."""
        memory = self.memory
        if since is not None:
            memory = memory[bisect.bisect_left(memory, since, key=_KEY):]
        if not self.disk:
            return iter(memory)
        firsts = [0 if since is None else run.first_frame(since) for run in self.disk]
        merged = merge_frames([*((run.framed(first), run.frames - first)
                                 for run, first in zip(self.disk, firsts)), (iter([memory]), 1)])
        return merged if since is None else dropwhile(lambda keyed: keyed[0] < since, merged)


@dataclass(eq=False, slots=True)
class Budget:
    """The hits the batches of ``writers`` hold together at most: once they hold ``limit``,
    the writer holding the most spills its batch as a run. A writer made without one has a
    budget of its own of :data:`BATCH_HITS`."""

    limit: int
    writers: list[RunWriter] = field(default_factory=list)
    held: int = 0

    def spill(self) -> None:
        """Spill the largest batch."""
        max(self.writers, key=RunWriter.held)._spill()


class RunWriter:
    """Collects hits in bounded memory (its :class:`Budget`); :meth:`close` gives them back
    as :class:`Runs`."""

    def __init__(self, budget: Budget | None = None) -> None:
        self._directory = _directory
        self._budget = Budget(BATCH_HITS) if budget is None else budget
        self._budget.writers.append(self)
        self._batch: list[Keyed] = []
        self._disk: list[Run] = []
        self._count = 0

    def held(self) -> int:
        """How many hits this writer holds in memory."""
        return len(self._batch)

    def append(self, hit: AnyHit) -> None:
        """Add a hit."""
        self.append_keyed((hit.sort_key(), hit))

    def append_keyed(self, keyed: Keyed) -> None:
        """Add a hit with its sort key, spilling a sorted run when the budget is spent."""
        self._batch.append(keyed)
        budget = self._budget
        budget.held += 1
        if budget.held >= budget.limit and self._directory is not None:
            budget.spill()

    def extend(self, hits: Iterable[AnyHit]) -> None:
        """Add hits."""
        for hit in hits:
            self.append_keyed((hit.sort_key(), hit))

    def extend_keyed(self, pairs: Iterable[Keyed]) -> None:
        """Add hits with their sort keys."""
        for keyed in pairs:
            self.append_keyed(keyed)

    def add(self, runs: Runs) -> None:
        """Add the hits of another writer, after (on equal keys) those added so far; this
        writer takes over their runs (and may delete them once merged)."""
        if runs.disk:
            if self._batch:
                self._spill()
            self._disk += runs.disk
            self._count += runs.count - len(runs.memory)
            self._compact()
        self.extend_keyed(runs.memory)

    def close(self) -> Runs:
        """The hits added, as runs; the writer must not be used afterwards. A writer that
        spilled spills its tail too, so whoever adds its runs reads them from disk as they
        are, rather than batching and writing them again."""
        if self._disk and self._batch:
            self._spill()
        self._batch.sort(key=_KEY)
        self._budget.held -= len(self._batch)
        runs = Runs(tuple(self._disk), self._batch, self._count + len(self._batch))
        self._batch, self._disk = [], []
        return runs

    def _spill(self) -> None:
        self._batch.sort(key=_KEY)
        self._count += len(self._batch)
        self._budget.held -= len(self._batch)
        self._disk.append(self._write(self._batch))
        self._batch = []
        self._compact()

    def _compact(self) -> None:
        """While there are more than :data:`MAX_RUNS` runs, merge :func:`_merge_width`
        neighbouring runs into one (neighbours, so equal keys keep their order): those whose
        largest holds the fewest frames, then the fewest in all. Small runs merge first, so
        a hit is rewritten a few times rather than at every merge (as when all runs merge
        into one). Merged runs' files are deleted."""
        width = _merge_width()
        while len(self._disk) > MAX_RUNS:
            sizes = [run.frames for run in self._disk]
            start = min(range(len(sizes) - width + 1),
                        key=lambda i: (max(sizes[i:i + width]), sum(sizes[i:i + width])))
            chosen = self._disk[start:start + width]
            self._disk[start:start + width] = [self._write(Runs(tuple(chosen)).keyed())]
            for run in chosen:
                run.path.unlink()

    def _write(self, hits: Iterable[Keyed]) -> Run:
        """Write the (sorted) keyed ``hits`` to a new file of the spill directory as one run."""
        return _new_run(self._directory, lambda stream: _dump_frames(hits, stream))


def middle_key(runs: Iterable[Runs]) -> SortKey | None:
    """The middle of the first keys of the frames on disk of ``runs``: about as many frames
    (each of about as many hits or as much text) below it as from it on; ``None`` with fewer
    than :data:`MIDDLE_FRAMES` frames (or runs without an index)."""
    starts = sorted(key for each in runs for run in each.disk for key, _ in run.index)
    return starts[len(starts) // 2] if len(starts) >= MIDDLE_FRAMES else None


def copy_run(run: Run, chunks: Iterable[bytes]) -> Run:
    """A copy of ``run`` in this process's spill directory made of ``chunks``, the bytes of
    another process's run in order (one a remote worker spilled)."""
    def write(stream: BinaryIO) -> tuple[int, FrameIndex]:
        stream.writelines(chunks)
        return run.frames, run.index

    return _new_run(_directory, write)


def _new_run(directory: Path | None, write: Callable[[BinaryIO], tuple[int, FrameIndex]]) -> Run:
    """A new run file in ``directory`` that ``write`` fills, returning its frame count and
    index."""
    assert directory is not None
    try:
        fd, name = tempfile.mkstemp(prefix="hits-", suffix=".runs", dir=directory)
        with os.fdopen(fd, "wb") as stream:
            return Run(Path(name), *write(stream))
    except OSError as exc:
        raise LogsigmaError(f"cannot spill hits to a temporary file: {exc.strerror}",
                            Location(str(directory))) from None


def merge_frames(runs: Sequence[tuple[Iterator[list[Keyed]], int]]) -> Iterator[Keyed]:
    """``heapq.merge(..., key=sort key)`` of sorted ``runs``, each given as its frames and
    their count, a frame at a time rather than a hit at a time: the hits of every loaded
    frame below the smallest last key of the runs still loading are taken, sorted together
    (stably, so equal keys keep the order of their runs) and given; then the runs whose last
    loaded key was that bound load their next frame. A key equal to the bound waits until
    every run has loaded past it, so equal keys of several runs come out in run order, as
    from ``heapq.merge``. Holds one frame per run (a few more while keys repeat)."""
    reading = [_Reading(frames, count) for frames, count in runs]
    while reading:
        for run in reading:  # a run whose pending hits ran out loads its next frame
            while not run.pending and run.left:
                run.load()
        reading = [run for run in reading if run.pending]
        lasts = [run.pending[-1][0] for run in reading if run.left]
        bound = min(lasts) if lasts else None  # None: every frame is loaded
        taken: list[Keyed] = []
        for run in reading:
            pending = run.pending
            if bound is None:
                taken += pending
                run.pending = []
            elif pending[0][0] < bound:
                cut = bisect.bisect_left(pending, bound, key=_KEY)
                taken += pending[:cut]
                run.pending = pending[cut:]
            if run.left and pending[-1][0] == bound:
                run.load()
        taken.sort(key=_KEY)
        yield from taken


@dataclass(slots=True)
class _Reading:
    """A run being merged: its frames, how many are left, the hits loaded and not yet given."""

    frames: Iterator[list[Keyed]]
    left: int
    pending: list[Keyed] = field(default_factory=list)

    def load(self) -> None:
        """Add the run's next frame to its pending hits."""
        self.pending += next(self.frames)
        self.left -= 1


def _merge_width() -> int:
    """How many runs one compaction merges: half of :data:`MAX_RUNS`, at least two."""
    return max(2, MAX_RUNS // 2)


def _dump_frames(hits: Iterable[Keyed], stream: BinaryIO) -> tuple[int, FrameIndex]:
    """Pickle keyed ``hits`` onto ``stream`` in frames of :data:`FRAME_HITS`, or fewer once
    their raw text reaches :data:`FRAME_CHARS` (a correlation hit's contributors counted in:
    one lists tens, ~130 bytes each in memory); the frame count and the frames' index."""
    index: list[tuple[SortKey, int]] = []
    chars = 0
    frame: list[Keyed] = []
    for keyed in hits:
        frame.append(keyed)
        hit = keyed[1]
        if type(hit) is Hit:
            chars += len(hit.raw)
            if hit.correlation is not None:
                chars += CONTRIBUTOR_CHARS * len(hit.correlation.contributors)
        if len(frame) == FRAME_HITS or chars >= FRAME_CHARS:
            index.append((frame[0][0], stream.tell()))
            pickle.dump(_Columns(frame), stream, protocol=pickle.HIGHEST_PROTOCOL)
            frame, chars = [], 0
    if frame:
        index.append((frame[0][0], stream.tell()))
        pickle.dump(_Columns(frame), stream, protocol=pickle.HIGHEST_PROTOCOL)
    return len(index), tuple(index)


class _Columns:
    """Keyed hits as pickle writes them, read back as the equal list by ``pickle.load``.

    Per chunk of up to :data:`FRAME_HITS` hits: the keys' four parts as columns, and the
    ``Reduced`` hits' five fields as columns (their sources and lines only when they are
    not the keys' own), which pickle as plain tuples of values rather than object by
    object; other hits are pickled as they are, with their positions. Loading zips the
    columns into keys and, by ``tuple.__new__`` as ``Reduced.__reduce__`` does, into
    hits. The values themselves (rules, timestamps, field dicts) are pickled as before,
    so they load equal, of the same types (bench/run_codec.py measures the alternatives).
    """

    __slots__ = ("hits",)

    def __init__(self, hits: list[Keyed]) -> None:
        self.hits = hits

    def __reduce__(self) -> tuple[Callable[..., list[Keyed]], tuple[tuple[Any, ...], ...]]:
        hits, size = self.hits, FRAME_HITS
        return _decoded, tuple(_encoded(hits[at:at + size]) for at in range(0, len(hits), size))


def _encoded(frame: list[Keyed]) -> tuple[Any, ...]:
    """The columns of ``frame``, as :func:`_decoded_frame` takes them."""
    keys, hits = zip(*frame)
    floats, sources, lines, ids = zip(*keys)
    others: tuple[tuple[int, AnyHit], ...] = ()
    if {*map(type, hits)} != {Reduced}:
        others = tuple((at, hit) for at, hit in enumerate(hits) if type(hit) is not Reduced)
        hits = tuple(hit for hit in hits if type(hit) is Reduced)
    rules, stamps, hit_sources, hit_lines, fields = zip(*hits) if hits else ((),) * 5
    return (floats, sources, lines, ids, rules, stamps, None if hit_sources == sources else
            hit_sources, None if hit_lines == lines else hit_lines, fields, others)


def _decoded(*frames: tuple[Any, ...]) -> list[Keyed]:
    """The keyed hits of :class:`_Columns`' chunks ``frames``, in order."""
    if len(frames) == 1:
        return _decoded_frame(*frames[0])
    return list(chain.from_iterable(starmap(_decoded_frame, frames)))


def _decoded_frame(floats: tuple[float, ...], sources: tuple[str, ...], lines: tuple[int, ...],
                   ids: tuple[str, ...], rules: tuple[RuleInfo, ...],
                   stamps: tuple[datetime | None, ...], hit_sources: tuple[str, ...] | None,
                   hit_lines: tuple[int, ...] | None, fields: tuple[Mapping[str, Any], ...],
                   others: tuple[tuple[int, AnyHit], ...]) -> list[Keyed]:
    """The keyed hits of one chunk's columns (see :func:`_encoded`)."""
    reduced = map(tuple.__new__, repeat(Reduced),
                  zip(rules, stamps, sources if hit_sources is None else hit_sources,
                      lines if hit_lines is None else hit_lines, fields))
    hits: Iterable[AnyHit] = reduced
    if others:
        hits = list(reduced)
        for at, hit in others:  # in order of position: each lands where it was
            hits.insert(at, hit)
    return list(zip(zip(floats, sources, lines, ids), hits))

