"""Rule loading: files and directories, errors as problems, correlations, filters, ids, select."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from scanner.errors import Problems, UsageError
from scanner.match.matcher import Matcher
from scanner.model import Event, LogSource
from scanner.rules.load import load_rules

RULES = Path(__file__).parent / "rules"
GOOD = """title: Good rule
id: 11111111-0000-4000-8000-000000000001
logsource: {product: linux, service: sshd}
detection:
  keywords: [boom]
  condition: keywords
"""
BROKEN = [
    # id, file text, words the one problem line must contain
    ("bad-yaml", "title: x\ndetection: [unclosed\n", ["cannot read YAML"]),
    ("unknown-modifier", GOOD.replace("keywords: [boom]", "sel: {user|nosuch: x}")
     .replace("condition: keywords", "condition: sel").replace("0001", "0002"), ["nosuch"]),
    ("missing-identifier", GOOD.replace("condition: keywords", "condition: keywords and nothere")
     .replace("0001", "0003"), ["nothere"]),
    ("bad-regex", GOOD.replace("keywords: [boom]", "sel: {user|re: 'a(b'}")
     .replace("condition: keywords", "condition: sel").replace("0001", "0004"), ["a(b"]),
    ("not-a-mapping", "- just\n- a list\n", ["not a Sigma rule file"]),
    ("unresolved-correlation", """title: c
id: 11111111-0000-4000-8000-000000000005
correlation: {type: event_count, rules: [ghost], group-by: [user], timespan: 1m, condition: {gte: 2}}
""", ["ghost"]),
]


@pytest.mark.parametrize("text,words", [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_broken_file_gives_one_problem_and_others_load(tmp_path: Path, text: str,
                                                       words: list[str]) -> None:
    (tmp_path / "a_good.yml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b_broken.yml").write_text(text, encoding="utf-8")
    problems = Problems()
    compiled = load_rules([tmp_path], problems)
    assert [r.title for r in compiled.rules] == ["Good rule"]
    assert len(problems) == 1, [str(p) for p in problems]
    line = str(problems.items[0])
    assert "b_broken.yml" in line and "\n" not in line
    assert all(w in line for w in words), line


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such rule file"):
        load_rules([tmp_path / "nope"], Problems())


def test_directory_is_recursive_and_takes_yaml_suffixes(tmp_path: Path) -> None:
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / "deep" / "er" / "one.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "two.yml").write_text(GOOD.replace("0001", "0009"), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a rule", encoding="utf-8")
    problems = Problems()
    assert len(load_rules([tmp_path], problems).rules) == 2 and not problems.items


def test_a_file_named_twice_loads_once(tmp_path: Path) -> None:
    """The bundled directory passed again with --rules, or a directory and one inside it, name
    the same files twice: each loads once, with no duplicate-id warning; two files that share
    an id still get one."""
    (tmp_path / "linux").mkdir()
    (tmp_path / "linux" / "good.yml").write_text(GOOD, encoding="utf-8")
    problems = Problems()
    compiled = load_rules([tmp_path, tmp_path / "linux", tmp_path / "linux" / "good.yml",
                           tmp_path / "linux" / ".." / "linux"], problems)
    assert [r.title for r in compiled.rules] == ["Good rule"]
    assert not problems.items, [str(p) for p in problems]
    (tmp_path / "copy.yml").write_text(GOOD, encoding="utf-8")
    compiled = load_rules([tmp_path, tmp_path / "linux"], problems)
    assert len(compiled.rules) == 1
    assert ["duplicate rule id" in str(p) for p in problems] == [True]


def test_correlations_become_specs_with_native_fields_and_ids() -> None:
    problems = Problems()
    compiled = load_rules([RULES / "failed_then_success.yml"], problems)
    assert not problems.items, [str(p) for p in problems]
    by_title = {r.title: r for r in compiled.rules}
    base, web = by_title["Failed sshd password"], by_title["Accepted web login"]
    assert web.id.startswith("noid-")
    assert (base.output, web.output) == (False, False)
    count, ordered = compiled.correlations
    assert (count.type, count.rules, count.group_by, count.timespan, count.op, count.count) == (
        "event_count", (base.id,), ("src_ip",), 600.0, "gte", 5.0)
    assert count.rule.kind == "event_count" and count.rule.level == "high"
    assert ordered.type == "temporal_ordered" and ordered.rules == (count.rule.id, web.id)
    assert ordered.aliases == {"ip": {count.rule.id: "src_ip", web.id: "client_ip"}}
    assert ordered.group_by == ("ip",) and ordered.timespan == 3600.0


def test_synthetic_id_is_stable() -> None:
    first = load_rules([RULES / "failed_then_success.yml"], Problems())
    again = load_rules([RULES / "failed_then_success.yml"], Problems())
    assert [r.id for r in first.rules] == [r.id for r in again.rules]


def test_compiled_rules_pickle_and_match_in_a_new_matcher() -> None:
    compiled = pickle.loads(pickle.dumps(load_rules([RULES], Problems())))
    sshd = LogSource(product="linux", service="sshd")
    plan = Matcher(compiled).plan([sshd])
    raw = "Failed password for root from 10.0.0.1 port 22 ssh2"
    event = Event("auth.log", 1, "sshd", (sshd,), {"host": "web01"}, raw)
    assert [r.title for r in plan.match(event, plan.candidates(raw))] == ["Failed sshd password"]


def test_filter_documents_apply_to_rules_of_other_files() -> None:
    compiled = load_rules([RULES], Problems())
    sshd = LogSource(product="linux", service="sshd")
    plan = Matcher(compiled).plan([sshd])
    raw = "Failed password for root from 10.0.0.1 port 22 ssh2"
    event = Event("auth.log", 1, "sshd", (sshd,), {"host": "jump01"}, raw)
    assert plan.match(event, plan.candidates(raw + "\0jump01")) == []


def test_select_keeps_the_rules_a_kept_correlation_needs() -> None:
    compiled = load_rules([RULES / "failed_then_success.yml"], Problems())
    chosen = compiled.select(lambda r: r.level == "critical")
    assert [c.rule.level for c in chosen.correlations] == ["high", "critical"]
    assert {r.title for r in chosen.rules} == {"Failed sshd password", "Accepted web login"}
    only_base = compiled.select(lambda r: r.kind == "rule" and r.title.startswith("Accepted"))
    assert only_base.correlations == () and [r.output for r in only_base.rules] == [True]


def test_corpus_rules_all_load(corpus: Path) -> None:
    problems = Problems()
    compiled = load_rules([corpus / "sigmahq"], problems)
    assert [str(p) for p in problems if p.kind == "rule"] == []
    assert len(compiled.rules) + len(compiled.correlations) == 393


def test_extended_temporal_condition_names_rules_by_id(tmp_path: Path) -> None:
    base = "title: {0}\nname: {0}\nlogsource: {{product: linux, service: sshd}}\n" \
           "detection: {{k: [{0}-word], condition: k}}\n---\n"
    path = tmp_path / "extended.yml"
    path.write_text(base.format("opened") + base.format("opened_closed") + """title: open not closed
id: 22222222-0000-4000-8000-000000000001
correlation: {type: temporal, group-by: [Image], timespan: 5m, condition: opened and not opened_closed}
""", encoding="utf-8")
    problems = Problems()
    compiled = load_rules([path], problems)
    assert not problems.items, [str(p) for p in problems]
    ids = {r.title: r.id for r in compiled.rules}
    (spec,) = compiled.correlations
    assert spec.rules == (ids["opened"], ids["opened_closed"])
    assert spec.expression == f"{ids['opened']} and not {ids['opened_closed']}"
    assert spec.group_by == ("Image",) and spec.op is None
