"""The journal's early prefilter (entries skipped before they are parsed, by their text and
values) against the check after parsing alone: the same hits, the same counts of parsed and
skipped entries, on every journal fixture and on entries built to stress it, with the bundled
rules, the corpus rules and rules written to find literals in the corners of an entry.

The full path is the same scan with the early skip switched off (no value a parse makes up
is known, so it never runs); a count of the parses shows the fast path did skip entries.
"""

from __future__ import annotations

import gzip
import shutil
import sys
from datetime import timezone
from pathlib import Path
from typing import Any

import pytest

from scanner.cli import build_parser
from scanner.config import ENGINES, scan_config
from scanner.errors import Problems
from scanner.normalize.normalizer import RouteParser
from scanner.pipeline import Scan, WorkerOptions, new_worker, plan_units
from scanner.resources import bundled_rules_dir
from scanner.rules.load import load_rules

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))  # bench/ holds scripts, not a package

from journal_export import have_tools, write_journal  # noqa: E402

BOOT = "3a9c0e6f1b2d4c5e8f7a6b5c4d3e2f10"
T0 = 1707609600_000000  # 2024-02-11T00:00:00Z

# Literals only in a journal field no message holds, in an escaped non-UTF-8 value, on a
# MESSAGE's second line, in a derived process, and a PRI's digits and a facility's name
# (the early text holds them, the parsed event holds the name but not the PRI).
STRESS_RULES = {
    "cmdline.yml": ("Listener In Command Line", "{product: linux}",
                    "_CMDLINE|contains: 'ncat -lvp 4444'"),
    "blob.yml": ("Escaped Bytes In A Field", "{product: linux}", "BLOB|contains: 'xfe evil'"),
    "second_line.yml": ("Payload On A Second Line", "{product: linux}",
                        "MESSAGE|contains: 'payload-multiline'"),
    "process.yml": ("Ncat Run Through Sudo", "{category: process_creation, product: linux}",
                    "Image|endswith: '/ncat'"),
    "pri.yml": ("A PRI Number", "{product: linux}", "SYSLOG_PID: 134"),
    "facility.yml": ("A Facility Name In A Message", "{product: linux}",
                     "MESSAGE|contains: 'authpriv'"),
}
# A literal that is also the kind a grammar gives (sshd's "failed_invalid", no message holds it):
# no early skip at all.
MADE_UP_RULE = ("A Grammar Kind", "{product: linux}", "MESSAGE|contains: 'failed_invalid'")


def _rule(directory: Path, name: str, title: str, logsource: str, selection: str) -> None:
    (directory / name).write_text(
        f"title: {title}\nid: 5b1c9d2e-0000-4000-8000-{abs(hash(name)) % 10**12:012d}\n"
        f"status: test\nlevel: high\nlogsource: {logsource}\n"
        f"detection:\n  selection:\n    {selection}\n  condition: selection\n")


@pytest.fixture(scope="module")
def rule_sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The purpose-made rule directories: the stress rules, and one with a made-up literal."""
    stress = tmp_path_factory.mktemp("stress_rules")
    for name, rule in STRESS_RULES.items():
        _rule(stress, name, *rule)
    made_up = tmp_path_factory.mktemp("made_up_rules")
    _rule(made_up, "kind.yml", *MADE_UP_RULE)
    return {"stress": stress, "made_up": made_up}


def _entry(i: int, program: str, message: str | bytes, facility: int = 4, priority: int = 6,
           **extra: Any) -> list[tuple[str, Any]]:
    return [("__REALTIME_TIMESTAMP", str(T0 + i * 700_000)),
            ("__MONOTONIC_TIMESTAMP", str(9_000_000 + i * 700_000)), ("_BOOT_ID", BOOT),
            ("_HOSTNAME", "vps"), ("_TRANSPORT", "syslog"), ("PRIORITY", str(priority)),
            ("SYSLOG_FACILITY", str(facility)), ("SYSLOG_IDENTIFIER", program),
            ("SYSLOG_PID", str(900 + i)), ("_PID", str(900 + i)), ("MESSAGE", message),
            *extra.items()]


def _audit(i: int, audit_id: int, kind: str, body: str) -> list[tuple[str, Any]]:
    return [("__REALTIME_TIMESTAMP", str(T0 + i * 700_000)),
            ("__MONOTONIC_TIMESTAMP", str(9_000_000 + i * 700_000)), ("_BOOT_ID", BOOT),
            ("_HOSTNAME", "vps"), ("_TRANSPORT", "audit"), ("_AUDIT_ID", str(audit_id)),
            ("_AUDIT_TYPE_NAME", kind), ("_SOURCE_REALTIME_TIMESTAMP", str(T0 + i * 700_000)),
            ("MESSAGE", f"{kind} {body}")]


def stress_entries() -> list[list[tuple[str, Any]]]:
    """Entries whose literals hide where a prefilter of the message alone would miss them."""
    return [
        _entry(0, "sshd", "Failed password for root from 203.0.113.9 port 50000 ssh2"),
        _entry(1, "cron-helper", "worker started", 9, _CMDLINE="ncat -lvp 4444 -e /bin/sh"),
        _entry(2, "backup", b"copy \xff\xfe done", 3, BLOB=b"\x00\xff\xfe evil \x01"),
        _entry(3, "app", "first line of a report\nsecond line: payload-multiline", 1),
        _entry(4, "sudo", "  deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; "
                          "COMMAND=/usr/bin/ncat -l 9001", 10),
        _entry(5, "app", "a local0 info message", 16, 6),  # PRI 134, no 134 elsewhere
        _entry(6, "login", "session opened for user deploy", 10),  # facility authpriv
        _entry(7, "app", "nothing to see", 3),  # facility daemon: authpriv nowhere
        _entry(8, "sshd", "Accepted publickey for deploy from 203.0.113.9 port 50022 ssh2"),
        _audit(9, 77, "SYSCALL", "arch=c000003e syscall=59 success=yes exit=0 pid=4242 "
                                 'uid=0 comm="ncat" exe="/usr/bin/ncat" key=(null)'),
        _audit(10, 77, "EXECVE", 'argc=3 a0="ncat" a1="-lvp" a2="4444"'),
        _audit(11, 78, "USER_LOGIN", 'pid=4243 uid=0 msg=\'op=login acct="root" exe="/usr/sbin/'
                                     'sshd" hostname=? addr=203.0.113.9 terminal=ssh res=failed\''),
        _entry(12, "kernel", "[UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.7 DST=192.0.2.10 "
                             "PROTO=TCP SPT=40000 DPT=23", 0, 4),
        [*_entry(13, "app", "a field given twice", 3), ("TAG", "one"), ("TAG", "ncat -lvp 4444")],
    ]


def _fixture_journals(directory: Path) -> Path:
    """Every journal fixture, the gzipped ones decompressed (a scan does not read them so)."""
    directory.mkdir()
    for path in sorted((REPO / "fixtures" / "journal").glob("*.journal.gz")):
        (directory / path.name.removesuffix(".gz")).write_bytes(gzip.decompress(path.read_bytes()))
    for path in sorted((REPO / "fixtures" / "demo" / "journal").rglob("*.journal")):
        shutil.copy2(path, directory / path.name)
    return directory


def _scan(tree: Path, rules: list[Path], engine: str) -> list[tuple[Any, ...]]:
    """Per unit: its hits, counts and problems, as ``scan --jobs 1`` finds them."""
    problems = Problems()
    worker = new_worker(load_rules(rules, problems),
                        WorkerOptions(True, timezone.utc, None, None, engine))
    assert not [p for p in problems.items if "corpus" not in str(p)]  # our rules all load
    args = build_parser().parse_args(["scan", str(tree), "-q", "--jobs", "1"])
    found = []
    for unit in plan_units(Scan(scan_config(args))):
        result = worker.scan(unit)
        hits = [hit for runs in (result.hits.shown, *result.hits.parts) for hit in runs]
        found.append((hits, result.stats, result.problems))
    return found


def _both_paths(monkeypatch: pytest.MonkeyPatch, tree: Path, rules: list[Path],
                engine: str) -> tuple[list[tuple[Any, ...]], int, int]:
    """The scan by the fast path and by the full path, and how many records each parsed."""
    parses = {"count": 0}
    parse = RouteParser.parse

    def counted(self: RouteParser, *args: Any) -> Any:
        parses["count"] += 1
        return parse(self, *args)

    monkeypatch.setattr(RouteParser, "parse", counted)
    fast = _scan(tree, rules, engine)
    fast_parses, parses["count"] = parses["count"], 0
    monkeypatch.setattr(RouteParser, "made_up", lambda self: None)  # the full path
    full = _scan(tree, rules, engine)
    assert fast == full
    return fast, fast_parses, parses["count"]


def _rules(name: str, rule_sets: dict[str, Path], corpus_dir: Path | None) -> list[Path]:
    bundled = [bundled_rules_dir()]
    if name == "corpus":
        assert corpus_dir is not None
        return [corpus_dir / "sigmahq", *bundled]
    return bundled if name == "bundled" else [rule_sets[name], *bundled]


def _titles(found: list[tuple[Any, ...]]) -> set[str]:
    return {hit.rule.title for hits, _, _ in found for hit in hits}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("rules", ["bundled", "stress", "made_up"])
def test_fixtures_give_the_same_hits_and_counts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                rule_sets: dict[str, Path], rules: str,
                                                engine: str) -> None:
    tree = _fixture_journals(tmp_path / "journals")
    found, fast, full = _both_paths(monkeypatch, tree, _rules(rules, rule_sets, None), engine)
    assert sum(stats.skipped for _, stats, _ in found) > 0
    assert (fast < full) if rules != "made_up" else (fast == full), (fast, full)


@pytest.mark.parametrize("engine", ENGINES)
def test_fixtures_with_the_corpus_rules(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                        rule_sets: dict[str, Path], corpus: Path,
                                        engine: str) -> None:
    tree = _fixture_journals(tmp_path / "journals")
    found, _, _ = _both_paths(monkeypatch, tree, _rules("corpus", rule_sets, corpus), engine)
    assert _titles(found)


@pytest.mark.skipif(not have_tools(), reason="systemd-journal-remote not installed")
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("rules", ["bundled", "stress", "made_up", "corpus"])
def test_stress_entries_give_the_same_hits_and_counts(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, rule_sets: dict[str, Path],
        request: pytest.FixtureRequest, rules: str, engine: str) -> None:
    corpus_dir = request.getfixturevalue("corpus") if rules == "corpus" else None
    tree = tmp_path / "journal"
    tree.mkdir()
    write_journal(stress_entries(), tree / "system.journal", compact=True, compress=True)
    found, fast, full = _both_paths(monkeypatch, tree, _rules(rules, rule_sets, corpus_dir),
                                    engine)
    if rules == "stress":  # every hidden literal was found, and the fast path skipped entries
        assert {title for title, _, _ in STRESS_RULES.values()} - _titles(found) == {
            "A PRI Number", "A Facility Name In A Message"}
        assert fast < full
        (stats,) = [stats for _, stats, _ in found]
        assert stats.skipped > 0
