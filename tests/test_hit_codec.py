"""The column-wise pickling of hit runs (hitruns._Columns): the real hits of a scan of the
demo tree, in both hit types and with every kind of timestamp, come back exactly as they
were (types, tzinfo, fold, field order, text) from a frame, a run on disk and a worker's
tail, and in the same order."""

from __future__ import annotations

import dataclasses
import pickle
import tempfile
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

import pytest

from scanner import hitruns
from scanner.correlate import split
from scanner.cli import build_parser, main
from scanner.config import scan_config
from scanner.errors import Problems
from scanner.hitruns import RunWriter, Runs, _Columns, spill_space
from scanner.model import AnyHit, Hit, Keyed, Reduced
from scanner.pipeline import Scan, UnitResult, WorkerOptions, new_worker, plan_units
from scanner.resources import bundled_rules_dir
from scanner.rules.load import load_rules

from test_hitruns import DEMO

BERLIN = ZoneInfo("Europe/Berlin")
ZONES: tuple[tzinfo | None, ...] = (
    None, timezone.utc, timezone(timedelta(hours=5, minutes=30)),
    timezone(timedelta(hours=-3), "BRT"), BERLIN, ZoneInfo("America/New_York"))
# the hour Berlin's clocks went back (2024-10-27 02:00-03:00 CEST, then CET): both folds
FOLDS = (datetime(2024, 10, 27, 2, 30, 15, 250, tzinfo=BERLIN),
         datetime(2024, 10, 27, 2, 30, 15, 250, tzinfo=BERLIN, fold=1))
TEXTS = ("ünïcødé ✓ 用户", "bad byte \udcff\udc80 kept", "")


def _runs(result: UnitResult) -> tuple[Runs, ...]:
    """A unit's runs: shown hits, then the correlation input (one partition here)."""
    return (result.hits.shown, *result.hits.parts)


@pytest.fixture(scope="module")
def demo_hits() -> list[AnyHit]:
    """Every hit of a scan of the demo tree with the bundled rules, in unit order: both
    ``Hit`` (shown rules) and ``Reduced`` (the base rules of the SSH correlations)."""
    compiled = load_rules([bundled_rules_dir()], Problems())
    config = scan_config(build_parser().parse_args(["scan", str(DEMO), "-q", "--jobs", "1"]))
    worker = new_worker(compiled, WorkerOptions(True, timezone.utc, None, None))
    hits = [hit for unit in plan_units(Scan(config)) for runs in _runs(worker.scan(unit))
            for _, hit in runs.keyed()]
    assert {type(hit) for hit in hits} == {Hit, Reduced}
    return hits


def varied(hits: list[AnyHit]) -> list[Keyed]:
    """``hits`` keyed and sorted, their timestamps placed in each of :data:`ZONES` in turn
    (naive too), some untimed, some in either fold of a repeated hour, some with unicode,
    surrogate-escaped and long text in a field and in the raw line."""
    out: list[AnyHit] = []
    for n, hit in enumerate(hits):
        stamp = hit.timestamp
        if n % 11 == 0:
            stamp = None
        elif n % 7 == 0:
            stamp = FOLDS[n % 2]
        elif stamp is not None:
            zone = ZONES[n % len(ZONES)]
            stamp = stamp.replace(tzinfo=None) if zone is None else stamp.astimezone(zone)
        text = TEXTS[n % len(TEXTS)] * (1 + 2_000 * (n % 5 == 0))
        fields = {**hit.fields, "note": text}
        if type(hit) is Reduced:
            out.append(hit._replace(timestamp=stamp, fields=fields))
        else:
            out.append(dataclasses.replace(hit, timestamp=stamp, fields=fields, raw=hit.raw + text))
    return sorted(((hit.sort_key(), hit) for hit in out), key=hitruns._KEY)


def exactly(keyed: list[Keyed]) -> list[tuple[object, str]]:
    """What must survive: keys and hits equal, and what ``==`` alone would let pass:
    types, tzinfo objects, fold and the order of fields (all in the hits' repr)."""
    return [(key, repr(hit)) for key, hit in keyed]


def loaded(frame: list[Keyed]) -> list[Keyed]:
    return pickle.loads(pickle.dumps(_Columns(frame), protocol=pickle.HIGHEST_PROTOCOL))


def test_the_varied_hits_hold_every_case(demo_hits: list[AnyHit]) -> None:
    keyed = varied(demo_hits)
    hits = [hit for _, hit in keyed]
    assert {type(hit) for hit in hits} == {Hit, Reduced}
    zones = {hit.timestamp.tzinfo for hit in hits if hit.timestamp is not None}
    assert set(ZONES) <= zones and any(hit.timestamp is None for hit in hits)
    assert {hit.timestamp.fold for hit in hits if hit.timestamp is not None} == {0, 1}


@pytest.mark.parametrize("size", [0, 1, 2, 255, 256, 257, None])
def test_a_frame_loads_exactly_as_it_was(demo_hits: list[AnyHit], size: int | None) -> None:
    keyed = varied(demo_hits)
    for frame in (keyed[:size], [k for k in keyed if type(k[1]) is Reduced][:size],
                  [k for k in keyed if type(k[1]) is Hit][:size]):
        back = loaded(frame)
        assert back == frame and exactly(back) == exactly(frame)
        assert type(back) is list and all(type(pair) is tuple for pair in back)


def test_keys_other_than_the_hits_own_are_kept(demo_hits: list[AnyHit]) -> None:
    """A key's source and line are kept apart from its hit's when they differ."""
    keyed = varied(demo_hits)
    frame = [((key[0], key[1] + "x", key[2] + 1, key[3]), hit) for key, hit in keyed[:300]]
    assert exactly(loaded(frame)) == exactly(frame)


@pytest.fixture
def small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A spill space with small batches, frames and run caps."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for name, value in (("BATCH_HITS", 40), ("FRAME_HITS", 16), ("FRAME_CHARS", 4_000),
                        ("MAX_RUNS", 3)):
        monkeypatch.setattr(hitruns, name, value)
    with spill_space() as path:
        yield path


@pytest.mark.parametrize("writers", [1, 3])
def test_spilled_runs_and_their_tail_load_exactly(demo_hits: list[AnyHit], small: Path,
                                                  writers: int) -> None:
    """Through run files (long text cutting frames short, runs merged past the cap) and
    a pickled tail, as a worker returns its result: the same hits, exactly, in order."""
    keyed = varied(demo_hits)
    hits = [hit for _, hit in keyed][::-1]  # added out of order, ties among them
    joined = RunWriter()
    for share in range(writers):
        writer = RunWriter()
        writer.extend(hits[share::writers])
        joined.add(pickle.loads(pickle.dumps(writer.close())))
    runs = joined.close()
    expected = sorted(((h.sort_key(), h) for share in range(writers)
                       for h in hits[share::writers]), key=hitruns._KEY)
    assert runs.disk and sum(run.frames for run in runs.disk) > len(hits) / hitruns.FRAME_HITS
    assert exactly(list(runs.keyed())) == exactly(expected)
    assert exactly(list(pickle.loads(pickle.dumps(runs)).keyed())) == exactly(expected)


def test_a_tail_travels_exactly(demo_hits: list[AnyHit], monkeypatch: pytest.MonkeyPatch) -> None:
    """A tail of many frames (no spill directory: everything stays in memory)."""
    monkeypatch.setattr(hitruns, "FRAME_HITS", 16)
    keyed = varied(demo_hits)
    writer = RunWriter()
    writer.extend_keyed(keyed)
    runs = writer.close()
    back = pickle.loads(pickle.dumps(runs))
    assert not back.disk and len(back) == len(keyed) > 16
    assert exactly(back.memory) == exactly(keyed)


@pytest.mark.parametrize("engine", ["reference", "columnar"])
@pytest.mark.parametrize("tree", ["demo", "corpus logs"])
def test_scans_write_the_bytes_of_plain_pickled_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     request: pytest.FixtureRequest, engine: str,
                                                     tree: str) -> None:
    """Whole scans whose hits spill in tiny runs and frames and travel from worker
    processes: the same JSONL with the column-wise frames as with pickled lists."""
    root, rules = DEMO, ()
    if tree == "corpus logs":
        corpus = request.getfixturevalue("corpus")
        root, rules = corpus / "logs", ("--rules", str(corpus / "sigmahq"))
    for name, value in (("BATCH_HITS", 20), ("FRAME_HITS", 4), ("MAX_RUNS", 16)):
        monkeypatch.setattr(hitruns, name, value)
    monkeypatch.setattr(split, "HELD_HITS", 20)
    outputs = []
    for plain in (False, True):
        if plain:
            monkeypatch.setattr(hitruns, "_Columns", list)
        out = tmp_path / f"{plain}.jsonl"
        main(["scan", str(root), "-q", "--jobs", "2", "--engine", engine, "-f", "jsonl",
              "-o", str(out), *rules])
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] and outputs[0].count(b"\n") > 20
