"""Turn a file's lines into :class:`scanner.model.Event` values along its route.

Takes a :class:`~scanner.model.SourceFile`, the :class:`~scanner.normalize.routes.Choice`
made for it and its lines (or binary records); yields one Event per record and
keeps the file's :class:`~scanner.model.FileStats` so that ``lines == parsed +
unparsed + skipped``. A record the route's grammar rejects still yields an
unparsed event (``fields = {"message": raw}``) so keyword rules see it; for the
syslog family the header is parsed once and the message is routed to the
program's grammars, and a message they reject keeps the header fields. An
optional ``wanted`` prefilter skips records no rule can match before (``prefilter:
raw``) or after (``prefilter: fields``) parsing. Streams: memory does not grow
with the file. Knows nothing of Sigma rules or matching.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import Any, Callable, Iterable, Iterator

from scanner.errors import Problems
from scanner.model import Event, FileStats, LogSource, SourceFile
from scanner.normalize.binary import READERS
from scanner.normalize.decoders import decode
from scanner.normalize.grammars import load_grammar
from scanner.normalize.records import assemble
from scanner.normalize.routes import Choice, Route
from scanner.normalize.timestamps import parse_time
from scanner.normalize.year import YearTracker
from scanner.sources.open import iter_lines

Wanted = Callable[[str], bool]
Observe = Callable[[int, str], None]
RecordTuple = tuple[int, str, "dict[str, Any] | None"]

MAX_SAMPLES = 3
FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
              "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
              *(f"local{i}" for i in range(8)))
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
_REPEATED = re.compile(r"message repeated (\d+) times: \[ ?(.*?) ?\]$")


@dataclass(frozen=True, slots=True)
class Parsed:
    """A record the route understood: its kind, fields and the logsources it adds."""

    kind: str
    fields: dict[str, Any]
    logsources: tuple[LogSource, ...] = ()


class RouteParser:
    """Parses one record text along a route: grammar, program routing, kinds, null values."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self._grammar = load_grammar(route.grammar) if route.grammar else None
        for program in route.programs.values():  # compile now: a broken grammar is a start-up fault
            for name in program.grammars:
                load_grammar(name)

    def parse(self, text: str, fields: dict[str, Any] | None = None) -> Parsed | None:
        """The parse of ``text`` (``fields`` when a record kind pre-parsed it), else ``None``."""
        if fields is not None:
            parsed = Parsed(self.route.records, dict(fields))
        elif self._grammar is None:
            return None
        else:
            result = self._grammar.parse(text)
            if result is None:
                return None
            parsed = Parsed(result[0], dict(result[1]))
        if self.route.programs:
            parsed = self._route_program(parsed)
        return Parsed(parsed.kind, self._finish(parsed.kind, parsed.fields), parsed.logsources)

    def _route_program(self, parsed: Parsed) -> Parsed:
        fields = parsed.fields
        _split_pri(fields)
        message = fields.get("message", "")
        repeated = _REPEATED.match(message) if message.startswith("message repeated ") else None
        if repeated:
            message = repeated.group(2)
            fields["repeated"], fields["message"] = repeated.group(1), message
        program = self.route.program(fields.get("program", ""))
        if program is None:
            return parsed
        for name in program.grammars:
            result = load_grammar(name).parse(message)
            if result is not None:
                kind, extra = result
                merged = {**fields, **{k: v for k, v in extra.items() if k not in fields}, "event": kind}
                return Parsed(kind, merged, program.logsources)
        return Parsed(parsed.kind, fields, program.logsources)

    def _finish(self, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        if self.route.decode:
            fields = decode(self.route.decode, fields)
        fields.update(self.route.kinds.get(kind, {}))
        nulls = self.route.null_values
        return {k: v for k, v in fields.items() if not (isinstance(v, str) and v in nulls)}


def normalize_lines(file: SourceFile, choice: Choice, lines: Iterable[tuple[int, str]],
                    stats: FileStats, *, tz: tzinfo = timezone.utc, start_year: int | None = None,
                    wanted: Wanted | None = None, observe: Observe | None = None
                    ) -> Iterator[Event]:
    """Events of a text file's ``(line number, text)`` pairs along ``choice``.

    Blank lines, which form no record, are counted ``skipped``. ``observe`` sees
    every physical line, even those the prefilter skips.
    """
    route = choice.route
    parser = RouteParser(route)
    base_sources = _unique((*route.logsources, *choice.logsources))
    tracker = YearTracker(start_year if start_year is not None
                          else datetime.fromtimestamp(file.mtime, tz).year)
    counter = _LineCounter(lines, observe)
    for line, text, fields in _records(route, counter):
        size = text.count("\n") + 1
        if wanted is not None and route.prefilter == "raw" and not wanted(text):
            stats.skipped += size
            continue
        parsed = parser.parse(text, fields)
        if wanted is not None and route.prefilter == "fields" and not wanted(_prefilter_text(text, parsed)):
            stats.skipped += size
            continue
        if parsed is None:
            stats.unparsed += size
            if len(stats.samples) < MAX_SAMPLES:
                stats.samples.append(text)
            yield Event(file.source, line, route.format, base_sources, {"message": text}, text,
                        None, "record not parsed", parsed=False)
            continue
        stats.parsed += size
        stamp, note = _event_time(route, parsed.fields, tz, tracker)
        yield Event(file.source, line, route.format, _unique((*base_sources, *parsed.logsources)),
                    parsed.fields, text, stamp, note)
    stats.lines += counter.count
    stats.skipped += stats.lines - (stats.parsed + stats.unparsed + stats.skipped)


class _LineCounter:
    """Passes lines through and counts them, so records never lose a line from the totals."""

    def __init__(self, lines: Iterable[tuple[int, str]], observe: Observe | None) -> None:
        self._lines = lines
        self._observe = observe
        self.count = 0

    def __iter__(self) -> Iterator[tuple[int, str]]:
        observe = self._observe
        for item in self._lines:
            self.count += 1
            if observe is not None:
                observe(*item)
            yield item


def normalize_file(file: SourceFile, choice: Choice, problems: Problems, stats: FileStats, *,
                   tz: tzinfo = timezone.utc, start_year: int | None = None,
                   wanted: Wanted | None = None, observe: Observe | None = None
                   ) -> Iterator[Event]:
    """Events of ``file``: binary record readers by ``records`` kind, else its decoded lines."""
    reader = READERS.get(choice.route.records)
    if reader is None:
        yield from normalize_lines(file, choice, iter_lines(file, problems), stats, tz=tz,
                                   start_year=start_year, wanted=wanted, observe=observe)
        return
    sources = _unique((*choice.route.logsources, *choice.logsources))
    for event in reader(file, problems):
        stats.lines += 1
        stats.parsed += 1
        event.format, event.logsources = choice.route.format, sources
        yield event


def _records(route: Route, lines: Iterable[tuple[int, str]]) -> Iterator[RecordTuple]:
    return ((r.line, r.text, r.fields) for r in assemble(route.records, lines, route.record_start))


def _event_time(route: Route, fields: dict[str, Any], tz: tzinfo,
                tracker: YearTracker) -> tuple[datetime | None, str | None]:
    if route.time is None:
        return None, f"format {route.format} has no time"
    text = fields.pop(route.time.field, None)
    if not text:
        return None, f"no {route.time.field} in record"
    return parse_time(str(text), route.time.format, tz, tracker.year_for)


def _split_pri(fields: dict[str, Any]) -> None:
    pri = fields.pop("pri", None)
    if pri is not None and int(pri) < len(FACILITIES) * 8:
        fields["facility"] = FACILITIES[int(pri) // 8]
        fields["severity"] = SEVERITIES[int(pri) % 8]


def _prefilter_text(text: str, parsed: Parsed | None) -> str:
    if parsed is None:
        return text
    return "\0".join([text, *(str(v) for v in parsed.fields.values())])


def _unique(sources: Iterable[LogSource]) -> tuple[LogSource, ...]:
    return tuple(dict.fromkeys(sources))

