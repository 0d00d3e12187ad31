"""The readers of binary login records, by the ``records:`` value of a route entry.

``READERS[records](file, problems)`` yields the file's events with ``format=""`` and
``logsources=()`` (the normalizer fills both from the route), ``line`` = the 1-based
record index, ``raw`` = a one-line rendering and a UTC ``timestamp``; fields follow
grammars/README.md ("login records", "lastlog / faillog"). Layouts live in
:mod:`scanner.normalize.utmp` and :mod:`scanner.normalize.lastlog`.
"""

from __future__ import annotations

from typing import Callable, Iterator

from scanner.errors import Location, Problems
from scanner.model import Event, SourceFile
from scanner.normalize.lastlog import read_faillog, read_lastlog
from scanner.normalize.utmp import encode_utmp, read_utmp

__all__ = ["READERS", "encode_utmp"]



def skip_binary(file: SourceFile, problems: Problems) -> Iterator[Event]:
    """No events: one warning that ``file`` is binary in no format logsigma reads."""
    problems.add("source", Location(file.source),
                 "binary file of no format logsigma reads (not a log, or damaged): skipped")
    return iter(())


READERS: dict[str, Callable[[SourceFile, Problems], Iterator[Event]]] = {
    "utmp": read_utmp,
    "lastlog": read_lastlog,
    "faillog": read_faillog,
    "skip": skip_binary,
}
