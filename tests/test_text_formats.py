"""The non-syslog text formats: routes, grammars, records and decoders on our samples and real logs.

Each route is run here the way the normalizer runs it (records → grammar → decoders →
null values → kind constants), so these tests do not wait for the normalizer. The
corpus tests read third-party logs in place through the ``corpus`` fixture.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pytest
import yaml

from scanner.normalize.decoders import decode, unknown_decoders
from scanner.normalize.grammars import load_grammar
from scanner.normalize.records import RECORD_KINDS, assemble
from scanner.normalize.routes import choose_route, load_routes
from scanner.resources import grammars_dir

from conftest import FIXTURES

FORMATS = ["nginx_access", "apache_access", "access_log", "nginx_error", "apache_error", "dpkg",
           "alternatives", "apt_history", "postgresql", "audit", "fail2ban", "jsonl"]
EXPECT = "# expect: "


@dataclass
class Parsed:
    line: int
    kind: str | None  # None: unparsed
    fields: dict[str, Any]


def route(name: str) -> dict[str, Any]:
    return yaml.safe_load((grammars_dir() / f"{name}.yaml").read_text(encoding="utf-8"))


def run_route(entry: dict[str, Any], lines: Iterable[tuple[int, str]]) -> list[Parsed]:
    """Records of ``lines`` parsed, decoded and cleaned as the route says."""
    start = re.compile(entry["record_start"]) if "record_start" in entry else None
    grammar = load_grammar(entry["grammar"]) if "grammar" in entry else None
    out = []
    for record in assemble(entry["records"], lines, start):
        if grammar is None:
            result = ("json", record.fields) if record.fields is not None else None
        else:
            result = grammar.parse(record.text)
        if result is None:
            out.append(Parsed(record.line, None, {}))
            continue
        kind, fields = result
        fields = decode(entry.get("decode", []), fields)
        nulls = entry.get("null_values", [])
        fields = {k: v for k, v in fields.items() if not (isinstance(v, str) and v in nulls)}
        out.append(Parsed(record.line, kind, fields | entry.get("kinds", {}).get(kind, {})))
    return out


def read_lines(path: Path, skip_comments: bool = False) -> list[tuple[int, str]]:
    text = path.read_bytes().decode("utf-8", "surrogateescape")
    return [(n, line.rstrip("\r")) for n, line in enumerate(text.split("\n"), start=1)
            if not (skip_comments and line.startswith("#"))]


# --- routes and our samples -----------------------------------------------------------


@pytest.mark.parametrize("name", FORMATS)
def test_route_entry_is_complete(name: str) -> None:
    entry = route(name)
    assert entry["format"] == name
    assert entry["records"] in RECORD_KINDS
    assert entry["logsources"] and (entry.get("files") or entry.get("sniff"))
    assert entry["time"]["field"] == "time"
    assert not unknown_decoders(entry.get("decode", []))
    # Decoders that rewrite values (hex, renamed package lists) need the prefilter to see the
    # values; http_request only splits the request text, so its values stay verbatim in the line.
    rewrites = {"audit_kv", "apt_block"} & set(entry.get("decode", []))
    assert entry["prefilter"] == ("fields" if rewrites or entry["records"] == "json" else "raw")
    for logsource in entry["logsources"]:
        assert all(f"{k}: {v}" in entry["title"] for k, v in logsource.items())
    if "sniff" in entry:
        re.compile(entry["sniff"])


def samples(name: str) -> list[tuple[int, dict[str, Any]]]:
    """(line of the record, expectation) for each ``# expect:`` of a sample file."""
    lines = read_lines(FIXTURES / "formats" / f"{name}.log")
    return [(n + 1, json.loads(text[len(EXPECT):])) for n, text in lines if text.startswith(EXPECT)]


@pytest.mark.parametrize("name", FORMATS)
def test_samples_parse_as_expected(name: str) -> None:
    entry = route(name)
    parsed = {p.line: p for p in run_route(entry, read_lines(FIXTURES / "formats" / f"{name}.log",
                                                             skip_comments=True))}
    expectations = samples(name)
    assert expectations and len(parsed) == len(expectations)
    for line, expect in expectations:
        got = parsed[line]
        if expect.get("parsed") is False:
            assert got.kind is None, f"{name}.log:{line} should not parse"
            continue
        assert got.kind == expect["kind"], f"{name}.log:{line}"
        assert got.fields | expect["fields"] == got.fields, f"{name}.log:{line}: {got.fields}"


@pytest.mark.parametrize("grammar", sorted({route(n).get("grammar") for n in FORMATS} - {None}))
def test_every_alias_has_a_sample(grammar: str) -> None:
    source = (grammars_dir() / f"{grammar}.lark").read_text(encoding="utf-8")
    aliases = set(re.findall(r"->\s*(\w+)", source))
    kinds = {e.get("kind") for n in FORMATS if route(n).get("grammar") == grammar
             for _, e in samples(n)}
    assert aliases <= kinds, f"aliases without a sample: {aliases - kinds}"


ACCESS = '203.0.113.9 - - [02/Jan/2024:03:04:05 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8"'
ROUTING = [  # (relative path, first lines, format chosen)
    ("nginx/access.log", [ACCESS], "nginx_access"),
    ("apache2/other_vhosts_access.log.2.gz", [ACCESS], "apache_access"),
    ("httpd/access_log.1", [ACCESS], "apache_access"),
    ("srv/shop/logs/access.log", [ACCESS], "access_log"),
    ("nginx/error.log", ["2024/01/02 03:04:05 [notice] 1#1: signal process started"], "nginx_error"),
    ("apache2/error.log", ["[Wed Oct 11 14:32:52 2000] [error] [client 192.0.2.1] x"], "apache_error"),
    ("dpkg.log", ["2024-01-02 03:04:05 startup archives unpack"], "dpkg"),
    ("alternatives.log", ["update-alternatives 2024-01-02 03:04:05: run with --auto x"],
     "alternatives"),
    ("apt/history.log", ["Start-Date: 2024-01-02  03:04:05"], "apt_history"),
    ("postgresql/postgresql-16-main.log", ["2024-01-02 03:04:05.1 UTC [1] LOG:  x"], "postgresql"),
    ("audit/audit.log.1", ["type=EOE msg=audit(1.000:1): "], "audit"),
    ("fail2ban.log", ["2024-01-02 03:04:05,123 fail2ban.server [1]: INFO x"], "fail2ban"),
    ("containers/x/x-json.log", ['{"log": "x"}'], "jsonl"),
]


@pytest.mark.parametrize(("source", "first_lines", "expected"), ROUTING)
def test_files_reach_their_route(source: str, first_lines: list[str], expected: str) -> None:
    assert choose_route(source, first_lines, load_routes()).route.format == expected


# --- real logs -------------------------------------------------------------------------

WEB = "access_log"
COVERAGE = [  # (route, corpus file under logs/, {line: why it is not this format})
    (WEB, "plaso/apache_access.log", {}),
    (WEB, "elastic-examples/apache_logs", {}),
    (WEB, "lnav/logfile_access_log.0", {}),
    (WEB, "lnav/logfile_access_log.1", {}),
    (WEB, "lnav/logfile_regexp_access_log.0", {}),
    (WEB, "lnav/logfile_shop_access_log.0", {}),
    *((WEB, f"honeynet-redhat71/httpd/access_log{s}", {}) for s in ("", ".1", ".2", ".3", ".4", ".5")),
    (WEB, "fail2ban/logs/nginx-bad-request", {}),
    (WEB, "fail2ban/logs/apache-badbots", {}),
    (WEB, "fail2ban/logs/nginx-botsearch",
     {26: "nginx error line", 29: "nginx error line", 32: "nginx error line",
      35: "nginx error line", 40: "syslog-wrapped nginx error line (syslog route)",
      43: "syslog-wrapped nginx error line (syslog route)"}),
    (WEB, "fail2ban/logs/apache-fakegooglebot", {3: "custom LogFormat, no zone", 5: "same"}),
    (WEB, "fail2ban/logs/apache-pass", {2: "custom LogFormat, time without zone"}),
    (WEB, "elastic-beats/filebeat/module/apache/access/test/test.log", {}),
    (WEB, "elastic-beats/filebeat/module/nginx/access/test/test.log",
     {5: "X-Forwarded-For before the client", 6: "X-Forwarded-For before the client"}),
    ("nginx_error", "fail2ban/logs/nginx-http-auth", {}),
    ("nginx_error", "fail2ban/logs/nginx-limit-req", {}),
    ("nginx_error", "fail2ban/logs/nginx-forbidden", {}),
    ("nginx_error", "elastic-beats/filebeat/module/nginx/error/test/error.log", {}),
    *(("apache_error", f"fail2ban/logs/apache-{s}", {})
      for s in ("botsearch", "modsecurity", "nohome", "noscript", "overflows", "shellshock")),
    ("apache_error", "fail2ban/logs/apache-auth",
     {n: "syslog-forwarded apache error (syslog route)" for n in (151, 153, 155, 158)}),
    ("apache_error", "honeynet-redhat71/httpd/error_log.11", {}),
    ("apache_error", "honeynet-redhat71/httpd/error_log.18", {}),
    ("apache_error", "loghub/Apache/Apache_2k.log", {}),
    ("apache_error", "elastic-beats/filebeat/module/apache/error/test/test.log", {}),
    ("dpkg", "plaso/dpkg.log", {}),
    ("apt_history", "plaso/apt_history.log", {}),
    ("postgresql", "plaso/postgresql.log", {}),
    ("postgresql", "lnav/logfile_postgres.0", {}),
    ("postgresql", "lnav/logfile_postgres.1", {}),
    ("postgresql", "lnav/logfile_postgres.2", {}),
    ("postgresql", "elastic-beats/filebeat/module/postgresql/log/test/postgresql-9.6-new-timestamp.log",
     {}),
    ("audit", "plaso/audit_enriched.log", {}),
    *(("audit", f"go-libaudit/auparse/{s}.log", {})
      for s in ("audit-rhel6", "audit-ubuntu14", "audit-ubuntu16", "audit-ubuntu17", "test2",
                "test3")),
    ("audit", "go-libaudit/auparse/audit-rhel7.log", {31: "type=UNKNOWN[1329] msg=? has no header"}),
    ("audit", "go-libaudit/testdata/normal.log", {}),
    ("audit", "go-libaudit/testdata/rollover.log", {}),
    *(("audit", f"audit-userspace/{s}.log", {}) for s in ("test", "test2", "test3", "test4")),
    ("audit", "elastic-beats/filebeat/module/auditd/log/test/test.log", {}),
    ("fail2ban", "fail2ban/logs/recidive",
     {n: "fail2ban line inside a syslog header (syslog route)" for n in (11, 17, 19, 24)}),
]


def corpus_events(corpus: Path, name: str, path: str) -> list[Parsed]:
    # fail2ban's samples carry "# failJSON" annotation lines: they are not log lines.
    skip = path.startswith("fail2ban/")
    return run_route(route(name), read_lines(corpus / "logs" / path, skip_comments=skip))


@pytest.mark.parametrize(("name", "path", "exceptions"), COVERAGE, ids=[c[1] for c in COVERAGE])
def test_corpus_file_parses(corpus: Path, name: str, path: str, exceptions: dict[int, str]) -> None:
    events = corpus_events(corpus, name, path)
    unparsed = {e.line for e in events if e.kind is None}
    assert unparsed == set(exceptions)
    assert events


def test_web_access_real_fields(corpus: Path) -> None:
    events = corpus_events(corpus, "apache_access", "plaso/apache_access.log")
    by_line = {e.line: e.fields for e in events}
    assert by_line[4] | {"method": "GET", "path": "/wp-content/themes/darkmode/evil.php",
                         "query": "cmd=ver%3B+uname+-a", "status": "200"} == by_line[4]
    assert by_line[9]["vhost"] == "plaso.log2timeline.net:443"
    assert "request" not in by_line[14] or by_line[14]["request"].startswith("GET /$%7B(")
    assert by_line[15]["user"] == "pyllyukko@EXAMPLE.COM" and "ident" not in by_line[15]


def test_malformed_requests_still_events(corpus: Path) -> None:
    events = [e for s in ("", ".1", ".2", ".3", ".4", ".5")
              for e in corpus_events(corpus, "apache_access", f"honeynet-redhat71/httpd/access_log{s}")]
    assert all(e.kind for e in events)
    overflow = [e for e in events if not e.fields.get("request", "").isprintable()]
    assert overflow and all(e.fields["method"] == "SEARCH" and e.fields["status"] for e in overflow)
    timeouts = [e for e in events if e.fields["status"] == "408"]
    assert timeouts and all("method" not in e.fields for e in timeouts)


def test_audit_grouping_and_hex(corpus: Path) -> None:
    events = corpus_events(corpus, "audit", "audit-userspace/test4.log")
    first = events[0].fields
    assert first["type"] == ["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"]
    assert first["exe"] == "/bin/sh4" and first["cwd"] == "/usr/src/RPM/BUILD/zlib-1.2.11-alt1"
    assert first["a1"] == ["8c3e8b0", "-efu"]
    assert first["proctitle"].startswith("/bin/sh -efu /usr/bin/ld -plugin ")
    beats = corpus_events(corpus, "audit", "elastic-beats/filebeat/module/auditd/log/test/test.log")
    exes = {e.fields.get("exe") for e in beats}
    assert "/usr/libexec/strongswan/charon (deleted)" in exes
    assert {e.fields.get("proctitle") for e in beats} >= {"bash", "sshd: burn [priv]"}
    enriched = corpus_events(corpus, "audit", "plaso/audit_enriched.log")
    assert enriched[0].fields | {"type": "DEL_USER", "acct": "specimenuser", "res": "failed",
                                 "UID": "root"} == enriched[0].fields


def test_apt_history_real_block(corpus: Path) -> None:
    events = corpus_events(corpus, "apt_history", "plaso/apt_history.log")
    first = events[0].fields
    assert first["command_line"] == "apt-get upgrade --no-install-recommends --assume-yes"
    assert first["upgrade"].startswith("libdns-export162:amd64 (1:9.10.3.dfsg.P4-12.3+deb9u4, ")
    assert first["end_date"] == "2019-07-10  16:38:10"


def test_postgresql_continuation_joined(corpus: Path) -> None:
    events = corpus_events(corpus, "postgresql", "plaso/postgresql.log")
    detail = next(e for e in events if e.fields.get("level") == "DETAIL")
    assert detail.fields["user"] == "postgres" and detail.fields["database"] == "postgres"
    assert "Connection matched pg_hba.conf line 96" in detail.fields["message"]
    assert events[0].fields["time"] == "2022-04-12 00:16:05.526+00:00"
