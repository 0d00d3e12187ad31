"""The normalizer: coverage counters, prefilters, logsources, times and streaming."""

from __future__ import annotations

import gzip
import itertools
import json
import os
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest

from scanner.cli import main
from scanner.errors import Problems
from scanner.model import FileStats, LogSource, SourceFile
from scanner.normalize.binary import encode_utmp
from scanner.normalize.normalizer import RouteParser, normalize_file, normalize_lines
from scanner.normalize.commands import route_row
from scanner.normalize.routes import Choice, Route, choose_route, load_routes
from scanner.normalize.timestamps import parse_time
from scanner.normalize.year import YearTracker

UTC = timezone.utc
LINUX = LogSource(product="linux")
AUTH = LogSource(product="linux", service="auth")
FILE = SourceFile(path=Path("/nonexistent/auth.log"), root=Path("/nonexistent"), source="auth.log",
                  size=0, mtime=datetime(2024, 3, 1, tzinfo=UTC).timestamp())
LINES = [
    "Dec 31 23:59:59 web1 sshd[10]: Failed password for root from 203.0.113.7 port 50022 ssh2",
    "",
    "Jan  1 00:00:01 web1 sudo:    alice : TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/bin/id",
    "Jan  1 00:00:02 web1 backup[11]: traceback follows",
    "  File \"/opt/backup.py\", line 3",
    "Jan  1 00:00:03 web1 dhclient[12]: DHCPACK of 10.0.2.15",
]


def numbered(lines: list[str]) -> list[tuple[int, str]]:
    return list(enumerate(lines, 1))


def run(lines: list[str], source: str = "auth.log", **options: object) -> tuple[list, FileStats]:
    choice = choose_route(source, lines[:5], load_routes())
    stats = FileStats(source, choice.route.format)
    events = list(normalize_lines(replace(FILE, source=source), choice, numbered(lines), stats,
                                  **options))  # type: ignore[arg-type]
    return events, stats


def test_every_line_is_counted_once() -> None:
    events, stats = run(["no header here"] + LINES, start_year=2023)
    assert (stats.lines, stats.parsed, stats.unparsed, stats.skipped) == (7, 5, 1, 1)
    assert [e.line for e in events] == [1, 2, 4, 5, 7]
    assert events[3].raw == LINES[3] + "\n" + LINES[4]  # a continuation line joins its message
    assert stats.lines == stats.parsed + stats.unparsed + stats.skipped


def test_unparsed_lines_still_yield_events_and_samples() -> None:
    lines = [f"garbage {i}" for i in range(5)]
    events, stats = run(lines, source="notes.txt")
    assert (stats.lines, stats.unparsed) == (5, 5) and stats.samples == lines[:3]
    assert all(not e.parsed and e.fields == {"message": e.raw} and e.format == "raw" for e in events)
    assert events[0].logsources == (LINUX,) and events[0].time_note == "record not parsed"


def test_logsources_by_file_and_program() -> None:
    events, _ = run(LINES, start_year=2023)
    by_program = {e.fields["program"]: e.logsources for e in events}
    assert by_program["sshd"] == (LINUX, AUTH, LogSource(product="linux", service="sshd"))
    assert by_program["sudo"] == (LINUX, AUTH, LogSource(product="linux", service="sudo"))
    assert by_program["dhclient"] == (LINUX, AUTH)
    events, _ = run(LINES, source="kern.log", start_year=2023)
    assert events[-1].logsources == (LINUX,)


def test_fields_event_kind_and_constants() -> None:
    events, _ = run(["Jan  1 00:00:01 web1 sshd[10]: Invalid user admin from 198.51.100.9 port 39810"])
    assert events[0].fields == {"host": "web1", "program": "sshd", "pid": "10", "event": "invalid_user",
                                "message": "Invalid user admin from 198.51.100.9 port 39810",
                                "user": "admin", "src_ip": "198.51.100.9", "src_port": "39810",
                                "invalid_user": True}


def test_null_values_are_dropped() -> None:
    events, _ = run(["<13>1 2024-02-11T06:25:01Z web1 app - - - hello"])
    assert events[0].fields == {"host": "web1", "program": "app", "message": "hello",
                                "facility": "user", "severity": "notice"}


@pytest.mark.parametrize(("fields", "kept"), [
    ({"a": "-", "b": "x", "c": "-"}, {"b": "x"}),
    ({"a": ["-", "x"], "b": "-", "c": 3}, {"a": ["-", "x"], "c": 3}),  # a list is not a null
    ({"a": {"k": "-"}, "b": "y"}, {"a": {"k": "-"}, "b": "y"}),
    ({"a": 0, "b": "-", "c": None, "d": 1.5, "e": True, "f": "x"},  # hashable, only text is null
     {"a": 0, "c": None, "d": 1.5, "e": True, "f": "x"}),
    ({"a": "x"}, {"a": "x"}),
])
def test_null_values_are_dropped_whatever_the_other_values(fields: dict[str, object],
                                                           kept: dict[str, object]) -> None:
    parser = RouteParser(Route(format="pre", null_values=frozenset({"-"})))
    parsed = parser.parse("text", fields)
    assert parsed is not None and parsed.fields == kept
    assert list(parsed.fields) == list(kept)  # order kept


def test_times_follow_the_start_year_across_a_rollover() -> None:
    events, _ = run(LINES, start_year=2023, tz=timezone.utc)
    assert [e.timestamp.year for e in events] == [2023, 2024, 2024, 2024]
    assert all("time" not in e.fields for e in events)


def test_without_a_plan_the_mtime_year_is_used() -> None:
    events, _ = run(LINES[:1])
    assert events[0].timestamp == datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_raw_prefilter_skips_before_parsing() -> None:
    events, stats = run(LINES, wanted=lambda raw: "sudo" in raw, start_year=2023)
    assert [e.fields["program"] for e in events] == ["sudo"]
    assert (stats.parsed, stats.skipped, stats.lines) == (1, 5, 6)


def test_fields_prefilter_sees_parsed_values() -> None:
    route = replace(load_routes()["syslog"], prefilter="fields")
    choice = Choice(route, (), "forced")
    seen: list[str] = []

    def wanted(text: str) -> bool:
        seen.append(text)
        return "\0invalid_user\0" in text or text.endswith("\0True")

    stats = FileStats("auth.log", "syslog")
    lines = ["Jan  1 00:00:01 web1 sshd[10]: Invalid user admin from 198.51.100.9", LINES[5]]
    events = list(normalize_lines(FILE, choice, numbered(lines), stats, wanted=wanted))
    assert [e.line for e in events] == [1] and stats.skipped == 1
    assert seen[0].startswith(lines[0] + "\0")


def test_streaming_reads_lazily() -> None:
    def endless() -> Iterator[tuple[int, str]]:
        for n in itertools.count(1):
            yield n, f"Jan  1 00:00:{n % 60:02d} web1 app[1]: line {n}"

    choice = choose_route("syslog", [], load_routes())
    stats = FileStats("syslog", "syslog")
    first = list(itertools.islice(normalize_lines(FILE, choice, endless(), stats, start_year=2024), 3))
    assert [e.fields["message"] for e in first] == ["line 1", "line 2", "line 3"]


@pytest.mark.parametrize("name", ["auth.log", "auth.log.1.gz"])
def test_normalize_file_reads_plain_and_compressed(tmp_path: Path, name: str) -> None:
    data = ("\n".join(LINES) + "\n").encode()
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    file = SourceFile(path=path, root=tmp_path, source=name, size=path.stat().st_size,
                      mtime=path.stat().st_mtime, compression="gz" if name.endswith(".gz") else None)
    problems = Problems()
    stats = FileStats(name, "syslog")
    choice = choose_route(name, LINES[:5], load_routes())
    events = list(normalize_file(file, choice, problems, stats, start_year=2023))
    assert len(events) == 4 and stats.lines == 6 and len(problems) == 0


def write_tree(tmp_path: Path) -> Path:
    """A small /var/log copy: a rotated auth.log chain and an unknown text file."""
    log = tmp_path / "log"
    log.mkdir()
    (log / "auth.log.1").write_text(LINES[0] + "\n")
    (log / "auth.log").write_text("\n".join(LINES[2:]) + "\n")
    (log / "notes.txt").write_text("hello\x1b[31m\n")
    for name, month in (("auth.log.1", 12), ("auth.log", 1)):
        stamp = datetime(2024 if month == 1 else 2023, month, 31 if month == 12 else 2, tzinfo=UTC).timestamp()
        os.utime(log / name, (stamp, stamp))
    return log


def test_events_command_writes_jsonl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["events", str(write_tree(tmp_path))]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    first = records[0]
    assert set(first) == {"timestamp", "source", "line", "format", "logsource", "fields", "raw"}
    assert (first["source"], first["timestamp"], first["format"]) == \
        ("auth.log", "2024-01-01T00:00:01+00:00", "syslog")
    assert {"product": "linux", "service": "sudo"} in first["logsource"]
    old = next(r for r in records if r["source"] == "auth.log.1")
    assert old["timestamp"] == "2023-12-31T23:59:59+00:00" and old["fields"]["event"] == "failed"
    assert [r["format"] for r in records if r["source"] == "notes.txt"] == ["raw"]


def test_events_coverage_escapes_samples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["events", "--coverage", "--year", "2020", str(write_tree(tmp_path))]) == 0
    captured = capsys.readouterr()
    assert "auth.log: format=syslog lines=4 parsed=4 unparsed=0 skipped=0" in captured.out
    assert "notes.txt: format=raw lines=1 parsed=0 unparsed=1 skipped=0\n  unparsed: hello\\x1b[31m" \
        in captured.out
    assert "--year" in captured.err


def test_formats_command_lists_routes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["formats"]) == 0
    out = capsys.readouterr().out
    assert "syslog" in out and "raw" in out and "nginx_access" in out
    programs = route_row(load_routes()["syslog"])[4]
    assert "sshd, sshd-session → sshd+pam_unix (linux/*/sshd)" in programs
    assert "sudo → sudo+pam_unix (linux/*/sudo)" in programs


def test_binary_records_get_the_route_format_and_logsources(tmp_path: Path) -> None:
    path = tmp_path / "wtmp"
    login = {"type": "USER_PROCESS", "pid": 4242, "tty": "pts/0", "user": "alice", "host": "192.0.2.5",
             "src_ip": "192.0.2.5", "time": datetime(2024, 2, 11, 7, 0, tzinfo=UTC)}
    path.write_bytes(encode_utmp(login) * 2)
    file = SourceFile(path=path, root=tmp_path, source="wtmp", size=path.stat().st_size,
                      mtime=path.stat().st_mtime)
    choice = choose_route("wtmp", [], load_routes())
    stats, problems = FileStats("wtmp", "wtmp"), Problems()
    events = list(normalize_file(file, choice, problems, stats))
    assert [(e.format, e.logsources, e.fields["user"]) for e in events] == \
        [("wtmp", (LogSource(product="linux", service="wtmp"),), "alice")] * 2
    assert (stats.lines, stats.parsed) == (2, 2) and len(problems) == 0


def test_a_repeated_stamp_keeps_the_year_it_has_read_again() -> None:
    """Lines of one second share a stamp, whose time is read once while the year stands: each
    event still gets the time the stamp read in file order gives, across a rollover, a line
    skipped by the prefilter in another month, and the same stamp text a year later."""
    failed = " web1 sshd[10]: Failed password for root from 203.0.113.7 port 50022 ssh2"
    stamps = ["Dec 31 23:59:59", "Dec 31 23:59:59", "Jan  1 00:00:00", "Jan  1 00:00:00",
              "Feb  2 10:00:00", "Dec 31 23:59:59", "Dec 31 23:59:59"]
    lines = [stamp + failed for stamp in stamps]
    lines.insert(6, "Mar  3 00:00:00 web1 cron[2]: nothing a rule reads")  # Dec → Mar: a new year
    events, stats = run(lines, start_year=2023, wanted=lambda text: "failed" in text.lower())
    tracker = YearTracker(2023)
    read = [parse_time(line[:15], "syslog", UTC, tracker.year_for)[0] for line in lines]
    assert stats.skipped == 1 and [e.timestamp for e in events] == read[:6] + read[7:]
    assert [e.timestamp.year for e in events] == [2023, 2023, 2024, 2024, 2024, 2024, 2025]
