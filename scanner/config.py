"""Validated scan options: raw argparse values become one frozen ``ScanConfig``.

Every check of a user-supplied value happens here, once, and fails with a
:class:`UsageError` naming the option; later stages trust the config.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from pathlib import Path

from scanner.errors import UsageError
from scanner.normalize.timestamps import parse_tz
from scanner.resources import bundled_rules_dir

#: The matching engines ``--engine`` chooses from; the first is the default: the columnar one,
#: faster on every bench tree (README, Performance), byte-identical to the reference one.
ENGINES = ("columnar", "reference")
# What ``logsigma events --format`` writes; the first is the default.
EVENT_FORMATS = ("jsonl", "csv", "table")


@dataclass(frozen=True, slots=True)
class ScanConfig:
    """Everything ``logsigma scan`` needs, checked."""

    paths: tuple[Path, ...]
    rule_paths: tuple[Path, ...]
    placeholders: Path | None
    output_format: str
    output: Path | None
    jobs: int
    min_level: str | None
    statuses: frozenset[str]
    tags: frozenset[str]
    rule_ids: frozenset[str]
    exclude_rules: frozenset[str]
    since: datetime | None
    until: datetime | None
    tz: tzinfo
    year: int | None
    format_for: tuple[tuple[str, str], ...]
    fail_on: str | None
    strict: bool
    baseline: Path | None
    write_baseline: Path | None
    prefilter: bool
    quiet: bool
    engine: str = ENGINES[0]
    cluster: str | None = None  # a Dask scheduler address, or "local[:N]"


def parse_time(option: str, text: str | None, tz: tzinfo, end_of_day: bool = False) -> datetime | None:
    """An ISO 8601 time or a date (a date alone means its start, or its end for --until)."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time.max if end_of_day else time.min)
        else:
            moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option}: not an ISO 8601 date or time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _format_for(items: list[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in items:
        glob, sep, fmt = item.partition("=")
        if not sep or not glob or not fmt:
            raise UsageError(f"--format-for: expected GLOB=FORMAT, got {item!r}")
        pairs.append((glob, fmt))
    return tuple(pairs)


def _existing(option: str, value: str) -> Path:
    path = Path(value)
    if not path.exists():
        raise UsageError(f"{option}: no such file or directory: {value}")
    return path


def _cluster(value: str | None) -> str | None:
    """``--cluster``: ``local``, ``local:N`` (N ≥ 1) or a scheduler address, as given."""
    if value is None or not value.startswith("local"):
        return value
    count = value.removeprefix("local").removeprefix(":")
    if value != "local" and not (value.startswith("local:") and count.isdigit() and int(count)):
        raise UsageError("--cluster: expected local, local:N (N >= 1) or an address, "
                         f"got {value!r}")
    return value


def scan_config(args: argparse.Namespace) -> ScanConfig:
    """Check the ``scan`` arguments and build the config.

    Raises:
        UsageError: a value is malformed or a named input does not exist.
    """
    tz = parse_tz(args.tz)
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    rule_paths = [] if args.no_builtin else [bundled_rules_dir()]
    rule_paths += [_existing("--rules", r) for r in args.rules]
    if not rule_paths:
        raise UsageError("no rules: --no-builtin without any --rules PATH")
    since = parse_time("--since", args.since, tz)
    until = parse_time("--until", args.until, tz, end_of_day=True)
    if since and until and since > until:
        raise UsageError("--since is after --until")
    return ScanConfig(
        paths=tuple(Path(p) for p in args.paths),
        rule_paths=tuple(rule_paths),
        placeholders=_existing("--placeholders", args.placeholders) if args.placeholders else None,
        output_format=args.output_format,
        output=Path(args.output) if args.output else None,
        jobs=args.jobs,
        min_level=args.min_level,
        statuses=frozenset(s.lower() for s in args.status),
        tags=frozenset(t.lower() for t in args.tag),
        rule_ids=frozenset(args.rule_id),
        exclude_rules=frozenset(args.exclude_rule),
        since=since,
        until=until,
        tz=tz,
        year=args.year,
        format_for=_format_for(args.format_for),
        fail_on=args.fail_on,
        strict=args.strict,
        baseline=_existing("--baseline", args.baseline) if args.baseline else None,
        write_baseline=Path(args.write_baseline) if args.write_baseline else None,
        prefilter=not args.no_prefilter,
        quiet=args.quiet,
        engine=args.engine,
        cluster=_cluster(args.cluster),
    )
