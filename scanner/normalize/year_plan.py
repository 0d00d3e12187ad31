"""The start years of a tree's year-less syslog files: which files read year-less stamps,
their month spans (given, as a scan's planning reads them, or read here), and the years
:func:`~scanner.normalize.year.assign_years` gives each rotation chain."""

from __future__ import annotations

from datetime import tzinfo
from typing import Mapping, Sequence

from scanner.model import SourceFile
from scanner.normalize.routes import Choice
from scanner.normalize.year import MonthSpan, YearPlan, assign_years, month_span

__all__ = ["plan_years"]


def plan_years(chains: Sequence[Sequence[SourceFile]], choices: Mapping[str, Choice], tz: tzinfo,
               year: int | None, spans: Mapping[str, MonthSpan] | None = None) -> YearPlan:
    """Start years of every file whose route reads year-less stamps, chain by chain, and of
    each part of those read in parts (the cuts of their ``spans``). ``spans``: month spans
    already read (:func:`~scanner.normalize.year.month_span`, with the first lines of a file's
    later parts), by source; the spans of the other files are read here."""
    spans = spans or {}
    chained = [[f for f in chain if choices[f.source].route.yearless] for chain in chains]
    plan = YearPlan()
    for chain in filter(None, chained):
        part = assign_years([(f, spans[f.source] if f.source in spans else month_span(f))
                             for f in chain], tz, year)
        plan.start_years.update(part.start_years)
        plan.part_years.update(part.part_years)
        plan.notes.extend(part.notes)
    return plan
