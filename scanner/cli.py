"""Command line: argv → validated options → one stage entry point → exit code.

Exit codes: 0 = ran (and no hit at or above ``--fail-on``), 1 = a hit at or above
``--fail-on`` (``scan``) or a skipped rule (``rules check``), 2 = usage error or
nothing could be done. This is the only module with a catch-all ``except``; a
traceback is printed only with ``--debug``.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import Any, Callable, Sequence

from scanner import __version__
from scanner.config import ENGINES, EVENT_FORMATS
from scanner.errors import LogsigmaError, UsageError

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _add_rule_paths(p: argparse.ArgumentParser) -> None:
    p.add_argument("--placeholders", metavar="FILE",
                   help="YAML mapping placeholder names to value lists, for rules using |expand")


def _add_time_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tz", metavar="ZONE", default=None,
                   help="timezone of log timestamps that carry none (IANA name or ±HH:MM; default UTC)")
    p.add_argument("--year", type=int, metavar="YYYY", default=None,
                   help="year of the newest year-less syslog line (default: inferred from mtimes)")
    p.add_argument("--format-for", action="append", default=[], metavar="GLOB=FORMAT",
                   help="force FORMAT for files whose relative path matches GLOB (repeatable)")


class _Parser(argparse.ArgumentParser):
    """A parser (and, being its subparsers' class, every subcommand's) that takes no abbreviated
    option: ``--form`` is an error naming it, not ``--format`` or ``--format-for``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{"allow_abbrev": False, **kwargs})


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(
        prog="logsigma", description="Run Sigma rules offline over a copied Linux /var/log.")
    parser.add_argument("--version", action="version", version=f"logsigma {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    scan = sub.add_parser("scan", help="scan log files or directories with Sigma rules")
    scan.add_argument("paths", nargs="*", default=["/var/log"], metavar="PATH",
                      help="files or directories to scan (default: /var/log)")
    scan.add_argument("-r", "--rules", action="append", default=[], metavar="PATH",
                      help="extra Sigma rule file or directory (repeatable)")
    scan.add_argument("--no-builtin", action="store_true", help="do not load the bundled rules")
    _add_rule_paths(scan)
    scan.add_argument("-f", "--format", dest="output_format", default="table",
                      choices=("table", "csv", "jsonl", "json", "sarif", "junit", "html"),
                      help="output format (default table)")
    scan.add_argument("-o", "--output", metavar="FILE", help="write hits to FILE (atomically)")
    scan.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                      help="worker processes (default: CPU count)")
    scan.add_argument("--min-level", choices=("informational", "low", "medium", "high", "critical"),
                      help="report only hits at or above this level")
    scan.add_argument("--status", action="append", default=[], metavar="STATUS",
                      help="use only rules with this status (repeatable)")
    scan.add_argument("--tag", action="append", default=[], metavar="TAG",
                      help="use only rules carrying this tag (repeatable, e.g. attack.t1110)")
    scan.add_argument("--rule-id", action="append", default=[], metavar="ID",
                      help="use only this rule id (repeatable)")
    scan.add_argument("--exclude-rule", action="append", default=[], metavar="ID",
                      help="never use this rule id (repeatable)")
    scan.add_argument("--since", metavar="TIME", help="ignore events before TIME (ISO 8601 or date)")
    scan.add_argument("--until", metavar="TIME", help="ignore events after TIME (ISO 8601 or date)")
    _add_time_options(scan)
    scan.add_argument("--fail-on", choices=("informational", "low", "medium", "high", "critical"),
                      help="exit 1 when a hit is at or above this level")
    scan.add_argument("--strict", action="store_true",
                      help="unreadable files and skipped rules are errors (exit 2)")
    scan.add_argument("--baseline", metavar="FILE", help="suppress hits recorded in FILE")
    scan.add_argument("--write-baseline", metavar="FILE", help="record today's hits in FILE")
    scan.add_argument("--no-prefilter", action="store_true",
                      help="evaluate every rule on every event (for benchmarks and checks)")
    scan.add_argument("--engine", choices=ENGINES, default=ENGINES[0],
                      help="the matching engine (default: %(default)s)")
    scan.add_argument("--cluster", metavar="ADDRESS",
                      help="scan on the Dask cluster whose scheduler is at ADDRESS "
                           "(tcp://host:8786), or on one started for this scan: local[:N]")
    scan.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no summary")

    events = sub.add_parser("events", help="write normalized events as JSON lines")
    events.add_argument("paths", nargs="+", metavar="PATH")
    events.add_argument("-f", "--format", dest="output_format", default="jsonl",
                        choices=EVENT_FORMATS, help="output format (default jsonl)")
    events.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    events.add_argument("--coverage", action="store_true",
                        help="print per-file parse coverage instead of events")
    _add_time_options(events)

    sub.add_parser("formats", help="print the format and logsource routing table")

    rules = sub.add_parser("rules", help="inspect Sigma rules")
    rules_sub = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    check = rules_sub.add_parser("check", help="load and compile rules; list skipped ones")
    check.add_argument("paths", nargs="+", metavar="PATH")
    _add_rule_paths(check)
    listing = rules_sub.add_parser("list", help="list rules: id, title, level, status, logsource")
    listing.add_argument("paths", nargs="+", metavar="PATH")
    _add_rule_paths(listing)
    return parser


def _dispatch(args: argparse.Namespace) -> Callable[[argparse.Namespace], int]:
    # Imported lazily so `logsigma --help` stays instant.
    if args.command == "scan":
        from scanner.pipeline import scan_command
        return scan_command
    if args.command == "events":
        from scanner.normalize.commands import events_command
        return events_command
    if args.command == "formats":
        from scanner.normalize.commands import formats_command
        return formats_command
    from scanner.rules.commands import check_command, list_command
    return check_command if args.rules_command == "check" else list_command


def main(argv: Sequence[str] | None = None) -> int:
    """Run logsigma; returns the process exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    try:
        return _dispatch(args)(args)
    except UsageError as exc:
        print(f"logsigma: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except LogsigmaError as exc:
        print(f"logsigma: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("logsigma: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one catch-all, see module doc
        if args.debug:
            traceback.print_exc()
        print(f"logsigma: internal error: {type(exc).__name__}: {exc} (rerun with --debug)",
              file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
