"""The syslog family on real third-party logs (skipped without the shared corpus).

loghub's ``*_structured.csv`` is an independent parse of the same lines: our header
fields must equal its columns and the users and addresses we extract must be
among the values its event templates leave open (``<*>``). Plaso's syslog
variants and the elastic-examples auth.log must parse at 99% or better.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from scanner.errors import Problems
from scanner.model import Event, FileStats, SourceFile
from scanner.normalize.grammars import load_grammar
from scanner.normalize.normalizer import normalize_file
from scanner.normalize.routes import choose_route, load_routes
from scanner.sources.open import sniff_lines

LOGHUB = "logs/loghub"
PLASO_EXTRA = ["syslog_copy", "syslog.gz", "syslog.bz2", "syslog.xz"]


@dataclass
class Normalized:
    events: list[Event]
    stats: FileStats
    problems: Problems


def normalize(path: Path) -> Normalized:
    """Every event of a corpus file, routed as the scanner would route it."""
    file = SourceFile(path=path, root=path.parent, source=path.name, size=path.stat().st_size,
                      mtime=path.stat().st_mtime)
    choice = choose_route(file.source, sniff_lines(file), load_routes())
    stats, problems = FileStats(file.source, choice.route.format), Problems()
    events = list(normalize_file(file, choice, problems, stats, start_year=2024))
    return Normalized(events, stats, problems)


def template_values(template: str, content: str) -> list[str]:
    """The values a loghub template's ``<*>`` slots take in ``content``."""
    pattern = "".join("(.*?)" if part == "<*>" else re.escape(part)
                      for part in re.split(r"(<\*>)", template.strip()))
    match = re.fullmatch(pattern, content.strip())
    return [v for group in match.groups() for v in group.split()] if match else []


def structured(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(("name", "host", "program", "pid"), [
    ("OpenSSH", "Component", None, "Pid"),  # loghub calls the host "Component" here
    ("Linux", "Level", "Component", "PID"),  # and "Level" here
])
def test_loghub_agrees_with_structured_csv(corpus: Path, name: str, host: str,
                                           program: str | None, pid: str) -> None:
    log = corpus / LOGHUB / name / f"{name}_2k.log"
    result = normalize(log)
    rows = structured(log.with_name(f"{name}_2k.log_structured.csv"))
    assert len(result.events) == len(rows) == 2000 and len(result.problems) == 0
    assert result.stats.parsed / result.stats.lines >= 0.99
    disagreements: Counter[str] = Counter()
    compared: Counter[str] = Counter()

    def compare(key: str, ours: object, theirs: object) -> None:
        compared[key] += 1
        disagreements[key] += ours != theirs

    for event, row in zip(result.events, rows):
        fields = event.fields
        compare("host", fields.get("host"), row[host])
        if "program" in fields:  # a line without a tag ("syslogd 1.4.1: restart.") has no overlap
            compare("pid", fields.get("pid", ""), row[pid])
            message = fields["message"].strip()
            if "repeated" in fields:  # we unwrap "message repeated N times: [ msg]"
                message = f"message repeated {fields['repeated']} times: [ {message}]"
            compare("message", message, row["Content"].strip())
            if program:
                compare("program", fields["program"], row[program])
        values = template_values(row["EventTemplate"], row["Content"])
        literal = row["EventTemplate"].split()
        for key in ("user", "src_ip", "rhost"):
            if key in fields:
                compare(key, True, fields[key] in values or f"{key.split('_')[0]}={fields[key]}" in literal
                        or fields[key] in literal)
    assert compared["host"] == 2000 and compared["user"] > 100 and compared["message"] >= 1990
    assert sum(disagreements.values()) == 0, (dict(disagreements), dict(compared))


def test_openssh_messages_parse_with_the_sshd_grammar(corpus: Path) -> None:
    result = normalize(corpus / LOGHUB / "OpenSSH" / "OpenSSH_2k.log")
    kinds = Counter(e.fields.get("event", "unparsed message") for e in result.events)
    assert sum(n for k, n in kinds.items() if k != "unparsed message") / 2000 >= 0.99, kinds
    assert kinds["failed"] > 0 and kinds["failed_invalid"] > 0 and kinds["auth_failure"] > 0


def test_elastic_auth_log(corpus: Path) -> None:
    result = normalize(corpus / "logs/elastic-examples/auth.log")
    assert result.stats.lines == 7121 and result.stats.parsed / result.stats.lines >= 0.99
    services = Counter(ls.service for e in result.events for ls in e.logsources)
    assert services["sshd"] >= 4000 and services["sudo"] >= 500 and services["cron"] >= 1000
    sudo = [e.fields for e in result.events if e.fields.get("event") == "command"]
    assert sudo and all({"user", "tty", "pwd", "target_user", "command"} <= set(f) for f in sudo)
    added = [e.fields for e in result.events if e.fields.get("event") == "user_added"]
    assert added and all({"user", "uid", "gid", "home", "shell"} <= set(f) for f in added)


def test_plaso_syslog_variants(corpus: Path) -> None:
    totals = Counter[str]()
    plaso = corpus / "logs/plaso"
    paths = sorted((plaso / "syslog").iterdir()) + [plaso / name for name in PLASO_EXTRA]
    for path in paths:
        result = normalize(path)
        assert result.stats.format == "syslog" and len(result.problems) == 0, path
        totals["lines"] += result.stats.lines
        totals["parsed"] += result.stats.parsed
    assert totals["parsed"] / totals["lines"] >= 0.99, totals


def test_fast_path_agrees_with_lark_on_real_lines(corpus: Path) -> None:
    route = load_routes()["syslog"]
    header = load_grammar("syslog")
    for path in (corpus / LOGHUB / "OpenSSH/OpenSSH_2k.log", corpus / LOGHUB / "Linux/Linux_2k.log"):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            parsed = header.parse_with_lark(line)
            assert header.parse(line) == parsed, line
            program = route.program(parsed[1].get("program", "")) if parsed else None
            for name in program.grammars if program else ():
                message = parsed[1]["message"]
                assert load_grammar(name).parse(message) == load_grammar(name).parse_with_lark(message)
