"""``--format html``: one self-contained incident report (inline CSS, JS and SVG).

Reads the hits twice: a first pass builds the timeline (scanner.report.timeline), the
story (scanner.report.story), the per-rule counts and the contributing lines of the
correlation hits to read back from the scanned files (scanner.report.excerpts); the second streams every hit into
the Jinja2 template ``templates/report.html.j2``, so hits are never all held in memory.
Jinja2 autoescapes every value and :func:`shown_text` escapes its control characters:
log text is data, never markup. Log text never becomes
a URL, a style or a script; the only links are ATT&CK technique pages built from tags
and http(s) rule references. A Content-Security-Policy allows no network access at all
and runs only the report's own script (by its hash), so even markup that slipped through
could neither run nor fetch anything.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime
from importlib import resources
from typing import Any, Iterable, Iterator, TextIO

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from scanner import __version__
from scanner.model import LEVELS, Hit, RuleInfo, level_rank
from scanner.report.context import ReportContext, Summary
from scanner.report.excerpts import Excerpts
from scanner.report.records import iso
from scanner.report.safe import escape_control
from scanner.report.story import StoryBuilder
from scanner.report.table import details
from scanner.report.timeline import TimelineBuilder

CONTRIBUTORS_SHOWN = 3  # first and last contributing lines listed for a correlation hit
_TECHNIQUE = re.compile(r"^attack\.(t\d{4})(?:\.(\d{3}))?$", re.I)


def attack_url(tag: str) -> str | None:
    """The attack.mitre.org page of an ATT&CK technique tag (``attack.t1110.001``)."""
    match = _TECHNIQUE.match(tag)
    if not match:
        return None
    technique, sub = match.group(1).upper(), match.group(2)
    return f"https://attack.mitre.org/techniques/{technique}/" + (f"{sub}/" if sub else "")


def web_link(reference: str) -> str | None:
    """``reference`` when it is an http(s) URL (anything else is shown as text)."""
    return reference if re.match(r"^https?://[^\s\"'<>]+$", reference) else None


def rule_view(rule: RuleInfo, hits: int) -> dict[str, Any]:
    """What the report shows of a rule."""
    return {
        "id": rule.id, "title": rule.title, "level": rule.level or "informational",
        "status": rule.status or "", "description": rule.description or "", "kind": rule.kind,
        "tags": [(tag, attack_url(tag)) for tag in rule.tags],
        "references": [(ref, web_link(ref)) for ref in rule.references],
        "hits": hits,
    }


def shown_contributors(hit: Hit) -> list[tuple[str, int]]:
    """The contributors a correlation hit's view lists: all, or the first and last
    :data:`CONTRIBUTORS_SHOWN`."""
    listed = list(hit.correlation.contributors) if hit.correlation else []
    if len(listed) > 2 * CONTRIBUTORS_SHOWN:
        return listed[:CONTRIBUTORS_SHOWN] + listed[-CONTRIBUTORS_SHOWN:]
    return listed


def hit_view(number: int, hit: Hit, excerpts: Excerpts | None = None) -> dict[str, Any]:
    """What the report shows of one hit; a correlation's contributing lines with their
    text when ``excerpts`` has read it."""
    view: dict[str, Any] = {
        "number": number, "timestamp": iso(hit.timestamp) or "", "level": hit.rule.level or "informational",
        "rule": hit.rule.id, "title": hit.rule.title, "status": hit.rule.status or "",
        "tags": [(tag, attack_url(tag)) for tag in hit.rule.tags],
        "where": f"{hit.source}:{hit.line}", "derived": hit.derived, "details": details(hit),
        "fields": [(k, v) for k, v in hit.fields.items()], "raw": hit.raw, "correlation": None,
    }
    corr = hit.correlation
    if corr is not None:
        listed = [(f"{s}:{n}", excerpts.text(s, n) if excerpts else None)
                  for s, n in shown_contributors(hit)]
        cut = len(corr.contributors) > 2 * CONTRIBUTORS_SHOWN
        view["correlation"] = {
            "group": list(corr.group), "closing": list(corr.closing), "tallies": list(corr.values),
            "start": iso(corr.window_start) or "", "end": iso(corr.window_end) or "",
            "first": listed[:CONTRIBUTORS_SHOWN] if cut else listed,
            "last": listed[CONTRIBUTORS_SHOWN:] if cut else [],
            "events": hit.fields.get("events", len(listed)),
        }
    return view


def _script() -> tuple[str, str]:
    """The report's script and its SHA-256 digest in base64 (the CSP names it)."""
    text = resources.files("scanner.report").joinpath("templates/report.js").read_text("utf-8")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return text, digest


def shown_text(value: Any) -> Any:
    """A value as the report prints it: text with its control characters escaped line by
    line (newlines kept), the report's own markup (its script) and other values as they are."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return "\n".join(escape_control(line) for line in value.split("\n"))
    return value


def _environment() -> Environment:
    return Environment(loader=PackageLoader("scanner.report", "templates"),
                       autoescape=select_autoescape(default=True, default_for_string=True),
                       trim_blocks=True, lstrip_blocks=True, finalize=shown_text)


def write_html(hits: Iterable[Hit], summary: Summary, context: ReportContext,
               out: TextIO) -> None:
    """Write the HTML report of a run (``hits`` is iterated twice; ``summary`` is asked for
    after the first iteration)."""
    timeline, story = TimelineBuilder(), StoryBuilder()
    by_rule: dict[str, int] = {}
    first: datetime | None = None
    last: datetime | None = None
    known = {rule.id: rule for rule in context.rules}
    excerpts = Excerpts(context.evidence)
    for number, hit in enumerate(hits, 1):
        excerpts.want(shown_contributors(hit))
        timeline.add(hit.timestamp, hit.rule.level)
        story.add(number, hit)
        by_rule[hit.rule.id] = by_rule.get(hit.rule.id, 0) + 1
        known.setdefault(hit.rule.id, hit.rule)
        if hit.timestamp is not None:
            first = hit.timestamp if first is None or hit.timestamp < first else first
            last = hit.timestamp if last is None or hit.timestamp > last else last
    warnings = [str(problem) for problem in excerpts.read()]
    shown = summary()
    if warnings:
        shown = {**shown, "problems": [*shown.get("problems", ()), *warnings]}
    told = story.story()
    moments = [(m.when, f"{m.title} ({m.where})") for m in told.key_moments if m.when]
    rules = sorted((rule_view(known[rule_id], n) for rule_id, n in by_rule.items()),
                   key=lambda r: (-level_rank(r["level"]), r["title"]))
    script, script_digest = _script()
    template = _environment().get_template("report.html.j2")
    for piece in template.generate(
            version=__version__, summary=shown, roots=[str(p) for p in context.roots],
            first=_seconds(first), last=_seconds(last), chart=timeline.chart(moments), story=told,
            moments=told.key_moments, rules=rules, hits=_views(hits, excerpts),
            levels=[lvl for lvl in reversed(LEVELS) if lvl in shown.get("hits_by_level", {})],
            script=script, script_digest=script_digest):
        out.write(piece)


def _seconds(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def _views(hits: Iterable[Hit], excerpts: Excerpts) -> Iterator[dict[str, Any]]:
    return (hit_view(number, hit, excerpts) for number, hit in enumerate(hits, 1))
