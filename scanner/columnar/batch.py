"""Match batches of events as Polars columns: candidate rows per rule, one expression per rule.

For each batch of events (each followed by its derived events, as the reference
``Worker`` sees them), in order:

1. the literal prefilter runs on the column of the events' lower-cased
   :func:`~scanner.match.matcher.event_text`, the texts the reference searches: one RE2
   pass over the whole batch says which rules have any literal in it at all (the
   others are skipped for the batch); each of those gets its candidate rows from
   one Aho-Corasick pass of its own literals (``str.contains_any``). A row whose
   text is not ASCII (where ``str.lower`` and Polars' lower-casing may differ)
   takes its candidates from the reference :meth:`Plan.candidates`, and so does
   every row of a batch where many rules have literals (``costs.ROWS_PER_PASS``);
2. a rule runs only on its candidate rows whose logsources its group applies to:
   its Polars expression (:mod:`scanner.columnar.expressions`) on the rows where
   every column it reads is plain, the reference code of that rule alone on the
   others, and on every row when it has no Polars form or fewer than
   ``costs.MIN_ROWS`` candidate rows (where Polars' fixed cost is the larger);
3. hits come out per event in the reference order (plan order of the rules).

The verdicts, and so the hits, are those of :meth:`Plan.match` on
:meth:`Plan.candidates`: same candidates, same rules, same semantics.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import repeat
from typing import Any, Iterable, Iterator, Mapping

import polars as pl

from scanner.columnar import costs
from scanner.columnar.expressions import RAW, RuleExpr, Unsupported, rule_expr
from scanner.match.matcher import Plan, RuleFunction, event_text, rule_functions
from scanner.model import AnyHit, Event, Hit, LogSource, RuleInfo
from scanner.rules.load import CompiledRules

NOT_PLAIN = "\0"  # stands for a value that is not a string (a row the reference evaluates)
_PLAIN = frozenset({str, type(None)})  # the types of the values a column takes as they are
NOT_ASCII = "\x80"  # stands for a search text Arrow cannot hold (its row's candidates: reference)


class BatchMatcher:
    """The rules of a rule set in both forms: Polars expressions, and the reference code."""

    def __init__(self, compiled: CompiledRules, kept: Mapping[str, tuple[str, ...]]) -> None:
        self._functions = rule_functions(compiled.compiled)
        self._kept = kept
        self._codes = {rule.key: rule.code for rule in compiled.compiled}
        self._exprs: dict[int, RuleExpr | None] = {}  # made on first use (whole SigmaHQ: 1.3 s)

    def expr(self, key: int) -> RuleExpr | None:
        """The Polars form of the rule of ``key`` (``None``: it has none)."""
        try:
            return self._exprs[key]
        except KeyError:
            pass
        try:
            made: RuleExpr | None = rule_expr(self._codes[key])
        except Unsupported:
            made = None
        self._exprs[key] = made
        return made

    def hits(self, plan: Plan, events: list[Event]) -> Iterator[AnyHit]:
        """The hits of a batch of ``events`` (each event followed by its derived ones), in
        the reference order."""
        return _Batch(self, plan, events).hits()


class _Batch:
    """One batch of events under one plan; rows are held as ascending ``UInt32`` series."""

    def __init__(self, matcher: BatchMatcher, plan: Plan, events: list[Event]) -> None:
        self._matcher, self._plan, self._events = matcher, plan, events
        self._columns: dict[str, pl.Series] = {}
        # each row's logsources, numbered (the events of a file share a few tuples)
        by_identity: dict[int, int] = {}  # looked up first: no hashing of the tuples
        by_value: dict[tuple[LogSource, ...], int] = {}
        ids = []
        for event in events:
            sources = event.logsources
            number = by_identity.get(id(sources))
            if number is None:
                number = by_identity[id(sources)] = by_value.setdefault(sources, len(by_value))
            ids.append(number)
        self._source_ids = pl.Series(ids, dtype=pl.UInt32)
        self._applies = [frozenset(rule.key for group in plan.groups_for(sources)
                                   for rule in group.rules) for sources in by_value]

    def hits(self) -> Iterator[AnyHit]:
        plan, events, kept = self._plan, self._events, self._matcher._kept
        order = {key: place for place, key in enumerate(plan.required)}  # Plan.match's order
        verdicts: list[tuple[int, int]] = []  # (row, place in order) of every rule matched
        rules: dict[int, tuple[RuleInfo, tuple[str, ...] | None]] = {}  # by place: rule, fields kept
        for key, rows in self._candidates().items():
            rows = self._applicable(key, rows)
            if len(rows):
                place, info = order[key], plan.info(key)
                verdicts += zip(self._evaluate(key, rows), repeat(place))
                rules[place] = (info, kept.get(info.id))
        verdicts.sort()
        for row, place in verdicts:
            event = events[row]
            rule, names = rules[place]
            yield Hit.of(rule, event) if names is None else Hit.reduced(rule, event, names)

    def _candidates(self) -> dict[int, pl.Series]:
        """Per rule key, its candidate rows (the prefilter of :meth:`Plan.candidates`)."""
        plan = self._plan
        texts = list(map(event_text, self._events))
        joined = "\n".join(texts)
        present = plan.candidates(joined) or ()
        if sum(plan.required[key] is not None for key in present) * costs.ROWS_PER_PASS > len(texts):
            return _series(self._by_row(texts, range(len(texts))))
        series = _strings(texts, NOT_ASCII)
        lowered = series.str.to_lowercase()
        ascii_rows = None if joined.isascii() else series.str.len_bytes() == series.str.len_chars()
        everyone = (pl.int_range(len(texts), dtype=pl.UInt32, eager=True) if ascii_rows is None
                    else ascii_rows.arg_true())
        found: dict[int, pl.Series] = {}
        for key in present:
            literals = plan.required[key]
            if literals is None:
                found[key] = everyone
                continue
            holds = lowered.str.contains_any(sorted(literals))
            found[key] = (holds if ascii_rows is None else holds & ascii_rows).arg_true()
        if ascii_rows is not None:  # rows whose lower-casing may differ: those not ASCII
            for key, extra in _series(self._by_row(texts, (~ascii_rows).arg_true())).items():
                found[key] = pl.concat([found[key], extra]).sort() if key in found else extra
        return found

    def _by_row(self, texts: list[str], rows: Iterable[int]) -> dict[int, list[int]]:
        """The candidate rows per rule key among ``rows``, by :meth:`Plan.candidates` on each."""
        candidates = self._plan.candidates
        found: dict[int, list[int]] = defaultdict(list)
        for row in rows:
            for key in candidates(texts[row]) or ():
                found[key].append(row)
        return found

    def _applicable(self, key: int, rows: pl.Series) -> pl.Series:
        """The ``rows`` whose events' logsources the group of rule ``key`` applies to."""
        allowed = [number for number, keys in enumerate(self._applies) if key in keys]
        if len(allowed) == len(self._applies):
            return rows
        return rows.filter(self._source_ids.gather(rows).is_in(allowed))

    def _evaluate(self, key: int, rows: pl.Series) -> list[int]:
        """The ``rows`` on which rule ``key`` matches, ascending."""
        rule = self._matcher.expr(key) if len(rows) >= costs.MIN_ROWS else None
        if rule is None:
            return self._reference(key, rows.to_list())
        frame = pl.DataFrame([self._column(n) for n in sorted(rule.columns)])
        verdicts = frame[rows].select(rule.safe, rule.expr).with_columns(row=rows)
        unsafe = verdicts.filter(~pl.col("safe"))["row"].to_list()
        hits = verdicts.filter(pl.col("safe") & pl.col("verdict"))["row"].to_list()
        return sorted(hits + self._reference(key, unsafe))

    def _reference(self, key: int, rows: list[int]) -> list[int]:
        function: RuleFunction = self._matcher._functions[key]
        events = self._events
        return [r for r in rows
                if function(events[r].fields, events[r].raw, events[r].raw.lower())]

    def _column(self, name: str) -> pl.Series:
        """The values of field ``name`` (the raw text for :data:`RAW`) as strings."""
        column = self._columns.get(name)
        if column is None:
            if name == RAW:
                values: list[Any] = [e.raw for e in self._events]
            else:
                values = [e.fields.get(name) for e in self._events]
                if not _PLAIN.issuperset(map(type, values)):
                    values = [_text(v) for v in values]
            column = self._columns[name] = _strings(values, NOT_PLAIN).alias(name)
        return column


def _series(rows: dict[int, list[int]]) -> dict[int, pl.Series]:
    return {key: pl.Series(found, dtype=pl.UInt32) for key, found in rows.items()}


def _text(value: Any) -> str | None:
    return value if type(value) is str or value is None else NOT_PLAIN


def _strings(values: list[str | None], stand_in: str) -> pl.Series:
    """``values`` as a string column; a text with a lone surrogate (JSON ``\\ud800``), which
    Arrow cannot hold, becomes ``stand_in`` (a value that sends its row to the reference code)."""
    try:
        return pl.Series(values, dtype=pl.String)
    except UnicodeEncodeError:
        return pl.Series([v if v is None or _encodable(v) else stand_in for v in values],
                         dtype=pl.String)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
