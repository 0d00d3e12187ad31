"""Stream-integrity events: traces of log tampering that no single line shows.

A :class:`StreamWatch` sees every physical line of a stamped text log (a route
with ``record_start``, i.e. the syslog family), even the lines the prefilter
skips, one at a time or a chunk of lines at a time (one regex scan for the
stamps at line starts), and cheaply compares each line's stamp with the previous
one. It reports

* ``time_backwards``: a stamp more than ``BACKWARDS_TOLERANCE`` before the
  previous line's (daemons' clocks disagree by a second or two; an edited log
  usually does not fit in);
* ``silence``: a gap of at least ``SILENCE_SECONDS`` between two lines of a file
  that is otherwise busy (at least ``BUSY_LINES_PER_HOUR`` lines an hour over its
  span) — the shape left by deleting a stretch of lines.

:meth:`StreamWatch.absorb` continues a watch with that of the next byte range (part)
of the same file, checking the step between the parts exactly like one between lines,
so a file scanned in parts gives the events it gives scanned whole.

:func:`chain_anomalies` checks rotation chains across files: a missing member
(``auth.log.1`` and ``auth.log.3.gz`` but no ``auth.log.2*``), a newer member
starting before the older one ended, a long silence between members.

The events carry the logsource ``{product: linux, service: log_integrity}`` and
the fields ``anomaly``, ``chain``, ``gap_seconds``, ``previous_source``,
``previous_line``, so plain Sigma rules (``sigma_rules/``) decide what to report.
Comparisons work on the stamp text; a stamp is parsed only at hour boundaries and
on a suspected step back, so watching costs little per line.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from datetime import datetime, tzinfo
from operator import methodcaller
from typing import Iterator, Mapping, Sequence

from scanner.model import Event, LogSource, SourceFile
from scanner.normalize.routes import Route, strip_rotation
from scanner.normalize.timestamps import MONTHS, parse_time
from scanner.normalize.year import YearTracker, is_rollover
from scanner.sources.walk import rotation_of

INTEGRITY = LogSource(product="linux", service="log_integrity")
SILENCE_SECONDS = 6 * 3600
BUSY_LINES_PER_HOUR = 10
BACKWARDS_TOLERANCE = 60.0
MAX_EVENTS_PER_FILE = 100
_PRI = re.compile(r"^<\d{1,3}>(1 )?")
_STAMP = methodcaller("group", 1)  # the stamp of a _LineStamps match


class StreamWatch:
    """Watches the stamps of one file's lines, in order."""

    logsources = (INTEGRITY,)

    def __init__(self, file: SourceFile, route: Route, tz: tzinfo, start_year: int | None) -> None:
        self.source = file.source
        self._start = route.record_start
        self._starts = _LineStamps(self._start) if self._start else None  # in chunks
        self._tz = tz
        self._years = YearTracker(start_year or datetime.fromtimestamp(file.mtime, tz).year)
        self._key = ""  # comparable form of the previous stamp
        self._stamp = ""  # the previous stamp's text
        self._line = 0
        self._head = (0, "")  # the first stamp's line and text
        self._events: list[Event] = []
        self._gaps: list[Event] = []
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.stamped = 0

    def see(self, line: int, text: str) -> None:
        """Look at one physical line (1-based number, text)."""
        match = self._start.match(text) if self._start else None
        if match is not None:
            self._see_stamp(line, match.group(0))

    def see_chunk(self, first: int, text: str) -> None:
        """Look at whole lines (each ending with a newline), the first numbered ``first``.

        One regex scan finds the stamps at line starts; lines without one cost nothing.
        A stamp in the previous one's hour and not before it can fire no check: it only
        becomes the previous one, and its line number is counted only when needed. When
        the chunk's stamps are in order (the usual case), such a run of stamps is passed
        over by one bisection rather than looked at one by one.
        """
        if self._starts is None:
            return
        matches, starts = self._starts.find(text)
        ordered = starts == sorted(starts) and "\n" not in "".join(starts)
        line, pos = first, 0  # a line start whose number is known
        hour, previous = self._hour(), self._stamp
        quiet, last_quiet = 0, -1  # stamps that needed no check, and the last one's position
        index = 0
        while index < len(matches):
            if ordered and hour[:1] not in ("", "<") and starts[index].startswith(hour) \
                    and starts[index] >= previous:  # the stamps up to the next hour are quiet
                end = bisect_left(starts, _past_prefix(hour), index)
                quiet, index = quiet + end - index, end
                last_quiet, previous = matches[end - 1].start(1), starts[end - 1]
                continue
            at, start = matches[index].start(1), starts[index]
            index += 1
            stamp = _PRI.sub("", start) if start[:1] == "<" else start
            if hour and stamp.startswith(hour) and stamp >= previous and "\n" not in stamp:
                quiet, last_quiet, previous = quiet + 1, at, stamp
                continue
            if last_quiet >= 0:
                line, pos = self._settle(text, line, pos, last_quiet, previous)
                last_quiet = -1
            line += text.count("\n", pos, at)
            pos = at
            if "\n" in start:  # the pattern ran past its line: match the line alone
                alone = self._start.match(text, pos, text.find("\n", pos))  # type: ignore[union-attr]
                if alone is None:
                    continue
                start = alone.group(0)
            self._see_stamp(line, start)
            hour, previous = self._hour(), self._stamp
        if last_quiet >= 0:
            self._settle(text, line, pos, last_quiet, previous)
        self.stamped += quiet

    def _hour(self) -> str:
        """The previous stamp's text up to its hour ("" before the first stamp): a stamp
        starting with it compares like it, ``key < self._key`` as ``stamp < self._stamp``."""
        if not self._key:
            return ""
        return self._stamp[:_hour_width(self._key) + len(self._stamp) - len(self._key)]

    def _settle(self, text: str, line: int, pos: int, at: int, stamp: str) -> tuple[int, int]:
        """Make the stamp at ``at`` (a line start after ``pos``, which is numbered ``line``)
        the previous one; returns the number and position of its line."""
        line += text.count("\n", pos, at)
        self._key, self._stamp, self._line = _comparable(stamp), stamp, line
        return line, at

    def _see_stamp(self, line: int, start: str) -> None:
        stamp = _PRI.sub("", start) if start[:1] == "<" else start
        self.stamped += 1
        self._step(line, stamp)

    def _step(self, line: int, stamp: str) -> None:
        """Compare a stamp with the previous one and make it the previous one."""
        key = _comparable(stamp)
        if not self._key:
            self.first = self._time(stamp)
            self._head = (line, stamp)
        elif key < self._key and not _is_rollover(self._key, key):
            self._step_back(line, stamp)
        elif key[:_hour_width(key)] != self._key[:_hour_width(key)]:
            self._check_gap(line, stamp)
        self._key, self._stamp, self._line = key, stamp, line

    def _time(self, stamp: str) -> datetime | None:
        return parse_time(stamp, "syslog", self._tz, self._years.year_for)[0]

    def _step_back(self, line: int, stamp: str) -> None:
        before, now = self._time(self._stamp), self._time(stamp)
        if before and now and (before - now).total_seconds() > BACKWARDS_TOLERANCE:
            self._add(self._events, "time_backwards", line, now, before - now)

    def _check_gap(self, line: int, stamp: str) -> None:
        before, now = self._time(self._stamp), self._time(stamp)
        if before and now and (now - before).total_seconds() >= SILENCE_SECONDS:
            self._add(self._gaps, "silence", line, now, now - before)

    def _add(self, bucket: list[Event], anomaly: str, line: int, when: datetime, gap: object) -> None:
        seconds = int(gap.total_seconds())  # type: ignore[attr-defined]
        self._keep(bucket, integrity_event(anomaly, self.source, line, when, seconds,
                                           self.source, self._line))

    def _keep(self, bucket: list[Event], event: Event) -> None:
        if len(self._events) + len(self._gaps) < MAX_EVENTS_PER_FILE:
            bucket.append(event)

    def absorb(self, later: StreamWatch) -> None:
        """Continue with the watch of the file's next part: the step to its first stamp is
        checked as between two lines, its events kept (up to the file's cap) after ours."""
        if not later._key:
            return
        head_line, head_stamp = later._head
        self._step(head_line, head_stamp)
        for event in sorted(later._events + later._gaps, key=lambda e: e.line):
            self._keep(self._gaps if event.fields["anomaly"] == "silence" else self._events, event)
        self._key, self._stamp, self._line = later._key, later._stamp, later._line
        self.stamped += later.stamped

    def anomalies(self) -> list[Event]:
        """The file's integrity events, once every line was seen."""
        if self._stamp:
            self.last = self._time(self._stamp)
        busy = _busy(self.stamped, self.first, self.last)
        return sorted(self._events + (self._gaps if busy else []), key=lambda e: e.line)


class _LineStamps:
    """Finds the stamps at the line starts of a chunk of whole lines: what
    ``(?m)^(?:start)`` finds, by searching for a newline before each (which the regex
    engine skips to without trying the pattern at every character)."""

    def __init__(self, start: re.Pattern[str]) -> None:
        pattern, flags = start.pattern, start.flags
        self._head = re.compile(f"(?m)({pattern})", flags)
        self._after_newline = re.compile(f"(?m)\n({pattern})", flags)
        self._at_line_starts = re.compile(f"(?m)^({pattern})", flags)

    def find(self, text: str) -> tuple[list[re.Match[str]], list[str]]:
        """The matches (the stamp is group 1) and the stamps, in order. A stamp holding a
        newline may hide the next line start from the newline search: then every line start
        is tried."""
        matches = list(self._after_newline.finditer(text))
        head = self._head.match(text)
        if head is not None:
            matches.insert(0, head)
        stamps = list(map(_STAMP, matches))
        if "\n" in "".join(stamps):
            matches = list(self._at_line_starts.finditer(text))
            stamps = list(map(_STAMP, matches))
        return matches, stamps


def _past_prefix(prefix: str) -> str:
    """The least string after every string that starts with ``prefix`` (not empty)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _comparable(stamp: str) -> str:
    """A string that orders like the stamp's time within a year (``Dec 30`` → ``12 30``)."""
    month = MONTHS.get(stamp[:3].lower())
    return f"{month:02d}{stamp[3:]}" if month else stamp


def _hour_width(key: str) -> int:
    return 13 if key[:4].isdigit() and key[4:5] == "-" else 9


def _is_rollover(previous: str, key: str) -> bool:
    if previous[:4].isdigit() and previous[4:5] == "-":
        return False
    return previous[:2].isdigit() and key[:2].isdigit() and is_rollover(int(previous[:2]), int(key[:2]))


def _busy(lines: int, first: datetime | None, last: datetime | None) -> bool:
    if not first or not last or lines < 2:
        return False
    hours = max((last - first).total_seconds() / 3600, 1.0)
    return lines / hours >= BUSY_LINES_PER_HOUR


def integrity_event(anomaly: str, source: str, line: int, when: datetime | None, gap: int | None,
                    previous_source: str | None, previous_line: int | None,
                    detail: str = "") -> Event:
    """One stream-integrity event."""
    chain = strip_rotation(source)
    fields: dict[str, object] = {"anomaly": anomaly, "chain": chain}
    if gap is not None:
        fields["gap_seconds"] = gap
    if previous_source is not None:
        fields["previous_source"] = previous_source
        fields["previous_line"] = previous_line
    where = (f"after {previous_source}" + (f":{previous_line}" if previous_line else "")
             if previous_source else "")
    raw = " ".join(filter(None, (f"{anomaly} in {chain}", where,
                                 f"gap {gap} s" if gap is not None else "", detail)))
    return Event(source, line, "integrity", (INTEGRITY,), fields, raw, when,
                 None if when else "no time known", derived=True)


Span = tuple[datetime | None, datetime | None, int]  # first stamp, last stamp, stamped lines


def chain_anomalies(chains: Sequence[Sequence[SourceFile]],
                    spans: Mapping[str, Span]) -> Iterator[Event]:
    """Integrity events across the members of each rotation chain (oldest → newest).

    ``spans`` gives, per source, the first and last stamp and the stamped line count
    (files that were not watched are absent).
    """
    for chain in chains:
        missing = list(_missing_members(chain, spans))
        yield from missing
        gaps = {e.fields["previous_source"] for e in missing}  # a silence there is expected
        for older, newer in zip(chain, chain[1:]):
            if older.source not in spans or newer.source not in spans:
                continue
            o_first, o_last, o_lines = spans[older.source]
            n_first, n_last, n_lines = spans[newer.source]
            if not o_last or not n_first:
                continue
            step = (n_first - o_last).total_seconds()
            if step < -BACKWARDS_TOLERANCE:
                yield integrity_event("time_backwards", newer.source, 1, n_first, int(-step),
                                      older.source, None, "newer member starts before the older ends")
            elif (step >= SILENCE_SECONDS and older.source not in gaps
                  and _busy(o_lines, o_first, o_last)
                  and _busy(n_lines, n_first, n_last)):
                yield integrity_event("silence", newer.source, 1, n_first, int(step),
                                      older.source, None, "between rotation members")


def _missing_members(chain: Sequence[SourceFile], spans: Mapping[str, Span]) -> Iterator[Event]:
    """Gaps in a numbered chain (``.1``, ``.3.gz``: ``.2`` is missing); the live file is 0."""
    members: dict[int, SourceFile] = {}
    for file in chain:
        rotation = rotation_of(file.source)
        if rotation is not None and rotation[1][0] != 0:
            return  # dated members (auth.log-20240101) have no sequence to check
        members[rotation[1][1] if rotation else 0] = file
    indices = sorted(members)
    for newer, older in zip(indices, indices[1:]):
        for missing in range(newer + 1, older):
            after = members[newer]
            yield integrity_event("missing_rotation_member", after.source, 1,
                                  spans.get(after.source, (None, None, 0))[0], None,
                                  members[older].source, None,
                                  f"{strip_rotation(after.source)}.{missing} is missing")