"""Match batches of events as Polars columns: candidate rows per rule, one query for the rules.

For each batch of events (each followed by its derived events, as the reference
``Worker`` sees them), in order:

1. the literal prefilter runs on the events' :func:`~scanner.match.matcher.event_text`,
   the texts the reference searches: one RE2 pass over the whole batch says which
   rules have any literal in it at all (the others are skipped for the batch), then
   one Aho-Corasick pass (``str.extract_many``) finds every literal of those rules in
   each lower-cased text, and a join gives each rule its candidate rows. A row whose
   text is not ASCII (where ``str.lower`` and Polars' lower-casing may differ) takes
   its candidates from the reference :meth:`Plan.candidates`;
2. a rule runs only on its candidate rows whose logsources its group applies to:
   its Polars expression (:mod:`scanner.columnar.expressions`) on the rows where
   every column it reads is plain, the reference code of that rule alone on the
   others, and on every row when it has no Polars form or fewer than
   ``costs.MIN_ROWS`` candidate rows (where Polars costs more than it saves). The
   batch's Polars rules run in one query (one dispatch; Polars runs them in parallel);
3. hits come out per event in the reference order (plan order of the rules); a reduced hit
   shares the fields of the event's previous one when it keeps the same (one dict held, and
   pickled once in a spilled run).

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
    """One batch of events under one plan; a rule's rows are held as an ascending list."""

    def __init__(self, matcher: BatchMatcher, plan: Plan, events: list[Event]) -> None:
        self._matcher, self._plan, self._events = matcher, plan, events
        self._columns: dict[str, pl.Series] = {}
        # each row's logsources, numbered (the events of a file share a few tuples, in runs:
        # the previous row's tuple is tried first, then by identity, hashing them last)
        by_identity: dict[int, int] = {}
        by_value: dict[tuple[LogSource, ...], int] = {}
        ids: list[int] = []
        last, number = None, 0
        for event in events:
            sources = event.logsources
            if sources is not last:
                last, known = sources, by_identity.get(id(sources))
                if known is None:
                    known = by_identity[id(sources)] = by_value.setdefault(sources, len(by_value))
                number = known
            ids.append(number)
        self._source_ids = ids
        self._applies = [frozenset(rule.key for group in plan.groups_for(sources)
                                   for rule in group.rules) for sources in by_value]

    def hits(self) -> Iterator[AnyHit]:
        plan, events, kept = self._plan, self._events, self._matcher._kept
        order = {key: place for place, key in enumerate(plan.required)}  # Plan.match's order
        verdicts: list[tuple[int, int]] = []  # (row, place in order) of every rule matched
        rules: dict[int, tuple[RuleInfo, tuple[str, ...] | None]] = {}  # by place: rule, kept
        in_polars: dict[int, tuple[RuleExpr, list[int]]] = {}
        for key, rows in self._candidates().items():
            rows = self._applicable(key, rows)
            if rows:
                info = plan.info(key)
                rules[order[key]] = (info, kept.get(info.id))
                rule = self._matcher.expr(key) if len(rows) >= costs.MIN_ROWS else None
                if rule is None:
                    verdicts += zip(self._reference(key, rows), repeat(order[key]))
                else:
                    in_polars[key] = (rule, rows)
        for key, rows in self._evaluate(in_polars).items():
            verdicts += zip(rows, repeat(order[key]))
        verdicts.sort()
        sharing = _sharing({place: names for place, (_, names) in rules.items()})
        last_row = last_place = -1
        last_fields: Mapping[str, Any] = {}  # those of the last reduced hit
        for row, place in verdicts:
            event = events[row]
            rule, names = rules[place]
            if names is None:
                yield Hit.of(rule, event)
                continue
            unlike = sharing.get((last_place, place)) if row == last_row else None
            if (unlike is not None and event.fields.keys().isdisjoint(unlike[0])
                    and last_fields.keys().isdisjoint(unlike[1])):
                yield Hit.reduced_with(rule, event, last_fields)
            else:
                hit = Hit.reduced(rule, event, names)
                last_fields = hit.fields
                yield hit
            last_row, last_place = row, place

    def _candidates(self) -> dict[int, list[int]]:
        """Per rule key, its candidate rows (the prefilter of :meth:`Plan.candidates`)."""
        plan = self._plan
        texts = list(map(event_text, self._events))
        joined = "\n".join(texts)
        required = {key: plan.required[key] for key in plan.candidates(joined) or ()}
        if joined.isascii():
            plain, others = list(range(len(texts))), []
        else:  # rows whose lower-casing may differ (those not ASCII) take the reference's way
            plain = [row for row, text in enumerate(texts) if text.isascii()]
            others = [row for row, text in enumerate(texts) if not text.isascii()]
        searched = {key: found for key, found in required.items()
                    if found is not None and "" not in found}
        found = _literal_rows([texts[row] for row in plain] if others else texts, plain, searched)
        for key in required.keys() - searched.keys():  # no literal, or an empty one: every row
            found[key] = plain
        for key, rows in self._by_row(texts, others).items():
            found[key] = sorted(found.get(key, []) + rows)
        return found

    def _by_row(self, texts: list[str], rows: Iterable[int]) -> dict[int, list[int]]:
        """The candidate rows per rule key among ``rows``, by :meth:`Plan.candidates` on each."""
        candidates = self._plan.candidates
        found: dict[int, list[int]] = defaultdict(list)
        for row in rows:
            for key in candidates(texts[row]) or ():
                found[key].append(row)
        return found

    def _applicable(self, key: int, rows: list[int]) -> list[int]:
        """The ``rows`` whose events' logsources the group of rule ``key`` applies to."""
        allowed = {number for number, keys in enumerate(self._applies) if key in keys}
        if len(allowed) == len(self._applies):
            return rows
        ids = self._source_ids
        return [row for row in rows if ids[row] in allowed]

    def _evaluate(self, rules: dict[int, tuple[RuleExpr, list[int]]]) -> dict[int, list[int]]:
        """Per key of ``rules``, the rows given with it on which it matches, ascending: all the
        rules in one Polars query, the rows where a rule's expression is not exact by its
        reference code."""
        if not rules:
            return {}
        names = sorted(set().union(*(rule.columns for rule, _ in rules.values())))
        size = len(self._events)
        masks = [_mask(size, rows).alias(f"\0{key}") for key, (_, rows) in rules.items()]
        frame = pl.DataFrame([self._column(name) for name in names] + masks)
        decided, found = [], []
        for key, (rule, _) in rules.items():
            candidate, safe, verdict = pl.col(f"\0{key}"), f"\0safe{key}", f"\0verdict{key}"
            decided += [(candidate & rule.safe).alias(safe), rule.expr.alias(verdict)]
            found += [(pl.col(safe) & pl.col(verdict)).arg_true().implode(),
                      (candidate & ~pl.col(safe)).arg_true().implode().alias(f"\0unsafe{key}")]
        rows = frame.lazy().with_columns(decided).select(found).collect().row(0)
        return {key: sorted(hits + self._reference(key, unsafe))
                for key, hits, unsafe in zip(rules, rows[::2], rows[1::2])}

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
            column = self._columns[name] = _strings(values).alias(name)
        return column


def _sharing(kept: dict[int, tuple[str, ...] | None]) -> dict[tuple[int, int],
                                                                tuple[set[str], set[str]]]:
    """Per pair of rules (by place) that keep fields, in the same order where they keep the
    same: the names only the second keeps, and those only the first keeps. The second's hit on
    a row shares the first's fields (:meth:`~scanner.model.Hit.reduced`) when the row has none
    of the one and the first's fields none of the other: they are equal, in the same order."""
    return {(first, second): (set(names).difference(earlier), set(earlier).difference(names))
            for first, earlier in kept.items() for second, names in kept.items()
            if first != second and earlier is not None and names is not None
            and _in_same_order(earlier, names)}


def _in_same_order(first: tuple[str, ...], second: tuple[str, ...]) -> bool:
    """Whether the names ``first`` and ``second`` share come in the same order in both."""
    return [name for name in first if name in second] == [name for name in second if name in first]


def _mask(size: int, rows: list[int]) -> pl.Series:
    """The mask of ``size`` rows, true on ``rows``."""
    return pl.Series([False] * size, dtype=pl.Boolean).scatter(rows, True)


def _literal_rows(texts: list[str], rows: list[int],
                  literals: dict[int, frozenset[str]]) -> dict[int, list[int]]:
    """Per key of ``literals``, the ``rows`` (those of ``texts``, all ASCII) whose lower-cased
    text holds one of its literals: one Aho-Corasick pass finds every literal in each text."""
    if not literals:
        return {}
    owners = pl.DataFrame([(literal, key) for key, found in literals.items() for literal in found],
                          schema={"literal": pl.String, "key": pl.Int64}, orient="row")
    frame = pl.DataFrame([pl.Series("text", texts, dtype=pl.String),
                          pl.Series("row", rows, dtype=pl.UInt32)])
    every = sorted(set().union(*literals.values()))
    found = (frame.lazy()
             .select("row", literal=pl.col("text").str.to_lowercase()
                     .str.extract_many(every, overlapping=True))
             .explode("literal").join(owners.lazy(), on="literal")
             .group_by("key").agg(pl.col("row").unique().sort()).collect())
    return dict(zip(found["key"].to_list(), found["row"].to_list()))


def _text(value: Any) -> str | None:
    return value if type(value) is str or value is None else NOT_PLAIN


def _strings(values: list[str | None]) -> pl.Series:
    """``values`` as a string column; a text with a lone surrogate (JSON ``\\ud800``), which
    Arrow cannot hold, becomes :data:`NOT_PLAIN` (a value that sends its row to the reference
    code)."""
    try:
        return pl.Series(values, dtype=pl.String)
    except UnicodeEncodeError:
        return pl.Series([v if v is None or _encodable(v) else NOT_PLAIN for v in values],
                         dtype=pl.String)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
