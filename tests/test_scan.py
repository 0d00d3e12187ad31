"""``logsigma scan`` end to end: the demo story, exit codes, determinism, exports, hostile input.

Every test runs the real command line (``scanner.cli.main`` in-process, or the
installed console script where a separate process matters) on real files.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from scanner.cli import main

from conftest import FIXTURES, unprivileged_prefix

DEMO = FIXTURES / "demo" / "var" / "log"
QUIET = FIXTURES / "quiet" / "var" / "log"


def scan(*argv: str) -> tuple[int, list[dict]]:
    """Run ``logsigma scan -q -f jsonl`` in-process; the exit code and the hits."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "hits.jsonl"
        code = main(["scan", "-q", "--jobs", "1", "-f", "jsonl", "-o", str(out), *argv])
        hits = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return code, hits


def summary(*argv: str) -> tuple[int, dict]:
    """Run ``logsigma scan -f json``; the exit code and the summary."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scan.json"
        code = main(["scan", "-q", "--jobs", "1", "-f", "json", "-o", str(out), *argv])
        return code, json.loads(out.read_text())["summary"] if out.exists() else {}


# --- the demo tree tells the story ---------------------------------------------------------

STORY_RULES = {
    "SSH Brute Force From One Address",
    "Login Brute Force From One Address In btmp",
    "SSH Password Spraying From One Address",
    "SSH Login Accepted After Failures From The Same Address",
    "WordPress Login Or XML-RPC POST Burst From One Client",
    "Burst Of 404 Responses To One Client",
    "Web Vulnerability Scanner Session From One Client",
    "New Local User Or Group",
    "User Added To A Privileged Group",
    "Second Account With UID 0",
    "Sudo Authentication Failure",
    "Su Authentication Failure",
    "Zeroed Or Truncated wtmp Record",
    "Offensive Tool Package Installed",
    "Network Password Brute-Forcer Run",
}


def test_demo_tree_tells_the_story() -> None:
    code, hits = scan(str(DEMO))
    assert code == 0
    assert STORY_RULES <= {h["rule_title"] for h in hits}
    brute = [h for h in hits if h["rule_title"] == "SSH Brute Force From One Address"]
    assert brute and all(h["correlation"]["group"] == {"client": "203.0.113.45"} for h in brute)
    # the attack runs across the rotation chain: bursts span auth.log.2.gz → .1 → auth.log
    spans = [{e.split(":")[0] for e in h["correlation"]["events"]} for h in brute]
    assert set().union(*spans) == {"auth.log.2.gz", "auth.log.1", "auth.log"}
    assert any(len(members) > 1 for members in spans)


def test_demo_hits_are_sorted_and_complete() -> None:
    _, hits = scan(str(DEMO))
    keys = [(h["timestamp"] or "", h["source"], h["line"], h["rule_id"]) for h in hits]
    assert keys == sorted(keys)
    for hit in hits:
        assert set(hit) >= {"timestamp", "rule_id", "rule_title", "level", "status", "tags",
                            "source", "line", "logsource", "fields", "raw"}


def test_quiet_tree_fires_nothing() -> None:
    if not QUIET.is_dir():
        pytest.skip("fixtures/quiet not generated")
    code, hits = scan(str(QUIET), "--fail-on", "informational")
    assert (code, hits) == (0, [])


def test_community_rules_fire_on_derived_process_creation(corpus: Path) -> None:
    _, hits = scan(str(DEMO), "--rules", str(corpus / "sigmahq" / "rules" / "linux"))
    derived = {h["rule_title"] for h in hits if h.get("derived")}
    assert "Linux HackTool Execution" in derived


# --- exit codes ----------------------------------------------------------------------------

@pytest.mark.parametrize(("argv", "expected"), [
    ((), 0),
    (("--fail-on", "high"), 1),
    (("--fail-on", "critical"), 0),
    (("--since", "yesterday"), 2),
    (("--rules", "/no/such/rules"), 2),
    (("--jobs", "0"), 2),
    (("--format-for", "*.log=nosuchformat"), 2),
])
def test_exit_codes(argv: tuple[str, ...], expected: int) -> None:
    code, _ = scan(str(DEMO), *argv)
    assert code == expected


def test_excluded_rules_do_not_fail_the_run() -> None:
    _, high = scan(str(DEMO), "--min-level", "high")
    excluded = [arg for h in high for arg in ("--exclude-rule", h["rule_id"])]
    assert excluded and scan(str(DEMO), "--fail-on", "high", *excluded)[0] == 0


def test_no_readable_input_is_an_error(tmp_path: Path) -> None:
    assert scan(str(tmp_path / "missing"))[0] == 2


def test_no_rule_loaded_is_an_error(tmp_path: Path) -> None:
    assert scan(str(DEMO), "--no-builtin", "--rules", str(tmp_path))[0] == 2


def test_min_level_and_time_window() -> None:
    _, high = scan(str(DEMO), "--min-level", "high")
    assert high and all(h["level"] in ("high", "critical") for h in high)
    _, hits = scan(str(DEMO), "--since", "2024-02-11", "--until", "2024-02-11")
    assert hits and all(h["timestamp"].startswith("2024-02-11") for h in hits if h["timestamp"])


def test_baseline_suppresses_known_hits(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    code, hits = scan(str(DEMO), "--write-baseline", str(baseline))
    assert code == 0 and hits and baseline.is_file()
    code, again = scan(str(DEMO), "--baseline", str(baseline), "--fail-on", "informational")
    assert (code, again) == (0, [])


# --- determinism and exports ---------------------------------------------------------------

def run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scanner", *argv], capture_output=True,
                          text=True, timeout=600, check=False)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "html", "sarif", "junit"])
def test_jobs_do_not_change_the_output(tmp_path: Path, fmt: str) -> None:
    outputs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"{jobs}.{fmt}"
        result = run_cli("scan", str(DEMO), "-q", "-f", fmt, "-o", str(out), "--jobs", jobs)
        assert result.returncode == 0, result.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] and outputs[0]


def test_csv_export_round_trips(tmp_path: Path) -> None:
    out = tmp_path / "hits.csv"
    assert main(["scan", str(DEMO), "-q", "--jobs", "1", "-f", "csv", "-o", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    _, hits = scan(str(DEMO))
    assert len(rows) == len(hits)
    assert list(rows[0])[:12] == ["timestamp", "level", "rule_title", "rule_id", "source", "line",
                                  "logsource", "host", "program", "user", "src_ip", "raw"]
    assert [r["rule_id"] for r in rows] == [h["rule_id"] for h in hits]
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r.values())


def test_table_output_and_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(DEMO), "--jobs", "1"]) == 0
    captured = capsys.readouterr()
    assert "SSH Brute Force From One Address" in captured.out
    assert "Summary" in captured.err and "lines/s" in captured.err


# --- hostile input and the evidence stays untouched ----------------------------------------

def hostile_tree(root: Path) -> dict[str, str]:
    """A log tree of troublemakers; returns file → what the warning must say."""
    (root / "nginx").mkdir(parents=True)
    line = '192.0.2.7 - - [11/Feb/2024:06:25:01 +0000] "GET /x HTTP/1.1" 404 5 "-" "curl"\n'
    (root / "nginx" / "access.log").write_bytes(line.encode() + b"\xff\xfe bad utf8\n")
    (root / "auth.log").write_bytes(b"Feb 11 06:25:01 vps sshd[1]: a\x00b\x00c\n")
    (root / "syslog").write_text("Feb 11 06:25:01 vps kernel: " + "A" * (10 * 1024 * 1024) + "\n")
    whole = gzip.compress(("Feb 11 06:25:01 vps cron[1]: x\n" * 2000).encode())
    (root / "syslog.2.gz").write_bytes(whole[: len(whole) // 2])
    (root / "empty.log").write_bytes(b"")
    os.mkfifo(root / "fifo.log")
    (root / "loop").symlink_to(".", target_is_directory=True)
    (root / "daemon.log").mkdir()  # a directory where a log is expected: nothing to read
    (root / "dangling.log").symlink_to(root / "nowhere")
    return {"nginx/access.log": "UTF-8", "auth.log": "NUL", "syslog": "long",
            "syslog.2.gz": "", "empty.log": "empty", "fifo.log": "", "loop": ""}


def test_hostile_inputs_each_warn_once_and_the_scan_finishes(tmp_path: Path) -> None:
    expected = hostile_tree(tmp_path / "log")
    code, report = summary(str(tmp_path / "log"))
    assert code == 0
    problems = report["problems"]
    for name, words in expected.items():
        mine = [p for p in problems if p.startswith(f"{name}:") or p.startswith(f"{name} ")]
        assert len(mine) == 1, (name, problems)
        assert words.lower() in mine[0].lower(), (name, mine)
    # the readable prefix of the truncated member still counts (zlib recovers 658 lines)
    assert report["files"] >= 4 and report["lines"] >= 4 + 600


def test_scan_is_strict_only_when_asked(tmp_path: Path) -> None:
    hostile_tree(tmp_path / "log")
    assert summary(str(tmp_path / "log"), "--strict")[0] == 2


def test_unreadable_file_is_a_warning(tmp_path: Path) -> None:
    """Root reads everything, so the scan runs without the capabilities that let it."""
    (tmp_path / "auth.log").write_text("Feb 11 06:25:01 vps sshd[1]: Accepted\n")
    (tmp_path / "secret.log").write_text("Feb 11 06:25:01 vps sshd[1]: hidden\n")
    (tmp_path / "secret.log").chmod(0o000)
    result = subprocess.run([*unprivileged_prefix(), sys.executable, "-m", "scanner", "scan", str(tmp_path),
                             "-q", "--jobs", "1", "-f", "json"], capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)["summary"]
    assert [p for p in report["problems"] if p.startswith("secret.log")], report["problems"]
    assert report["lines"] == 1


def snapshot(root: Path) -> dict[str, tuple[str, int, int]]:
    """Content hash, mtime and atime (ns) of every regular file under ``root``."""
    state = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            st = path.stat()
            fd = os.open(path, os.O_RDONLY | os.O_NOATIME)  # hashing must not move atime either
            try:
                digest = hashlib.sha256(os.read(fd, st.st_size + 1)).hexdigest()
            finally:
                os.close(fd)
            state[str(path)] = (digest, st.st_mtime_ns, st.st_atime_ns)
    return state


def test_scan_leaves_the_tree_untouched(tmp_path: Path) -> None:
    tree = tmp_path / "copy"
    shutil.copytree(DEMO, tree)
    for path in tree.rglob("*"):  # an old atime, so a read would visibly move it
        if path.is_file():
            os.utime(path, ns=(1_000_000_000, path.stat().st_mtime_ns))
    before = snapshot(tree)
    names_before = sorted(p.name for p in tree.rglob("*"))
    assert scan(str(tree))[0] == 0
    after = snapshot(tree)
    assert sorted(p.name for p in tree.rglob("*")) == names_before
    assert {k: v[:2] for k, v in after.items()} == {k: v[:2] for k, v in before.items()}
    assert after == before, "a scan changed an access time"


# --- real material --------------------------------------------------------------------------

def test_whole_corpus_scans_cleanly(corpus: Path) -> None:
    result = run_cli("scan", str(corpus / "logs"), "--rules", str(corpus / "sigmahq"), "-f",
                     "json", "--jobs", "2", "-q")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    report = json.loads(result.stdout)["summary"]
    assert report["rules_skipped"] == 0 and report["rules_loaded"] >= 393
    assert report["files"] >= 250 and report["lines"] > 40_000
    assert report["hits"] > 0
