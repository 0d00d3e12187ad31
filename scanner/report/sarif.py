"""SARIF 2.1.0 output: one run, one ``rule`` per Sigma rule, one ``result`` per hit.

GitHub code scanning and other CI dashboards read this. A rule carries its Sigma level
as the SARIF ``level`` (critical/high → error, medium → warning, low/informational →
note) and as ``security-severity``, its tags and its description and references as help.
A result points at the file relative to the scanned root (``uriBaseId`` SCANROOT) and the
line (the record number for binary logs), with the raw line as snippet and the baseline
fingerprint as ``partialFingerprints``. Streamed hit by hit, like ``--format json``.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, TextIO
from urllib.parse import quote

from scanner import __version__
from scanner.baseline import fingerprint
from scanner.model import Hit, RuleInfo
from scanner.report.context import ReportContext
from scanner.report.records import hit_record
from scanner.report.table import details

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
ROOT_ID = "SCANROOT"
SARIF_LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note",
                "informational": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0",
                     "informational": "1.0"}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=True, default=str)


def sarif_rule(rule: RuleInfo) -> dict[str, Any]:
    """The ``reportingDescriptor`` of one Sigma rule."""
    level = rule.level or "informational"
    text = (rule.description or rule.title).strip()
    references = "".join(f"\n- {ref}" for ref in rule.references)
    help_text = text + (f"\n\nReferences:{references}" if references else "")
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "name": rule.name or rule.title,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": text},
        "help": {"text": help_text, "markdown": help_text},
        "defaultConfiguration": {"level": SARIF_LEVELS.get(level, "note")},
        "properties": {"tags": list(rule.tags), "security-severity": SECURITY_SEVERITY.get(level, "1.0"),
                       "sigma-level": level, "sigma-status": rule.status or "",
                       "sigma-kind": rule.kind},
    }
    if rule.references:
        descriptor["helpUri"] = rule.references[0]
    return descriptor


def sarif_result(hit: Hit, index: dict[str, int]) -> dict[str, Any]:
    """The ``result`` of one hit (``index``: rule id → position in the driver's rules)."""
    record = hit_record(hit)
    result: dict[str, Any] = {
        "ruleId": hit.rule.id,
        "level": SARIF_LEVELS.get(hit.rule.level or "informational", "note"),
        "message": {"text": f"{hit.rule.title}: {details(hit)}"},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": quote(hit.source), "uriBaseId": ROOT_ID},
            "region": {"startLine": max(hit.line, 1), "snippet": {"text": hit.raw}},
        }}],
        "partialFingerprints": {"logsigmaFingerprint/v1": fingerprint(hit)},
        "properties": {key: record[key] for key in ("timestamp", "fields", "correlation", "derived")
                       if key in record},
    }
    if hit.rule.id in index:
        result["ruleIndex"] = index[hit.rule.id]
    return result


def write_sarif(hits: Iterable[Hit], context: ReportContext, out: TextIO) -> None:
    """Write one SARIF log with one run holding ``context.rules`` and a result per hit."""
    index = {rule.id: i for i, rule in enumerate(context.rules)}
    run_head: dict[str, Any] = {
        "tool": {"driver": {"name": "logsigma", "version": __version__,
                            "informationUri": "https://github.com/SigmaHQ/sigma",
                            "rules": [sarif_rule(rule) for rule in context.rules]}},
    }
    if len(context.roots) == 1:
        root = context.roots[0].resolve()
        run_head["originalUriBaseIds"] = {ROOT_ID: {
            "uri": root.as_uri() + "/" if root.is_dir() else root.parent.as_uri() + "/"}}
    head = _dumps({"version": "2.1.0", "$schema": SCHEMA, "runs": [run_head]})
    # the results go inside the one run: write its object up to its closing brace
    out.write(head[:-3] + ', "results": [')
    for i, hit in enumerate(hits):
        out.write((", " if i else "") + _dumps(sarif_result(hit, index)))
    out.write('], "invocations": [{"executionSuccessful": true}]}]}\n')
