"""``logsigma rules check|list`` through the real command line: output and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.cli import main
from scanner.model import LogSource
from scanner.rules.commands import read_from

RULES = Path(__file__).parent / "rules"
BROKEN = "title: Broken\nlogsource: {product: linux}\ndetection:\n  sel: {user|nosuch: x}\n  condition: sel\n"


def test_check_all_loaded_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(RULES)]) == 0
    out = capsys.readouterr().out
    assert "Failed sshd password" in out and "correlation (temporal_ordered)" in out
    assert "linux/*/sshd" in out and "4 loaded, 0 skipped" in out


def test_check_with_a_skipped_rule_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken.yml").write_text(BROKEN, encoding="utf-8")
    assert main(["rules", "check", str(RULES), str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "broken.yml" in out and "Unknown modifier 'nosuch'" in out
    assert "4 loaded, 1 skipped" in out


@pytest.mark.parametrize("action", ["check", "list"])
def test_missing_path_exits_2(tmp_path: Path, action: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", action, str(tmp_path / "nope")]) == 2
    assert "no such rule file or directory" in capsys.readouterr().err


def test_placeholders_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rule = tmp_path / "expand.yml"
    rule.write_text("title: Admins\nlogsource: {product: linux, service: sshd}\ndetection:\n"
                    "  sel: {user|expand: '%admins%'}\n  condition: sel\n", encoding="utf-8")
    assert main(["rules", "check", str(rule)]) == 1
    assert "%admins%" in capsys.readouterr().out
    values = tmp_path / "values.yml"
    values.write_text("admins: [root, toor]\n", encoding="utf-8")
    assert main(["rules", "check", "--placeholders", str(values), str(rule)]) == 0


def test_list_shows_metadata(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken.yml").write_text(BROKEN, encoding="utf-8")
    assert main(["rules", "list", str(RULES), str(tmp_path)]) == 0
    captured = capsys.readouterr()
    header = captured.out.splitlines()[0].split()
    assert header == ["id", "title", "level", "status", "logsource"]
    row = next(line for line in captured.out.splitlines() if "0b0e8b0e-0000-4000-8000-00000000aa03" in line)
    assert "high" in row and "experimental" in row and "correlation (event_count)" in row
    assert "broken.yml" in captured.err


def test_check_corpus_loads_every_rule(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(corpus / "sigmahq")]) == 0
    assert "393 loaded, 0 skipped" in capsys.readouterr().out


@pytest.mark.parametrize(("logsource", "feeds"), [
    (LogSource(category="webserver"), "nginx_access"),
    (LogSource(product="linux", service="sshd"), "syslog"),
    (LogSource(product="linux", category="process_creation"), "derived from sudo and auditd"),
    (LogSource(product="linux", service="log_integrity"), "stream-integrity"),
    (LogSource(category="proxy"), "cannot fire"),
    (LogSource(product="windows", category="process_creation"), "cannot fire"),
])
def test_check_says_what_feeds_each_logsource(logsource: LogSource, feeds: str) -> None:
    assert feeds in read_from(logsource)
