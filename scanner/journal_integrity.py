"""Stream-integrity events of journal files: entries missing from a sequence.

journald numbers every entry it writes (``seqnum``), one sequence shared by all the files
it writes (``system.journal``, its archives, ``user-1000.journal``), named by the files'
``seqnum_id``. :func:`journal_anomalies` reads the entry heads of every journal file
scanned, joins their sequence numbers per ``seqnum_id`` into runs and reports each hole
between runs as a ``seqnum_gap`` event: entries deleted, or a journal file removed from
the copy. The oldest entries are not checked (journald's vacuuming removes whole old
archives, so a sequence may start anywhere). Events carry the logsource ``{product:
linux, service: log_integrity}``, like :mod:`scanner.integrity`'s, with ``gap_entries``
(how many are missing) and ``gap_seconds``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Iterator

from scanner.errors import Problems
from scanner.integrity import integrity_event
from scanner.model import Event, SourceFile
from scanner.sources.journal import read_journal

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(slots=True)
class _Run:
    """Consecutive sequence numbers of one file: where they start and end."""

    first: int
    last: int
    source: str
    first_line: int
    last_line: int
    first_time: int
    last_time: int


def journal_anomalies(files: Iterable[SourceFile]) -> Iterator[Event]:
    """The ``seqnum_gap`` events of ``files`` (journal files; see module doc). Damaged files
    are read as far as they go: their warnings come from the scan itself."""
    runs: dict[str, list[_Run]] = {}
    for file in files:
        run: _Run | None = None
        for line, entry in enumerate(read_journal(file, Problems(), fields=False), 1):
            if run is not None and entry.seqnum == run.last + 1:
                run.last, run.last_line, run.last_time = entry.seqnum, line, entry.realtime
                continue
            run = _Run(entry.seqnum, entry.seqnum, file.source, line, line, entry.realtime,
                       entry.realtime)
            runs.setdefault(entry.seqnum_id, []).append(run)
    for sequence in runs.values():
        yield from _gaps(sorted(sequence, key=lambda r: r.first))


def _gaps(sequence: list[_Run]) -> Iterator[Event]:
    """A ``seqnum_gap`` event at each hole between the runs (sorted by first number)."""
    reach = sequence[0]
    for run in sequence[1:]:
        missing = run.first - reach.last - 1
        if missing > 0:
            when = EPOCH + timedelta(microseconds=run.first_time)
            seconds = max(0, (run.first_time - reach.last_time) // 1_000_000)
            event = integrity_event("seqnum_gap", run.source, run.first_line, when, seconds,
                                    reach.source, reach.last_line, f"{missing} entries missing")
            event.fields["gap_entries"] = missing
            yield event
        if run.last > reach.last:
            reach = run
