"""Correlation hits come back from pickling, alone and in hit-run frames, exactly as they
were: those of every correlation type of the test and bundled specs, from both engines,
contributors capped or not, from one file or rotated ones, and hand-made edge cases (no
contributors, no tallies, untimed windows, unicode)."""

from __future__ import annotations

import io
import pickle
from datetime import timedelta, timezone
from operator import itemgetter
from typing import Any

import pytest

from scanner import hitruns
from scanner.cli import build_parser
from scanner.config import scan_config
from scanner.correlate.partition import CORRELATORS
from scanner.correlate.windows import CONTRIBUTOR_CAP
from scanner.errors import Problems
from scanner.model import Correlation, CorrelationSpec, FieldValues, Hit, Keyed
from scanner.pipeline import Scan, WorkerOptions, new_worker, plan_units
from scanner.resources import bundled_rules_dir
from scanner.rules.load import load_rules

from test_correlate import CASES, FAIL, RANDOM_SPECS, T0, hit, random_stream, rule
from test_hitruns import DEMO

ENGINES = ("reference", "columnar")
TEXTS = ("ünïcødé ✓ 用户", "bad byte \udcff\udc80 kept", "")


def correlated(engine: str, hits: list[Any], specs: list[CorrelationSpec]) -> list[Hit]:
    """The correlation hits of ``specs`` over ``hits`` by ``engine``, in output order."""
    keyed = sorted(((h.sort_key(), h) for h in hits), key=itemgetter(0))
    found = [h for _, h in CORRELATORS[engine](keyed, specs, Problems(), None)]
    assert found and all(h.correlation is not None for h in found)
    return found


def shape(hit: Hit) -> list[Any]:
    """The types of a correlation hit's parts, down to each contributor and tally."""
    c = hit.correlation
    assert c is not None
    return [type(c), type(c.contributors), *map(type, c.contributors),
            *(type(part) for pair in c.contributors for part in pair), type(c.values),
            *(type(v) for v in c.values), *(type(v.top) for v in c.values),
            type(c.window_start), type(c.window_end), type(c.value), type(c.group)]


def round_trips(hits: list[Hit]) -> None:
    """``hits`` come back equal and of the same types, pickled one by one and in frames."""
    for one in hits:
        back = pickle.loads(pickle.dumps(one, protocol=pickle.HIGHEST_PROTOCOL))
        assert back == one and shape(back) == shape(one)
    keyed: list[Keyed] = [(h.sort_key(), h) for h in hits]
    stream = io.BytesIO()
    frames, _ = hitruns._dump_frames(keyed, stream)
    stream.seek(0)
    loaded = [pair for _ in range(frames) for pair in pickle.load(stream)]
    assert loaded == keyed and [shape(h) for _, h in loaded] == [shape(h) for h in hits]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("correlation", "hits", "expected"),
                         [case for case in CASES if case.values[2]])
def test_hits_of_every_correlation_type_round_trip(engine: str, correlation: CorrelationSpec,
                                                   hits: list[Hit], expected: list[Any]) -> None:
    round_trips(correlated(engine, hits, [correlation]))


@pytest.mark.parametrize("engine", ENGINES)
def test_long_random_streams_round_trip_with_capped_contributors(engine: str) -> None:
    found = correlated(engine, random_stream(1, 3000), RANDOM_SPECS)
    counts = {len(h.correlation.contributors) for h in found if h.correlation}
    assert max(counts) == 2 * CONTRIBUTOR_CAP and min(counts) < 2 * CONTRIBUTOR_CAP
    assert any(h.correlation and h.correlation.values for h in found)
    round_trips(found)


@pytest.mark.parametrize("engine", ENGINES)
def test_bundled_correlations_of_the_demo_tree_round_trip(engine: str) -> None:
    compiled = load_rules([bundled_rules_dir()], Problems())
    config = scan_config(build_parser().parse_args(["scan", str(DEMO), "-q", "--jobs", "1"]))
    worker = new_worker(compiled, WorkerOptions(True, timezone.utc, None, None))
    inputs = [h for unit in plan_units(Scan(config)) for runs in worker.scan(unit).hits.parts
              for _, h in runs.keyed()]
    found = correlated(engine, inputs, list(compiled.correlations))
    assert {h.rule.kind for h in found} == {s.type for s in compiled.correlations}
    round_trips(found)


def test_contributors_of_rotated_files_keep_each_source() -> None:
    """Contributors from several files pickle their sources as a column, in order."""
    hits = [hit(FAIL, s, source=f"auth.log.{s % 3}.gz" if s % 3 else "auth.log",
                src_ip="203.0.113.7", user=TEXTS[s % 3]) for s in range(12)]
    found = correlated("reference", hits, [CASES[0].values[0]])
    sources = [src for src, _ in found[0].correlation.contributors]  # type: ignore[union-attr]
    assert len(set(sources)) == 3
    round_trips(found)


def made(**changes: Any) -> Hit:
    """A correlation hit with ``changes`` to a correlation of unicode values and sources."""
    fields: dict[str, Any] = dict(group=(("user", TEXTS[0]), ("src_ip", None)),
                                  window_start=T0, window_end=T0 + timedelta(seconds=5),
                                  value=2.5, contributors=((TEXTS[0], 1), (TEXTS[0], 2)),
                                  closing=(("user", TEXTS[1]),),
                                  values=(FieldValues("user", ((TEXTS[0], 2), (TEXTS[1], 1)), 2),))
    fields.update(changes)
    corr = Correlation(**fields)
    return Hit(rule("made", "event_count"), corr.window_end, TEXTS[0], 2, (),
               {"event_count": corr.value, "events": len(corr.contributors)}, TEXTS[1],
               correlation=corr)


@pytest.mark.parametrize("changes", [
    {}, {"contributors": ()}, {"values": ()}, {"closing": (), "group": ()},
    {"window_start": None, "window_end": None, "value": None},
    {"contributors": (("", 0), ("", 7))}, {"contributors": ((TEXTS[1], 3), (TEXTS[2], 4))},
    {"values": (FieldValues("uri", (), 0), FieldValues("user_agent", (("", 1),), 1))},
], ids=["unicode", "no contributors", "no tallies", "ungrouped", "untimed", "empty source",
        "two sources", "empty tallies"])
def test_edge_cases_round_trip(changes: dict[str, Any]) -> None:
    round_trips([made(**changes)])
