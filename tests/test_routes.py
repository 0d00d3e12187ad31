"""Route files load and validate; files are routed forced → content → name → raw."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.errors import GrammarError, UsageError
from scanner.model import LogSource
from scanner.normalize.routes import choose_route, load_routes, parse_format_for, strip_rotation

SSHD_LINE = "Feb 11 07:00:01 web1 sshd[1201]: Failed password for root from 203.0.113.7 port 50022 ssh2"
ACCESS_LINE = '203.0.113.7 - - [11/Feb/2024:07:00:01 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.0"'
DPKG_LINE = "2024-01-02 03:04:05 status installed nmap:amd64 7.93+dfsg1-1"


@pytest.mark.parametrize(("path", "stem"), [
    ("auth.log", "auth.log"), ("var/log/auth.log.1", "var/log/auth.log"),
    ("auth.log.2.gz", "auth.log"), ("syslog-20240101", "syslog"), ("syslog-20240101.xz", "syslog"),
    ("nginx/access.log.14.bz2", "nginx/access.log"), ("messages.old", "messages"),
    ("j/system@0f1e-0000000000000001-00061111fcf3da4a.journal", "j/system.journal"),
    ("user-1000.journal~", "user-1000.journal"), ("system.journal", "system.journal"),
])
def test_strip_rotation(path: str, stem: str) -> None:
    assert strip_rotation(path) == stem


@pytest.mark.parametrize(("source", "sniffed", "forced", "fmt", "reason"), [
    ("auth.log", [SSHD_LINE], [], "syslog", "sniff"),
    ("var/log/auth.log.3.gz", [], [], "syslog", "name"),
    ("secure-20240101", [SSHD_LINE], [], "syslog", "sniff"),
    ("notes.txt", [SSHD_LINE, SSHD_LINE], [], "syslog", "sniff"),
    ("auth.log", [DPKG_LINE] * 3, [], "dpkg", "sniff"),  # content wins over name
    ("notes.txt", ["hello", "world"], [], "raw", "fallback"),
    ("app/out.log", [ACCESS_LINE], [("app/*.log", "syslog")], "syslog", "forced"),
    ("app/out.log.1", [], [("app/*.log", "raw")], "raw", "forced"),
])
def test_choose_route(source: str, sniffed: list[str], forced: list[tuple[str, str]],
                      fmt: str, reason: str) -> None:
    choice = choose_route(source, sniffed, load_routes(), forced)
    assert (choice.route.format, choice.reason) == (fmt, reason)


@pytest.mark.parametrize(("source", "logsources"), [
    ("var/log/auth.log.1", (LogSource(product="linux", service="auth"),)),
    ("secure", (LogSource(product="linux", service="auth"),)),
    ("syslog.2.gz", (LogSource(product="linux", service="syslog"),)),
    ("kern.log", ()),
])
def test_glob_logsources(source: str, logsources: tuple[LogSource, ...]) -> None:
    assert choose_route(source, [SSHD_LINE], load_routes()).logsources == logsources


@pytest.mark.parametrize(("program", "grammars", "service"), [
    ("sshd", ("sshd", "pam_unix"), "sshd"), ("sshd-session", ("sshd", "pam_unix"), "sshd"),
    ("sshd(pam_unix)", ("sshd", "pam_unix"), "sshd"), ("CRON", ("cron", "pam_unix"), "cron"),
    ("/usr/sbin/cron", ("cron", "pam_unix"), "cron"), ("sudo", ("sudo", "pam_unix"), "sudo"),
    ("freshclam", (), "clamav"), ("vsftpd", ("pam_unix",), "vsftpd"), ("guacd", (), "guacamole"),
])
def test_program_lookup(program: str, grammars: tuple[str, ...], service: str) -> None:
    entry = load_routes()["syslog"].program(program)
    assert entry is not None and entry.grammars == grammars
    assert [ls.service for ls in entry.logsources] == [service]


def test_unknown_program_has_no_entry() -> None:
    assert load_routes()["syslog"].program("dhclient") is None


@pytest.mark.parametrize(("specs", "message"), [
    (["nolabel"], "expected GLOB=FORMAT"), (["*.log=nosuchformat"], "expected GLOB=FORMAT"),
])
def test_bad_format_for(specs: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_format_for(specs, load_routes())


def test_format_for_pairs() -> None:
    assert parse_format_for(["app/*.log=syslog"], load_routes()) == (("app/*.log", "syslog"),)


RAW = "format: raw\nlogsources: [{product: linux}]\n"


@pytest.mark.parametrize(("yaml_text", "message"), [
    ("format: bad\ngrammar: g\nbogus: 1\n", "unknown key"),
    ("format: bad\ngrammar: missing\n", "grammar 'missing' not found"),
    ("format: bad\ngrammar: g\nprograms: {sshd: {grammar: [g, nope]}}\n", "grammar 'nope' not found"),
    ("format: bad\ngrammar: g\nsniff: '(unclosed'\n", "invalid route"),
    ("format: bad\ngrammar: g\ntime: {field: t, format: sundial}\n", "unknown time format"),
    ("format: other\ngrammar: g\n", "must equal the file's stem"),
    ("format: bad\ngrammar: g\nprefilter: maybe\n", "prefilter must be one of"),
    ("format: bad\ngrammar: g\nrecords: paragraphs\n", "records must be one of"),
    ("format: bad\ngrammar: g\ndecode: [no_such_decoder]\n", "unknown decoder"),
    ("- just a list\n", "must be a mapping"),
    ("format: bad\ngrammar: g\nfiles: [{glob: a, logsources: [{product: [x}]}]\n", "cannot read route"),
    ("format: bad\nrecords: journal\nprograms_from: nowhere\n", "programs_from: 'nowhere' is not"),
    ("format: bad\nrecords: journal\ntransports: {audit: raw2}\n", "must name text routes"),
])
def test_invalid_routes_name_their_file(tmp_path: Path, yaml_text: str, message: str) -> None:
    (tmp_path / "raw.yaml").write_text(RAW)
    (tmp_path / "g.lark").write_text('start: "x" -> x\n')
    (tmp_path / "bad.yaml").write_text(yaml_text)
    with pytest.raises(GrammarError, match=message) as caught:
        load_routes(tmp_path)
    assert str(caught.value).startswith(str(tmp_path / "bad.yaml"))


def test_a_raw_route_is_required(tmp_path: Path) -> None:
    with pytest.raises(GrammarError, match="no 'raw' fallback route"):
        load_routes(tmp_path)


def test_bundled_routes_load() -> None:
    routes = load_routes()
    assert {"syslog", "raw"} <= set(routes)
    assert routes["syslog"].time is not None and routes["syslog"].time.format == "syslog"
