"""The chunk path: reading whole-line chunks and parsing only records that hold a literal.

Every test compares the chunk path with the per-line path on the same input: the
same lines, problems, events, counts, integrity stamps and hits, also with tiny
chunk sizes so records and lines straddle chunk boundaries. The scan-level tests
also compare with ``--no-prefilter`` (every rule on every event).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import FIXTURES, REPO
from scanner.cli import build_parser
from scanner.columnar.lines import DenseLines
from scanner.config import scan_config
from scanner.errors import Problems
from scanner.integrity import StreamWatch
from scanner.match.matcher import Matcher, Plan
from scanner.match.prefilter import LiteralFinder
from scanner.model import Event, FileStats, SourceFile
from scanner.normalize import normalizer
from scanner.normalize.derive import PROCESS_CREATION
from scanner.normalize.normalizer import CHUNKED, normalize_chunks, normalize_lines, begins_record
from scanner.normalize.routes import Choice, load_routes
from scanner.normalize.timestamps import parse_time
from scanner.normalize.year import YearTracker
from scanner.pipeline import Scan, UnitResult, Worker, WorkerOptions, plan_units
from scanner.resources import bundled_rules_dir
from scanner.rules.load import CompiledRules, load_rules
from scanner.sources.open import LINE_CAP, iter_chunks, iter_lines

sys.path.insert(0, str(REPO / "bench"))  # bench/ holds scripts, not a package
import generate  # noqa: E402

UTC = timezone.utc
ROUTES = load_routes()
SIZES = (1, 2, 5, 17, 64, 1 << 20)

RAW_CASES = {
    "plain": (b"a\nbb\nccc\n", ["a", "bb", "ccc"]),
    "no final newline": (b"a\nlast", ["a", "last"]),
    "crlf": (b"one\r\ntwo\r\r\nthree\r", ["one", "two\r", "three"]),
    "cr without lf": (b"a\rb\nc\r\n\rd\n", ["a\rb", "c", "\rd"]),
    "blank lines": (b"\n\nx\n\n", ["", "", "x", ""]),
    "utf-8": ("caf\u00e9\n\u0130stanbul\n".encode(), ["caf\u00e9", "\u0130stanbul"]),
    "invalid utf-8 and nul": (b"ok\nbad\xff\nn\x00l\n", ["ok", "bad\\xff", "n\x00l"]),
}


def source_file(path: Path, mtime: float = 1707609600.0) -> SourceFile:
    return SourceFile(path=path, root=path.parent, source=path.name, size=path.stat().st_size,
                      mtime=mtime)


@pytest.mark.parametrize("name", RAW_CASES)
@pytest.mark.parametrize("size", SIZES)
def test_chunks_hold_exactly_the_lines(tmp_path: Path, name: str, size: int) -> None:
    data, expected = RAW_CASES[name]
    path = tmp_path / "log"
    path.write_bytes(data)
    problems, chunk_problems = Problems(), Problems()
    chunks = list(iter_chunks(source_file(path), chunk_problems, size))
    assert all(text.endswith("\n") for _, text in chunks)
    numbered = [pair for first, text in chunks for pair in enumerate(text.split("\n")[:-1], first)]
    assert numbered == list(enumerate(expected, 1))
    assert list(iter_lines(source_file(path), problems)) == numbered
    assert [str(p) for p in chunk_problems] == [str(p) for p in problems]


@pytest.mark.parametrize("size", (1 << 16, 1 << 20))
def test_over_long_lines_are_cut_once_in_any_chunk(tmp_path: Path, size: int) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"a\n" + b"x" * (LINE_CAP + 10) + b"\nb\n" + b"y" * (LINE_CAP * 2) + b"\nc")
    problems = Problems()
    lines = [pair for first, text in iter_chunks(source_file(path), problems, size)
             for pair in enumerate(text.split("\n")[:-1], first)]
    assert [(n, len(t)) for n, t in lines] == [(1, 1), (2, LINE_CAP), (3, 1), (4, LINE_CAP), (5, 1)]
    assert [p.message for p in problems] == [f"2 line(s) longer than {LINE_CAP} bytes cut, first at line 2"]


# Our own lines, shaped like rsyslog's traditional format across a Dec→Jan rollover, with
# continuation lines, blank lines, CRLF, characters whose lower case is longer, and no final newline.
SYSLOG_TEXT = "".join([
    "Dec 31 23:58:01 vps CRON[1]: pam_unix(cron:session): session opened for user root\n",
    "Dec 31 23:59:02 vps sshd[2]: Failed password for invalid user admin from 203.0.113.9 port 4 ssh2\n",
    "  continued detail of the failure\n",
    "\n",
    "Jan  1 00:00:03 vps systemd[1]: Started Session 1 of user bob.\r\n",
    "Jan  1 00:01:04 vps kernel: usb 1-1: new device \u0130\u0130 found\n",
    "Jan  1 00:02:05 vps sshd[3]: Accepted publickey for bob from 198.51.100.7 port 5 ssh2\n",
    "\tindented continuation\n",
    "Jan  2 03:00:06 vps su[4]: FAILED SU (to root) bob on pts/0\n",
    "Jan  2 03:00:07 vps useradd[5]: new user: name=backdoor, UID=0, GID=0",
])
NGINX_TEXT = "".join(
    f'203.0.113.{i % 7} - - [11/Feb/2024:10:{i % 60:02d}:00 +0000] "GET /{path} HTTP/1.1" 200 5 "-" "curl"\n'
    for i, path in enumerate(["index.html", "wp-login.php", "a/../../etc/passwd", "", "x?id=1' or 1=1--"]
                             * 4))
CASES = {"syslog": ("syslog", SYSLOG_TEXT), "nginx_access": ("nginx_access", NGINX_TEXT),
         "postgresql": ("postgresql", (FIXTURES / "formats" / "postgresql.log").read_text()),
         "nginx_error": ("nginx_error", (FIXTURES / "formats" / "nginx_error.log").read_text())}
LITERAL_SETS = ({"failed", "useradd"}, {"i\u0307"}, {"wp-login", "../", "checkpoint", "[error]"},
                {"zzz-never"}, {"vps", " "})


def finder_wanted(finder: LiteralFinder):  # type: ignore[no-untyped-def]
    return lambda text: finder.next_at(text.lower().encode("utf-8", "surrogatepass"), 0) >= 0


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("literals", LITERAL_SETS, ids=lambda s: "+".join(sorted(s)))
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("marked", (False, True), ids=("found", "marked"))
def test_chunk_events_equal_line_events(tmp_path: Path, case: str, literals: set[str],
                                        size: int, marked: bool) -> None:
    """Also with the columnar engine's marking of a dense unit's lines at once."""
    route, text = CASES[case]
    path = tmp_path / "log"
    path.write_bytes(text.encode())
    file, choice = source_file(path), Choice(ROUTES[route], (), "forced")
    finder = LiteralFinder(literals)
    marks = DenseLines.of(ROUTES[route], finder.literals) if marked else None
    line_stats, chunk_stats = FileStats(file.source, route), FileStats(file.source, route)
    by_line = list(normalize_lines(file, choice, iter_lines(file, Problems()), line_stats,
                                   start_year=2023, wanted=finder_wanted(finder)))
    by_chunk = list(normalize_chunks(file, choice, iter_chunks(file, Problems(), size), chunk_stats,
                                     finder, start_year=2023, marks=marks))
    assert by_chunk == by_line
    assert chunk_stats == line_stats
    assert chunk_stats.lines == chunk_stats.parsed + chunk_stats.unparsed + chunk_stats.skipped
    assert chunk_stats.lines == text.count("\n") + (not text.endswith("\n"))


def test_skipped_lines_still_advance_the_year(tmp_path: Path) -> None:
    path = tmp_path / "syslog"
    path.write_text(SYSLOG_TEXT)
    file, choice = source_file(path), Choice(ROUTES["syslog"], (), "forced")
    events = list(normalize_chunks(file, choice, iter_chunks(file, Problems(), 3),
                                   FileStats(file.source, "syslog"), LiteralFinder({"useradd"}),
                                   start_year=2023))
    assert [(e.line, e.timestamp.year if e.timestamp else None) for e in events] == [(10, 2024)]


def test_long_continued_records_are_cut_as_on_the_line_path(tmp_path: Path) -> None:
    text = ("Feb 11 10:00:00 vps app[1]: start\n" + "  detail\n" * 2500
            + "Feb 11 10:00:01 vps app[1]: needle end\n")
    path = tmp_path / "syslog"
    path.write_text(text)
    file, choice = source_file(path), Choice(ROUTES["syslog"], (), "forced")
    for literals in ({"detail"}, {"needle"}, {"start"}):
        finder = LiteralFinder(literals)
        expected = list(normalize_lines(file, choice, iter_lines(file, Problems()),
                                        FileStats("s", "syslog"), wanted=finder_wanted(finder)))
        for size in (100, 1 << 20):
            got = list(normalize_chunks(file, choice, iter_chunks(file, Problems(), size),
                                        FileStats("s", "syslog"), finder))
            assert [(e.line, e.raw) for e in got] == [(e.line, e.raw) for e in expected]


@pytest.mark.parametrize("size", SIZES)
def test_stream_watch_sees_the_same_stamps_per_chunk(tmp_path: Path, size: int) -> None:
    lines = [f"Feb 11 {h:02d}:{m:02d}:00 vps app[1]: tick" for h in range(0, 24, 1) for m in range(0, 60, 5)
             if not 8 <= h < 16] + ["Feb 11 05:00:00 vps app[1]: back in time", "  not a stamp"]
    path = tmp_path / "syslog"
    path.write_text("\n".join(lines))
    file = source_file(path)
    by_line, by_chunk = (StreamWatch(file, ROUTES["syslog"], UTC, 2024) for _ in range(2))
    for number, text in iter_lines(file, Problems()):
        by_line.see(number, text)
    for first, text in iter_chunks(file, Problems(), size):
        by_chunk.see_chunk(first, text)
    assert by_chunk.anomalies() == by_line.anomalies()
    assert {e.fields["anomaly"] for e in by_line.anomalies()} == {"silence", "time_backwards"}
    assert (by_chunk.first, by_chunk.last, by_chunk.stamped) == (by_line.first, by_line.last,
                                                                 by_line.stamped)


# --- the whole pipeline: chunk path vs per-line path vs --no-prefilter, real rules -------------

@pytest.fixture(scope="module")
def rules(corpus: Path) -> CompiledRules:
    problems = Problems()
    return load_rules([corpus / "sigmahq", bundled_rules_dir()], problems)


def scan_tree(root: Path, rules: CompiledRules, prefilter: bool) -> Iterator[UnitResult]:
    config = scan_config(build_parser().parse_args(["scan", str(root), "-q"]))
    worker = Worker(rules, WorkerOptions(prefilter, UTC, None, None))
    for unit in plan_units(Scan(config)):  # only the routes the chunk path serves
        if unit.choice.route.prefilter == "raw" and unit.choice.route.records in CHUNKED:
            yield worker.scan(unit)


def comparable(result: UnitResult) -> tuple[object, ...]:
    hits = [list(runs.keyed()) for runs in (result.hits.shown, *result.hits.parts)]
    return (hits, result.stats, [str(p) for p in result.problems], result.span)


def small_tree(tmp_path: Path) -> Path:
    generate.main(["--size", "600K", "--out", str(tmp_path / "tree")])
    return tmp_path / "tree"


@pytest.mark.parametrize(("tree", "rules_name"), [
    ("demo", "bundled"), ("demo", "corpus+bundled"),
    ("formats", "corpus+bundled"),  # the bundled rules fire on no line there
    ("corpus logs", "bundled"), ("corpus logs", "corpus+bundled"),
    ("generated", "bundled"), ("generated", "corpus+bundled")])
def test_chunk_path_finds_the_same_hits(tree: str, rules_name: str, rules: CompiledRules,
                                        corpus: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    root = {"demo": FIXTURES / "demo" / "var" / "log", "formats": FIXTURES / "formats",
            "corpus logs": corpus / "logs"}.get(tree) or small_tree(tmp_path)
    chosen = rules if rules_name == "corpus+bundled" else load_rules([bundled_rules_dir()], Problems())
    chunked: list[str] = []

    def counted(file: SourceFile, *args: Any, **kwargs: Any) -> Iterator[Event]:
        chunked.append(file.source)
        return normalize_chunks(file, *args, **kwargs)

    monkeypatch.setattr(normalizer, "normalize_chunks", counted)
    by_chunk = [comparable(r) for r in scan_tree(root, chosen, prefilter=True)]
    assert chunked  # the chunk path was taken
    unfiltered = [comparable(r) for r in scan_tree(root, chosen, prefilter=False)]
    monkeypatch.setattr(Plan, "finder", lambda self: None)
    by_line = [comparable(r) for r in scan_tree(root, chosen, prefilter=True)]
    assert by_chunk == by_line
    assert [r[0] for r in by_chunk] == [r[0] for r in unfiltered]
    assert sum(len(hits) for r in by_chunk for hits in r[0]) > 0  # type: ignore[attr-defined]


def test_finder_agrees_with_candidates_on_every_line(corpus: Path) -> None:
    rules = load_rules([bundled_rules_dir()], Problems())
    matcher = Matcher(rules)
    texts = [text for path in sorted((FIXTURES / "formats").iterdir()) + sorted(corpus.glob("logs/*/*.log"))
             for text in path.read_text(errors="replace").splitlines()]
    found = 0
    for route in ("syslog", "nginx_access", "dpkg", "postgresql"):
        plan = matcher.plan((*ROUTES[route].event_logsources(), PROCESS_CREATION))
        finder = plan.finder()
        assert finder is not None
        wanted = [finder_wanted(finder)(t) for t in texts]
        assert wanted == [bool(plan.candidates(t)) for t in texts]
        found += sum(wanted)
    assert 0 < found < len(texts)


def test_no_finder_when_every_record_is_a_candidate(rules: CompiledRules) -> None:
    logsources = (*ROUTES["syslog"].event_logsources(), PROCESS_CREATION)
    assert Matcher(rules, prefilter=False).plan(logsources).finder() is None
    plan = Matcher(rules).plan(logsources)  # without origins, some corpus rules have no literal
    assert plan.finder() is None and plan.candidates("nothing to see")


@pytest.mark.parametrize("size", SIZES)
def test_repeated_stamps_read_as_in_file_order_on_the_chunk_path(tmp_path: Path, size: int) -> None:
    """A stamp repeating the last one read takes its time again only while the year stands:
    each event gets the time the stamps read in file order give (skipped lines of other
    months included), when the year moves away and back (May, Jun, May) and across a
    rollover, with continuation lines and chunk ends between the records."""
    failed = " vps sshd[2]: Failed password for root from 203.0.113.9 port 4 ssh2\n"
    skipped = " vps cron[1]: nothing a rule reads\n"
    lines = [("May  1 10:00:00", failed), ("May  1 10:00:00", failed), ("Jun  1 00:00:00", skipped),
             ("May  1 10:00:00", failed), ("Dec 31 23:59:59", failed),
             ("Dec 31 23:59:59", failed + "  continued detail\n"), ("Jan  1 00:00:00", skipped),
             ("Dec 31 23:59:59", failed), ("Dec 31 23:59:59", failed)]
    path = tmp_path / "auth.log"
    path.write_text("".join(stamp + rest for stamp, rest in lines))
    file, choice = source_file(path), Choice(ROUTES["syslog"], (), "forced")
    events = list(normalize_chunks(file, choice, iter_chunks(file, Problems(), size),
                                   FileStats(file.source, "syslog"), LiteralFinder({"failed"}),
                                   start_year=2023))
    tracker = YearTracker(2023)
    read = [(stamp, parse_time(stamp, "syslog", UTC, tracker.year_for)[0]) for stamp, _ in lines]
    assert [e.timestamp for e in events] == [time for (_, rest), (_, time) in zip(lines, read)
                                             if rest.startswith(failed)]
    assert [e.timestamp.year for e in events] == [2023, 2023, 2023, 2023, 2023, 2024, 2024]
    assert events[4].raw.endswith("continued detail")


@pytest.mark.parametrize(("route", "line", "begins"), [
    ("syslog", "Feb 11 10:00:00 vps app[1]: start", True),
    ("syslog", "2024-02-11T10:00:00+00:00 vps app[1]: start", True),
    ("syslog", "  detail", False),
    ("syslog", "feb 11 10:00:00 lower-case month", False),
    ("syslog", "", False),
    ("syslog", " \t", False),
    ("nginx_error", "2024/02/11 10:00:00 [error] 1#1: x", True),
    ("nginx_error", "\tcontinued", False),
    ("nginx_access", "", True),  # every line of a ``line`` route starts a record
    ("nginx_access", "  indented", True),
])
def test_record_begins(route: str, line: str, begins: bool) -> None:
    assert begins_record(ROUTES[route])(line) is begins


@pytest.mark.parametrize(("line", "begins"), [
    ("text", True), ("  indented", False), ("\tindented", False), ("", False), ("   ", False),
    ("\u3000ideographic space first", True), ("\u3000", False), ("\x0bvertical tab first", True),
])
def test_record_begins_without_record_start(line: str, begins: bool) -> None:
    """A ``continued`` route without ``record_start``: a non-blank line not starting with a
    space or tab begins a record (other white space first still begins one)."""
    route = replace(ROUTES["syslog"], record_start=None)
    assert begins_record(route)(line) is begins
