"""The bundled rule pack (sigma_rules/): clean loading, metadata, and fixture cases.

Every rule file loads with zero problems; every rule carries the metadata the pack
promises; every reported rule (single-event rules and correlations) has a positive and a
negative case in ``fixtures/rules/*.yaml``, and each case gives the expected outcome
through the real compiler, matcher and correlation engine, with and without the literal
prefilter.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from string import Template
from typing import Any, Iterator

import pytest
import yaml

from conftest import FIXTURES
from scanner.correlate.engine import correlate
from scanner.errors import Problems
from scanner.match.matcher import Matcher
from scanner.model import Event, FileStats, Hit, LogSource, SourceFile
from scanner.normalize.normalizer import normalize_file, normalize_lines
from scanner.normalize.routes import choose_route, load_routes
from scanner.resources import bundled_rules_dir
from scanner.rules.load import CompiledRules, load_rules

RULES_DIR = bundled_rules_dir()
RULE_FILES = sorted(RULES_DIR.glob("*.yml"))
CASES_DIR = FIXTURES / "rules"
SHORTHANDS: dict[str, dict[str, Any]] = yaml.safe_load((CASES_DIR / "logsources.yaml").read_text())
BASE_TIME = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Case:
    """One fixture case: the rule it is about, whether it fires, and its events."""

    where: str
    name: str
    rule: str
    fires: bool
    events: tuple[tuple[Event, str], ...]  # (event, text the prefilter scans)
    reports: int | None = None  # how many hits the rule reports, when the case says


def _expand(spec: dict[str, Any], source: str, first_line: int) -> Iterator[tuple[Event, str]]:
    """The events of one event spec: ``repeat`` copies ``every`` seconds apart, ``vary`` cycled."""
    shorthand = SHORTHANDS[spec["logsource"]]
    logsources = tuple(LogSource.from_dict(d) for d in shorthand["logsources"])
    vary: dict[str, list[Any]] = spec.get("vary", {})
    for i in range(spec.get("repeat", 1)):
        values = {name: str(choices[i % len(choices)]) for name, choices in vary.items()}
        fields = {name: Template(v).substitute(values) if isinstance(v, str) else v
                  for name, v in spec["fields"].items()}
        raw = Template(spec["raw"]).substitute({**values, **{k: str(v) for k, v in fields.items()}})
        event = Event(source=source, line=first_line + i, format=spec["logsource"],
                      logsources=logsources, fields=fields, raw=raw,
                      timestamp=BASE_TIME + timedelta(seconds=spec.get("at", 0) + i * spec.get("every", 0)))
        text = raw if shorthand["prefilter"] == "raw" else "\0".join([raw, *map(str, fields.values())])
        yield event, text


def _cases() -> list[Case]:
    cases = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        if path.name == "logsources.yaml":
            continue
        for index, data in enumerate(yaml.safe_load(path.read_text())):
            where = f"{path.name}#{index}"
            events: list[tuple[Event, str]] = []
            for spec in data["events"]:
                events.extend(_expand(spec, where, len(events) + 1))
            cases.append(Case(where, data["name"], data["rule"], data["fires"], tuple(events),
                              data.get("reports")))
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def bundled() -> CompiledRules:
    problems = Problems()
    compiled = load_rules([RULES_DIR], problems)
    assert not problems.items, [str(p) for p in problems]
    return compiled


@pytest.fixture(scope="module")
def matchers(bundled: CompiledRules) -> tuple[Matcher, Matcher]:
    return Matcher(bundled), Matcher(bundled, prefilter=False)


def _matches(matcher: Matcher, event: Event, text: str) -> list[Hit]:
    """The base-rule hits on ``event``, prefiltered on ``text``."""
    plan = matcher.plan(event.logsources)
    candidates = plan.candidates(text)
    return [Hit.of(info, event) for info in plan.match(event, candidates)] if candidates else []


def _reported(hits: list[Hit], compiled: CompiledRules) -> list[Hit]:
    """What a scan reports of ``hits``: output base-rule hits, then correlation hits."""
    hits = sorted(hits, key=Hit.sort_key)
    problems = Problems()
    reported = [hit for hit in hits if hit.rule.output]
    reported.extend(correlate(hits, compiled.correlations, problems))
    assert not problems.items, [str(p) for p in problems]
    return reported


def _fired(case: Case, matcher: Matcher, compiled: CompiledRules) -> Counter[str]:
    """Ids of the rules a case reports, with their number of hits."""
    hits = [hit for event, text in case.events for hit in _matches(matcher, event, text)]
    return Counter(hit.rule.id for hit in _reported(hits, compiled))


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_rule_file_loads_without_problems(path: Path) -> None:
    problems = Problems()
    compiled = load_rules([path], problems)
    assert not problems.items, [str(p) for p in problems]
    assert compiled.rules


def _documents() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{path.name}: {doc.get('title')}", doc) for path in RULE_FILES
            for doc in yaml.safe_load_all(path.read_text())]


@pytest.mark.parametrize("where, doc", _documents(), ids=lambda v: v if isinstance(v, str) else "")
def test_rule_metadata(where: str, doc: dict[str, Any]) -> None:
    assert uuid.UUID(doc["id"]).version == 4
    assert doc["author"] == "logsigma"
    for key in ("title", "description", "date", "level", "references", "falsepositives"):
        assert doc.get(key), f"{where}: no {key}"
    assert any(tag.startswith("attack.t") for tag in doc["tags"]), f"{where}: no ATT&CK technique"
    if "correlation" in doc:
        assert doc["correlation"]["generate"] is False, f"{where}: say generate: false"


def test_every_reported_rule_has_a_positive_and_a_negative_case(bundled: CompiledRules) -> None:
    reported = {r.id for r in bundled.rules if r.output} | {c.rule.id for c in bundled.correlations}
    covered = {(case.rule, case.fires) for case in CASES}
    missing = sorted(f"{rule_id} {kind}" for rule_id in reported for fires, kind in
                     ((True, "positive"), (False, "negative")) if (rule_id, fires) not in covered)
    assert not missing
    assert {case.rule for case in CASES} <= reported, "a case names an unknown or unreported rule"


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.where} {c.name}")
def test_rule_case(case: Case, matchers: tuple[Matcher, Matcher], bundled: CompiledRules) -> None:
    filtered, unfiltered = (_fired(case, m, bundled) for m in matchers)
    assert filtered == unfiltered, "the literal prefilter changed the outcome"
    assert (case.rule in filtered) is case.fires, f"{case.where} {case.name}: fired {sorted(filtered)}"
    if case.reports is not None:
        assert filtered[case.rule] == case.reports, f"{case.where} {case.name}: {filtered}"


def _scan(path: Path, source: str, compiled: CompiledRules) -> list[Hit]:
    """Reported hits of ``compiled`` on a real log file, through the real normalizer."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    choice = choose_route(source, lines[:5], load_routes())
    file = SourceFile(path=path, root=path.parent, source=source, size=0, mtime=path.stat().st_mtime)
    matcher = Matcher(compiled)
    events = normalize_lines(file, choice, enumerate(lines, 1),
                             FileStats(source, choice.route.format), start_year=2026)
    return _reported([hit for event in events for hit in _matches(matcher, event, event.raw)],
                     compiled)


def test_real_auth_log(corpus: Path, bundled: CompiledRules) -> None:
    """elastic/examples auth.log: a real Ubuntu host under SSH brute force that adds users."""
    path = corpus / "logs" / "elastic-examples" / "auth.log"
    hits = _scan(path, "auth.log", bundled)
    by_rule = Counter(hit.rule.id for hit in hits)
    text = path.read_text(encoding="utf-8", errors="replace")
    assert by_rule["8c854ce3-8cb3-49d9-a0cb-c2708b446110"] == len(
        re.findall(r"(?m) (?:useradd|groupadd)\[\d+\]: new (?:user|group): ", text))
    failures = Counter(re.findall(r"(?m) sshd\[\d+\]: (?:Failed password for (?:invalid user )?\S* from"
                                  r"|Invalid user \S* from) (\S+)", text))
    failures.update(re.findall(r"(?m) sshd\[\d+\]: pam_unix\(sshd:auth\): authentication failure;"
                               r".* rhost=(\S+)", text))
    brute = {dict(hit.correlation.group)["client"] for hit in hits
             if hit.rule.id == "643f433d-4549-4bcd-89d4-ec1606259e69" and hit.correlation}
    assert brute and all(failures[address] >= 10 for address in brute)
    assert by_rule["274185e8-ba15-4f2e-8bd6-e24f4805733d"] >= 1
    assert not by_rule.keys() & {"3c480923-a887-4d19-a5b0-fd3c486a68ac",  # no sudo failure,
                                 "1cbb7ef1-faf9-4c46-803d-f5f5fb7ab48e"}   # no UID 0 account


@pytest.mark.parametrize("name", ["wtmp-a.LE", "wtmp-ipv6.BE"])
def test_btmp_base_rule_on_real_login_records(corpus: Path, bundled: CompiledRules, name: str) -> None:
    """util-linux's binary records read as btmp: the base rule takes exactly those with an address."""
    path = corpus / "logs" / "util-linux" / "ts-utmp" / name
    choice = choose_route("btmp", [], load_routes())
    file = SourceFile(path=path, root=path.parent, source="btmp", size=path.stat().st_size,
                      mtime=path.stat().st_mtime)
    problems, matcher = Problems(), Matcher(bundled)
    matched, addressed = [], []
    for event in normalize_file(file, choice, problems, FileStats("btmp", choice.route.format)):
        hits = _matches(matcher, event, "\0".join([event.raw, *map(str, event.fields.values())]))
        matched.append(any(hit.rule.id == "5c43f8e0-cfd1-4584-9f46-f5074fdb1580" for hit in hits))
        addressed.append("src_ip" in event.fields)
    assert not problems.items and any(addressed)
    assert matched == addressed
