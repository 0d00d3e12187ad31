"""CLI options: ``events -f jsonl|csv|table`` and no abbreviated option anywhere."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from scanner.cli import main

HOSTILE = ("2024-02-11T09:30:00.000000+00:00 vps sshd[811]: Invalid user =cmd "
           "from 203.0.113.45 port 4242\n"
           "2024-02-11T09:30:01.000000+00:00 vps sshd[811]: Invalid user \x1b[2Jadmin from "
           "203.0.113.45 port 4243\n")


@pytest.fixture()
def auth_log(tmp_path: Path) -> Path:
    path = tmp_path / "auth.log"
    path.write_text(HOSTILE)
    return path


def _events(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["events", *args]) == 0
    return capsys.readouterr().out


def test_events_formats_agree(auth_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = [json.loads(line) for line in _events(capsys, str(auth_log)).splitlines()]
    assert records == [json.loads(line) for line in
                       _events(capsys, "-f", "jsonl", str(auth_log)).splitlines()]
    rows = list(csv.DictReader(io.StringIO(_events(capsys, "--format", "csv", str(auth_log)))))
    assert [(r["source"], r["line"]) for r in rows] == [("auth.log", "1"), ("auth.log", "2")]
    assert json.loads(rows[0]["fields"])["user"] == records[0]["fields"]["user"] == "=cmd"
    table = _events(capsys, "-f", "table", str(auth_log)).splitlines()
    assert table[0].split() == ["timestamp", "source:line", "format", "raw"]
    assert table[2].startswith("2024-02-11T09:30:01+00:00") and "\\x1b[2Jadmin" in table[2]
    assert "\x1b" not in "".join(table)


def test_events_csv_cells_cannot_be_formulas(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "notes.txt"  # the raw route: the raw cell is the line itself
    path.write_text("=HYPERLINK(\"http://203.0.113.45\")\n")
    rows = list(csv.DictReader(io.StringIO(_events(capsys, "-f", "csv", str(path)))))
    assert rows[0]["raw"] == "'=HYPERLINK(\"http://203.0.113.45\")"


@pytest.mark.parametrize("argv, option", [
    (["scan", "--min-lev", "high", "x"], "--min-lev"),
    (["scan", "--no-built", "x"], "--no-built"),
    (["events", "--form", "csv", "x"], "--form"),
    (["events", "--cov", "x"], "--cov"),
    (["rules", "check", "--no-built", "x"], "--no-built"),
    (["--deb", "formats"], "--deb"),
])
def test_abbreviated_options_are_errors_naming_them(argv: list[str], option: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert option in capsys.readouterr().err


def test_formats_lists_the_journal_and_binary_routes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["formats"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert "*.journal, *.journal~" in rows["journal"] and "linux/*/auth" in rows["journal"]
    assert "binary" in rows
