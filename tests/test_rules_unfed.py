"""A scan's rule load: rules no input can feed are counted but not compiled, the rest is
exactly what ``rules check`` loads, with one process or two."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.errors import Problems
from scanner.model import LogSource
from scanner.resources import bundled_rules_dir
from scanner.rules.feeds import can_fire, feeders
from scanner.rules import parse
from scanner.rules.load import CompiledRules, load_rules

FILES = 220  # numbered rule files the tests write; PARALLEL_FILES is lowered below it

WINDOWS = """title: Windows rule {n}
id: 22222222-0000-4000-8000-{n:012d}
logsource: {{product: windows, category: process_creation}}
detection:
  sel: {{Image|endswith: '\\\\evil{n}.exe'}}
  condition: sel
"""
LINUX = """title: Linux rule {n}
id: 33333333-0000-4000-8000-{n:012d}
logsource: {{product: linux, service: sshd}}
detection:
  keywords: ['boom{n}']
  condition: keywords
"""
SPECIAL = {
    # a Windows rule a correlation in another file names: compiled all the same
    "referenced.yml": """title: Referenced Windows rule
name: win_referenced
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4625}
  condition: sel
""",
    "correlation.yml": """title: Many Windows failures
id: 44444444-0000-4000-8000-000000000001
correlation: {type: event_count, rules: [win_referenced], group-by: [IpAddress],
              timespan: 5m, condition: {gte: 3}}
""",
    # problems of unfed rules that parsing finds: reported by a scan too
    "win_bad_modifier.yml": WINDOWS.format(n=900).replace("Image|endswith", "Image|nosuch"),
    "win_not_yaml.yml": "title: [unclosed\n",
    # problems that only converting finds: rules check reports them, a scan never converts
    "win_placeholder.yml": WINDOWS.format(n=902).replace("Image|endswith: '\\\\evil902.exe'",
                                                         "Image|expand: '%unknown%'"),
    "win_bad_condition.yml": WINDOWS.format(n=901).replace("condition: sel", "condition: nothere"),
    # an unfed rule first, then a fed one with its id: the first one is kept
    "a_duplicate.yml": WINDOWS.format(n=903),
    "b_duplicate.yml": LINUX.format(n=903).replace("33333333", "22222222"),
    "no_id.yml": LINUX.format(n=904).replace("id: 33333333-0000-4000-8000-000000000904\n", ""),
    "mixed.yml": WINDOWS.format(n=905) + "---\n" + LINUX.format(n=905),
}
CONVERTED_ONLY = ["22222222-0000-4000-8000-000000000901", "22222222-0000-4000-8000-000000000902"]


@pytest.fixture(autouse=True)
def two_processes_from_200_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse, "PARALLEL_FILES", FILES - 20)


def write_rules(root: Path) -> Path:
    """More files than PARALLEL_FILES: mostly unfed Windows rules, some fed, the cases above."""
    for n in range(FILES):
        (root / f"rule_{n:03d}.yml").write_text((WINDOWS if n % 7 else LINUX).format(n=n))
    for name, text in SPECIAL.items():
        (root / name).write_text(text)
    return root


def load(paths: list[Path], scan: bool, processes: int = 1) -> tuple[CompiledRules, list[str]]:
    problems = Problems()
    compiled = load_rules(paths, problems, None, can_fire if scan else None, processes)
    return compiled, [f"{p.kind}: {p}" for p in problems]


def loaded_ids(compiled: CompiledRules) -> list[str]:
    return sorted(info.id for info in [*compiled.rules, *compiled.unfed,
                                       *(c.rule for c in compiled.correlations)])


def test_feeds_come_from_the_routes_and_logsigmas_own_events() -> None:
    assert can_fire(LogSource(product="linux", service="sshd"))
    assert can_fire(LogSource(category="webserver"))
    assert can_fire(LogSource(category="process_creation", product="linux"))  # derived
    assert can_fire(LogSource(product="linux", service="log_integrity"))  # integrity checks
    assert not can_fire(LogSource(category="process_creation", product="windows"))
    assert not can_fire(LogSource(product="aws", service="cloudtrail"))
    assert feeders(LogSource(product="windows")) == []


@pytest.mark.parametrize("processes", [1, 2])
def test_scan_load_compiles_only_what_can_fire(tmp_path: Path, processes: int) -> None:
    rules = write_rules(tmp_path)
    everything, check_problems = load([rules], scan=False)
    scan, scan_problems = load([rules], scan=True, processes=processes)

    # the same rules load (compiled or not) and the same problems are reported, but the
    # conversion problems of rules the scan never converts
    assert loaded_ids(scan) == sorted([*loaded_ids(everything), *CONVERTED_ONLY])
    assert scan_problems == [p for p in check_problems if not any(i in p for i in CONVERTED_ONLY)]
    assert len(check_problems) == len(scan_problems) + len(CONVERTED_ONLY)
    for words in ("nosuch", "cannot read YAML", "duplicate rule id"):
        assert sum(words in p for p in scan_problems) == 1, words

    # only rules that can fire, or that a correlation needs, are compiled
    assert all(can_fire(info.logsource) for info in scan.rules if info.name != "win_referenced")
    assert not any(can_fire(info.logsource) for info in scan.unfed)
    assert [c.rule.title for c in scan.correlations] == ["Many Windows failures"]
    fed = {c.info.id for c in scan.compiled}
    assert scan.compiled == tuple(c for c in everything.compiled if c.info.id in fed)
    assert len(scan.compiled) == 32 + 1 + 1 + 1  # every 7th numbered file, referenced, no id, mixed


def test_two_processes_load_exactly_what_one_does(tmp_path: Path) -> None:
    rules = write_rules(tmp_path)
    assert load([rules], scan=True, processes=2) == load([rules], scan=True, processes=1)


def test_a_filter_document_makes_every_file_load_in_full(tmp_path: Path) -> None:
    rules = write_rules(tmp_path)
    (rules / "filter.yml").write_text("""title: Not on the build host
id: 55555555-0000-4000-8000-000000000001
logsource: {product: windows, category: process_creation}
filter:
  rules: [22222222-0000-4000-8000-000000000001]
  selection: {ComputerName: build01}
  condition: not selection
""")
    everything, check_problems = load([rules], scan=False)
    scan, scan_problems = load([rules], scan=True, processes=2)
    assert loaded_ids(scan) == sorted([*loaded_ids(everything), *CONVERTED_ONLY])
    assert scan_problems == [p for p in check_problems if not any(i in p for i in CONVERTED_ONLY)]


def test_select_keeps_the_count_of_unfed_rules(tmp_path: Path) -> None:
    scan, _ = load([write_rules(tmp_path)], scan=True)
    only = scan.select(lambda info: info.id == "22222222-0000-4000-8000-000000000001")
    assert (only.loaded, only.compiled, [r.id for r in only.unfed]) == (
        1, (), ["22222222-0000-4000-8000-000000000001"])


def test_corpus_and_bundled_rules_load_as_rules_check_loads_them(corpus: Path) -> None:
    paths = [corpus / "sigmahq", bundled_rules_dir()]
    everything, check_problems = load(paths, scan=False)
    scan, scan_problems = load(paths, scan=True, processes=2)
    assert scan.unfed  # proxy, linux file_event and network_connection rules
    assert loaded_ids(scan) == loaded_ids(everything)
    assert scan_problems == check_problems
    fed = {c.info.id for c in scan.compiled}
    assert scan.compiled == tuple(c for c in everything.compiled if c.info.id in fed)
    assert scan.correlations == everything.correlations


def test_scan_summary_counts_unfed_rules_as_loaded(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "windows.yml").write_text(WINDOWS.format(n=1))
    (rules / "linux.yml").write_text(LINUX.format(n=2))
    log = tmp_path / "auth.log"
    log.write_text("Jan  5 10:00:00 web01 sshd[1]: boom2 happened\n")
    result = subprocess.run([sys.executable, "-m", "scanner", "scan", "--no-builtin", "-r",
                             str(rules), "-f", "json", "--year", "2025", str(log)],
                            capture_output=True, text=True, check=True)
    output = json.loads(result.stdout)
    assert (output["summary"]["rules_loaded"], output["summary"]["rules_skipped"]) == (2, 0)
    assert [hit["rule_title"] for hit in output["hits"]] == ["Linux rule 2"]


def test_only_unfed_rules_is_not_an_error(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "windows.yml").write_text(WINDOWS.format(n=1))
    log = tmp_path / "auth.log"
    log.write_text("Jan  5 10:00:00 web01 sshd[1]: nothing\n")
    result = subprocess.run([sys.executable, "-m", "scanner", "scan", "--no-builtin", "-r",
                             str(rules), "-f", "json", "--year", "2025", str(log)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["summary"]["rules_loaded"] == 1
