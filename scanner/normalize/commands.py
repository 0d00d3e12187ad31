"""The ``logsigma events`` and ``logsigma formats`` subcommands.

``events`` walks the given paths, routes each file, infers the years of
year-less syslog stamps per rotation chain and writes every normalized event as
one JSON object per line (or, with ``--coverage``, per-file parse coverage with
a few escaped samples of unparsed lines). ``formats`` prints the routing table.
Both take validated ``argparse`` options from :mod:`scanner.cli` and return an
exit code; problems go to stderr as one line each and never stop the run.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Iterator, TextIO

from tabulate import tabulate

from scanner.errors import Problems
from scanner.model import Event, FileStats
from scanner.normalize.normalizer import normalize_file
from scanner.normalize.routes import Route, load_routes, parse_format_for, route_file
from scanner.normalize.timestamps import parse_tz
from scanner.normalize.year_plan import plan_years
from scanner.report.output import atomic_text
from scanner.report.safe import csv_cell, escape_control, shorten, terminal_text
from scanner.sources.walk import rotation_chains, walk

EXIT_OK, EXIT_ERROR = 0, 2
EVENT_COLUMNS = ("timestamp", "source", "line", "format", "logsource", "fields", "raw")
SOURCE_WIDTH, RAW_WIDTH = 28, 120
SAMPLE_WIDTH = 160


def events_command(args: argparse.Namespace) -> int:
    """Write normalized events (or coverage with ``--coverage``); 2 when no file was found."""
    tz = parse_tz(args.tz)
    routes = load_routes()
    forced = parse_format_for(args.format_for, routes)
    problems = Problems()
    files = walk([Path(p) for p in args.paths], problems)
    choices = {f.source: route_file(f, routes, forced) for f in files}
    plan = plan_years(rotation_chains(files), choices, tz, args.year)
    output = atomic_text(Path(args.output)) if args.output else nullcontext(sys.stdout)
    with output as out:
        for file in files:
            stats = FileStats(file.source, choices[file.source].route.format, bytes=file.size)
            events = normalize_file(file, choices[file.source], problems, stats, tz=tz,
                                    start_year=plan.start_years.get(file.source))
            if args.coverage:
                for _ in events:
                    pass
                out.write(coverage_text(stats))
            else:
                write_events(events, out, args.output_format)
    for note in plan.notes:
        print(f"logsigma: {note}", file=sys.stderr)
    for problem in problems:
        print(f"logsigma: {escape_control(str(problem))}", file=sys.stderr)
    return EXIT_OK if files else EXIT_ERROR


def event_record(event: Event) -> dict[str, Any]:
    """The JSON object of one event in ``logsigma events`` output."""
    return {
        "timestamp": event.timestamp.isoformat() if event.timestamp else None,
        "source": event.source,
        "line": event.line,
        "format": event.format,
        "logsource": [ls.to_dict() for ls in event.logsources],
        "fields": event.fields,
        "raw": event.raw,
    }


def write_events(events: Iterator[Event], out: TextIO, output_format: str = "jsonl") -> None:
    """Events as JSON lines (non-JSON values such as bytes written as text), CSV rows (the
    record's keys as columns, ``logsource`` and ``fields`` as JSON, cells made safe) or
    table lines (time, ``source:line``, format, raw; escaped, cut), streaming."""
    if output_format == "csv":
        writer = csv.writer(out)
        writer.writerow(EVENT_COLUMNS)
    elif output_format == "table":
        out.write(f"{'timestamp':<32} {'source:line':<{SOURCE_WIDTH}} {'format':<12} raw\n")
    for event in events:
        record = event_record(event)
        if output_format == "csv":
            writer.writerow([csv_cell(_json(record[c]) if c in ("logsource", "fields")
                                      else record[c]) for c in EVENT_COLUMNS])
        elif output_format == "table":
            where = shorten(escape_control(f"{event.source}:{event.line}"), SOURCE_WIDTH)
            out.write(f"{record['timestamp'] or '-':<32} {where:<{SOURCE_WIDTH}} "
                      f"{event.format:<12} {terminal_text(event.raw, RAW_WIDTH)}\n")
        else:
            out.write(_json(record) + "\n")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def coverage_text(stats: FileStats) -> str:
    """The coverage block of one file: counts, then up to three escaped unparsed samples."""
    head = (f"{escape_control(stats.source)}: format={stats.format} lines={stats.lines} "
            f"parsed={stats.parsed} unparsed={stats.unparsed} skipped={stats.skipped}\n")
    return head + "".join(f"  unparsed: {shorten(escape_control(s), SAMPLE_WIDTH)}\n"
                          for s in stats.samples)


FORMATS_WIDTHS = (14, 44, 5, 28, 60)


def formats_command(args: argparse.Namespace) -> int:
    """Print the routing table: format, file globs, sniff, logsources, programs."""
    rows = [route_row(route) for route in load_routes().values()]
    print(tabulate(rows, headers=("format", "files", "sniff", "logsources", "programs"),
                   maxcolwidths=list(FORMATS_WIDTHS)))
    return EXIT_OK


def route_row(route: Route) -> tuple[str, str, str, str, str]:
    """One row of the routing table: format, files, sniff, logsources, programs."""
    files = ", ".join(g.glob + (f" (+{', '.join(map(str, g.logsources))})" if g.logsources else "")
                      for g in route.files)
    # Programs grouped by what they get: "sshd, sshd-session → sshd+pam_unix (linux/*/sshd)".
    groups: dict[str, list[str]] = {}
    for name, program in sorted(route.programs.items()):
        added = f" ({', '.join(map(str, program.logsources))})" if program.logsources else ""
        groups.setdefault(("+".join(program.grammars) or "-") + added, []).append(name)
    programs = "; ".join(f"{', '.join(names)} → {gets}" for gets, names in groups.items())
    return (route.format, files or "-", "yes" if route.sniff else "no",
            ", ".join(map(str, route.base_logsources())) or "-", programs or "-")
