"""The line formats (JSONL, CSV rows) written by two processes, a half of the hits each.

A :class:`~scanner.report.tally.CountedHits` view with a middle sort key splits into the
hits below it and those from it on (a run's frames before a key are skipped unread:
:mod:`scanner.hitruns`). A forked process writes the later half's lines to a file of the
spill directory while this one writes the earlier half's to the output; then the later
lines are copied after them, and the two halves' counts joined, the earlier's first. A
line depends on its hit alone, so the bytes are those one process writes. Forking is
safe only in a process of one thread that has not loaded Polars (whose threads' locks a
fork would copy held): otherwise, or without a middle, one process writes every line.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
from multiprocessing.connection import Connection
from typing import Callable, Iterable, TextIO

from scanner.errors import LogsigmaError, Location
from scanner.hitruns import spill_directory
from scanner.model import Hit
from scanner.report.tally import CountedHits, HitTally

Lines = Callable[[Iterable[Hit], TextIO], None]  # writes one line (or row) per hit


def write_lines(hits: Iterable[Hit], lines: Lines, out: TextIO) -> None:
    """``lines(hits, out)``, by two processes when ``hits`` splits in halves and a fork is
    safe."""
    halves = hits.halves() if isinstance(hits, CountedHits) else None
    directory = spill_directory()
    if halves is None or directory is None or not fork_is_safe():
        lines(hits, out)
        return
    earlier, later = halves
    try:
        fd, name = tempfile.mkstemp(prefix="lines-", suffix=".txt", dir=directory)
    except OSError as exc:
        raise LogsigmaError(f"cannot write hits to a temporary file: {exc.strerror}",
                            Location(str(directory))) from None
    os.close(fd)
    received, sent = multiprocessing.Pipe(duplex=False)
    writer = multiprocessing.get_context("fork").Process(
        target=_write_later, args=(later, lines, name, sent), daemon=True)
    try:
        writer.start()
    except OSError:  # no process to spare: this one writes every line
        _discard(name, received, sent)
        lines(hits, out)
        return
    try:
        sent.close()
        lines(earlier, out)
        tally = _outcome(received, name)
        with open(name, encoding="utf-8", newline="") as written:
            shutil.copyfileobj(written, out)
        hits.settle(earlier.tally().joined(tally))
    finally:
        if writer.is_alive():
            writer.terminate()
        writer.join()
        _discard(name, received, sent)


def fork_is_safe() -> bool:
    """Whether this process may fork a writer: one thread, and Polars not loaded."""
    return threading.active_count() == 1 and "polars" not in sys.modules


def _discard(name: str, *ends: Connection) -> None:
    """Close the pipe's ``ends`` and remove the later half's file ``name``."""
    for end in ends:
        end.close()
    os.unlink(name)


def _outcome(received: Connection, name: str) -> HitTally:
    """The counts the later half's writer sends, or the error it met (or its death)."""
    try:
        outcome = received.recv()
    except EOFError:
        outcome = "the process writing the later hits ended without a word"
    if isinstance(outcome, str):
        raise LogsigmaError(outcome, Location(name))
    return outcome


def _write_later(later: CountedHits, lines: Lines, name: str, sent: Connection) -> None:
    """In the forked writer: the later half's lines into the file ``name``; its counts, or
    what went wrong, to ``sent``. It leaves by ``os._exit``: the output stream's buffer it
    was forked with is the parent's to write."""
    try:
        with open(name, "w", encoding="utf-8", newline="") as out:
            lines(later, out)
        sent.send(later.tally())
    except Exception as exc:  # told to the parent, which reports it
        sent.send(f"cannot write the later hits: {exc}")
    finally:
        sent.close()
        os._exit(0)
