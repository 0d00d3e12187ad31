"""``matcher.event_text``: an event of a ``prefilter: raw`` route finds its candidate rules in
its raw text alone, and that gives the hits the raw text joined with every field value gives,
on every record (prefilter off, so none is skipped) of the fixtures (the demo tree too) and the
corpus logs, with their derived events, under the corpus and bundled rules."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from scanner.cli import build_parser
from scanner.config import scan_config
from scanner.errors import Problems
from scanner.match.matcher import Matcher, Plan, event_text
from scanner.model import Event, FileStats, search_text
from scanner.normalize.derive import with_derived
from scanner.normalize.normalizer import normalize_file
from scanner.normalize.routes import load_routes
from scanner.pipeline import Scan, plan_units
from scanner.resources import bundled_rules_dir
from scanner.rules.load import load_rules

from conftest import FIXTURES


def events(tree: Path) -> Iterator[Event]:
    """Every event ``logsigma scan TREE`` normalizes, derived ones too, none skipped."""
    scan = Scan(scan_config(build_parser().parse_args(["scan", str(tree), "-q"])))
    for unit in plan_units(scan):
        stats = FileStats(unit.file.source, unit.choice.route.format)
        yield from with_derived(normalize_file(unit.file, unit.choice, Problems(), stats,
                                               start_year=unit.start_year, span=unit.span))


def matched(plan: Plan, event: Event, text: str) -> list[str]:
    candidates = plan.candidates(text)
    return [rule.id for rule in plan.match(event, candidates)] if candidates else []


def test_the_raw_text_is_searched_only_for_raw_prefilter_routes() -> None:
    routes = load_routes()
    for name, route in routes.items():
        event = Event("f", 1, name, (), {"value": "in the fields only"}, "the raw text")
        expected = "the raw text" if route.prefilter == "raw" else search_text(event.raw,
                                                                                event.fields)
        assert event_text(event) == expected, name
    integrity = Event("f", 1, "integrity", (), {"anomaly": "silence"}, "silence in f")
    assert event_text(integrity) == search_text(integrity.raw, integrity.fields)


def test_raw_text_candidates_give_the_hits_of_every_value(corpus: Path) -> None:
    compiled = load_rules([corpus / "sigmahq", bundled_rules_dir()], Problems())
    matcher = Matcher(compiled)
    raw = hits = 0
    for tree in (FIXTURES, corpus / "logs"):
        for event in events(tree):
            plan = matcher.plan(event.logsources)
            text = event_text(event)
            found = matched(plan, event, text)
            assert found == matched(plan, event, search_text(event.raw, event.fields)), (
                f"{event.source}:{event.line}: {event.raw[:200]!r}")
            raw, hits = raw + (text is event.raw), hits + len(found)
    print(f"{raw} events searched by their raw text, {hits} hits")
    assert raw > 10_000 and hits > 500
