"""Values shared by every stage: logsources, events, rule metadata and hits.

Every stage speaks in these types and nothing else crosses a stage boundary:
``normalize`` yields :class:`Event`, ``match`` turns events into :class:`Hit`,
``correlate`` adds correlation hits, ``report`` renders them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, NamedTuple

LEVELS: tuple[str, ...] = ("informational", "low", "medium", "high", "critical")

# Fields whose values a parser makes up rather than copies from the line: the
# message kind (a grammar alias), constants a route adds per kind, and the
# facility/severity names read from a <PRI> number. The literal prefilter, which
# looks at the raw line before it is parsed, must take no literal from them.
SYNTHESIZED_FIELDS: frozenset[str] = frozenset({"event", "action", "invalid_user", "facility",
                                              "severity"})


def level_rank(level: str | None) -> int:
    """Order of a Sigma level (unknown or missing levels rank lowest)."""
    try:
        return LEVELS.index((level or "").lower())
    except ValueError:
        return -1


def _by_values(self: Any) -> tuple[type, tuple[Any, ...]]:
    """A slots dataclass's ``__reduce__``: made again by its constructor from its field
    values (its ``__slots__``, the fields in order), not by the slots dataclass default (a
    ``dataclasses.fields()`` call each way and a setattr per field on loading)."""
    cls = type(self)
    return cls, attrgetter(*cls.__slots__)(self)


@dataclass(frozen=True, slots=True)
class LogSource:
    """One Sigma logsource triple; ``None`` means the attribute is not set."""

    category: str | None = None
    product: str | None = None
    service: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LogSource:
        """Build from a ``{category, product, service}`` mapping (other keys ignored)."""
        return cls(
            category=_lower(data.get("category")),
            product=_lower(data.get("product")),
            service=_lower(data.get("service")),
        )

    def to_dict(self) -> dict[str, str]:
        """The attributes that are set, in Sigma's key names."""
        return {k: v for k, v in (("product", self.product), ("category", self.category),
                                  ("service", self.service)) if v}

    def applies_to(self, event_sources: Iterable[LogSource]) -> bool:
        """Whether a rule with this logsource sees an event carrying ``event_sources``.

        A rule applies when one of the event's logsources has the same category and
        the same service as the rule (unset equals only unset), and the same product
        when the rule names one. So ``product: linux`` alone sees only events that
        carry the bare ``linux`` logsource (the syslog family), never auditd records
        or derived process_creation events, while a rule that omits ``product`` still
        sees events of any product.
        """
        return any(
            ls.category == self.category
            and ls.service == self.service
            and (self.product is None or ls.product == self.product)
            for ls in event_sources
        )

    def __str__(self) -> str:
        return "/".join(v or "*" for v in (self.product, self.category, self.service))

    __reduce__ = _by_values


def _lower(value: Any) -> str | None:
    return str(value).lower() if value not in (None, "") else None


def search_text(raw: str, fields: Mapping[str, Any]) -> str:
    """The text the literal prefilter searches: ``raw`` plus every field value, NUL-separated.

    Values are added because parsers decode (audit hex, JSON escapes, binary records),
    so a value a rule tests may not appear verbatim in ``raw``; list elements are
    joined with spaces so each appears as written.
    """
    try:  # the usual case: every value is text
        return "\0".join([raw, *fields.values()])
    except TypeError:
        return "\0".join([raw, *[v if isinstance(v, str) else " ".join(map(str, v))
                                 if isinstance(v, list) else str(v) for v in fields.values()]])


@dataclass(slots=True)
class Event:
    """One normalized log record.

    ``source`` is the path relative to the scanned root, ``line`` the 1-based line
    of the record's first line (the record index for binary files). ``fields``
    holds native snake_case field names (see README, "Normalized fields");
    ``raw`` is the text keyword rules search (the line, or the joined lines of a
    multi-line record). ``timestamp`` is timezone-aware or ``None`` with
    ``time_note`` saying why.
    """

    source: str
    line: int
    format: str
    logsources: tuple[LogSource, ...]
    fields: dict[str, Any]
    raw: str
    timestamp: datetime | None = None
    time_note: str | None = None
    parsed: bool = True
    derived: bool = False


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """The metadata of one loaded Sigma rule (base or correlation) shown on hits."""

    id: str
    title: str
    level: str | None
    status: str | None
    tags: tuple[str, ...]
    logsource: LogSource
    path: str
    description: str | None = None
    name: str | None = None
    kind: str = "rule"  # "rule" or the correlation type, e.g. "event_count"
    output: bool = True  # False for base rules of a correlation with generate: false
    references: tuple[str, ...] = ()

    __reduce__ = _by_values  # each frame of a hit run pickles the rules of its hits again


@dataclass(frozen=True, slots=True)
class CorrelationSpec:
    """A Sigma correlation rule in plain, picklable form, with native field names.

    ``rules`` are the ``RuleInfo.id`` of the referenced rules (base rules or other
    correlations). ``group_by``, ``aliases`` and ``field`` already use the native
    field names the parsers emit. ``aliases`` maps an alias to ``{rule id: field}``.
    """

    rule: RuleInfo
    type: str  # event_count, value_count, temporal, temporal_ordered, value_sum, ...
    rules: tuple[str, ...]
    group_by: tuple[str, ...]
    timespan: float  # seconds
    aliases: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    op: str | None = None  # gt, gte, lt, lte, eq, neq
    count: float | None = None
    field: tuple[str, ...] = ()
    percentile: float | None = None
    expression: str | None = None  # extended temporal condition, e.g. "a and not b"
    generate: bool = False


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A regular file found under a scanned root, not yet opened.

    ``source`` is the path relative to the scanned root (what reports show);
    ``chain`` names the rotation chain it belongs to (``auth.log`` for
    ``auth.log.2.gz``) and ``chain_index`` its age in it (0 = the live file).
    """

    path: Path
    root: Path
    source: str
    size: int
    mtime: float
    compression: str | None = None  # "gz", "bz2", "xz", "zst" or None
    chain: str | None = None
    chain_index: int = 0


class FieldValues(NamedTuple):
    """The most frequent values of one field over a correlation's hits, and how many
    distinct values there were in all (scanner.correlate.details)."""

    field: str
    top: tuple[tuple[str, int], ...]  # (value, count), most frequent first
    distinct: int


@dataclass(frozen=True, slots=True)
class Correlation:
    """What a correlation hit adds: its group, its window and what made it fire.

    ``closing`` holds key fields of the hit that completed the window (who logged in,
    and how); ``values`` the top values of the accounts, URIs and user agents its hits
    carried.
    """

    group: tuple[tuple[str, Any], ...]
    window_start: datetime | None
    window_end: datetime | None
    value: float | int | None
    contributors: tuple[tuple[str, int], ...]  # (source, line), time-ordered
    closing: tuple[tuple[str, Any], ...] = ()
    values: tuple[FieldValues, ...] = ()

    __reduce__ = _by_values  # correlation hits are spilled and read back like any hit


SortKey = tuple[float, str, int, str]  # Hit.sort_key: (instant, source, line, rule id)
_new_tuple = tuple.__new__  # a named tuple made without its Python-level __new__ (Hit.reduced)


@dataclass(frozen=True, slots=True)
class Hit:
    """A rule that fired, with the event (or correlation window) it fired on."""

    rule: RuleInfo
    timestamp: datetime | None
    source: str
    line: int
    logsource: tuple[LogSource, ...]
    fields: Mapping[str, Any]
    raw: str
    derived: bool = False
    correlation: Correlation | None = None

    @classmethod
    def of(cls, rule: RuleInfo, event: Event) -> Hit:
        """The hit of ``rule`` on ``event``."""
        return cls(rule=rule, timestamp=event.timestamp, source=event.source, line=event.line,
                   logsource=event.logsources, fields=event.fields, raw=event.raw,
                   derived=event.derived)

    @staticmethod
    def reduced(rule: RuleInfo, event: Event, names: tuple[str, ...]) -> Reduced:
        """The hit of ``rule`` on ``event`` with only the fields ``names`` (in that order),
        no raw text and no logsources (all correlation reads of the hit of a rule that only
        feeds one), in the compact :class:`Reduced` form."""
        fields = event.fields
        return _new_tuple(Reduced, (rule, event.timestamp, event.source, event.line,
                                    {k: fields[k] for k in names if k in fields}))

    @staticmethod
    def reduced_with(rule: RuleInfo, event: Event, kept: Mapping[str, Any]) -> Reduced:
        """The hit of :meth:`reduced` of ``rule`` on ``event`` with the fields ``kept`` that
        another of its hits keeps too (one dict serves both: nothing changes a hit's fields)."""
        return _new_tuple(Reduced, (rule, event.timestamp, event.source, event.line, kept))

    def __reduce__(self) -> tuple[type[Hit], tuple[Any, ...]]:
        # Pickled by its field values: the slots dataclass default (one dataclasses.fields()
        # call and a setattr per field on each side) made pickling hits back from workers slow.
        return Hit, (self.rule, self.timestamp, self.source, self.line, self.logsource, self.fields,
                     self.raw, self.derived, self.correlation)

    def sort_key(self) -> SortKey:
        """Deterministic output order: (instant, source, line, rule id); undated hits first.

        The instant is the POSIX timestamp, exact to the microsecond for any date a log
        holds (the float spacing stays below 1 µs until the year 2242).
        """
        return _sort_key(self.timestamp, self.source, self.line, self.rule.id)


class Reduced(NamedTuple):
    """The hit of a rule that only feeds correlations, holding just what they read.

    Made by :meth:`Hit.reduced`; a tuple, so it is cheap to make, pickle and load (a brute
    force makes one per line). It is never shown, so it has no raw text or logsources.
    """

    rule: RuleInfo
    timestamp: datetime | None
    source: str
    line: int
    fields: Mapping[str, Any]

    def sort_key(self) -> SortKey:
        """The order of :meth:`Hit.sort_key`."""
        return _sort_key(self.timestamp, self.source, self.line, self.rule.id)

    def __reduce__(self) -> tuple[Callable[..., Reduced], tuple[Any, ...]]:
        # Made again by tuple.__new__ itself: a named tuple's default goes through the
        # Python-level __new__ the class defines, for each of the brute force's hits.
        return _new_tuple, (Reduced, tuple(self))


def _sort_key(ts: datetime | None, source: str, line: int, rule_id: str) -> SortKey:
    return (ts.timestamp() if ts is not None else -math.inf, source, line, rule_id)


AnyHit = Hit | Reduced  # what the match stage gives and correlation reads
Keyed = tuple[SortKey, AnyHit]  # a hit paired with its sort key, computed once


@dataclass(slots=True)
class FileStats:
    """Per-file coverage counters (``lines == parsed + unparsed + skipped``)."""

    source: str
    format: str
    lines: int = 0
    parsed: int = 0
    unparsed: int = 0
    skipped: int = 0  # lines never parsed because no rule could match them
    bytes: int = 0
    samples: list[str] = field(default_factory=list)  # up to 3 unparsed lines
