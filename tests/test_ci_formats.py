"""SARIF and JUnit output of the demo scan, read back.

SARIF is validated against the official SARIF 2.1.0 JSON schema (tests/schemas/, see its
README for where it came from) with jsonschema; JUnit XML is parsed back and its suites,
cases and failures checked against the JSON Lines output of the same scan.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import jsonschema
import pytest

from conftest import FIXTURES, REPO
from scanner.cli import main
from scanner.model import level_rank

DEMO = FIXTURES / "demo" / "var" / "log"
SCHEMA = json.loads((REPO / "tests" / "schemas" / "sarif-schema-2.1.0.json").read_text())


def run(tmp_path: Path, fmt: str, *argv: str, tree: Path = DEMO) -> tuple[int, str]:
    out = tmp_path / f"out.{fmt}"
    code = main(["scan", "-q", "--jobs", "1", "-f", fmt, "-o", str(out), *argv, str(tree)])
    return code, out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def hits(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    _, text = run(tmp_path_factory.mktemp("jsonl"), "jsonl")
    return [json.loads(line) for line in text.splitlines()]


def test_sarif_validates_against_the_official_schema(tmp_path: Path, hits: list[dict]) -> None:
    code, text = run(tmp_path, "sarif")
    assert code == 0
    log = json.loads(text)
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(log)
    [sarif_run] = log["runs"]
    rules = sarif_run["tool"]["driver"]["rules"]
    assert len({r["id"] for r in rules}) == len(rules)
    assert {h["rule_id"] for h in hits} <= {r["id"] for r in rules}
    results = sarif_run["results"]
    assert len(results) == len(hits)
    for result, hit in zip(results, hits):
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == hit["rule_id"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"] == {"uri": hit["source"], "uriBaseId": "SCANROOT"}
        assert location["region"]["startLine"] == hit["line"]
        assert location["region"]["snippet"]["text"] == hit["raw"]
        expected = {"critical": "error", "high": "error", "medium": "warning"}.get(hit["level"], "note")
        assert result["level"] == expected
    assert sarif_run["originalUriBaseIds"]["SCANROOT"]["uri"] == DEMO.resolve().as_uri() + "/"
    hydra = next(r for r in rules if r["shortDescription"]["text"] == "Network Password Brute-Forcer Run")
    assert hydra["defaultConfiguration"]["level"] == "error"
    assert "attack.t1110" in hydra["properties"]["tags"]
    assert hydra["helpUri"].startswith("https://attack.mitre.org/")
    accepted = next(r for r in results if "Accepted After Failures" in r["message"]["text"])
    assert "user=webadmin" in accepted["message"]["text"]


def test_hostile_text_keeps_sarif_valid_and_junit_well_formed(tmp_path: Path) -> None:
    tree = tmp_path / "log"
    tree.mkdir()
    (tree / "auth.log").write_text("".join(
        f"Feb 11 10:01:{s:02d} vps sshd[9{s}]: Invalid user \x1b[31m<x>&\"{s} from 203.0.113.7 port 4{s}\n"
        for s in range(12)))
    _, text = run(tmp_path, "sarif", "--year", "2024", tree=tree)
    log = json.loads(text)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    assert log["runs"][0]["results"]
    _, text = run(tmp_path, "junit", "--year", "2024", tree=tree)
    failures = list(ET.fromstring(text).iter("failure"))  # brute force and spraying
    assert failures and all("\\x1b[31m<x>&" in f.get("message") for f in failures)  # ESC shown


@pytest.mark.parametrize("fail_on", [None, "high"])
def test_junit_parses_back(tmp_path: Path, hits: list[dict], fail_on: str | None) -> None:
    code, text = run(tmp_path, "junit", *(["--fail-on", fail_on] if fail_on else []))
    assert code == (1 if fail_on else 0)
    root = ET.fromstring(text)
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    cases = [case for suite in suites for case in suite.findall("testcase")]
    titles = Counter(case.get("name") for case in cases)
    assert {h["rule_title"] for h in hits} <= set(titles)
    assert int(root.get("tests")) == len(cases) == sum(int(s.get("tests")) for s in suites)
    failing = [h for h in hits if fail_on is None or level_rank(h["level"]) >= level_rank(fail_on)]
    failures = [f for case in cases for f in case.findall("failure")]
    assert len(failures) == len(failing)
    assert int(root.get("failures")) == sum(1 for case in cases if case.find("failure") is not None)
    by_case = {case.get("name"): case for case in cases}
    for hit in failing:
        case = by_case[hit["rule_title"]]
        assert any(f"{hit['source']}:{hit['line']} " in f.get("message") for f in case.findall("failure"))
    if fail_on:  # hits below the threshold are listed, not failed
        su = by_case["Su Authentication Failure"]
        assert su.find("failure") is None and "auth.log:43" in su.find("system-out").text
    assert {s.get("name") for s in suites} >= {"linux_sshd_authentication.yml",
                                               "linux_outbound_attack_tool.yml"}
    accepted = by_case["SSH Login Accepted After Failures From The Same Address"]
    if fail_on is None:
        assert "user=webadmin" in accepted.find("failure").get("message")
