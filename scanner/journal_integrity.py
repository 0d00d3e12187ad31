"""Stream-integrity events of journal files: entries missing from a sequence, boots that
end without a shutdown.

journald numbers every entry it writes (``seqnum``), one sequence shared by all the files
it writes (``system.journal``, its archives, ``user-1000.journal``), named by the files'
``seqnum_id``. :func:`journal_anomalies` reads the entry heads of every journal file
scanned and reports

* ``seqnum_gap``: a hole between the runs of numbers of one sequence (``gap_entries``
  missing): entries deleted, or a journal file removed from the copy. The oldest entries
  are not checked (journald's vacuuming removes whole old archives, so a sequence may
  start anywhere);
* ``boot_end_unclean``: a boot (``boot_id``) other than the newest whose last
  :data:`LAST_ENTRIES` entries hold no sign of an orderly shutdown (journald's "Journal
  stopped", logind's "System is powering down", systemd stopping units, unmounting, or
  reaching the shutdown targets): a crash, a power cut, or the end of the boot's entries
  deleted. The signs are broad on purpose: a false alarm on every clean reboot would be
  worse than missing a crash that followed a unit being stopped.

Events carry the logsource ``{product: linux, service: log_integrity}`` like
:mod:`scanner.integrity`'s. Only the entry heads are read, then the fields of each boot's
last entries.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Iterator

from scanner.errors import Problems
from scanner.integrity import integrity_event
from scanner.model import Event, SourceFile
from scanner.sources.journal import read_entries_at, read_journal

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
LAST_ENTRIES = 64
# MESSAGE_IDs of journald stopping and of logind announcing a power-off, reboot or halt
SHUTDOWN_IDS = frozenset({b"d93fb3c9c24d451a97cea615ce59c00b", b"98268866d1d54a499c4e98921d93bc40"})
# What an orderly shutdown logs late: journald stopping, logind's announcement, systemd
# stopping units and unmounting (journald leaves /var/log/journal before the very end, so the
# persistent journal of a clean boot often ends among these), the shutdown targets.
SHUTDOWN_MESSAGE = re.compile(
    rb"^(Journal stopped|System is (powering down|rebooting|halting)|Shutting down\.|"
    rb"Stopp(ing|ed) |Unmount(ing|ed) |"
    rb"Reached target .*(Shutdown|Power.?Off|Reboot|Halt|Final Step))")


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


_Head = tuple[int, int, int, int, int]  # realtime, seqnum, file index, line, offset


@dataclass(slots=True)
class _Boot:
    """The newest entry heads of one boot, kept in a heap."""

    last: list[_Head] = field(default_factory=list)

    def see(self, item: _Head) -> None:
        if len(self.last) < LAST_ENTRIES:
            heapq.heappush(self.last, item)
        elif item[:2] > self.last[0][:2]:
            heapq.heapreplace(self.last, item)


def journal_anomalies(files: Iterable[SourceFile]) -> Iterator[Event]:
    """The ``seqnum_gap`` and ``boot_end_unclean`` events of the journal ``files`` (see module
    doc). Damaged files are read as far as they go: their warnings come from the scan."""
    runs: dict[str, list[_Run]] = {}
    boots: dict[str, _Boot] = {}
    scanned = list(files)
    for index, file in enumerate(scanned):
        run: _Run | None = None
        for line, entry in enumerate(read_journal(file, Problems(), fields=False), 1):
            boots.setdefault(entry.boot_id, _Boot()).see(
                (entry.realtime, entry.seqnum, index, line, entry.offset))
            if run is not None and entry.seqnum == run.last + 1:
                run.last, run.last_line, run.last_time = entry.seqnum, line, entry.realtime
                continue
            run = _Run(entry.seqnum, entry.seqnum, file.source, line, line, entry.realtime,
                       entry.realtime)
            runs.setdefault(entry.seqnum_id, []).append(run)
    for sequence in runs.values():
        yield from _gaps(sorted(sequence, key=lambda r: r.first))
    yield from _unclean_ends(boots, scanned)


def _gaps(sequence: list[_Run]) -> Iterator[Event]:
    """A ``seqnum_gap`` event at each hole between the runs (sorted by first number)."""
    reach = sequence[0]
    for run in sequence[1:]:
        missing = run.first - reach.last - 1
        if missing > 0:
            seconds = max(0, (run.first_time - reach.last_time) // 1_000_000)
            event = integrity_event("seqnum_gap", run.source, run.first_line,
                                    _time(run.first_time), seconds, reach.source,
                                    reach.last_line, f"{missing} entries missing")
            event.fields["gap_entries"] = missing
            yield event
        if run.last > reach.last:
            reach = run


def _unclean_ends(boots: dict[str, _Boot], files: list[SourceFile]) -> Iterator[Event]:
    """A ``boot_end_unclean`` event at the last entry of each boot but the newest whose last
    entries show no shutdown."""
    ended = sorted(boots.items(), key=lambda item: max(item[1].last))[:-1]
    for boot_id, boot in ended:
        last = sorted(boot.last)
        by_file: dict[int, list[int]] = {}
        for _, _, index, _, offset in last:
            by_file.setdefault(index, []).append(offset)
        if any(_shows_shutdown(entry.fields) for index, offsets in by_file.items()
               for entry in read_entries_at(files[index], offsets)):
            continue
        realtime, _, index, line, _ = last[-1]
        event = integrity_event("boot_end_unclean", files[index].source, line, _time(realtime),
                                None, None, None, f"boot {boot_id} ends without a shutdown")
        event.fields["boot_id"] = boot_id
        yield event


def _shows_shutdown(fields: tuple[tuple[str, bytes], ...]) -> bool:
    """Whether an entry is one an orderly shutdown writes."""
    return any((name == "MESSAGE_ID" and value in SHUTDOWN_IDS)
               or (name == "MESSAGE" and SHUTDOWN_MESSAGE.match(value) is not None)
               for name, value in fields)


def _time(realtime: int) -> datetime:
    return EPOCH + timedelta(microseconds=realtime)
