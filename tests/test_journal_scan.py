"""Journal entries scanned like the syslog lines they replace: same logsources, same grammars,
same derived processes and stream checks, and the demo story told by a journal alone fires the
same bundled findings as its text logs."""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from collections import Counter
from pathlib import Path

import pytest

from scanner.cli import main
from scanner.errors import Problems
from scanner.model import FileStats
from scanner.normalize.derive import derive
from scanner.normalize.normalizer import normalize_file
from scanner.normalize.routes import load_routes, route_file
from scanner.sources.walk import walk

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))  # bench/ holds scripts, not a package

from journal_export import have_tools, write_journal  # noqa: E402

DEMO = REPO / "fixtures" / "demo"
JOURNALED = ("auth.log", "auth.log.1", "auth.log.2.gz", "syslog", "kern.log", "audit/audit.log")


def _hits(out_dir: Path, *argv: str) -> list[dict]:
    out = out_dir / "hits.jsonl"
    assert main(["scan", "-q", "--jobs", "1", "-f", "jsonl", "-o", str(out), *argv]) == 0
    return [json.loads(line) for line in out.read_text().splitlines()]


def _findings(hits: list[dict]) -> Counter[tuple[str, str]]:
    return Counter((h["rule_title"], h["timestamp"]) for h in hits)


def _text_copy(tmp_path: Path) -> Path:
    text = tmp_path / "text" / "log"
    text.mkdir(parents=True)
    for name in JOURNALED:
        (text / name).parent.mkdir(exist_ok=True)
        shutil.copy2(DEMO / "var" / "log" / name, text / name)  # mtimes give the years
    return text


def test_demo_journal_fires_the_findings_of_its_text_logs(tmp_path: Path) -> None:
    journal = _hits(tmp_path, str(DEMO / "journal"))
    text = _hits(tmp_path, str(_text_copy(tmp_path)))
    assert _findings(journal) == _findings(text)
    assert {"SSH Brute Force From One Address", "Second Account With UID 0",
            "Sudo Authentication Failure"} <= {h["rule_title"] for h in journal}


def test_demo_journal_fires_the_corpus_findings_of_its_text_logs(corpus: Path,
                                                                 tmp_path: Path) -> None:
    rules = str(corpus / "sigmahq")
    journal = _hits(tmp_path, "--rules", rules, str(DEMO / "journal"))
    text = _hits(tmp_path, "--rules", rules, str(_text_copy(tmp_path)))
    assert _findings(journal) == _findings(text)
    assert "Linux HackTool Execution" in {h["rule_title"] for h in journal if h.get("derived")}


def _events(path: Path) -> list:
    problems = Problems()
    (file,) = walk([path], problems)
    choice = route_file(file, load_routes())
    events = list(normalize_file(file, choice, problems, FileStats(file.source, "journal")))
    assert problems.items == []
    return events


def test_entries_get_the_syslog_routing(tmp_path: Path) -> None:
    path = tmp_path / "system@0123.journal"
    fixture = REPO / "fixtures/journal/compact-zstd.journal.gz"
    path.write_bytes(gzip.decompress(fixture.read_bytes()))
    events: dict = {}
    for event in _events(path):  # the first entry of each program
        events.setdefault(event.fields["program"], event)
    sshd, sudo, kernel = events["sshd"], events["sudo"], events["kernel"]
    assert [str(ls) for ls in sshd.logsources] == ["linux/*/*", "linux/*/auth", "linux/*/sshd"]
    assert sshd.fields["event"] == "failed_invalid" and sshd.fields["src_ip"] == "203.0.113.45"
    assert sshd.fields["_SYSTEMD_UNIT"] == "ssh.service" and sshd.fields["facility"] == "auth"
    assert sshd.raw.startswith("2024-02-11T00:00:00.000000+00:00 vps sshd[800]: Failed password")
    assert [str(ls) for ls in kernel.logsources] == ["linux/*/*", "linux/*/syslog"]
    assert events["CRON"].fields["event"] and "linux/*/cron" in map(str, events["CRON"].logsources)
    assert events["useradd"].fields["uid"] == "0"
    (process,) = derive(sudo)
    assert process.fields["user"] == "root" and process.fields["parent_user"] == "deploy"
    assert process.fields["image"] == "/usr/bin/tar"
    assert events["bash"].fields["TAG"] == ["one", "two"]
    assert events["bash"].fields["BLOB"] == "\x00\\xff\x01binary\n"  # invalid UTF-8 escaped


@pytest.mark.skipif(not have_tools(), reason="systemd-journal-remote not installed")
def test_stream_checks_see_journal_entries(tmp_path: Path) -> None:
    """A stamp an hour before the previous entry's is a time_backwards integrity event."""
    base = 1707609600_000000
    stamps = [base + i * 60_000_000 for i in range(20)] + [base - 3600_000_000]
    entries = [{"__REALTIME_TIMESTAMP": str(t), "__MONOTONIC_TIMESTAMP": str(10 + n),
                "_BOOT_ID": "8d3e6f1a2b4c4d5e9f0a1b2c3d4e5f60", "_HOSTNAME": "vps",
                "SYSLOG_IDENTIFIER": "CRON", "SYSLOG_FACILITY": "9", "PRIORITY": "6",
                "MESSAGE": f"(root) CMD (run-parts /etc/cron.hourly {n})"}
               for n, t in enumerate(stamps)]
    write_journal(entries, tmp_path / "system.journal", compact=True, compress=True)
    hits = _hits(tmp_path, "--no-builtin", "-r", str(REPO / "sigma_rules/linux_log_tampering.yml"),
                 str(tmp_path / "system.journal"))
    assert [(h["rule_title"], h["line"]) for h in hits] == [("Log Timestamps Going Backwards", 21)]


def test_audit_entries_are_the_auditd_events_of_audit_log(tmp_path: Path) -> None:
    """journald's audit entries (``_TRANSPORT=audit``) give the events audit.log gives."""
    def auditd(events: list) -> list[tuple]:
        return [(e.timestamp, e.fields, e.raw, tuple(e.logsources)) for e in events
                if e.format == "audit"]

    text = tmp_path / "audit.log"
    shutil.copy2(DEMO / "var/log/audit/audit.log", text)
    (journal,) = (DEMO / "journal").rglob("*.journal")
    from_journal = auditd(_events(journal))
    assert from_journal == auditd(_events(text))
    assert len(from_journal) > 10 and all(str(ls) == "linux/*/auditd"
                                          for e in from_journal for ls in e[3])


def _boot(boot_id: str, start: int, messages: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"__REALTIME_TIMESTAMP": str(start + n * 1_000_000), "__MONOTONIC_TIMESTAMP": str(
        5_000_000 + n * 1_000_000), "_BOOT_ID": boot_id, "_HOSTNAME": "vps",
        "SYSLOG_IDENTIFIER": program, "MESSAGE": message} for n, (program, message) in
        enumerate(messages)]


@pytest.mark.skipif(not have_tools(), reason="systemd-journal-remote not installed")
def test_boots_ending_without_a_shutdown(tmp_path: Path) -> None:
    """Of three boots, the first shuts down, the second stops mid-work (a crash, or its end
    deleted), the third is the running one: one boot_end_unclean event, at the second's end."""
    work = [("CRON", "(root) CMD (run-parts /etc/cron.hourly)")] * 3
    clean = _boot("1" * 32, 1707609600_000000, [*work, ("systemd", "Stopped target "
                                                        "multi-user.target - Multi-User System."),
                                                ("systemd-journald", "Journal stopped")])
    crashed = _boot("2" * 32, 1707700000_000000, work)
    running = _boot("3" * 32, 1707800000_000000, work)
    write_journal([*clean, *crashed, *running], tmp_path / "system.journal", compact=True,
                  compress=True)
    hits = _hits(tmp_path, "--no-builtin", "-r", str(REPO / "sigma_rules/linux_log_tampering.yml"),
                 str(tmp_path / "system.journal"))
    assert [(h["rule_title"], h["line"], h["fields"]["boot_id"]) for h in hits] == [
        ("Boot Ended Without A Shutdown In The Journal", 8, "2" * 32)]


def test_baseline_survives_journald_archiving(tmp_path: Path) -> None:
    """journald renames system.journal to system@….journal when it archives it: hits recorded
    in a baseline stay recorded."""
    (journal,) = (DEMO / "journal").rglob("system.journal")
    live, archived = tmp_path / "live", tmp_path / "archived"
    live.mkdir()
    archived.mkdir()
    shutil.copy2(journal, live / "system.journal")
    shutil.copy2(journal, archived / "system@6f1c0a2e-0000000000000001-00061111fcf3da4a.journal")
    baseline = tmp_path / "baseline.json"
    assert main(["scan", "-q", "--jobs", "1", "-o", str(tmp_path / "a.jsonl"), "-f", "jsonl",
                 "--write-baseline", str(baseline), str(live)]) == 0
    assert _hits(tmp_path, str(live)) and _hits(tmp_path, "--baseline", str(baseline),
                                                 str(archived)) == []
