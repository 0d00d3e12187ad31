"""What a correlation measures over the hits in one window, and when that measure holds.

Takes the :class:`Entry` records a window holds (one per contributing hit, time-ordered)
and yields the number a Sigma correlation type compares: the event count, the count of
distinct field values, a sum, average, percentile or median of a numeric field, or for
``temporal``/``temporal_ordered`` the number of referenced rules present (in order for
the ordered type). A :class:`Measure` is updated incrementally as entries enter and leave
a window, so a long window costs O(1) per hit (O(log n) for percentiles, O(rules) for the
ordered type); none rescans the window. Percentiles interpolate linearly between closest
ranks (numpy's default); the median is the 50th percentile. Extended temporal conditions
(``a and not b``) are parsed by pySigma and evaluated over the set of rules present. This
module knows nothing of groups or bursts; windows.py drives it.
"""

from __future__ import annotations

import bisect
import math
import operator
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, Callable, Sequence, cast

from sigma.correlations import (
    CorrelationConditionAND,
    CorrelationConditionItem,
    CorrelationConditionNOT,
    SigmaExtendedCorrelationCondition,
    SigmaRuleReference,
)

from scanner.model import AnyHit

Number = int | float | Fraction

COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt, "gte": operator.ge, "lt": operator.lt,
    "lte": operator.le, "eq": operator.eq, "neq": operator.ne,
}
RISING_OPS = frozenset({"gt", "gte"})  # can only become true as hits arrive

ExpressionNode = CorrelationConditionItem | SigmaRuleReference


@dataclass(slots=True)
class Entry:
    """One contributing hit inside a window (mutable only for speed; never changed).

    ``seq`` grows in processing (time) order; ``refs`` are the correlation's rule
    references the hit's rule answers to (its id and/or name); ``value`` is the measured
    field value (``None`` when not measured). ``hit`` is kept for its time and place.
    """

    epoch: float
    seq: int
    hit: AnyHit
    refs: tuple[str, ...]
    value: Any = None

    @property
    def time(self) -> datetime:
        """The hit's timestamp (entries are made only of timed hits)."""
        return cast(datetime, self.hit.timestamp)

    @property
    def where(self) -> tuple[str, int]:
        """The hit's (source, line)."""
        return self.hit.source, self.hit.line


class Measure:
    """Event count: the base of every measure (add/remove keep incremental state)."""

    def add(self, entry: Entry) -> None:
        """Account for ``entry`` entering the window."""

    def remove(self, entry: Entry) -> None:
        """Account for ``entry`` leaving the window."""

    def value(self, entries: Sequence[Entry]) -> Number | None:
        """The measure over ``entries`` (the window's current content)."""
        return len(entries)

    def presence(self, entries: Sequence[Entry]) -> frozenset[str]:
        """The rule references present in the window (temporal measures only)."""
        return frozenset()


class DistinctValues(Measure):
    """value_count: how many distinct values the field(s) take."""

    def __init__(self) -> None:
        self.counts: Counter[Any] = Counter()

    def add(self, entry: Entry) -> None:
        self.counts[entry.value] += 1

    def remove(self, entry: Entry) -> None:
        counts = self.counts
        if counts[entry.value] == 1:
            del counts[entry.value]
        else:
            counts[entry.value] -= 1

    def value(self, entries: Sequence[Entry]) -> int:
        return len(self.counts)


class Sum(Measure):
    """value_sum, exact (fractions), so sliding never accumulates rounding error."""

    def __init__(self) -> None:
        self.total = Fraction(0)

    def add(self, entry: Entry) -> None:
        self.total += entry.value

    def remove(self, entry: Entry) -> None:
        self.total -= entry.value

    def value(self, entries: Sequence[Entry]) -> Fraction:
        return self.total


class Average(Sum):
    """value_avg."""

    def value(self, entries: Sequence[Entry]) -> Fraction | None:
        return self.total / len(entries) if entries else None


class Percentile(Measure):
    """value_percentile / value_median over a sorted multiset of the window's values."""

    def __init__(self, percentile: float) -> None:
        self.rank = Fraction(percentile) / 100
        self.values: list[Fraction] = []

    def add(self, entry: Entry) -> None:
        bisect.insort(self.values, entry.value)

    def remove(self, entry: Entry) -> None:
        del self.values[bisect.bisect_left(self.values, entry.value)]

    def value(self, entries: Sequence[Entry]) -> Fraction | None:
        if not self.values:
            return None
        position = self.rank * (len(self.values) - 1)
        low = math.floor(position)
        high = min(low + 1, len(self.values) - 1)
        return self.values[low] + (self.values[high] - self.values[low]) * (position - low)


class RulesPresent(Measure):
    """temporal: how many of the referenced rules have a hit in the window.

    A rule is counted once under its first reference (``refs[0]``); ``presence`` also
    answers to its other reference, so an expression may name a rule by id or by name.
    """

    def __init__(self) -> None:
        self.rules: Counter[str] = Counter()
        self.refs: Counter[str] = Counter()

    def add(self, entry: Entry) -> None:
        self.rules[entry.refs[0]] += 1
        self.refs.update(entry.refs)

    def remove(self, entry: Entry) -> None:
        _discount(self.rules, entry.refs[:1])
        _discount(self.refs, entry.refs)

    def presence(self, entries: Sequence[Entry]) -> frozenset[str]:
        return frozenset(self.refs)

    def value(self, entries: Sequence[Entry]) -> int:
        return len(self.rules)


def _discount(counts: Counter[Any], keys: Sequence[Any]) -> None:
    """Decrement ``keys`` in ``counts``, dropping keys that reach zero."""
    for key in keys:
        counts[key] -= 1
        if not counts[key]:
            del counts[key]


class RulesInOrder(Measure):
    """temporal_ordered: the longest prefix of ``order`` whose rules hit in that order.

    A rule counts as present only when every rule listed before it hit earlier in the
    window (what a greedy scan of the window in time order finds). Kept incrementally:
    ``starts[j]`` is the ``seq`` of the latest entry that begins a match of ``order[:j]``
    (0: none), so the window starting at entry ``s`` matches the longest ``j`` with
    ``starts[j] >= s``; leaving the window needs no update.
    """

    def __init__(self, order: Sequence[str]) -> None:
        self.order = tuple(order)
        self.starts = [0] * (len(self.order) + 1)

    def add(self, entry: Entry) -> None:
        starts = self.starts
        for j in range(len(self.order), 0, -1):  # longest first: one entry extends one match
            if self.order[j - 1] in entry.refs:
                starts[j] = entry.seq if j == 1 else max(starts[j], starts[j - 1])

    def presence(self, entries: Sequence[Entry]) -> frozenset[str]:
        return frozenset(self.order[:self.value(entries)])

    def value(self, entries: Sequence[Entry]) -> int:
        if not entries:
            return 0
        first = entries[0].seq
        matched = 0
        while matched < len(self.order) and self.starts[matched + 1] >= first:
            matched += 1
        return matched


def parse_expression(expression: str) -> ExpressionNode:
    """Parse an extended temporal condition with pySigma's grammar.

    Raises:
        sigma.exceptions.SigmaCorrelationConditionError: the expression does not parse.
    """
    return SigmaExtendedCorrelationCondition(expression).parsed


def expression_refs(node: ExpressionNode) -> tuple[str, ...]:
    """Rule references of an expression, in order of first appearance."""
    if isinstance(node, SigmaRuleReference):
        return (node.reference,)
    return tuple(dict.fromkeys(ref for arg in node.args for ref in expression_refs(arg)))


def is_negated(node: ExpressionNode) -> bool:
    """Whether the expression contains ``not`` (and so may turn false as hits arrive)."""
    if isinstance(node, SigmaRuleReference):
        return False
    return isinstance(node, CorrelationConditionNOT) or any(is_negated(a) for a in node.args)


def evaluate(node: ExpressionNode, present: frozenset[str]) -> bool:
    """Truth of an extended condition given the rule references present."""
    if isinstance(node, SigmaRuleReference):
        return node.reference in present
    if isinstance(node, CorrelationConditionNOT):
        return not evaluate(node.args[0], present)
    results = (evaluate(arg, present) for arg in node.args)
    return all(results) if isinstance(node, CorrelationConditionAND) else any(results)

