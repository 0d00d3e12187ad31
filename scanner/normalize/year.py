"""Infer the year of year-less syslog stamps (``Dec 30 12:14:13``) per rotation chain.

A cheap pre-pass (:func:`scan_months`) reads only the month of each line's stamp
and yields a :class:`MonthSpan` per file (first month, last month, Dec→Jan
rollovers). :func:`assign_years` walks a rotation chain newest→oldest: the newest
file ends in ``--year`` or in its mtime's year (one earlier when its last month is
after the mtime's month); each older file ends in the year its successor starts in
(one earlier when its last month is after the successor's first month). The
result is a start year per file plus human-readable notes for the summary;
:class:`YearTracker` then advances that year across rollovers while a file is
normalized. Knows nothing of grammars or Sigma.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Iterable, Sequence

from scanner.errors import Problems
from scanner.model import SourceFile
from scanner.normalize.timestamps import rfc3164_month
from scanner.sources.open import iter_lines

_ROLLOVER_GAP = 6  # a backwards jump of more months than this is a new year, not disorder


def is_rollover(previous: int, month: int) -> bool:
    """Whether ``month`` after ``previous`` starts a new year (Dec→Jan, not Feb→Jan)."""
    return previous - month > _ROLLOVER_GAP


@dataclass(frozen=True, slots=True)
class MonthSpan:
    """Months of a file's year-less stamps: first, last, and rollovers between."""

    first: int | None = None
    last: int | None = None
    rollovers: int = 0


@dataclass(slots=True)
class YearPlan:
    """Start year per file (by ``SourceFile.source``) and notes on how it was found."""

    start_years: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class YearTracker:
    """The year of each successive month of one file, from its start year."""

    def __init__(self, start_year: int) -> None:
        self._year = start_year
        self._month: int | None = None

    def year_for(self, month: int) -> int:
        """The year of the next stamp, in ``month``; a rollover advances the year."""
        if self._month is not None and is_rollover(self._month, month):
            self._year += 1
        self._month = month
        return self._year


def scan_months(texts: Iterable[str]) -> MonthSpan:
    """The month span of lines whose text starts with an RFC 3164 stamp (others ignored)."""
    first = last = None
    rollovers = 0
    for text in texts:
        month = rfc3164_month(_strip_pri(text))
        if month is None:
            continue
        if last is not None and is_rollover(last, month):
            rollovers += 1
        first = month if first is None else first
        last = month
    return MonthSpan(first, last, rollovers)


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


def _strip_pri(text: str) -> str:
    if text.startswith("<"):
        end = text.find(">", 1, 5)
        if end > 0:
            return text[end + 1:]
    return text


def scan_years(chain: Sequence[SourceFile], tz: tzinfo, year: int | None = None) -> YearPlan:
    """The year plan of a rotation chain (oldest→newest), reading each member's stamps once.

    Read trouble is not recorded here: normalizing the same files reports it.
    """
    spans = [(file, scan_months(text for _, text in iter_lines(file, Problems()))) for file in chain]
    return assign_years(spans, tz, year)
