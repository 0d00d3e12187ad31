"""A correlation hit's contributing lines as text in the HTML report, read back after the scan.

The demo's SSH brute force spans a rotation: its first contributing lines come out of the
gzip member ``auth.log.2.gz``, its last out of ``auth.log.1``; the texts are checked against
the files themselves, and bzip2 and xz members read back as gzip ones do. A journal entry shows its MESSAGE (ground truth: journalctl's JSON kept
beside the fixture), an audit event all its lines, a btmp record its normalized summary; a
vanished or changed file, or a line past the end, leaves the reference and one warning;
control characters show escaped.
"""

from __future__ import annotations

import bz2
import gzip
import html
import json
import lzma
import re
import shutil
from pathlib import Path
from typing import Callable

import pytest

from conftest import FIXTURES
from scanner.cli import main
from scanner.errors import Problems
from scanner.normalize.routes import load_routes, route_file
from scanner.report.context import Evidence
from scanner.report.excerpts import Excerpts
from scanner.sources.walk import walk

DEMO = FIXTURES / "demo" / "var" / "log"
BRUTE_FORCE = "SSH Brute Force From One Address"


def evidence(*paths: Path) -> dict[str, Evidence]:
    """The scanned files of ``paths`` by source, each with the route the scan reads it along."""
    routes = load_routes()
    files = walk(list(paths), Problems())
    return {f.source: Evidence(f, route_file(f, routes).route) for f in files}


def read_back(found: dict[str, Evidence], *references: tuple[str, int]) -> tuple[Excerpts, list[str]]:
    excerpts = Excerpts(found)
    excerpts.want(references)
    return excerpts, [str(problem) for problem in excerpts.read()]


def contributors(page: str, title: str) -> str:
    """The contributing lines block of the first hit of rule ``title``, as plain text."""
    block = re.search(r'<summary>contributing lines \((\d+) in all\)</summary><pre class="contributors">(.*?)</pre>',
                      page[page.index(f">{title}</a>"):], re.S)
    assert block
    return block.group(1) + "\n" + html.unescape(re.sub(r"<[^>]+>", "", block.group(2)))


def test_demo_brute_force_shows_its_first_and_last_lines(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert main(["scan", "-q", "--jobs", "1", "-f", "html", "-o", str(out), str(DEMO)]) == 0
    count, text = contributors(out.read_text(encoding="utf-8"), BRUTE_FORCE).split("\n", 1)
    shown = text.splitlines()
    with gzip.open(DEMO / "auth.log.2.gz", "rt", encoding="utf-8") as member:
        old = member.read().splitlines()
    new = (DEMO / "auth.log.1").read_text(encoding="utf-8").splitlines()
    first, last = shown[:3], shown[-3:]
    for ref_text in first:
        ref, line_text = ref_text.split("  ", 1)
        source, number = ref.rsplit(":", 1)
        assert source == "auth.log.2.gz" and old[int(number) - 1] == line_text
    for ref_text in last:
        ref, line_text = ref_text.split("  ", 1)
        source, number = ref.rsplit(":", 1)
        assert source == "auth.log.1" and new[int(number) - 1] == line_text
    assert any("Failed password for root from 203.0.113.45" in line for line in first)
    assert last[-1].split("  ", 1)[1].split(": ", 1)[1].startswith("Failed password for root")
    assert f"… {int(count) - 6} more …" in text
    hits = tmp_path / "hits.jsonl"
    assert main(["scan", "-q", "--jobs", "1", "-f", "jsonl", "-o", str(hits), str(DEMO)]) == 0
    events = [json.loads(row)["fields"]["events"] for row in hits.read_text().splitlines()
              if json.loads(row)["rule_title"] == BRUTE_FORCE]
    assert int(count) == events[0]


@pytest.mark.parametrize("suffix, pack", [(".bz2", bz2.compress), (".xz", lzma.compress)])
def test_bzip2_and_xz_members_read_back_like_gzip_ones(tmp_path: Path, suffix: str,
                                                       pack: Callable[[bytes], bytes]) -> None:
    with gzip.open(DEMO / "auth.log.2.gz", "rb") as member:
        data = member.read()
    lines = data.decode("utf-8").splitlines()
    name = f"auth.log.2{suffix}"
    (tmp_path / name).write_bytes(pack(data))
    wanted = (1, len(lines) // 2, len(lines))
    excerpts, warnings = read_back(evidence(tmp_path), *((name, n) for n in wanted))
    assert warnings == []
    assert [excerpts.text(name, n) for n in wanted] == [lines[n - 1] for n in wanted]


def test_journal_entry_shows_its_message(tmp_path: Path) -> None:
    journal = tmp_path / "system.journal"  # a compressed journal is not read in place
    with gzip.open(FIXTURES / "journal" / "regular-none.journal.gz") as packed:
        journal.write_bytes(packed.read())
    found = evidence(journal)
    entries = [json.loads(row) for row in
               (FIXTURES / "journal" / "regular-none.json").read_text().splitlines()]
    (source,) = found
    excerpts, warnings = read_back(found, (source, 1), (source, len(entries)))
    assert warnings == []
    for number in (1, len(entries)):
        text = excerpts.text(source, number)
        assert text is not None and text.endswith(f": {entries[number - 1]['MESSAGE']}")


def test_multi_line_record_and_binary_record() -> None:
    found = evidence(FIXTURES / "formats" / "audit.log", FIXTURES / "binary" / "sshd.btmp")
    lines = (FIXTURES / "formats" / "audit.log").read_text().splitlines()
    first = next(n for n, line in enumerate(lines, 1) if line.startswith("type="))
    serial = re.search(r"msg=audit\(([^)]*)\)", lines[first - 1]).group(1)  # type: ignore[union-attr]
    event = [line for line in lines if f"msg=audit({serial})" in line]
    excerpts, warnings = read_back(found, ("audit.log", first), ("sshd.btmp", 1))
    assert warnings == [] and len(event) > 1
    assert excerpts.text("audit.log", first) == "\n".join(event)
    btmp = excerpts.text("sshd.btmp", 1)
    assert btmp is not None and btmp.startswith("[6] ")  # the login record, normalized


def test_vanished_changed_and_short_files_leave_references(tmp_path: Path) -> None:
    tree = tmp_path / "log"
    tree.mkdir()
    for name in ("auth.log", "auth.log.1", "auth.log.2.gz"):
        shutil.copy2(DEMO / name, tree / name)
    found = evidence(tree)
    (tree / "auth.log.1").unlink()
    with (tree / "auth.log").open("a") as live:
        live.write("Feb 11 09:00:00 vps sshd[1]: one more line\n")
    excerpts, warnings = read_back(found, ("auth.log", 1), ("auth.log.1", 2),
                                   ("auth.log.2.gz", 116), ("auth.log.2.gz", 10 ** 6))
    assert excerpts.text("auth.log", 1) is None and excerpts.text("auth.log.1", 2) is None
    assert excerpts.text("auth.log.2.gz", 116) is not None
    assert len(warnings) == 3
    assert warnings[0].startswith("auth.log: changed since the scan")
    assert warnings[1].startswith("auth.log.1: gone since the scan")
    assert warnings[2].startswith("auth.log.2.gz: 1 contributing record(s) not read, first line 1000000")


def test_texts_past_the_cap_leave_references_and_one_warning(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("scanner.report.excerpts.WANTED_CAP", 2)
    excerpts, warnings = read_back(evidence(DEMO / "auth.log.1"), *(("auth.log.1", n) for n in (3, 1, 2, 5)))
    assert [excerpts.text("auth.log.1", n) is not None for n in (1, 2, 3, 5)] == [True, False, True, False]
    assert excerpts.text("auth.log.1", 3) == (DEMO / "auth.log.1").read_text().splitlines()[2]
    assert warnings == ["auth.log.1: contributing lines from line 2 on, and of every later hit, shown as "
                        "references only: the report keeps at most 2 texts"]


def test_control_characters_in_a_contributing_line_are_escaped(tmp_path: Path) -> None:
    tree = tmp_path / "log"
    tree.mkdir()
    (tree / "auth.log").write_text("".join(
        f"Feb 11 10:01:{s:02d} vps sshd[{900 + s}]: Failed password for invalid user "
        f"x\x1b[2J<b>{s} from 203.0.113.9 port {4000 + s} ssh2\n" for s in range(12)))
    found = evidence(tree)
    excerpts, warnings = read_back(found, ("auth.log", 3))
    assert warnings == [] and excerpts.text("auth.log", 3) == (
        "Feb 11 10:01:02 vps sshd[902]: Failed password for invalid user x\x1b[2J<b>2 from 203.0.113.9 "
        "port 4002 ssh2")
    out = tmp_path / "report.html"
    assert main(["scan", "-q", "--jobs", "1", "-f", "html", "-o", str(out), str(tree)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "user x\\x1b[2J&lt;b&gt;2 from" in page and "\x1b" not in page
