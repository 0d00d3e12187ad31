"""JUnit XML output, for CI systems that show test reports (GitLab, Jenkins).

One ``testsuite`` per rule file, one ``testcase`` per reported rule, and one ``failure``
per hit at or above ``--fail-on`` (every hit without it); hits below the threshold are
listed in the test case's ``system-out``. Log text is escaped for XML 1.0, which cannot
carry control characters at all (they are shown as ``\\xNN``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import PurePath
from typing import Iterable, TextIO

from scanner.model import Hit, RuleInfo, level_rank
from scanner.report.context import ReportContext
from scanner.report.safe import escape_control
from scanner.report.table import details


def _where(hit: Hit) -> str:
    stamp = hit.timestamp.isoformat() if hit.timestamp else "-"
    return f"{hit.source}:{hit.line} {stamp}"


def _text_block(text: str) -> str:
    """``text`` safe for XML element content, its line breaks kept."""
    return "\n".join(escape_control(line) for line in text.split("\n"))


def junit_tree(hits: Iterable[Hit], context: ReportContext) -> ET.Element:
    """The ``testsuites`` element of a run."""
    floor = level_rank(context.fail_on) if context.fail_on else None
    by_rule: dict[str, list[Hit]] = defaultdict(list)
    rules: dict[str, RuleInfo] = {rule.id: rule for rule in context.rules}
    for hit in hits:
        by_rule[hit.rule.id].append(hit)
        rules.setdefault(hit.rule.id, hit.rule)
    suites: dict[str, list[RuleInfo]] = defaultdict(list)
    for rule in rules.values():
        suites[PurePath(rule.path).name or "rules"].append(rule)
    root = ET.Element("testsuites", name="logsigma")
    total_tests = total_failures = 0
    for suite_name, suite_rules in suites.items():
        suite = ET.SubElement(root, "testsuite", name=escape_control(suite_name))
        failures = 0
        for rule in suite_rules:
            case = ET.SubElement(suite, "testcase", name=escape_control(rule.title),
                                 classname=escape_control(f"logsigma.{rule.level or 'unknown'}"),
                                 time="0")
            found = by_rule[rule.id]
            if found and (floor is None or level_rank(rule.level) >= floor):
                for hit in found:
                    failure = ET.SubElement(case, "failure", type=rule.level or "unknown",
                                            message=escape_control(f"{_where(hit)}: {details(hit)}"))
                    failure.text = _text_block(hit.raw)
                failures += 1
            elif found:  # below --fail-on: listed, not failed
                ET.SubElement(case, "system-out").text = "\n".join(
                    escape_control(f"{_where(h)}: {details(h)}") for h in found)
        suite.set("tests", str(len(suite_rules)))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        total_tests += len(suite_rules)
        total_failures += failures
    root.set("tests", str(total_tests))
    root.set("failures", str(total_failures))
    root.set("errors", "0")
    return root


def write_junit(hits: Iterable[Hit], context: ReportContext, out: TextIO) -> None:
    """Write the JUnit XML document of a run."""
    tree = ET.ElementTree(junit_tree(hits, context))
    ET.indent(tree)
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    tree.write(out, encoding="unicode")
    out.write("\n")
