"""Conformance table of the Sigma backend: one inline rule, one event, the expected verdict.

Every case runs with and without the prefilter (the prefilter text is the raw line
plus every field value, as formats with decoded values pass it), so every case is
also a prefilter soundness check.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanner.errors import Problems
from scanner.match.matcher import Matcher
from scanner.model import Event, LogSource
from scanner.rules.load import load_rules

SSHD = {"product": "linux", "service": "sshd"}


def compile_rule(tmp_path: Path, detection: dict[str, Any], logsource: dict[str, str] | None = None,
                 placeholders: dict[str, Any] | None = None) -> tuple[Matcher, Matcher, Problems]:
    """Load one rule (and optional placeholder values) into matchers with and without prefilter."""
    rule = {"title": "case", "id": "00000000-0000-4000-8000-000000000001",
            "logsource": logsource or SSHD, "detection": detection}
    path = tmp_path / "case.yml"
    path.write_text(yaml.safe_dump(rule), encoding="utf-8")
    holder = None
    if placeholders is not None:
        holder = tmp_path / "placeholders.yml"
        holder.write_text(yaml.safe_dump(placeholders), encoding="utf-8")
    problems = Problems()
    compiled = load_rules([path], problems, holder)
    return Matcher(compiled), Matcher(compiled, prefilter=False), problems


def verdicts(matchers: tuple[Matcher, Matcher], fields: dict[str, Any], raw: str,
             logsource: dict[str, str] | None = None) -> list[bool]:
    """Whether the rule fires, with prefilter and without."""
    ls = LogSource.from_dict(logsource or SSHD)
    event = Event("test.log", 1, "test", (ls,), fields, raw)
    text = "\0".join([raw, *(str(v) for v in fields.values())])
    out = []
    for matcher in matchers:
        plan = matcher.plan([ls])
        candidates = plan.candidates(text)
        out.append(bool(candidates) and bool(plan.match(event, candidates)))
    return out


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


S = "sel"
CASES: list[tuple[str, dict[str, Any], dict[str, Any], str, bool]] = [
    # id, detection, fields, raw, expected
    ("eq-case-insensitive", {S: {"user": "ROOT"}, "condition": S}, {"user": "root"}, "", True),
    ("eq-other-value", {S: {"user": "root"}, "condition": S}, {"user": "rooty"}, "", False),
    ("cased-differs", {S: {"user|cased": "ROOT"}, "condition": S}, {"user": "root"}, "", False),
    ("cased-equal", {S: {"user|cased": "ROOT"}, "condition": S}, {"user": "ROOT"}, "", True),
    ("wildcard-middle", {S: {"cmd": "cat*shadow"}, "condition": S}, {"cmd": "cat /etc/shadow"}, "", True),
    ("wildcard-middle-miss", {S: {"cmd": "cat*shadow"}, "condition": S}, {"cmd": "cat shadow2"}, "", False),
    ("single-wildcard", {S: {"cmd": "a?c"}, "condition": S}, {"cmd": "abc"}, "", True),
    ("single-wildcard-one-only", {S: {"cmd": "a?c"}, "condition": S}, {"cmd": "abbc"}, "", False),
    ("escaped-star", {S: {"cmd": "a\\*c"}, "condition": S}, {"cmd": "a*c"}, "", True),
    ("escaped-star-literal", {S: {"cmd": "a\\*c"}, "condition": S}, {"cmd": "abc"}, "", False),
    ("escaped-question", {S: {"cmd": "what\\?"}, "condition": S}, {"cmd": "what?"}, "", True),
    ("escaped-question-literal", {S: {"cmd": "what\\?"}, "condition": S}, {"cmd": "whats"}, "", False),
    ("empty-string-empty", {S: {"cmd": ""}, "condition": S}, {"cmd": ""}, "", True),
    ("empty-string-missing", {S: {"cmd": ""}, "condition": S}, {}, "", False),
    ("contains", {S: {"cmd|contains": "SHADOW"}, "condition": S}, {"cmd": "cat /etc/shadow"}, "", True),
    ("startswith", {S: {"cmd|startswith": "cat "}, "condition": S}, {"cmd": "cat x"}, "", True),
    ("startswith-miss", {S: {"cmd|startswith": "cat "}, "condition": S}, {"cmd": "xcat x"}, "", False),
    ("endswith", {S: {"image|endswith": "/nc"}, "condition": S}, {"image": "/usr/bin/nc"}, "", True),
    ("contains-all", {S: {"cmd|contains|all": ["wget", "| sh"]}, "condition": S},
     {"cmd": "wget http://x | sh"}, "", True),
    ("contains-all-partial", {S: {"cmd|contains|all": ["wget", "| sh"]}, "condition": S},
     {"cmd": "wget http://x"}, "", False),
    ("list-or", {S: {"user": ["admin", "root"]}, "condition": S}, {"user": "root"}, "", True),
    ("list-field-any-element", {S: {"pkg": "nmap"}, "condition": S}, {"pkg": ["vim", "nmap"]}, "", True),
    ("exists-true", {S: {"tty|exists": True}, "condition": S}, {"tty": ""}, "", True),
    ("exists-true-missing", {S: {"tty|exists": True}, "condition": S}, {}, "", False),
    ("exists-false", {S: {"tty|exists": False}, "condition": S}, {}, "", True),
    ("neq", {S: {"user|neq": "root"}, "condition": S}, {"user": "bob"}, "", True),
    ("neq-equal", {S: {"user|neq": "root"}, "condition": S}, {"user": "ROOT"}, "", False),
    ("neq-over-list", {S: {"user|neq": ["root", "admin"]}, "condition": S}, {"user": "admin"}, "", False),
    ("neq-over-list-other", {S: {"user|neq": ["root", "admin"]}, "condition": S}, {"user": "bob"}, "",
     True),
    ("neq-list-valued-field", {S: {"user|neq": "root"}, "condition": S}, {"user": ["bob", "root"]}, "",
     False),
    ("fieldref-equal", {S: {"user|fieldref": "target_user"}, "condition": S},
     {"user": "Root", "target_user": "root"}, "", True),
    ("fieldref-differs", {S: {"user|fieldref": "target_user"}, "condition": S},
     {"user": "bob", "target_user": "root"}, "", False),
    ("fieldref-neq", {S: {"user|fieldref|neq": "target_user"}, "condition": S},
     {"user": "bob", "target_user": "root"}, "", True),
    ("fieldref-startswith", {S: {"home|fieldref|startswith": "user"}, "condition": S},
     {"home": "bob/x", "user": "bob"}, "", True),
    ("lt", {S: {"uid|lt": 1000}, "condition": S}, {"uid": "999"}, "", True),
    ("lte", {S: {"uid|lte": 1000}, "condition": S}, {"uid": 1000}, "", True),
    ("gt", {S: {"uid|gt": 1000}, "condition": S}, {"uid": "1000"}, "", False),
    ("gte-not-a-number", {S: {"uid|gte": 0}, "condition": S}, {"uid": "abc"}, "", False),
    ("hour", {S: {"when|hour": 13}, "condition": S}, {"when": "2024-02-11T13:05:00+00:00"}, "", True),
    ("minute", {S: {"when|minute": 6}, "condition": S}, {"when": "2024-02-11T13:05:00"}, "", False),
    ("year-epoch", {S: {"when|year": 2013}, "condition": S}, {"when": 1364481363.243}, "", True),
    ("month", {S: {"when|month": 2}, "condition": S}, {"when": "2024-02-11"}, "", True),
    ("day", {S: {"when|day": 11}, "condition": S}, {"when": "2024-02-11"}, "", True),
    ("week", {S: {"when|week": 6}, "condition": S}, {"when": "2024-02-11"}, "", True),
    ("re-is-search", {S: {"cmd|re": "b.d"}, "condition": S}, {"cmd": "abcde"}, "", True),
    ("re-case-sensitive", {S: {"cmd|re": "B"}, "condition": S}, {"cmd": "abc"}, "", False),
    ("re-i", {S: {"cmd|re|i": "B"}, "condition": S}, {"cmd": "abc"}, "", True),
    ("re-m", {S: {"cmd|re|m": "^b$"}, "condition": S}, {"cmd": "a\nb\nc"}, "", True),
    ("re-without-m", {S: {"cmd|re": "^b$"}, "condition": S}, {"cmd": "a\nb\nc"}, "", False),
    ("re-s", {S: {"cmd|re|s": "a.b"}, "condition": S}, {"cmd": "a\nb"}, "", True),
    ("re-without-s", {S: {"cmd|re": "a.b"}, "condition": S}, {"cmd": "a\nb"}, "", False),
    ("cidr-v4", {S: {"ip|cidr": "10.0.0.0/8"}, "condition": S}, {"ip": "10.1.2.3"}, "", True),
    ("cidr-v4-outside", {S: {"ip|cidr": "10.0.0.0/8"}, "condition": S}, {"ip": "11.1.2.3"}, "", False),
    ("cidr-v6", {S: {"ip|cidr": "2001:db8::/32"}, "condition": S}, {"ip": "2001:DB8::1"}, "", True),
    ("cidr-v6-vs-v4", {S: {"ip|cidr": "2001:db8::/32"}, "condition": S}, {"ip": "10.0.0.1"}, "", False),
    ("cidr-not-an-ip", {S: {"ip|cidr": "10.0.0.0/8"}, "condition": S}, {"ip": "host"}, "", False),
    ("base64", {S: {"cmd|base64": "whoami"}, "condition": S}, {"cmd": b64(b"whoami")}, "", True),
    ("base64offset", {S: {"cmd|base64offset|contains": "whoami"}, "condition": S},
     {"cmd": "echo " + b64(b"xx whoami yy") + " | base64 -d"}, "", True),
    ("base64offset-absent", {S: {"cmd|base64offset|contains": "whoami"}, "condition": S},
     {"cmd": "echo " + b64(b"xx id yy")}, "", False),
    ("utf16-wide", {S: {"cmd|wide|base64offset|contains": "ping"}, "condition": S},
     {"cmd": b64("a ping b".encode("utf-16-le"))}, "", True),
    ("utf16be", {S: {"cmd|utf16be|base64offset|contains": "ping"}, "condition": S},
     {"cmd": b64("a ping b".encode("utf-16-be"))}, "", True),
    ("utf16-bom", {S: {"cmd|utf16|base64|contains": "ping"}, "condition": S},
     {"cmd": "x" + b64("ping".encode("utf-16"))}, "", True),
    ("windash-slash", {S: {"cmd|windash|contains": " -exec"}, "condition": S}, {"cmd": "find /exec"},
     "", True),
    ("windash-no-dash", {S: {"cmd|windash|contains": " -exec"}, "condition": S}, {"cmd": "find exec"},
     "", False),
    ("windash-slash-word", {S: {"cmd|windash|contains": " -exec "}, "condition": S},
     {"cmd": "find . /exec sh"}, "", True),
    ("windash-en-dash", {S: {"cmd|windash|contains": " -exec "}, "condition": S},
     {"cmd": "find . \u2013exec sh"}, "", True),
    ("null-absent", {S: {"referer": None}, "condition": S}, {}, "", True),
    ("null-present", {S: {"referer": None}, "condition": S}, {"referer": "x"}, "", False),
    ("number-vs-int", {S: {"status": 404}, "condition": S}, {"status": 404}, "", True),
    ("number-vs-numeric-string", {S: {"status": 404}, "condition": S}, {"status": "404"}, "", True),
    ("number-vs-word", {S: {"status": 404}, "condition": S}, {"status": "four"}, "", False),
    ("numeric-string-vs-int", {S: {"status": "404"}, "condition": S}, {"status": 404}, "", True),
    ("bool-true", {S: {"invalid_user": True}, "condition": S}, {"invalid_user": True}, "", True),
    ("bool-vs-word", {S: {"invalid_user": True}, "condition": S}, {"invalid_user": "true"}, "", True),
    ("bool-false", {S: {"invalid_user": True}, "condition": S}, {"invalid_user": False}, "", False),
    ("missing-field-positive", {S: {"user": "root"}, "condition": S}, {}, "", False),
    ("missing-field-not", {S: {"user": "root"}, "condition": f"not {S}"}, {}, "", True),
    ("keyword-substring", {"keywords": ["Failed PASSWORD for"], "condition": "keywords"}, {},
     "sshd[1]: failed password for root", True),
    ("keyword-miss", {"keywords": ["Failed PASSWORD for"], "condition": "keywords"}, {},
     "sshd[1]: accepted password for root", False),
    ("keyword-inner-wildcard", {"keywords": ["session*root"], "condition": "keywords"}, {},
     "session opened for user ROOT", True),
    ("keyword-all", {"keywords": {"|all": ["error", "segfault"]}, "condition": "keywords"}, {},
     "kernel: SEGFAULT at 0 error 4", True),
    ("keyword-all-partial", {"keywords": {"|all": ["error", "segfault"]}, "condition": "keywords"}, {},
     "kernel: error 4", False),
    ("keyword-number", {"keywords": [1337], "condition": "keywords"}, {}, "port 1337 open", True),
    ("keyword-re", {"keywords": {"|re": "port \\d+ open"}, "condition": "keywords"}, {},
     "port 22 open", True),
    ("and-or-parens", {"a": {"user": "root"}, "b": {"tty": "pts/0"}, "c": {"host": "x"},
                       "condition": "a and (b or c)"}, {"user": "root", "host": "x"}, "", True),
    ("not-binds-tighter", {"a": {"user": "root"}, "b": {"tty": "pts/0"},
                           "condition": "not a and b"}, {"user": "root", "tty": "pts/0"}, "", False),
    ("one-of-pattern", {"sel_a": {"user": "x"}, "sel_b": {"user": "root"}, "condition": "1 of sel_*"},
     {"user": "root"}, "", True),
    ("any-of-pattern", {"sel_a": {"user": "x"}, "sel_b": {"user": "root"}, "condition": "any of sel_*"},
     {"user": "root"}, "", True),
    ("all-of-pattern", {"sel_a": {"user": "root"}, "sel_b": {"tty": "x"}, "condition": "all of sel_*"},
     {"user": "root", "tty": "pts/1"}, "", False),
    ("all-of-them", {"a": {"user": "root"}, "b": {"tty|startswith": "pts"}, "condition": "all of them"},
     {"user": "root", "tty": "pts/1"}, "", True),
    ("them-skips-underscore", {"sel": {"user": "nobody"}, "_aux": {"user": "root"},
                               "condition": "1 of them"}, {"user": "root"}, "", False),
    ("all-of-them-skips-underscore", {"sel": {"user": "root"}, "_aux": {"user": "nobody"},
                                      "condition": "all of them"}, {"user": "root"}, "", True),
    ("condition-list-first", {"a": {"user": "root"}, "b": {"tty": "x"}, "condition": ["a", "b"]},
     {"user": "root"}, "", True),
    ("condition-list-second", {"a": {"user": "root"}, "b": {"tty": "x"}, "condition": ["a", "b"]},
     {"tty": "x"}, "", True),
    ("condition-list-none", {"a": {"user": "root"}, "b": {"tty": "x"}, "condition": ["a", "b"]},
     {"tty": "y"}, "", False),
    ("list-of-maps", {S: [{"user": "a"}, {"tty": "b"}], "condition": S}, {"tty": "B"}, "", True),
]


@pytest.mark.parametrize("detection,fields,raw,expected",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_conformance(tmp_path: Path, detection: dict[str, Any], fields: dict[str, Any], raw: str,
                     expected: bool) -> None:
    with_pf, without_pf, problems = compile_rule(tmp_path, detection)
    assert not problems.items, [str(p) for p in problems]
    assert verdicts((with_pf, without_pf), fields, raw) == [expected, expected]


WEB = {"category": "webserver"}
MAPPING_CASES = [
    # id, logsource, detection, native fields that must match
    ("webserver-uri-query", WEB, {"cs-uri-query|contains": "/etc/passwd"}, {"uri": "/x?f=/etc/passwd"}),
    ("webserver-status", WEB, {"sc-status": 404, "cs-method": "GET"}, {"status": 404, "method": "GET"}),
    ("webserver-client", WEB, {"c-ip|cidr": "10.0.0.0/8"}, {"client_ip": "10.0.0.9"}),
    ("webserver-agent", WEB, {"cs-user-agent|contains": "sqlmap"}, {"user_agent": "sqlmap/1.0"}),
    ("webserver-stem", WEB, {"cs-uri-stem|endswith": ".jsp"}, {"path": "/a.jsp"}),
    ("webserver-referer-null", WEB, {"cs-referer": None, "cs-host": "a"}, {"vhost": "a"}),
    ("process-image", {"product": "linux", "category": "process_creation"},
     {"Image|endswith": "/nc", "CommandLine|contains": " -e ", "User": "www-data"},
     {"image": "/bin/nc", "command_line": "nc -e /bin/sh", "user": "www-data"}),
    ("process-cwd-parent", {"product": "linux", "category": "process_creation"},
     {"CurrentDirectory": "/tmp", "ParentImage|endswith": "/apache2"},
     {"cwd": "/tmp", "parent_image": "/usr/sbin/apache2"}),
    ("sudo-target", {"product": "linux", "service": "sudo"}, {"USER|startswith": "#-"},
     {"target_user": "#-1"}),
    ("native-name-direct", SSHD, {"src_ip": "10.0.0.1"}, {"src_ip": "10.0.0.1"}),
]


@pytest.mark.parametrize("logsource,selection,fields", [c[1:] for c in MAPPING_CASES],
                         ids=[c[0] for c in MAPPING_CASES])
def test_field_mapping(tmp_path: Path, logsource: dict[str, str], selection: dict[str, Any],
                       fields: dict[str, Any]) -> None:
    matchers = compile_rule(tmp_path, {S: selection, "condition": S}, logsource)
    assert verdicts(matchers[:2], fields, "", logsource) == [True, True]


def test_mapping_is_gated_by_logsource(tmp_path: Path) -> None:
    """``User`` is mapped in process_creation rules only; elsewhere it stays as written."""
    matchers = compile_rule(tmp_path, {S: {"User": "bob"}, "condition": S})
    assert verdicts(matchers[:2], {"user": "bob"}, "") == [False, False]
    assert verdicts(matchers[:2], {"User": "bob"}, "") == [True, True]


def test_expand_uses_placeholder_values(tmp_path: Path) -> None:
    detection = {S: {"user|expand": "%admins%"}, "condition": S}
    with_pf, without_pf, problems = compile_rule(tmp_path, detection,
                                                 placeholders={"admins": ["root", "toor"]})
    assert not problems.items
    assert verdicts((with_pf, without_pf), {"user": "toor"}, "") == [True, True]
    assert verdicts((with_pf, without_pf), {"user": "bob"}, "") == [False, False]


def test_expand_without_placeholders_skips_the_rule(tmp_path: Path) -> None:
    matcher, _, problems = compile_rule(tmp_path, {S: {"user|expand": "%admins%"}, "condition": S})
    assert matcher.plan([LogSource.from_dict(SSHD)]).rules == ()
    assert [p.kind for p in problems] == ["rule"]
    assert "case.yml" in str(problems.items[0]) and "%admins%" in str(problems.items[0])
    assert "--placeholders" in str(problems.items[0])


def test_rule_applies_only_to_its_logsource(tmp_path: Path) -> None:
    matchers = compile_rule(tmp_path, {"keywords": ["boom"], "condition": "keywords"})
    assert verdicts(matchers[:2], {}, "boom", {"product": "linux", "service": "cron"}) == [False, False]


def test_regex_re2_cannot_express_runs_on_python_re_with_a_warning(tmp_path: Path) -> None:
    with_pf, without_pf, problems = compile_rule(tmp_path, {S: {"cmd|re": "(?<=x)y"}, "condition": S})
    assert [p.kind for p in problems] == ["rule-warning"]
    assert "Python re" in str(problems.items[0]) and "case.yml" in str(problems.items[0])
    assert verdicts((with_pf, without_pf), {"cmd": "axy"}, "") == [True, True]
    assert verdicts((with_pf, without_pf), {"cmd": "ay"}, "") == [False, False]
