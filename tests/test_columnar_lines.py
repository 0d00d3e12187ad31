"""The columnar engine's marking of a chunk's lines at once (scanner.columnar.lines).

``DenseLines.marked`` must name exactly the lines in which the prefilter's finder finds a
literal, and decline every chunk where a line is not a record of its own (the record
starts of each chunked route, read by Rust's regex, agree with ``begins_record``), a marked
line is blank, or the text is not ASCII. The events the chunk path makes with it are
compared with the per-line path in tests/test_chunks.py; here it is also checked that a
dense file really takes the marked way and a sparse one does not.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import FIXTURES
from scanner.cli import build_parser
from scanner.columnar.lines import DenseLines
from scanner.config import scan_config
from scanner.errors import Problems
from scanner.match.prefilter import LiteralFinder
from scanner.model import FileStats, SourceFile
from scanner.normalize.normalizer import (Marked, begins_record, chunked, normalize_chunks,
                                          normalize_lines)
from scanner.normalize.routes import Choice, load_routes
from scanner.pipeline import Scan, plan_units
from scanner.sources.open import iter_chunks, iter_lines

ROUTES = load_routes()
CHUNKED_ROUTES = sorted(name for name, route in ROUTES.items() if chunked(route))
# Our own ASCII lines: record starts of each route, continuations, blanks and the control
# characters str.isspace() counts as white space (Rust's \s does not: \x1c-\x1f).
LINES = [
    "Feb 11 10:00:00 vps sshd[2]: Failed password for root from 203.0.113.9 port 4 ssh2",
    "<38>Feb  1 00:00:00 vps su[4]: FAILED SU (to root) bob on pts/0",
    "<13>1 2024-02-11T10:00:00.000Z vps app - - - start",
    "2024-02-11T10:00:00+00:00 vps useradd[5]: new user: name=backdoor",
    "2024/02/11 10:00:00 [error] 1#1: *2 open() failed",
    '203.0.113.7 - - [11/Feb/2024:10:00:00 +0000] "GET /wp-login.php HTTP/1.1" 200 5 "-" "curl"',
    "2024-02-11 10:00:00.000 UTC [7] LOG:  checkpoint starting: time",
    "feb 11 10:00:00 lower-case month",
    "Feb 11 10:00 short stamp", "  indented detail", "\tDETAIL tabbed", "", " ", " \t\r",
    "\x1c", "\x1cFeb 11 10:00:00 after a separator", "\x0bvertical tab first", "\rcarriage",
    "x" * 3000, "Feb 11 10:00:00 vps app[1]: a NUL\x00inside, failed",
]
LITERALS = ({"failed", "wp-login"}, {"feb"}, {"\x1c", " "}, {"zzz-never"}, {"i\u0307", "\u017f"},
            {"-", "~", "&&", "#", "[1]", "a.b", "(?", "\\", "{1}", "$^", "*", "+", "|", ":"})


@pytest.mark.parametrize("route", CHUNKED_ROUTES)
@pytest.mark.parametrize("line", LINES)
def test_record_starts_agree_with_begins_record(route: str, line: str) -> None:
    """A one-line chunk is declined exactly when its line starts no record of the route."""
    marks = DenseLines.of(ROUTES[route], {"zzz-never"})
    assert marks is not None
    assert (marks.marked(line + "\n") is not None) is begins_record(ROUTES[route])(line)


@pytest.mark.parametrize("route", CHUNKED_ROUTES)
@pytest.mark.parametrize("literals", LITERALS, ids=lambda s: "+".join(sorted(s)))
def test_marked_lines_are_those_the_finder_finds(route: str, literals: set[str]) -> None:
    begins = begins_record(ROUTES[route])
    lines = [line for line in LINES if begins(line)] * 3
    text = "".join(line + "\n" for line in lines)
    finder = LiteralFinder(literals)
    marks = DenseLines.of(ROUTES[route], finder.literals)
    assert marks is not None
    found = [i for i, line in enumerate(lines) if finder.finds(line)]
    marked = marks.marked(text)
    if any(not lines[i].strip("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f ") for i in found):
        assert marked is None  # a blank line holding a literal: the finder's way handles it
        return
    assert marked is not None
    indices, starts, ends = marked
    assert indices == found
    assert [text[start:end] for start, end in zip(starts, ends)] == [lines[i] for i in found]


def test_chunks_it_cannot_read_alike_are_declined() -> None:
    syslog = ROUTES["syslog"]
    marks = DenseLines.of(syslog, {"failed"})
    assert marks is not None
    start = "Feb 11 10:00:00 vps sshd[2]: Failed password\n"
    assert marks.marked(start * 2) == ([0, 1], [0, len(start)], [len(start) - 1, 2 * len(start) - 1])
    assert marks.marked(start + "caf\u00e9 FAILED\n") is None  # not ASCII
    assert marks.marked(start + "  continued\n" + start) is None  # a line starting no record
    assert DenseLines.of(ROUTES["nginx_access"], {" "}).marked(start + " \n") is None  # blank
    for pattern in (r"\s*\d", r"(?=Feb)Feb", r"[:]x", r"Feb--", "(?i)feb"):  # read otherwise
        assert DenseLines.of(replace(syslog, record_start=re.compile(pattern)), {"x"}) is None
    assert DenseLines.of(syslog, {"", "x"}) is None  # the finder's empty literal: its own way


class Spy:
    """DenseLines that counts the chunks it marked and those it declined."""

    def __init__(self, marks: DenseLines) -> None:
        self.marks, self.marked_chunks, self.declined = marks, 0, 0

    def marked(self, text: str) -> Marked | None:
        found = self.marks.marked(text)
        self.marked_chunks += found is not None
        self.declined += found is None
        return found


@pytest.mark.parametrize(("literals", "dense"), [({"sshd"}, True), ({"port 4"}, False)])
def test_a_dense_file_takes_the_marked_way(tmp_path: Path, literals: set[str],
                                           dense: bool) -> None:
    """After a first chunk where more than DENSE of the lines hold a literal, the next ones
    are marked at once; a file where few do is searched record by record. Both give the
    per-line path's events, across a Dec→Jan rollover in the skipped lines."""
    lines = [f"Dec 31 23:{m:02d}:00 vps sshd[{m}]: Failed password for root from 203.0.113.{m} "
             f"port {m % 10} ssh2" if m % 3 else f"Dec 31 23:{m:02d}:30 vps CRON[9]: tick"
             for m in range(60)]
    lines += [line.replace("Dec 31 23", "Jan  1 00") for line in lines]
    path = tmp_path / "auth.log"
    path.write_text("".join(line + "\n" for line in lines))
    file = SourceFile(path=path, root=tmp_path, source="auth.log", size=path.stat().st_size,
                      mtime=1707609600.0)
    choice = Choice(ROUTES["syslog"], (), "forced")
    finder = LiteralFinder(literals)
    marks = DenseLines.of(ROUTES["syslog"], finder.literals)
    assert marks is not None
    spy = Spy(marks)
    stats, expected_stats = FileStats("auth.log", "syslog"), FileStats("auth.log", "syslog")
    events = list(normalize_chunks(file, choice, iter_chunks(file, Problems(), 1000), stats,
                                   finder, start_year=2023, marks=spy))
    expected = list(normalize_lines(file, choice, iter_lines(file, Problems()), expected_stats,
                                    start_year=2023, wanted=finder.finds))
    assert events == expected and stats == expected_stats
    assert (spy.marked_chunks > 0, spy.declined) == (dense, 0)
    assert {e.timestamp.year for e in events if e.timestamp} == {2023, 2024}


def test_fixture_formats_mark_as_the_finder_finds() -> None:
    """Every fixture of a chunked route, as one chunk, with a literal of each of its lines."""
    for route in CHUNKED_ROUTES:
        for path in sorted((FIXTURES / "formats").glob(f"{route}*")):
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
            lines = text.splitlines()
            literals = {line[len(line) // 2:len(line) // 2 + 4].lower() for line in lines[::2]}
            finder = LiteralFinder(literals - {""})
            marks = DenseLines.of(ROUTES[route], finder.literals)
            assert marks is not None
            marked = marks.marked("".join(line + "\n" for line in lines))
            if marked is not None:
                assert marked[0] == [i for i, line in enumerate(lines) if finder.finds(line)]


@pytest.mark.parametrize("literals", ({"e"}, {"sshd", "failed", "get /", "error"}),
                         ids=("nearly-every-line", "some-lines"))
def test_real_logs_give_the_per_line_events(corpus: Path, literals: set[str]) -> None:
    """Each real log of a chunked route read in 4 kB chunks, marked once dense, gives the
    per-line path's events and counts."""
    config = scan_config(build_parser().parse_args(["scan", str(corpus / "logs"), "-q"]))
    finder = LiteralFinder(literals)
    marked = 0
    for unit in plan_units(Scan(config)):
        file, choice = unit.file, unit.choice
        marks = DenseLines.of(choice.route, finder.literals) if chunked(choice.route) else None
        if marks is None:
            continue
        spy = Spy(marks)
        stats, expected_stats = FileStats(file.source, "x"), FileStats(file.source, "x")
        events = list(normalize_chunks(file, choice, iter_chunks(file, Problems(), 4096, unit.span),
                                       stats, finder, start_year=unit.start_year, marks=spy))
        expected = list(normalize_lines(file, choice, iter_lines(file, Problems(), unit.span),
                                        expected_stats, start_year=unit.start_year,
                                        wanted=finder.finds))
        assert events == expected, file.source
        assert stats == expected_stats, file.source
        marked += spy.marked_chunks
    assert marked > 0
