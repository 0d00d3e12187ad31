"""Who and what a correlation hit is about: its closing event and the values its hits tried.

Takes the hits of one correlation window (a burst, or a closing window), in time order,
and gives what reports show beside the group: the key fields of the *closing* hit (the
line that completed the window: for "login accepted after failures", the account that
got in and how) and, for each tallied field (accounts, URIs, user agents), the five
most frequent values with their counts and how many distinct values there were in all.

This module is the one place that computes them. :class:`ValueCounter` takes hits one
at a time (the sliding-window tracker adds each contributor as it joins a burst), or a
field of a run of hits at a time (:meth:`ValueCounter.count` of :func:`tallied_texts`:
the columnar tracker adds a range of rows);
:func:`window_details` folds a whole hit list (for an engine that has the window's hits
at hand). Both give equal results for equal hit lists. Fields a correlation groups by
(:func:`grouped_fields`: its group-by names and the fields their aliases map to) are
not repeated. The correlation engine keeps ``READ_FIELDS`` on the hits of rules that only
feed correlations.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from scanner.model import AnyHit, CorrelationSpec, FieldValues

__all__ = ["CLOSING_FIELDS", "READ_FIELDS", "TALLIED_FIELDS", "TOP_VALUES", "ValueCounter",
           "closing_fields", "grouped_fields", "tallied_texts", "window_details"]

CLOSING_FIELDS = ("user", "auth_method", "target_user", "command", "target_host")
"""The fields of the closing hit a correlation hit shows, in this order (those present)."""

TALLIED_FIELDS = ("user", "uri", "user_agent")
"""The fields whose distinct values a correlation hit counts over its window."""

TOP_VALUES = 5
"""How many of the most frequent values of a tallied field are listed."""

READ_FIELDS = frozenset((*CLOSING_FIELDS, *TALLIED_FIELDS))
"""Every field this module reads from a contributing hit."""

_TEXTS = frozenset({str, type(None)})  # the types of field values counted as they are


def grouped_fields(spec: CorrelationSpec) -> frozenset[str]:
    """The group-by names of ``spec`` and the native fields their aliases map to."""
    return frozenset((*spec.group_by, *(native for name in spec.group_by
                                        for native in spec.aliases.get(name, {}).values())))


def closing_fields(hit: AnyHit, group_by: Iterable[str] = ()) -> tuple[tuple[str, Any], ...]:
    """The :data:`CLOSING_FIELDS` of ``hit`` that are set, less the group-by ones."""
    skip = set(group_by)
    fields = hit.fields
    return tuple((name, fields[name]) for name in CLOSING_FIELDS
                 if name not in skip and fields.get(name) not in (None, ""))


class ValueCounter:
    """The distinct values of the tallied fields over hits added one at a time."""

    __slots__ = ("counts", "_pairs")

    def __init__(self, group_by: Iterable[str] = ()) -> None:
        skip = set(group_by)
        # plain dicts, not Counters: the interpreter's fast paths take exact dicts only
        self.counts: dict[str, dict[str, int]] = {name: {} for name in TALLIED_FIELDS
                                                  if name not in skip}
        self._pairs = tuple(self.counts.items())

    def add(self, fields: Mapping[str, Any]) -> None:
        """Count the tallied values of one contributing hit's ``fields`` (once per
        contributor of a burst: kept flat)."""
        for name, counts in self._pairs:
            value = fields.get(name)
            if value is not None and value != "":
                if type(value) is not str:
                    value = _text(value)
                counts[value] = counts.get(value, 0) + 1

    def count(self, name: str, texts: Iterable[str | None]) -> None:
        """Count the tallied field ``name`` of a run of contributors, given as
        :func:`tallied_texts` gives that field's values."""
        counts = self.counts[name]
        get = counts.get
        for text in texts:
            if text is not None:
                counts[text] = get(text, 0) + 1

    def tallies(self) -> tuple[FieldValues, ...]:
        """Per tallied field seen: the top values (most frequent first, ties by value) and
        the number of distinct values."""
        return tuple(
            FieldValues(name, tuple(sorted(counter.items(), key=_by_count)[:TOP_VALUES]),
                        len(counter))
            for name, counter in self.counts.items() if counter)


def tallied_texts(values: Sequence[Any]) -> list[str | None]:
    """What :meth:`ValueCounter.add` counts of each of one tallied field's ``values`` (its
    text), or ``None`` where it counts nothing (a missing or empty value)."""
    if set(map(type, values)) <= _TEXTS:  # the common case: strings or missing
        return [value or None for value in values]
    return [None if value is None or value == "" else value if type(value) is str
            else _text(value) for value in values]


def window_details(spec: CorrelationSpec, hits: Iterable[AnyHit]
                   ) -> tuple[tuple[tuple[str, Any], ...], tuple[FieldValues, ...]]:
    """What a hit of ``spec`` over ``hits`` (its window's contributing hits, in time order)
    shows as ``Correlation.closing`` and ``Correlation.values``: the closing fields of the
    last hit and the tallies of all of them."""
    group_by = grouped_fields(spec)
    counter = ValueCounter(group_by)
    last = None
    for last in hits:
        counter.add(last.fields)
    closing = closing_fields(last, group_by) if last is not None else ()
    return closing, counter.tallies()


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def _text(value: Any) -> str:
    """A non-string field value as text (list elements joined by spaces)."""
    if isinstance(value, list | tuple):
        return " ".join(map(str, value))
    return str(value)
