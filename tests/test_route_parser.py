"""RouteParser's syslog routing (header grammar, then the program's grammars, looked up once per
program name) against the same steps done one by one with Lark itself, and the chunk path's
single-line records against the line path, on our fixtures and on real corpus syslog files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from scanner.errors import Problems
from scanner.match.prefilter import LiteralFinder
from scanner.model import FileStats, LogSource, SourceFile
from scanner.normalize.grammars import load_grammar
from scanner.normalize.normalizer import (FACILITIES, SEVERITIES, RouteParser, normalize_chunks,
                                          normalize_lines)
from scanner.normalize.routes import Choice, Route, load_routes
from scanner.sources.open import iter_chunks, iter_lines

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DEMO = FIXTURES / "demo" / "var" / "log"
FIXTURE_SYSLOG = [DEMO / "auth.log", DEMO / "auth.log.1", DEMO / "syslog", DEMO / "kern.log",
                  FIXTURES / "formats" / "syslog.log"]
CORPUS_SYSLOG = ["plaso/syslog/syslog", "plaso/syslog/syslog_rsyslog", "plaso/syslog/syslog_osx",
                 "plaso/syslog/syslog_ssh.log", "plaso/syslog/syslog_cron.log",
                 "plaso/syslog/syslog_chromeos", "plaso/syslog/syslog_rsyslog_SyslogProtocol23Format",
                 "lnav/logfile_syslog.0", "lnav/logfile_bad_syslog.0", "elastic-examples/auth.log",
                 "fail2ban/logs/bsd/syslog-plain.txt"]
LINES_PER_FILE = 400  # Lark is the slow reference
ROUTE = load_routes()["syslog"]
REPEATED = re.compile(r"message repeated (\d+) times: \[ ?(.*?) ?\]$")
LITERALS = ({"sshd", "cron", "session", "failed", "kernel"}, {"e"})


def lark_reference(route: Route, text: str) -> tuple[str, dict[str, Any], tuple[LogSource, ...]] | None:
    """The documented syslog steps, each grammar run by Lark: header, PRI split, repeated
    message, the program's grammars in order (first that parses wins), kinds, null values."""
    header = load_grammar(route.grammar).parse_with_lark(text)  # type: ignore[arg-type]
    if header is None:
        return None
    kind, fields = header
    pri = fields.pop("pri", None)
    if pri is not None and int(pri) < len(FACILITIES) * 8:
        fields["facility"], fields["severity"] = FACILITIES[int(pri) // 8], SEVERITIES[int(pri) % 8]
    message = fields.get("message", "")
    repeated = REPEATED.match(message)
    if repeated:
        count, message = repeated.groups()
        fields["repeated"], fields["message"] = count, message
    program = route.program(fields.get("program", ""))
    logsources: tuple[LogSource, ...] = ()
    if program is not None:
        logsources = program.logsources
        for name in program.grammars:
            result = load_grammar(name).parse_with_lark(message)
            if result is not None:
                kind = result[0]
                fields = {**fields, **{k: v for k, v in result[1].items() if k not in fields},
                          "event": kind}
                break
    fields.update(route.kinds.get(kind, {}))
    fields = {k: v for k, v in fields.items() if not (isinstance(v, str) and v in route.null_values)}
    return kind, fields, logsources


def head_lines(path: Path) -> list[str]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        return [line.rstrip("\n") for _, line in zip(range(LINES_PER_FILE), handle)]


def source_file(path: Path) -> SourceFile:
    stat = path.stat()
    return SourceFile(path=path, root=path.parent, source=path.name, size=stat.st_size,
                      mtime=stat.st_mtime)


def check_parses(path: Path) -> None:
    parser = RouteParser(ROUTE)
    lines = head_lines(path)
    assert lines, path
    for text in lines:
        parsed = parser.parse(text)
        got = None if parsed is None else (parsed.kind, parsed.fields, parsed.logsources)
        expected = lark_reference(ROUTE, text)
        assert got == expected, (path.name, text)
        assert got is None or list(got[1]) == list(expected[1]), text  # field order too  # type: ignore[index]


def check_chunks(path: Path) -> None:
    file, choice = source_file(path), Choice(ROUTE, (), "forced")
    for literals in LITERALS:
        finder = LiteralFinder(literals)

        def wanted(text: str) -> bool:
            return finder.next_at(text.lower().encode("utf-8", "surrogatepass"), 0) >= 0

        line_stats, chunk_stats = FileStats("s", "syslog"), FileStats("s", "syslog")
        by_line = list(normalize_lines(file, choice, iter_lines(file, Problems()), line_stats,
                                       start_year=2023, wanted=wanted))
        for size in (97, 1 << 20):
            by_chunk = list(normalize_chunks(file, choice, iter_chunks(file, Problems(), size),
                                             chunk_stats, finder, start_year=2023))
            assert by_chunk == by_line, (path.name, literals, size)
            assert chunk_stats == line_stats
            chunk_stats = FileStats("s", "syslog")


@pytest.mark.parametrize("path", FIXTURE_SYSLOG, ids=lambda p: p.name)
@pytest.mark.parametrize("check", [check_parses, check_chunks])
def test_fixture_syslog(path: Path, check: Any) -> None:
    check(path)


@pytest.mark.parametrize("name", CORPUS_SYSLOG)
@pytest.mark.parametrize("check", [check_parses, check_chunks])
def test_corpus_syslog(corpus: Path, name: str, check: Any) -> None:
    check(corpus / "logs" / name)


def test_program_lookups_stay_right_past_the_cache_bound() -> None:
    parser = RouteParser(ROUTE)
    lines = [f"Feb 11 10:00:00 vps prog{i}[1]: x" for i in range(1000)]
    lines += ["Feb 11 10:00:00 vps sshd[1]: Invalid user admin from 10.0.0.1 port 22",
              "Feb 11 10:00:00 vps /usr/sbin/CRON[2]: (root) CMD (true)"]
    for text in lines:
        parsed = parser.parse(text)
        assert parsed is not None
        assert (parsed.kind, parsed.fields, parsed.logsources) == lark_reference(ROUTE, text)
