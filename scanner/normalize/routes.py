"""Load the route entries of ``grammars/*.yaml`` and choose a route for each file.

A route (schema in grammars/README.md) says how one log format is parsed: its
grammar, its file globs and content sniff, its logsources, its time field, how
lines form records, and for the syslog family which grammar parses each
program's message. :func:`load_routes` validates every entry and raises
:class:`GrammarError` naming the file on any fault (a start-up fault).
:func:`choose_route` picks a route for a file: ``--format-for`` first, then
content (a binary format recognized by its bytes, or text sniffing; content
wins over name), then name globs with rotation suffixes stripped, else the
``raw`` route; :func:`route_file` reads the file's head for it. Knows nothing
of parsing or Sigma.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from scanner.errors import GrammarError, Location, UsageError
from scanner.model import LogSource, SourceFile
from scanner.normalize.binary import READERS
from scanner.normalize.decoders import unknown_decoders
from scanner.normalize.identify import UNKNOWN_BINARY, binary_format
from scanner.normalize.records import RECORD_KINDS
from scanner.normalize.timestamps import YEARLESS, is_known_format
from scanner.resources import grammars_dir
from scanner.sources.open import sniff_lines

RAW_FORMAT = "raw"
PREFILTERS = ("raw", "fields")
_KEYS = {"format", "title", "grammar", "files", "sniff", "logsources", "time", "records",
         "prefilter", "programs", "kinds", "null_values", "decode", "record_start", "programs_from",
         "facilities", "transports"}
JOURNAL_RECORDS = "journal"  # records read from a systemd journal file (sources/journal.py)
ANY_FACILITY = "*"
_ROTATION = re.compile(r"(\.\d+|-\d{8}|\.old)?(\.(gz|bz2|xz|zst))?$")
_JOURNAL_ARCHIVE = re.compile(r"(@[^/]*)?\.journal~?$")


@dataclass(frozen=True, slots=True)
class FileGlob:
    """A path glob of a route and the extra logsources of files it matches."""

    glob: str
    logsources: tuple[LogSource, ...] = ()


@dataclass(frozen=True, slots=True)
class Program:
    """How a syslog program's message is parsed: grammars tried in order, extra logsources."""

    grammars: tuple[str, ...] = ()
    logsources: tuple[LogSource, ...] = ()


@dataclass(frozen=True, slots=True)
class TimeSpec:
    """The grammar field holding the event time and its named time format."""

    field: str
    format: str


@dataclass(frozen=True, slots=True)
class Route:
    """One validated route entry (see grammars/README.md for each key)."""

    format: str
    title: str = ""
    grammar: str | None = None
    files: tuple[FileGlob, ...] = ()
    sniff: re.Pattern[str] | None = None
    logsources: tuple[LogSource, ...] = ()
    time: TimeSpec | None = None
    records: str = "line"
    record_start: re.Pattern[str] | None = None
    prefilter: str = "raw"
    programs: Mapping[str, Program] = field(default_factory=dict)
    kinds: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    null_values: frozenset[str] = frozenset()
    decode: tuple[str, ...] = ()
    facilities: Mapping[str, tuple[LogSource, ...]] = field(default_factory=dict)
    programs_from: str | None = None
    transports: Mapping[str, str] = field(default_factory=dict)
    transport_logsources: tuple[LogSource, ...] = ()  # of the routes ``transports`` names
    path: str = ""

    @property
    def yearless(self) -> bool:
        """Whether the route's stamps carry no year (the file's year is inferred)."""
        return self.time is not None and self.time.format in YEARLESS

    def event_logsources(self) -> tuple[LogSource, ...]:
        """Every logsource an event of this route can carry (file globs and programs too)."""
        sources = [*self.base_logsources(), *(ls for g in self.files for ls in g.logsources),
                   *(ls for p in self.programs.values() for ls in p.logsources)]
        return tuple(dict.fromkeys(sources))

    def base_logsources(self) -> tuple[LogSource, ...]:
        """The logsources an event may carry whatever program its record names: the route's,
        its facilities' and those of the routes its transports name (journal entries)."""
        sources = [*self.logsources, *(ls for f in self.facilities.values() for ls in f),
                   *self.transport_logsources]
        return tuple(dict.fromkeys(sources))

    def program(self, name: str) -> Program | None:
        """The entry of syslog program ``name`` (``CRON``, ``/usr/sbin/cron``, ``sshd(pam_unix)``)."""
        key = name.rsplit("/", 1)[-1].lower()
        return self.programs.get(key) or self.programs.get(key.split("(", 1)[0])

    def facility_logsources(self, facility: str | None) -> tuple[LogSource, ...]:
        """The logsources ``facilities`` gives an event of syslog ``facility`` (``*``: any
        other)."""
        found = self.facilities.get(facility) if facility else None
        return self.facilities.get(ANY_FACILITY, ()) if found is None else found


@dataclass(frozen=True, slots=True)
class Choice:
    """The route chosen for a file, the logsources its globs add, and why it was chosen."""

    route: Route
    logsources: tuple[LogSource, ...]
    reason: str  # "forced", "sniff", "name" or "fallback"


def strip_rotation(path: str) -> str:
    """``auth.log.2.gz`` → ``auth.log``; ``syslog-20240101`` → ``syslog``; journald's archives
    ``system@….journal`` and ``system.journal~`` → ``system.journal``."""
    path = _JOURNAL_ARCHIVE.sub(".journal", path, count=1)
    return _ROTATION.sub("", path, count=1) or path


@cache
def load_routes(directory: Path | None = None) -> dict[str, Route]:
    """Every route of ``directory`` (default: the bundled grammars), keyed by format.

    Raises:
        GrammarError: a route file is unreadable or invalid, or two share a format.
    """
    directory = directory or grammars_dir()
    routes: dict[str, Route] = {}
    for path in sorted(directory.glob("*.yaml")):
        route = _load_route(path, directory)
        if route.format in routes:
            raise GrammarError(f"format {route.format!r} is also defined in {routes[route.format].path}",
                               Location(str(path)))
        routes[route.format] = route
    if RAW_FORMAT not in routes:
        raise GrammarError(f"no {RAW_FORMAT!r} fallback route", Location(str(directory)))
    for name, route in routes.items():
        if route.programs_from is not None:
            routes[name] = _with_programs_of(route, routes)
        if route.transports:
            routes[name] = _with_transports(routes[name], routes)
    return routes


def _with_transports(route: Route, routes: Mapping[str, Route]) -> Route:
    """``route`` with the logsources of the text routes its ``transports`` name."""
    targets = [routes.get(name) for name in route.transports.values()]
    if any(t is None or t.records in READERS or t.records == JOURNAL_RECORDS for t in targets):
        raise GrammarError(f"transports: {dict(route.transports)} must name text routes",
                           Location(route.path))
    sources = tuple(ls for t in targets if t for ls in t.logsources)
    return replace(route, transport_logsources=sources)


def _with_programs_of(route: Route, routes: Mapping[str, Route]) -> Route:
    """``route`` with the ``programs`` and ``kinds`` of the route its ``programs_from`` names."""
    origin = routes.get(route.programs_from or "")
    if origin is None or origin.programs_from is not None:
        raise GrammarError(f"programs_from: {route.programs_from!r} is not a route with its own "
                           "programs", Location(route.path))
    return replace(route, programs=origin.programs, kinds={**origin.kinds, **route.kinds})


def parse_format_for(specs: Sequence[str], routes: Mapping[str, Route]) -> tuple[tuple[str, str], ...]:
    """``GLOB=FORMAT`` options as (glob, format) pairs.

    Raises:
        UsageError: a spec has no ``=`` or names an unknown format.
    """
    pairs = []
    for spec in specs:
        glob, sep, name = spec.partition("=")
        if not sep or not glob or name not in routes:
            raise UsageError(f"--format-for {spec!r}: expected GLOB=FORMAT with FORMAT one of "
                             + ", ".join(sorted(routes)))
        pairs.append((glob, name))
    return tuple(pairs)


def route_file(file: SourceFile, routes: Mapping[str, Route],
               forced: Sequence[tuple[str, str]] = ()) -> Choice:
    """The route of ``file`` by :func:`choose_route`, from its first bytes."""
    binary = binary_format(file)
    return choose_route(file.source, [] if binary else sniff_lines(file), routes, forced, binary)


def choose_route(source: str, sniffed: Sequence[str], routes: Mapping[str, Route],
                 forced: Sequence[tuple[str, str]] = (), binary: str | None = None) -> Choice:
    """The route of the file at relative path ``source`` whose first lines are ``sniffed``, or
    whose bytes are of the ``binary`` format (:func:`~scanner.normalize.identify.binary_format`).

    A binary file keeps a route its name gives when that route reads the same records
    (``utmp`` stays ``utmp``, an all-zero ``lastlog`` stays ``lastlog``); else its content
    names the route (``wtmp-a.LE`` → ``wtmp``, ``host1-btmp`` → ``btmp``).
    """
    for glob, name in forced:
        if _glob_matches(glob, source) or _glob_matches(glob, strip_rotation(source)):
            return _choice(routes[name], source, "forced")
    by_name = [r for r in routes.values() if _matching_glob(r, source) is not None]
    if binary is not None:
        named = [r for r in by_name if r.records == routes[binary].records
                 or (binary == UNKNOWN_BINARY and r.records in READERS)]
        if named:
            return _choice(named[0], source, "name")
        return _choice(routes[binary], source, "sniff")
    by_content = [r for r in routes.values() if _sniffs(r, sniffed)]
    if by_content:
        preferred = [r for r in by_content if r in by_name]
        return _choice((preferred or by_content)[0], source, "sniff")
    if by_name:
        return _choice(by_name[0], source, "name")
    return _choice(routes[RAW_FORMAT], source, "fallback")


def _choice(route: Route, source: str, reason: str) -> Choice:
    glob = _matching_glob(route, source)
    return Choice(route, glob.logsources if glob else (), reason)


def _matching_glob(route: Route, source: str) -> FileGlob | None:
    stem = strip_rotation(source)
    return next((g for g in route.files if _glob_matches(g.glob, stem)), None)


def _glob_matches(glob: str, path: str) -> bool:
    parts = path.split("/")
    depth = glob.count("/") + 1
    return any(fnmatch.fnmatchcase("/".join(parts[i:]), glob)
               for i in range(max(0, len(parts) - depth), len(parts))) or fnmatch.fnmatchcase(path, glob)


def _sniffs(route: Route, sniffed: Sequence[str]) -> bool:
    if route.sniff is None or not sniffed:
        return False
    hits = sum(1 for line in sniffed if route.sniff.search(line))
    return hits * 2 >= len(sniffed)


def _load_route(path: Path, directory: Path) -> Route:
    where = Location(str(path))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise GrammarError(f"cannot read route: {exc}", where) from None
    if not isinstance(data, dict):
        raise GrammarError("a route file must be a mapping", where)
    unknown = set(data) - _KEYS
    if unknown:
        raise GrammarError(f"unknown key(s): {', '.join(sorted(unknown))}", where)
    try:
        return _build_route(data, path, directory)
    except (TypeError, ValueError, KeyError, AttributeError, re.error) as exc:
        raise GrammarError(f"invalid route: {exc}", where) from None


def _build_route(data: dict[str, Any], path: Path, directory: Path) -> Route:
    name = str(data["format"])
    if name != path.stem:
        raise ValueError(f"format {name!r} must equal the file's stem {path.stem!r}")
    grammar = data.get("grammar")
    programs = {str(k).lower(): _program(v or {}) for k, v in (data.get("programs") or {}).items()}
    for needed in [grammar, *(g for p in programs.values() for g in p.grammars)]:
        if needed and not (directory / f"{needed}.lark").is_file():
            raise ValueError(f"grammar {needed!r} not found ({needed}.lark)")
    decoders = [str(d) for d in data.get("decode") or ()]
    if decoders:
        if unknown_decoders(decoders):
            raise ValueError(f"unknown decoder(s): {', '.join(unknown_decoders(decoders))}")
    records = str(data.get("records", "line"))
    kinds_of_records = [*RECORD_KINDS, *READERS, JOURNAL_RECORDS]
    if records not in kinds_of_records:
        raise ValueError(f"records must be one of {', '.join(kinds_of_records)}")
    prefilter = data.get("prefilter", "raw")
    if prefilter not in PREFILTERS:
        raise ValueError(f"prefilter must be one of {', '.join(PREFILTERS)}")
    return Route(
        format=name,
        title=str(data.get("title", "")),
        grammar=grammar,
        files=tuple(FileGlob(str(f["glob"]), _logsources(f.get("logsources")))
                    for f in data.get("files") or ()),
        sniff=re.compile(data["sniff"]) if data.get("sniff") else None,
        logsources=_logsources(data.get("logsources")),
        time=_time(data.get("time")),
        records=records,
        record_start=re.compile(data["record_start"]) if data.get("record_start") else None,
        prefilter=prefilter,
        programs=programs,
        kinds={str(k): dict(v) for k, v in (data.get("kinds") or {}).items()},
        null_values=frozenset(str(v) for v in data.get("null_values") or ()),
        decode=tuple(decoders),
        facilities={str(k): _logsources(v) for k, v in (data.get("facilities") or {}).items()},
        programs_from=data.get("programs_from"),
        transports={str(k): str(v) for k, v in (data.get("transports") or {}).items()},
        path=str(path),
    )


def _program(data: Mapping[str, Any]) -> Program:
    grammar = data.get("grammar") or ()
    names = (grammar,) if isinstance(grammar, str) else tuple(grammar)
    return Program(tuple(str(n) for n in names), _logsources(data.get("logsources")))


def _logsources(items: Sequence[Mapping[str, Any]] | None) -> tuple[LogSource, ...]:
    return tuple(LogSource.from_dict(item) for item in items or ())


def _time(data: Mapping[str, Any] | None) -> TimeSpec | None:
    if not data:
        return None
    spec = TimeSpec(str(data["field"]), str(data["format"]))
    if not is_known_format(spec.format):
        raise ValueError(f"unknown time format {spec.format!r}")
    return spec
