"""Turn a file's lines into :class:`scanner.model.Event` values along its route.

Takes a :class:`~scanner.model.SourceFile`, the :class:`~scanner.normalize.routes.Choice`
made for it and its lines (or binary records); yields one Event per record and
keeps the file's :class:`~scanner.model.FileStats` so that ``lines == parsed +
unparsed + skipped``. A record the route's grammar rejects still yields an
unparsed event (``fields = {"message": raw}``) so keyword rules see it; for the
syslog family the header is parsed once and the message is routed to the
program's grammars, and a message they reject keeps the header fields. An
optional ``wanted`` prefilter skips records no rule can match before (``prefilter:
raw``) or after (``prefilter: fields``) parsing. Given the prefilter's literals
as a finder, ``line``/``continued`` files with ``prefilter: raw`` are read in large
chunks and only records holding a literal are cut out and parsed, so the lines
no rule can match cost no per-line Python work; both paths yield the same events.
Given the finder, journal entries are skipped before parsing too, by their text and
values (:meth:`RouteParser.early_text`), skipping exactly the entries the check
after parsing would.
A plain file may be normalized a byte range (a part) at a time: line numbers stay
absolute; :func:`chunked` and :func:`begins_record` say where a route's files may be cut.
Streams: memory does not grow with the file. Knows nothing of Sigma rules.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone, tzinfo
from functools import lru_cache
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Protocol

from scanner.errors import Problems
from scanner.match.prefilter import LiteralFinder
from scanner.model import Event, FileStats, LogSource, SourceFile, search_text
from scanner.normalize.binary import READERS
from scanner.normalize.decoders import decode
from scanner.normalize.grammars import load_grammar
from scanner.normalize.identity import ByIdentity
from scanner.normalize.records import assemble
from scanner.normalize.journal import journal_records
from scanner.normalize.routes import JOURNAL_RECORDS, Choice, Route, load_routes
from scanner.normalize.timestamps import MONTHS, time_reader
from scanner.normalize.year import STAMP_MONTH, YearTracker, next_other_stamp
from scanner.sources.open import CHUNK, WHOLE, ByteRange, iter_chunks, iter_lines

Wanted = Callable[[str], bool]
Observe = Callable[[int, str], None]
RecordTuple = tuple[int, str, "dict[str, Any] | None"]
ParseText = Callable[[str], "tuple[str, dict[str, str]] | None"]
_ProgramParse = tuple[tuple[LogSource, ...], tuple[ParseText, ...]]

MAX_SAMPLES = 3
FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
              "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
              *(f"local{i}" for i in range(8)))
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
MONTH_NAMES = tuple(MONTHS)  # lower-case, January first
CHUNKED = ("line", "continued")  # record kinds the chunk path handles
MAX_PROGRAMS = 256  # program names a parser remembers the grammars of (a file names a few)
MAX_HELD = 8 * CHUNK  # a chunk path unit ends here even without a record start (pathological files)
# A unit's lines are marked at once (LineMarks) after one where more than this share held a
# literal. Finding a record one at a time costs ~3.3 µs more a record; the columnar engine's
# marking ~0.75 µs a line of auth.log and ~1.05 µs of nginx's access.log (longer lines, more
# literals): it pays above 23% and 32% of lines holding one (bench trees: auth.log's 77%
# gain 1.8 µs a line, nginx's 12% lose 0.65 µs).
DENSE = 1 / 3
_UNSEEN = object()  # a program name not looked up yet
_INDENT = ("", " ", "\t")  # a line's first character (none: empty) when it starts no record
_REPEATED = re.compile(r"message repeated (\d+) times: \[ ?(.*?) ?\]$")


class Parsed(NamedTuple):
    """A record the route understood: its kind, fields and the logsources it adds."""

    kind: str
    fields: dict[str, Any]
    logsources: tuple[LogSource, ...] = ()


_new_parsed = tuple.__new__  # a Parsed of all three values without its Python-level __new__


Marked = tuple[list[int], list[int], list[int]]  # indices, starts and ends of lines of a text


class LineMarks(Protocol):
    """Finds the lines holding a literal in a whole unit of the chunk path at once."""

    def marked(self, text: str) -> Marked | None:
        """The lines of ``text`` (whole lines) in which the finder finds a literal, in order:
        their indices, and where their texts start and end; ``None`` (declined) unless every
        line of ``text`` is a record of its own and no such line is blank."""


def chunked(route: Route) -> bool:
    """Whether files of ``route`` take the chunk path (and so may be read in parts)."""
    return route.records not in READERS and route.prefilter == "raw" and route.records in CHUNKED


def begins_record(route: Route) -> Callable[[str], bool]:
    """Whether a line (one line's text, or its head) starts a record of ``route``, as a
    function of the line, the route's settings read once."""
    if route.records != "continued":
        return lambda line: True
    start = route.record_start
    if start is None:
        return lambda line: line[:1] not in _INDENT and not line.isspace()
    match = start.match
    return lambda line: match(line) is not None and line != "" and not line.isspace()


class RouteParser:
    """Parses one record text along a route: grammar, program routing, kinds, null values."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self._parse_record = load_grammar(route.grammar).parser if route.grammar else None
        for program in route.programs.values():  # compile now: a broken grammar is a start-up fault
            for name in program.grammars:
                load_grammar(name)
        self._programs: dict[str, _ProgramParse | None] = {}  # by the program name as logged
        self._decode, self._kinds, self._nulls = route.decode, route.kinds, route.null_values
        self._routed, self._facilities = bool(route.programs), bool(route.facilities)
        self._combined: dict[tuple[str | None, tuple[LogSource, ...]], tuple[LogSource, ...]] = {}

    def parse(self, text: str, fields: dict[str, Any] | None = None) -> Parsed | None:
        """The parse of ``text`` (``fields`` when a record kind pre-parsed it), else ``None``:
        its program's grammars, its facility, its values decoded, its kind's constants added
        and its null values dropped."""
        if fields is not None:
            kind, fields = self.route.records, dict(fields)
        elif self._parse_record is None:
            return None
        else:
            result = self._parse_record(text)
            if result is None:
                return None
            kind, fields = result  # the grammar's fields are a new dict of this parse
        logsources: tuple[LogSource, ...] = ()
        if self._routed:
            kind, logsources = self._route_program(kind, fields)
        if self._facilities:
            logsources = self._with_facility(fields.get("facility"), logsources)
        if self._decode:
            fields = decode(self._decode, fields)
        constants = self._kinds.get(kind)
        if constants:
            fields.update(constants)
        nulls = self._nulls
        if nulls:
            try:  # every value hashable (text, numbers): none but text equals a null value
                null_keys = ([] if nulls.isdisjoint(fields.values())
                             else [k for k, v in fields.items() if v in nulls])
            except TypeError:  # an unhashable value (a list): look at the text ones
                null_keys = [k for k, v in fields.items() if isinstance(v, str) and v in nulls]
            for key in null_keys:
                del fields[key]
        return _new_parsed(Parsed, (kind, fields, logsources))

    def made_up(self) -> str | None:
        """The values a parse of a record that comes with fields may add that are no piece of
        those fields, NUL-joined: the kinds of its programs' grammars (``event``) and the
        kinds' constants; ``None`` when the route decodes values (a decoded value is new
        text). The facility and severity names are the others, :meth:`early_text` adds them."""
        if self._decode:
            return None
        kinds = {kind for program in self.route.programs.values() for name in program.grammars
                 for kind in load_grammar(name).kinds}
        return "\0".join([*sorted(kinds), *(search_text("", c) for c in self._kinds.values())])

    def early_text(self, text: str, fields: dict[str, Any]) -> str:
        """The text a prefilter sees of a record that comes with ``fields``, before parsing:
        :func:`search_text` of them and the facility and severity names of their ``pri``.

        After parsing, :func:`search_text` sees only values of ``fields`` (``pri`` and
        null values go), pieces of its ``message`` (the program grammar's fields, a repeated
        message's body and count), those names and :meth:`made_up` values; so a literal
        (no NUL in it) that occurs in the later text but in no made-up value occurs in this one.
        """
        found = search_text(text, fields)
        pri = fields.get("pri") if self.route.programs else None
        return found if pri is None else found + _pri_names(pri)

    def _with_facility(self, facility: str | None, logsources: tuple[LogSource, ...]
                       ) -> tuple[LogSource, ...]:
        """The facility's logsources, then ``logsources`` (one tuple per pair, for identity)."""
        key = (facility, logsources)
        combined = self._combined.get(key)
        if combined is None:
            combined = _unique((*self.route.facility_logsources(facility), *logsources))
            if len(self._combined) < MAX_PROGRAMS:
                self._combined[key] = combined
        return combined

    def _route_program(self, kind: str, fields: dict[str, Any]) -> tuple[str, tuple[LogSource, ...]]:
        """Split the PRI, unwrap a repeated message and parse it by its program's grammars
        (into ``fields``); the record's kind and the logsources its program adds."""
        pri = fields.pop("pri", None)
        if pri is not None:
            _split_pri(fields, pri)
        message = fields.get("message", "")
        repeated = _REPEATED.match(message) if message.startswith("message repeated ") else None
        if repeated:
            message = repeated.group(2)
            fields["repeated"], fields["message"] = repeated.group(1), message
        name = fields.get("program", "")
        program = self._programs.get(name, _UNSEEN)
        if program is _UNSEEN:
            program = self._program(name)
        if program is None:
            return kind, ()
        logsources, parsers = program
        for parse in parsers:
            result = parse(message)
            if result is not None:
                kind, extra = result
                if fields.keys().isdisjoint(extra):  # the usual case: one update
                    fields.update(extra)
                else:  # only the fields ``fields`` lacks, in ``extra``'s order
                    for key, value in extra.items():
                        fields.setdefault(key, value)
                fields["event"] = kind
                break
        return kind, logsources

    def _program(self, name: str) -> _ProgramParse | None:
        """The logsources and grammar parsers of program ``name`` (remembered per name)."""
        program = self.route.program(name)
        found = None if program is None else (
            program.logsources, tuple(load_grammar(g).parser for g in program.grammars))
        if len(self._programs) < MAX_PROGRAMS:
            self._programs[name] = found
        return found


class _Events:
    """Turns one file's records into events, keeping its counts and its year."""

    def __init__(self, file: SourceFile, choice: Choice, stats: FileStats, tz: tzinfo,
                 start_year: int | None) -> None:
        self.file, self.route, self.stats, self.tz = file, choice.route, stats, tz
        self.parser = RouteParser(self.route)
        self.base_sources = _base_sources(choice)
        self.tracker = YearTracker(start_year if start_year is not None
                                   else datetime.fromtimestamp(file.mtime, tz).year)
        time = self.route.time
        self.yearless = self.route.yearless
        self._read_time = time_reader(time.format if time else "", tz, self.tracker.year_for)
        self._read = self._read_yearless if self.yearless else self._read_time
        self._time_field = time.field if time else None
        self._no_time = (f"no {time.field} in record" if time
                         else f"format {self.route.format} has no time")
        self._last_stamp = ""  # the last year-less stamp read ("": none since the tracker moved)
        self._last_time: tuple[datetime | None, str | None] = (None, None)
        # The logsources of an event: the file's, then those its parse adds (worked out once
        # per tuple a parse adds, a route's own, long-lived).
        self._sources = ByIdentity(lambda added: _unique((*self.base_sources, *added)),
                                   limit=MAX_PROGRAMS)

    def _time(self, fields: dict[str, Any]) -> tuple[datetime | None, str | None]:
        """The time of a parsed record, its time field taken out of ``fields``."""
        name = self._time_field
        text = None if name is None else fields.pop(name, None)
        return self._read(str(text)) if text else (None, self._no_time)

    def _read_yearless(self, text: str) -> tuple[datetime | None, str | None]:
        """The time of a year-less stamp's text; one repeating the last one (lines logged in the
        same second) takes its time again while the year tracker stands where that one left it
        (reading it again would give the same time and leave the tracker as it is). Only
        :meth:`see_month` moves the tracker between reads, and it forgets the last stamp."""
        if text == self._last_stamp:
            return self._last_time
        self._last_time = self._read_time(text)
        self._last_stamp = text
        return self._last_time

    def see_year(self, text: str) -> None:
        """Advance the year by the month a record starts with, whether it is kept or not."""
        stamp = STAMP_MONTH.match(text) if self.yearless else None
        if stamp is not None:
            self.see_month(stamp.group("month"))

    def month_name(self) -> str | None:
        """The lower-case name of the month of the last stamp seen, if any."""
        month = self.tracker.month
        return None if month is None else MONTH_NAMES[month - 1]

    def see_month(self, name: str) -> None:
        """Advance the year by the month name of a stamp (ignored when it names no month)."""
        month = MONTHS.get(name.lower())
        if month is not None and month != self.tracker.month:  # the same month moves nothing
            self.tracker.year_for(month)
            self._last_stamp = ""

    def skip(self, text: str) -> None:
        """Count a record the prefilter skipped."""
        self.stats.skipped += text.count("\n") + 1

    def event(self, line: int, text: str, fields: dict[str, Any] | None,
              wanted: Wanted | None) -> Event | None:
        """The event of a record (``None``: a ``prefilter: fields`` skip)."""
        route, stats = self.route, self.stats
        size = text.count("\n") + 1
        parsed = self.parser.parse(text, fields)
        if wanted is not None and route.prefilter == "fields" and not wanted(
                text if parsed is None else search_text(text, parsed.fields)):
            stats.skipped += size
            return None
        if parsed is None:
            stats.unparsed += size
            if len(stats.samples) < MAX_SAMPLES:
                stats.samples.append(text)
            return Event(self.file.source, line, route.format, self.base_sources, {"message": text},
                         text, None, "record not parsed", parsed=False)
        stats.parsed += size
        _, fields, added = parsed
        stamp, note = self._time(fields)
        return Event(self.file.source, line, route.format, self._sources(added), fields, text,
                     stamp, note)

    def of_records(self, records: Iterable[RecordTuple], wanted: Wanted | None,
                   early: LiteralFinder | None = None) -> Iterator[Event]:
        """Events of records in file order, ``wanted`` skipping before parsing when ``prefilter:
        raw``, and ``early`` (its literals) a record that comes with fields by its
        :meth:`RouteParser.early_text`."""
        raw = wanted is not None and self.route.prefilter == "raw"
        for line, text, fields in records:
            self.see_year(text)
            if raw and not wanted(text):  # type: ignore[misc]
                self.skip(text)
                continue
            if early is not None and fields is not None and not early.finds(
                    self.parser.early_text(text, fields)):
                self.skip(text)
                continue
            event = self.event(line, text, fields, wanted)
            if event is not None:
                yield event

    def finish(self, lines: int) -> None:
        """Count the file's lines; every line no record counted was skipped."""
        stats = self.stats
        stats.lines += lines
        stats.skipped += stats.lines - (stats.parsed + stats.unparsed + stats.skipped)


def normalize_lines(file: SourceFile, choice: Choice, lines: Iterable[tuple[int, str]],
                    stats: FileStats, *, tz: tzinfo = timezone.utc, start_year: int | None = None,
                    wanted: Wanted | None = None, observe: Observe | None = None
                    ) -> Iterator[Event]:
    """Events of a text file's ``(line number, text)`` pairs along ``choice``.

    Blank lines, which form no record, are counted ``skipped``. ``observe`` sees
    every physical line, even those the prefilter skips.
    """
    events = _Events(file, choice, stats, tz, start_year)
    counter = _LineCounter(lines, observe)
    yield from events.of_records(_records(choice.route, counter), wanted)
    events.finish(counter.count)


def normalize_chunks(file: SourceFile, choice: Choice, chunks: Iterable[tuple[int, str]],
                     stats: FileStats, finder: LiteralFinder, *, tz: tzinfo = timezone.utc,
                     start_year: int | None = None, observe: Observe | None = None,
                     marks: LineMarks | None = None) -> Iterator[Event]:
    """The events :func:`normalize_lines` gives with ``wanted`` = "a literal of ``finder``
    occurs", from chunks of whole lines (:func:`~scanner.sources.open.iter_chunks`).

    For ``prefilter: raw`` routes of ``line`` or ``continued`` records. Only the records
    holding a literal are cut out, parsed and yielded; the lines between are counted
    skipped in bulk. A chunk's last record is held back until the next chunk (or the
    end) shows where it ends. ``observe`` sees each chunk as ``(first line, text)``.
    Given ``marks``, a unit after one dense with literals has its lines marked at once.
    """
    events = _Events(file, choice, stats, tz, start_year)
    units = _Units(choice.route, events, finder, marks)
    lines = 0
    held, held_first = "", 1
    for first, text in chunks:
        lines += text.count("\n")
        if observe is not None:
            observe(first, text)
        text, first = held + text, held_first if held else first
        cut = units.last_start(text)
        if cut == 0 and len(text) < MAX_HELD:
            held, held_first = text, first
            continue
        cut = cut or len(text)
        yield from units.events(text[:cut], first)
        held, held_first = text[cut:], first + text.count("\n", 0, cut)
    if held:
        yield from units.events(held, held_first)
    events.finish(lines)


class _Units:
    """Finds the candidate records of a run of whole records (a *unit*) and makes their events."""

    def __init__(self, route: Route, events: _Events, finder: LiteralFinder,
                 marks: LineMarks | None) -> None:
        self._route, self._events, self._finder, self._marks = route, events, finder, marks
        self._dense = False  # whether the last unit was dense with literals
        self._grouped = route.records == "continued"
        self._begins = begins_record(route)
        start = route.record_start
        self._lookahead = f"(?=(?:{start.pattern}))" if self._grouped and start is not None else ""
        self._first_month = re.compile(f"{self._lookahead}{STAMP_MONTH.pattern}")

    def wanted(self, text: str) -> bool:
        """Whether a literal occurs in ``text`` (the per-record test of the same finder)."""
        return self._finder.finds(text)

    def begins(self, text: str, pos: int) -> bool:
        """Whether the line at ``pos`` starts a group of ``continued`` lines."""
        return self._begins(text[pos:text.find("\n", pos)])

    def last_start(self, text: str) -> int:
        """Where the last group of ``text`` starts (0: none after the first line); its end for ``line``."""
        if not self._grouped:
            return len(text)
        pos = text.rfind("\n", 0, len(text) - 1) + 1
        while pos > 0 and not self.begins(text, pos):
            pos = text.rfind("\n", 0, pos - 1) + 1
        return pos

    def _group(self, text: str, pos: int, begun: int) -> tuple[int, int]:
        """The span of the lines of the group holding position ``pos``; ``begun`` is a line
        start known to begin a group (the end of the last one), which needs no look."""
        start = text.rfind("\n", 0, pos) + 1
        end = text.find("\n", pos) + 1
        if self._grouped:
            if start != begun:
                while start > 0 and not self.begins(text, start):
                    start = text.rfind("\n", 0, start - 1) + 1
            begins, size = self._begins, len(text)
            while end < size:
                eol = text.find("\n", end)
                if begins(text[end:eol]):
                    break
                end = eol + 1
        return start, end

    def _see_months(self, text: str, start: int, end: int) -> None:
        """Advance the year (of a year-less route) by the stamps of the records in
        ``text[start:end]`` (``start``: a line start); only a stamp in another month than the
        last one costs Python work."""
        events = self._events
        first = self._first_month.match(text, start, end)
        if first is not None:
            events.see_month(first.group("month"))
        pos = start
        while (stamp := next_other_stamp(events.month_name(), self._lookahead).search(
                text, pos, end)) is not None:
            events.see_month(stamp.group("month"))
            pos = stamp.end()

    def events(self, text: str, first: int) -> Iterator[Event]:
        """Events of the candidate records of ``text``, whole lines starting at line ``first``:
        marked at once after a dense unit (:class:`LineMarks`), else found one at a time."""
        marked = self._marks.marked(text) if self._dense and self._marks is not None else None
        if marked is None:
            return self._found_events(text, first)
        self._dense = len(marked[0]) > DENSE * text.count("\n")
        return self._marked_events(text, first, marked)

    def _marked_events(self, text: str, first: int, marked: Marked) -> Iterator[Event]:
        """Events of the ``marked`` lines of ``text`` (:meth:`LineMarks.marked`), each a record."""
        events = self._events
        yearless, see_year, event_of = events.yearless, events.see_year, events.event
        done = 0  # text before it is handled
        for index, start, end in zip(*marked):
            record = text[start:end]
            if yearless:
                if start > done:
                    self._see_months(text, done, start)
                see_year(record)
            event = event_of(first + index, record, None, None)
            if event is not None:  # always, without ``wanted``
                yield event
            done = end + 1
        if yearless:
            self._see_months(text, done, len(text))

    def _found_events(self, text: str, first: int) -> Iterator[Event]:
        """Events of the candidate records of ``text``, each found by the finder from the last."""
        lowered = text.lower()
        if len(lowered) != len(text):  # a character lower-cases to several: offsets differ
            numbered = enumerate(text.split("\n")[:-1], first)
            yield from self._events.of_records(_records(self._route, numbered), self.wanted)
            return
        data = lowered.encode("utf-8", "surrogatepass")
        events, next_at, group = self._events, self._finder.next_at, self._group
        yearless, see_year, event_of = events.yearless, events.see_year, events.event
        narrow = len(data) == len(text)
        byte, char = 0, 0  # the same offset in data and in text
        done, line = 0, first  # text before ``done`` is handled; ``line`` is the number at ``done``
        held = 0  # records holding a literal
        while (found := next_at(data, byte)) >= 0:
            held += 1
            pos = found if narrow else char + len(data[byte:found].decode("utf-8", "surrogatepass"))
            start, end = group(text, pos, done)
            if start > done:
                if yearless:
                    self._see_months(text, done, start)
                line += text.count("\n", done, start)
            record = text[start:end - 1]
            if "\n" in record or not record or record.isspace():  # several lines (or a blank one)
                numbered = enumerate(text[start:end].split("\n")[:-1], line)
                records = list(_records(self._route, numbered))
                holder = text[text.rfind("\n", 0, pos) + 1:text.find("\n", pos)]
                sure = len(records) == 1 and holder.strip()  # the one record holds the literal
                yield from events.of_records(records, None if sure else self.wanted)
                line += text.count("\n", start, end)
            else:  # the line holding the literal is a record of its own
                if yearless:
                    see_year(record)
                event = event_of(line, record, None, None)
                if event is not None:  # always, without ``wanted``
                    yield event
                line += 1
            byte = end if narrow else found + len(lowered[pos:end].encode("utf-8", "surrogatepass"))
            char = done = end
        if yearless:
            self._see_months(text, done, len(text))
        self._dense = held > DENSE * text.count("\n")


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


class Observer(Protocol):
    """Sees every physical line of a file, one at a time or a chunk of whole lines at a time."""

    def see(self, line: int, text: str) -> None:
        """One line: its 1-based number and text."""

    def see_chunk(self, first: int, text: str) -> None:
        """Whole lines, each ending with a newline, the first numbered ``first``."""


def normalize_file(file: SourceFile, choice: Choice, problems: Problems, stats: FileStats, *,
                   tz: tzinfo = timezone.utc, start_year: int | None = None,
                   wanted: Wanted | None = None, observer: Observer | None = None,
                   finder: LiteralFinder | None = None, span: ByteRange = WHOLE,
                   marks: LineMarks | None = None) -> Iterator[Event]:
    """Events of ``file`` (of the text in ``span`` of it): binary record readers by
    ``records`` kind, else its decoded text.

    With a ``finder`` (the literals behind ``wanted``), a :func:`chunked` route is
    read in chunks (:func:`normalize_chunks`, given ``marks`` for those literals).
    ``wanted`` says whether a text holds one of the literals or some rule has none: one
    that wants the empty text wants every text, and then no record is tested.
    """
    route = choice.route
    if wanted is not None and wanted(""):
        wanted = None
    reader = READERS.get(route.records)
    if route.records == JOURNAL_RECORDS:
        yield from _journal_events(file, choice, problems, stats, tz, start_year, wanted, observer,
                                   finder)
        return
    if finder is not None and chunked(route):
        chunks = iter_chunks(file, problems, span=span)
        yield from normalize_chunks(file, choice, chunks, stats, finder, tz=tz, start_year=start_year,
                                    observe=observer.see_chunk if observer else None, marks=marks)
        return
    if reader is None:
        yield from normalize_lines(file, choice, iter_lines(file, problems, span), stats, tz=tz,
                                   start_year=start_year, wanted=wanted,
                                   observe=observer.see if observer else None)
        return
    sources = _base_sources(choice)
    for event in reader(file, problems):
        stats.lines += 1
        stats.parsed += 1
        event.format, event.logsources = route.format, sources
        yield event


def _journal_events(file: SourceFile, choice: Choice, problems: Problems, stats: FileStats,
                    tz: tzinfo, start_year: int | None, wanted: Wanted | None,
                    observer: Observer | None, finder: LiteralFinder | None) -> Iterator[Event]:
    """Events of a journal file: entries along ``choice``, those of a transport along the
    route it names (audit records along ``audit``), each entry counted as one line and
    shown to ``observer`` as its raw text.

    With a ``finder`` (``wanted`` is then "one of its literals occurs", none with a NUL)
    and no literal in a value a parse makes up, an entry is skipped before it is parsed
    when its :meth:`RouteParser.early_text` holds no literal: exactly when the check after
    parsing would skip it.
    """
    routes = load_routes()
    by_transport = {name: _Events(file, Choice(routes[target], (), choice.reason), stats, tz,
                                  start_year)
                    for name, target in choice.route.transports.items()}
    events = _Events(file, choice, stats, tz, start_year)
    early = None
    if wanted is not None and finder is not None:
        made_up = events.parser.made_up()
        early = finder if made_up is not None and not finder.finds(made_up) else None
    for record in journal_records(file, problems, by_transport):
        stats.lines += record.text.count("\n") + 1
        if observer is not None and record.transport is None:
            observer.see(record.line, record.text)
        target = events if record.transport is None else by_transport[record.transport]
        yield from target.of_records(((record.line, record.text, record.fields),), wanted,
                                     early if target is events else None)


def _records(route: Route, lines: Iterable[tuple[int, str]]) -> Iterator[RecordTuple]:
    return ((r.line, r.text, r.fields) for r in assemble(route.records, lines, route.record_start))


@lru_cache(maxsize=256)
def _pri_names(pri: str) -> str:
    """The facility and severity names of a ``<PRI>`` number, each after a NUL."""
    names: dict[str, Any] = {}
    _split_pri(names, pri)
    return "".join(f"\0{name}" for name in names.values())


def _split_pri(fields: dict[str, Any], pri: str) -> None:
    """The facility and severity fields of a ``<PRI>`` number (none when out of range)."""
    if int(pri) < len(FACILITIES) * 8:
        fields["facility"] = FACILITIES[int(pri) // 8]
        fields["severity"] = SEVERITIES[int(pri) % 8]


def _base_sources(choice: Choice) -> tuple[LogSource, ...]:
    """The logsources of every event of a file: its route's and its file glob's."""
    return _unique((*choice.route.logsources, *choice.logsources))


def _unique(sources: Iterable[LogSource]) -> tuple[LogSource, ...]:
    return tuple(dict.fromkeys(sources))

