"""The start years of a tree's year-less syslog files: which files read year-less stamps,
their month spans (read through a ``map``: the builtin one, or a process pool's), and the
years :func:`~scanner.normalize.year.assign_years` gives each rotation chain."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any, Callable, Iterable, Mapping, Sequence

from scanner.model import SourceFile
from scanner.normalize.routes import Choice
from scanner.normalize.year import YearPlan, assign_years, month_span

__all__ = ["Mapper", "plan_years"]

Mapper = Callable[..., Iterable[Any]]  # ``map`` or a process pool's ``map``


def plan_years(chains: Sequence[Sequence[SourceFile]], choices: Mapping[str, Choice], tz: tzinfo,
               year: int | None, cuts: Mapping[str, Sequence[int]] | None = None,
               mapper: Mapper = map) -> YearPlan:
    """Start years of every file whose route reads year-less stamps, chain by chain, and of
    each part of those read in parts (``cuts``: the first lines of their later parts). The
    files' month spans are read through ``mapper`` (``map``, or a process pool's)."""
    cuts = cuts or {}
    chained = [[f for f in chain if choices[f.source].route.yearless] for chain in chains]
    files = [file for chain in chained for file in chain]
    spans = dict(zip((f.source for f in files),
                     mapper(month_span, files, [cuts.get(f.source, ()) for f in files])))
    plan = YearPlan()
    for chain in filter(None, chained):
        part = assign_years([(f, spans[f.source]) for f in chain], tz, year)
        plan.start_years.update(part.start_years)
        plan.part_years.update(part.part_years)
        plan.notes.extend(part.notes)
    return plan

