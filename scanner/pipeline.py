"""``logsigma scan``: wire sources → normalize → match → correlate → report.

The main process loads and compiles the rules once, walks the inputs, routes
each file, plans the years of year-less syslog per rotation chain (the reads a plan needs made
by ``--jobs`` processes in a big tree: :func:`planning_map`), and hands one
:class:`WorkUnit` per file to ``--jobs`` worker processes. Each worker builds its
own :class:`~scanner.match.matcher.Matcher` from the rules' generated source (code
objects do not pickle), on this host or on a Dask cluster (``--cluster``: see
:mod:`scanner.execute`), and returns the file's hits (as sorted runs, spilled to a
private temp directory past a bound: see :mod:`scanner.hitruns`; the shown ones apart from
each correlation partition's input: :mod:`scanner.correlate.split`), coverage and
problems. With more than one process scanning (``--jobs``, or a cluster's worker
threads), a big plain file on the chunk path is cut into parts at record boundaries
(:data:`SPLIT_BYTES` and up), one unit each, a year-less
one's parts each starting in the year of its first stamp; the results of a file's
parts are merged back into one (its counts, problems and stream-integrity watch).
The costliest units start first; the main process merges results as they finish
(files listed in unit order), correlates, filters, and renders,
streaming the merged runs (each correlation partition a pass over its own hits; one pass over
the shown and correlation hits, which writes and counts them), so the output is
byte-identical whatever ``--jobs`` is and memory stays bounded whatever the number of
hits. This module owns the ``Problems`` collector of a run and the exit code; it
never writes to the input.
"""

from __future__ import annotations

import argparse
import heapq
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import partial
from operator import itemgetter
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from scanner.baseline import baseline_text, fingerprint, read_baseline
from scanner.config import ENGINES, ScanConfig, scan_config
from scanner.collector import collector_relaxed
from scanner.correlate.engine import fields_read
from scanner.correlate.partition import correlate_part, merge_parts, partitions, shares
from scanner.correlate.split import HitRouting, SplitRuns, SplitWriter
from scanner.errors import Problem, Problems
from scanner.execute import Executor, open_executor
from scanner.hitruns import middle_key, spill_space
from scanner.integrity import INTEGRITY, Span, StreamWatch, chain_anomalies
from scanner.journal_integrity import journal_anomalies
from scanner.match.matcher import Matcher, Plan, event_text
from scanner.match.prefilter import LiteralFinder
from scanner.model import (AnyHit, Event, FileStats, Hit, Keyed, LogSource, RuleInfo,
                           SortKey, SourceFile, level_rank)
from scanner.normalize.year import MonthSpan, month_span
from scanner.normalize.year_plan import plan_years
from scanner.normalize.derive import DERIVE_TRIGGERS, PROCESS_CREATION, with_derived
from scanner.normalize.normalizer import (MAX_SAMPLES, LineMarks, begins_record, chunked,
                                          normalize_file)
from scanner.normalize.routes import (JOURNAL_RECORDS, Choice, Route, load_routes,
                                     parse_format_for, route_file)
from scanner.report.context import Evidence, ReportContext
from scanner.report.output import atomic_text, emit
from scanner.report.progress import Progress
from scanner.report.safe import escape_control
from scanner.report.table import render_summary
from scanner.report.tally import CountedHits, HitTally
from scanner.rules.feeds import can_fire
from scanner.rules.load import CompiledRules, load_rules
from scanner.sources.open import WHOLE, ByteRange, merge_part_problems
from scanner.sources.parts import split_ranges
from scanner.sources.walk import rotation_chains, walk

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
TOP_RULES = 10
# Problem kinds that --strict turns into a failed run: unreadable or damaged input, skipped rules.
STRICT_KINDS = ("source", "rule")
COMPRESSION_GUESS = 8  # how many times its size a compressed log holds, for scheduling only
SPLIT_BYTES = 4 << 20  # plain files are cut into parts of at least this size (bench figures: issue 6)
PLAN_POOL_BYTES = 64 << 20  # a tree this big is planned by --jobs processes (reading 1 GB: ~3 s)
Mapper = Callable[..., Iterable[Any]]  # ``map`` or a process pool's ``map``


@dataclass(frozen=True, slots=True)
class WorkUnit:
    """One file (or a byte range of it) to scan, with its route and the year its year-less
    stamps start in."""

    file: SourceFile
    choice: Choice
    start_year: int | None
    span: ByteRange = WHOLE

    @property
    def size(self) -> int:
        """The bytes this unit reads (before decompression)."""
        return (self.span.end if self.span.end is not None else self.file.size) - self.span.start

    @property
    def cost(self) -> int:
        """The work this unit is expected to take, in bytes of text."""
        return text_bytes(self.file, self.size)


def text_bytes(file: SourceFile, size: int) -> int:
    """About how many bytes of text ``size`` bytes of ``file`` hold (for scheduling only)."""
    return size * (COMPRESSION_GUESS if file.compression else 1)


@dataclass(slots=True)
class UnitResult:
    """What a worker found in one file."""

    hits: SplitRuns  # shown and correlation input, sorted; spilled to disk when many
    stats: FileStats
    problems: list[Problem]
    span: Span  # first and last stamp, stamped lines (for checks across rotation members)
    part: Part | None = None  # set when the unit was a part of a file


@dataclass(slots=True)
class Part:
    """What joins a part's result with those of its file's other parts."""

    span: ByteRange
    watch: StreamWatch


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """What every worker needs besides the rules (all picklable)."""

    prefilter: bool
    tz: tzinfo
    since: datetime | None
    until: datetime | None
    engine: str = ENGINES[0]
    parts: int = 1  # correlation partitions (scanner.correlate.split)


class Worker:
    """The per-process state: one matcher, reused for every file the process scans."""

    def __init__(self, compiled: CompiledRules, options: WorkerOptions) -> None:
        self.matcher = Matcher(compiled, prefilter=options.prefilter)
        self.options = options
        self._routing = HitRouting(compiled.correlations, options.parts)
        reads = fields_read(compiled.correlations)
        # Hits of rules that only feed correlations keep just what correlation reads:
        # a brute force makes one per line, and they are held until the files are merged.
        self._kept_fields = {r.id: tuple(sorted(reads.get(r.id, frozenset())
                                                | reads.get(r.name or "", frozenset())))
                             for r in compiled.rules if not r.output}

    def scan(self, unit: WorkUnit) -> UnitResult:
        """Normalize and match one file (or part of one)."""
        with collector_relaxed():
            return self._scan(unit)

    def _scan(self, unit: WorkUnit) -> UnitResult:
        file, choice = unit.file, unit.choice
        # Events gain a program's logsources only when the record names the program, and
        # derive() makes process_creation events only of sudo COMMAND= lines and audit
        # EXECVE records: rules reached only that way need those words in the record.
        origins = (*((p.logsources, frozenset({name})) for name, p in choice.route.programs.items()
                     if p.logsources), ((PROCESS_CREATION,), DERIVE_TRIGGERS))
        plan = self.matcher.plan((*choice.route.base_logsources(), *choice.logsources), origins)
        problems = Problems()
        stats = FileStats(file.source, choice.route.format, bytes=unit.size)
        watch = StreamWatch(file, choice.route, self.options.tz, unit.start_year)
        finder = plan.finder()
        events = normalize_file(file, choice, problems, stats, tz=self.options.tz,
                                start_year=unit.start_year, observer=watch, finder=finder,
                                wanted=lambda text: bool(plan.candidates(text)), span=unit.span,
                                marks=self._line_marks(choice.route, finder))
        hits = SplitWriter(self._routing)
        hits.extend(self._hits(plan, self._in_window(events)))
        if not unit.span.whole:  # the stream checks wait for the file's other parts
            return UnitResult(hits.close(), stats, problems.items, (None, None, 0),
                              Part(unit.span, watch))
        hits.extend(self.scan_events(watch.logsources, watch.anomalies()))
        return UnitResult(hits.close(), stats, problems.items,
                          (watch.first, watch.last, watch.stamped))

    def _line_marks(self, route: Route, finder: LiteralFinder | None) -> LineMarks | None:
        """What marks the lines of ``route``'s chunks holding ``finder``'s literals at once
        (the reference engine finds them one record at a time)."""
        return None

    def _in_window(self, events: Iterable[Event]) -> Iterable[Event]:
        """The events inside ``--since``/``--until`` (``events`` itself when neither is set)."""
        since, until = self.options.since, self.options.until
        if since is None and until is None:
            return events
        return self._between(events, since, until)

    @staticmethod
    def _between(events: Iterable[Event], since: datetime | None,
                 until: datetime | None) -> Iterator[Event]:
        """The events dated inside ``[since, until]``, and the undated ones."""
        for event in events:
            ts = event.timestamp
            if ts is None or ((since is None or ts >= since) and (until is None or ts <= until)):
                yield event

    def scan_events(self, logsources: Iterable[LogSource], events: Iterable[Event]) -> list[AnyHit]:
        """The hits of already-normalized events (the checks across files)."""
        return list(self._hits(self.matcher.plan(logsources), self._in_window(events)))

    def _hits(self, plan: Plan, events: Iterable[Event]) -> Iterator[AnyHit]:
        return event_hits(plan, self._kept_fields, with_derived(events))


def event_hits(plan: Plan, kept: Mapping[str, tuple[str, ...]],
               events: Iterable[Event]) -> Iterator[AnyHit]:
    """The hits of ``events`` under ``plan``, one event at a time: a rule that only feeds
    correlations keeps just the fields ``kept`` names for it (a :class:`~scanner.model.Reduced`)."""
    candidates, match = plan.candidates, plan.match
    for event in events:
        found = candidates(event_text(event))
        if found:
            for rule in match(event, found):
                names = kept.get(rule.id)
                yield Hit.of(rule, event) if names is None else Hit.reduced(rule, event, names)


def new_worker(compiled: CompiledRules, options: WorkerOptions) -> Worker:
    """The worker of ``options.engine``: every engine scans a :class:`WorkUnit` into a
    :class:`UnitResult` from the same compiled rules, with byte-identical output."""
    if options.engine == "columnar":  # imported (with Polars) only when asked for
        from scanner.columnar.worker import ColumnarWorker
        return ColumnarWorker(compiled, options)
    return Worker(compiled, options)


def rule_filter(config: ScanConfig) -> Callable[[RuleInfo], bool]:
    """The rule selection of ``--status/--tag/--rule-id/--exclude-rule`` as a predicate."""
    def keep(rule: RuleInfo) -> bool:
        if rule.id in config.exclude_rules:
            return False
        if config.rule_ids and rule.id not in config.rule_ids:
            return False
        if config.statuses and (rule.status or "").lower() not in config.statuses:
            return False
        return not config.tags or bool(config.tags & {t.lower() for t in rule.tags})
    return keep


@dataclass(slots=True)
class Scan:
    """The state of one run, filled stage by stage."""

    config: ScanConfig
    problems: Problems = field(default_factory=Problems)
    stats: list[FileStats] = field(default_factory=list)
    time_notes: list[str] = field(default_factory=list)
    chains: list[list[SourceFile]] = field(default_factory=list)
    rules_loaded: int = 0
    rules_skipped: int = 0
    retried: int = 0
    seconds: float = 0.0


def plan_units(scan: Scan, slots: int | None = None) -> list[WorkUnit]:
    """Walk the inputs, route each file, cut big ones into parts for ``slots`` processes
    scanning at once (default ``--jobs``; a cluster's worker threads) and plan the years of
    year-less syslog per chain and part."""
    config = scan.config
    routes = load_routes()
    forced = parse_format_for([f"{g}={f}" for g, f in config.format_for], routes)
    files = walk(list(config.paths), scan.problems)
    choices = {f.source: route_file(f, routes, forced) for f in files}
    scan.chains = rotation_chains(files)
    slots = config.jobs if slots is None else slots
    counts = {f.source: part_count(f, choices[f.source], slots) for f in files}
    reads = planning_reads(files, choices, counts)
    # forked processes: not beside a Dask client's threads (--cluster), which a fork could
    # catch holding a lock
    with planning_map(config.jobs if config.cluster is None else 1,
                      sum(f.size for f in files)) as mapper:
        planned = dict(zip((f.source for f in reads), mapper(
            plan_file, reads, [choices[f.source] for f in reads], [counts[f.source] for f in reads])))
    parts = {f.source: planned[f.source].parts if f.source in planned else [WHOLE] for f in files}
    years = plan_years(scan.chains, choices, config.tz, config.year,
                       {source: plan.months for source, plan in planned.items()
                        if plan.months is not None})
    scan.time_notes += years.notes
    return [WorkUnit(file, choices[file.source], years.start_year(file.source, span.first_line), span)
            for file in files for span in parts[file.source]]


@contextmanager
def planning_map(jobs: int, size: int) -> Iterator[Mapper]:
    """How planning reads files (line counts of parts, month spans of year-less chains): the
    ``map`` of ``jobs`` local processes when the tree holds at least :data:`PLAN_POOL_BYTES`
    (the reads of a big tree take seconds before any unit starts), else the builtin ``map``."""
    if jobs <= 1 or size < PLAN_POOL_BYTES:
        yield map
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield pool.map


def planning_reads(files: Sequence[SourceFile], choices: Mapping[str, Choice],
                   counts: Mapping[str, int]) -> list[SourceFile]:
    """The files planning reads (those cut into parts, those of year-less routes), costliest
    first: read by one ``map``, a process done with a file goes on to the next costliest one,
    and the longest reads do not come last."""
    return sorted((f for f in files if counts[f.source] > 1 or choices[f.source].route.yearless),
                  key=lambda f: text_bytes(f, f.size), reverse=True)


@dataclass(frozen=True, slots=True)
class FilePlan:
    """What planning reads of one file: the byte ranges it is scanned in, and the month span
    of its year-less stamps (``None``: its route reads none)."""

    parts: list[ByteRange]
    months: MonthSpan | None


def plan_file(file: SourceFile, choice: Choice, count: int) -> FilePlan:
    """The reads planning makes of ``file``: its ``count`` parts, then the month span with the
    first lines of the later ones, when its stamps are year-less."""
    parts = file_parts(file, choice, count) if count > 1 else [WHOLE]
    months = (month_span(file, [span.first_line for span in parts[1:]])
              if choice.route.yearless else None)
    return FilePlan(parts, months)


def part_count(file: SourceFile, choice: Choice, jobs: int) -> int:
    """How many parts ``file`` is cut into: ``2 * jobs``, fewer when that would make them smaller
    than :data:`SPLIT_BYTES`; one unless it is plain and on the chunk path."""
    count = min(2 * jobs, file.size // SPLIT_BYTES)
    if jobs <= 1 or file.compression is not None or not chunked(choice.route) or count < 2:
        return 1
    return count


def file_parts(file: SourceFile, choice: Choice, count: int) -> list[ByteRange]:
    """The byte ranges ``file`` is scanned in: ``count`` parts of about equal size, cut at record
    starts (one, whole, when it cannot be read)."""
    route = choice.route
    try:
        return split_ranges(file, -(-file.size // count), begins_record(route))
    except OSError:  # scanned whole, whose read reports the trouble
        return [WHOLE]


def merge_results(units: Sequence[WorkUnit], results: Iterable[tuple[int, UnitResult]],
                  scan: Scan, compiled: CompiledRules, options: WorkerOptions) -> SplitRuns:
    """All hits of all files, plus those of the checks across rotation members, sorted.

    Results come in any order: hits are taken as they come (equal sort keys only occur
    within one unit), a file's counts, problems and watch once all its parts are in, and
    the files are listed in unit order, so the run is the same whatever finished first.
    """
    hits = SplitWriter(HitRouting(compiled.correlations, options.parts))
    expected = Counter(unit.file.source for unit in units)
    waiting: dict[str, list[tuple[int, UnitResult]]] = {}
    files: list[tuple[int, FileResult]] = []
    anomalies: list[Event] = []
    for index, result in results:
        hits.add(result.hits)
        parts = waiting.setdefault(result.stats.source, [])
        parts.append((index, result))
        if len(parts) == expected[result.stats.source]:
            del waiting[result.stats.source]
            parts.sort(key=lambda part: part[0])
            files.append((parts[0][0], join_parts([r for _, r in parts], anomalies)))
    spans: dict[str, Span] = {}
    for _, file in sorted(files, key=lambda item: item[0]):
        scan.stats.append(file.stats)
        scan.problems.extend(file.problems)
        if file.span[2]:
            spans[file.stats.source] = file.span
    anomalies += chain_anomalies(scan.chains, spans)
    anomalies += journal_anomalies(u.file for u in units
                                   if u.choice.route.records == JOURNAL_RECORDS)
    if anomalies:  # rare: only then is a matcher compiled in the main process
        hits.extend(new_worker(compiled, options).scan_events((INTEGRITY,), anomalies))
    return hits.close()


@dataclass(slots=True)
class FileResult:
    """What the main process keeps of a file once its parts are in (its hits go on at once)."""

    stats: FileStats
    problems: list[Problem]
    span: Span


def join_parts(parts: Sequence[UnitResult], anomalies: list[Event]) -> FileResult:
    """One file's counts, problems and span from the results of its parts (in file order);
    the stream-integrity events of the joined watch go to ``anomalies``, to be matched in
    the main process."""
    if len(parts) == 1 and parts[0].part is None:
        return FileResult(parts[0].stats, parts[0].problems, parts[0].span)
    stats = FileStats(parts[0].stats.source, parts[0].stats.format)
    for part in parts:
        for name in ("lines", "parsed", "unparsed", "skipped", "bytes"):
            setattr(stats, name, getattr(stats, name) + getattr(part.stats, name))
        stats.samples += part.stats.samples[:MAX_SAMPLES - len(stats.samples)]
    watch, *later = [p.part.watch for p in parts if p.part is not None]
    for other in later:
        watch.absorb(other)
    anomalies += watch.anomalies()
    return FileResult(stats, merge_part_problems(p for part in parts for p in part.problems),
                      (watch.first, watch.last, watch.stamped))


def select_hits(hits: SplitRuns, compiled: CompiledRules, scan: Scan,
                executor: Executor) -> CountedHits:
    """Correlate, then keep what the user asked to see: a view giving those hits in output
    order, read again from their runs at each iteration, and counting them as the output is
    written (with several slots, at a middle key it splits for two processes to write:
    scanner.report.halves). The correlation partitions (scanner.correlate.partition) each
    read their own hits: a share of them, partition 0 among them, here, the others by the
    ``executor`` meanwhile when there are many, else all here in turn."""
    config = scan.config
    specs, parts = compiled.correlations, hits.parts
    mine, *theirs = shares(parts, executor.slots)
    with executor.helpers(parts, specs, theirs) as others:
        found = [correlate_part(parts[part], part, len(parts), specs, config.engine,
                                scan.problems if part == 0 else None) for part in mine]
        found += [runs for share in others for runs in share.result()]
    base = hits.shown
    floor = level_rank(config.min_level) if config.min_level else None
    known = read_baseline(config.baseline) if config.baseline else frozenset()

    def wanted(since: SortKey | None) -> Iterator[Keyed]:  # ties: base before correlation hits
        merged = heapq.merge(base.keyed(since), merge_parts(found, since), key=itemgetter(0))
        return (k for k in merged if floor is None or level_rank(k[1].rule.level) >= floor)

    def new(hit: Hit) -> bool:
        return not known or fingerprint(hit) not in known

    return CountedHits(wanted, new, middle_key([base, *found]) if executor.slots > 1 else None)


def reported_rules(compiled: CompiledRules) -> tuple[RuleInfo, ...]:
    """The rules whose hits a scan may report: output base rules, then correlations."""
    return (*(r for r in compiled.rules if r.output), *(c.rule for c in compiled.correlations))


def summarize(scan: Scan, tally: HitTally) -> dict[str, Any]:
    """The run summary shared by the table footer and ``--format json``."""
    lines = sum(s.lines for s in scan.stats)
    by_level = tally.by_level
    return {
        "files": len(scan.stats),
        "bytes": sum(s.bytes for s in scan.stats),
        "lines": lines,
        "parsed": sum(s.parsed for s in scan.stats),
        "unparsed": sum(s.unparsed for s in scan.stats),
        "skipped": sum(s.skipped for s in scan.stats),
        "seconds": scan.seconds,
        "lines_per_second": lines / scan.seconds if scan.seconds else 0.0,
        "formats": dict(Counter(s.format for s in scan.stats)),
        "rules_loaded": scan.rules_loaded,
        "rules_skipped": scan.rules_skipped,
        "hits": tally.hits,
        "hits_by_level": {lvl: by_level[lvl] for lvl in sorted(by_level, key=level_rank, reverse=True)},
        "top_rules": tally.by_title.most_common(TOP_RULES),
        "suppressed_by_baseline": tally.suppressed,
        "units_retried": scan.retried,
        "time_notes": scan.time_notes,
        "problem_counts": dict(scan.problems.counts()),
        "problems": [str(p) for p in scan.problems],
    }


def exit_code(scan: Scan, tally: HitTally) -> int:
    """2 under --strict after an input or rule problem, 1 for a hit at or above --fail-on, else 0."""
    config = scan.config
    counts = scan.problems.counts()
    if config.strict and any(counts[kind] for kind in STRICT_KINDS):
        return EXIT_ERROR
    if (config.fail_on and tally.top_rank is not None
            and tally.top_rank >= level_rank(config.fail_on)):
        return EXIT_FINDINGS
    return EXIT_OK


def run_scan(config: ScanConfig) -> int:
    """Run a whole scan; returns the exit code."""
    started = time.monotonic()
    scan = Scan(config)
    compiled = load_rules(list(config.rule_paths), scan.problems, config.placeholders, can_fire,
                          config.jobs)
    scan.rules_skipped = scan.problems.counts()["rule"]
    compiled = compiled.select(rule_filter(config))
    scan.rules_loaded = compiled.loaded
    if not compiled.rules and not compiled.unfed:
        _print_problems(scan.problems)
        print("logsigma: error: no rule loaded", file=sys.stderr)
        return EXIT_ERROR
    # hits beyond a bound wait on disk, never in the scanned tree
    with spill_space(), open_executor(config.jobs, config.cluster, config.engine) as executor:
        options = WorkerOptions(config.prefilter, config.tz, config.since, config.until,
                                config.engine, partitions(compiled.correlations, executor.slots))
        units = plan_units(scan, executor.slots)  # big files in parts for the processes there are
        if not units:
            _print_problems(scan.problems)
            print("logsigma: error: no readable input file", file=sys.stderr)
            return EXIT_ERROR
        progress = Progress(sum(u.size for u in units), enabled=not config.quiet)
        try:
            with closing(executor.run_units(units, partial(new_worker, compiled, options),
                                            progress)) as results:
                hits = merge_results(units, results, scan, compiled, options)
            scan.retried = executor.retried
        finally:
            progress.close()
        # the hits read once more here (the output, which counts them) make no cycles, and
        # the collector's default thresholds doubled what reading one costs (bench/corrhit_codec.py)
        with collector_relaxed():
            shown = select_hits(hits, compiled, scan, executor)
            scan.seconds = time.monotonic() - started
            emit(shown, lambda: summarize(scan, shown.tally()), config.output_format,
                 config.output, ReportContext(
                     reported_rules(compiled), config.fail_on, config.paths,
                     {u.file.source: Evidence(u.file, u.choice.route) for u in units}))
            tally = shown.tally()
            summary = summarize(scan, tally)
        if config.write_baseline:
            with atomic_text(config.write_baseline) as out:
                out.write(baseline_text(shown))
    if not config.quiet and config.output_format != "json":
        sys.stderr.write(render_summary(summary))
    return exit_code(scan, tally)


def _print_problems(problems: Problems) -> None:
    for problem in problems:
        print(f"logsigma: {escape_control(str(problem))}", file=sys.stderr)


def scan_command(args: argparse.Namespace) -> int:
    """The ``scan`` subcommand."""
    return run_scan(scan_config(args))
