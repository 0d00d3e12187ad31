"""Infer the year of year-less syslog stamps (``Dec 30 12:14:13``) per rotation chain.

A cheap pre-pass (:func:`scan_months`) reads only the month of each line's stamp
and yields a :class:`MonthSpan` per file (first month, last month, Dec→Jan
rollovers). It scans chunks of whole lines with one compiled regex that skips every
line stamped in the current month, so a run of equal months costs no Python work.
Given the first lines of a file's parts (*cuts*), it also counts the rollovers up to
each part's first stamp, so each part starts in the year that stamp has in the whole
file. It reads every line starting with a stamp, where the normalizer of a
``continued`` route reads only record starts: they differ only for malformed stamps
such as ``jan 1 10:00:00``. :func:`assign_years` walks a rotation chain
newest→oldest: the newest file ends in ``--year`` or in its mtime's year (one
earlier when its last month is after the mtime's month); each older file ends in
the year its successor starts in (one earlier when its last month is after the
successor's first month). The result is a start year per file and per cut plus
human-readable notes for the summary; :class:`YearTracker` then advances that year
across rollovers while a file (or part) is normalized. Knows nothing of grammars or
Sigma.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Iterable, Sequence

from scanner.errors import Problems
from scanner.model import SourceFile
from scanner.normalize.timestamps import MONTHS
from scanner.sources.open import iter_chunks

_ROLLOVER_GAP = 6  # a backwards jump of more months than this is a new year, not disorder
_PRI = r"(?:<[^>\n]{0,3}>)?"
_MONTH_STAMP = r"(?P<month>[A-Za-z]{3}) +\d{1,2} \d\d:\d\d:\d\d"
# The month of a record's year-less stamp (an optional <PRI> first), as the pre-pass reads it.
STAMP_MONTH = re.compile(_PRI + _MONTH_STAMP)


def is_rollover(previous: int, month: int) -> bool:
    """Whether ``month`` after ``previous`` starts a new year (Dec→Jan, not Feb→Jan)."""
    return previous - month > _ROLLOVER_GAP


@dataclass(frozen=True, slots=True)
class MonthSpan:
    """Months of a file's year-less stamps: first, last, rollovers between, and the rollovers up to
    and including the first stamp at or after each cut line."""

    first: int | None = None
    last: int | None = None
    rollovers: int = 0
    cuts: tuple[tuple[int, int], ...] = ()  # (cut line, rollovers), by line


@dataclass(slots=True)
class YearPlan:
    """Start year per file (by ``SourceFile.source``) and per later part of a file read in parts,
    and notes on how they were found."""

    start_years: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    part_years: dict[tuple[str, int], int] = field(default_factory=dict)  # by (source, cut line)

    def start_year(self, source: str, first_line: int = 1) -> int | None:
        """The year the part of ``source`` starting at ``first_line`` starts in (``None``: not
        year-less); the file's start year unless that line is a cut."""
        return self.part_years.get((source, first_line), self.start_years.get(source))


class YearTracker:
    """The year of each successive month of one file, from its start year."""

    def __init__(self, start_year: int) -> None:
        self._year = start_year
        self._month: int | None = None

    @property
    def year(self) -> int:
        """The year of the last stamp seen (the start year before the first)."""
        return self._year

    @property
    def month(self) -> int | None:
        """The month of the last stamp seen (``None`` before the first)."""
        return self._month

    def year_for(self, month: int) -> int:
        """The year of the next stamp, in ``month``; a rollover advances the year."""
        if self._month is not None and is_rollover(self._month, month):
            self._year += 1
        self._month = month
        return self._year


class _MonthScan:
    """The month span of chunks of whole lines, read in file order."""

    def __init__(self, cuts: Iterable[int]) -> None:
        self.first: int | None = None
        self.last: int | None = None
        self.rollovers = 0
        self._skip: str | None = None  # lines stamped in this month (lower case) need no look
        self._cuts = sorted(cuts, reverse=True)  # cut lines not reached yet, next last
        self._waiting: list[int] = []  # cut lines reached whose first stamp is still to come
        self._at_cuts: dict[int, int] = {}

    def feed(self, first: int, text: str) -> None:
        """Read the lines of ``text``, the first numbered ``first``."""
        pos, at = 0, first  # a line start and its number
        end = first + text.count("\n") if self._cuts else first
        while self._cuts and self._cuts[-1] < end:
            line = self._cuts.pop()
            cut = _line_offset(text, pos, line - at)
            self._scan(text, pos, cut)
            self._waiting.append(line)
            self._skip = None  # the next stamp, in whatever month, is the cut's first
            pos, at = cut, line
        self._scan(text, pos, len(text))

    def _scan(self, text: str, pos: int, end: int) -> None:
        """See the months of the lines starting in ``text[pos:end]`` (``pos``: a line start)."""
        stamp = STAMP_MONTH.match(text, pos, end)
        if stamp is not None:
            self._see(stamp.group("month"))
        while (stamp := next_other_stamp(self._skip).search(text, pos, end)) is not None:
            self._see(stamp.group("month"))
            pos = stamp.end()

    def _see(self, name: str) -> None:
        month = MONTHS.get(name.lower())
        if month is None:
            return
        if self.last is not None and is_rollover(self.last, month):
            self.rollovers += 1
        self.first = month if self.first is None else self.first
        self.last, self._skip = month, name.lower()
        self._at_cuts.update(dict.fromkeys(self._waiting, self.rollovers))
        self._waiting.clear()

    def span(self) -> MonthSpan:
        """The span of every line fed; a cut with no stamp after it gets the final count."""
        self._at_cuts.update(dict.fromkeys(self._waiting, self.rollovers))
        return MonthSpan(self.first, self.last, self.rollovers, tuple(sorted(self._at_cuts.items())))


@lru_cache(maxsize=None)
def next_other_stamp(month: str | None, lookahead: str = "") -> re.Pattern[str]:
    """The next line start (found as the newline before it) whose text passes ``lookahead`` and
    starts with a stamp not in ``month`` (any month, when ``None``): searching with it skips
    the lines of the current month without Python work."""
    skip = f"(?!(?i:{re.escape(month)}))" if month else ""
    return re.compile(f"\n{lookahead}{_PRI}{skip}{_MONTH_STAMP}")


def _line_offset(text: str, pos: int, lines: int) -> int:
    """Where the line ``lines`` lines after the one starting at ``pos`` starts."""
    for _ in range(lines):
        pos = text.index("\n", pos) + 1
    return pos


def scan_months(chunks: Iterable[tuple[int, str]], cuts: Iterable[int] = ()) -> MonthSpan:
    """The month span of chunks ``(first line, text)`` of whole lines: the months of lines whose
    text starts with an RFC 3164 stamp (others ignored), with the rollovers before each cut."""
    scan = _MonthScan(cuts)
    for first, text in chunks:
        scan.feed(first, text)
    return scan.span()


def assign_years(chain: Sequence[tuple[SourceFile, MonthSpan]], tz: tzinfo,
                 year: int | None = None) -> YearPlan:
    """Start years for a rotation chain given oldest→newest with each file's month span."""
    plan = YearPlan()
    if all(span.first is None for _, span in chain):
        return plan
    newest_file, newest_span = chain[-1]
    mtime = datetime.fromtimestamp(newest_file.mtime, tz)
    if year is not None:
        end, why = year, "--year"
    elif newest_span.last is not None and newest_span.last > mtime.month:
        end, why = mtime.year - 1, f"mtime {mtime:%Y-%m-%d} of {newest_file.source}, last line in a later month"
    else:
        end, why = mtime.year, f"mtime {mtime:%Y-%m-%d} of {newest_file.source}"
    next_first: int | None = None
    for file, span in reversed(chain):
        if span.last is not None and next_first is not None and span.last > next_first:
            end -= 1
        start = end - span.rollovers
        plan.start_years[file.source] = start
        plan.part_years.update({(file.source, line): start + rollovers for line, rollovers in span.cuts})
        if span.first is not None:
            next_first = span.first
        end = start
    rollovers = sum(span.rollovers for _, span in chain)
    oldest = chain[0][0].source
    plan.notes.append(
        f"{newest_file.chain or newest_file.source}: year-less times end in "
        f"{_end_year(plan, chain)} ({why}); {oldest} starts in {plan.start_years[oldest]}"
        + (f"; {rollovers} Dec→Jan rollover(s)" if rollovers else ""))
    return plan


def _end_year(plan: YearPlan, chain: Sequence[tuple[SourceFile, MonthSpan]]) -> int:
    newest_file, newest_span = chain[-1]
    return plan.start_years[newest_file.source] + newest_span.rollovers


def month_span(file: SourceFile, cuts: Sequence[int] = ()) -> MonthSpan:
    """The month span of ``file``'s stamps, with the rollovers before each cut line.

    Read trouble is not recorded here: normalizing the same file reports it.
    """
    return scan_months(iter_chunks(file, Problems()), cuts)
