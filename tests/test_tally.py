"""The reported hits are counted while the output is written: one read of them, not two."""

from __future__ import annotations

import json
import re
from collections import Counter
from itertools import islice
from pathlib import Path
from typing import Any, Iterator

import pytest

from scanner import pipeline
from scanner.cli import main
from scanner.model import Hit, Keyed, SortKey
from scanner.report.tally import CountedHits, HitTally
from tests.test_report import varied_hits

DEMO = Path(__file__).resolve().parent.parent / "fixtures" / "demo" / "var" / "log"
FORMATS = ("jsonl", "csv", "json", "sarif", "junit", "table", "html")
PASSES = {"table": 2, "html": 2}  # they read the hits twice (widths; story, then the hits)


def expected_tally(hits: list[Hit]) -> HitTally:
    """The counts of ``hits``, as one pass over them makes them."""
    tally = HitTally()
    for hit in hits:
        tally.add(hit)
    return tally


class Made:
    """``make`` for a view over ``hits`` (with their sort keys), counting the streams made."""

    def __init__(self, hits: list[Hit]) -> None:
        self.hits, self.streams = hits, 0

    def __call__(self, since: SortKey | None) -> Iterator[Keyed]:
        assert since is None
        self.streams += 1
        return ((hit.sort_key(), hit) for hit in self.hits)


def test_the_first_complete_iteration_leaves_the_counts() -> None:
    hits = varied_hits() * 2  # titles repeat: the order they came first in decides ties
    made = Made(hits)
    view = CountedHits(made, lambda hit: hit.line != 3)  # line 3 is known to the baseline
    kept = [hit for hit in hits if hit.line != 3]
    assert list(view) == kept and list(view) == kept
    tally = view.tally()
    assert made.streams == 2  # no pass of its own: the first iteration counted
    want = expected_tally(kept)
    want.suppressed = 2
    assert tally == want and list(tally.by_title) == list(want.by_title)


def test_a_view_not_read_to_its_end_is_counted_by_a_pass_of_its_own() -> None:
    hits = varied_hits()
    made = Made(hits)
    view = CountedHits(made, lambda hit: True)
    assert list(islice(view, 2)) == hits[:2]
    assert view.tally() == expected_tally(hits) and made.streams == 2
    assert view.tally() == expected_tally(hits) and made.streams == 2  # counted once


def test_nothing_to_report_counts_nothing() -> None:
    view = CountedHits(lambda since: iter(()), lambda hit: True)
    assert list(view) == [] and view.tally() == HitTally()


def scan(tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, int, str, Path]:
    """Scan the demo tree into ``fmt``: exit code, streams of reported hits read back,
    the summary on stderr, and the output file."""
    streams = []
    merge = pipeline.merge_parts

    def counting(*args: Any) -> Any:
        streams.append(1)
        return merge(*args)

    monkeypatch.setattr(pipeline, "merge_parts", counting)
    out = tmp_path / f"out.{fmt}"
    code = main(["scan", str(DEMO), "--jobs", "1", "-f", fmt, "-o", str(out), "--fail-on",
                 "high", *extra])
    return code, len(streams), capsys.readouterr().err, out


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reads_the_reported_hits_as_often_as_it_writes_them(
        tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The summary and the exit code come from the counts made while writing (no pass
    to count the hits first), and are those of the hits written."""
    code, streams, _, out = scan(tmp_path, "json", monkeypatch, capsys)
    summary = json.loads(out.read_text())["summary"]
    hits = json.loads(out.read_text())["hits"]
    assert summary["hits"] == len(hits) > 0 and streams == 1
    assert summary["hits_by_level"] == dict(Counter(h["level"] for h in hits))
    assert code == (1 if {"high", "critical"} & set(summary["hits_by_level"]) else 0)
    code_now, streams, err, _ = scan(tmp_path, fmt, monkeypatch, capsys)
    assert streams == PASSES.get(fmt, 1) and code_now == code
    by_level = ", ".join(f"{level} {n}" for level, n in summary["hits_by_level"].items())
    if fmt != "json":  # the json format says its summary in the document
        assert re.search(rf"\nhits +{re.escape(by_level)}\n", err)
        for title, n in summary["top_rules"]:
            assert re.search(rf"\n +{n} +{re.escape(title)}\n", err)


def test_baseline_suppression_is_counted_while_writing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    baseline = tmp_path / "known.json"
    first, _, _, out = scan(tmp_path, "jsonl", monkeypatch, capsys, "--write-baseline",
                            str(baseline))
    written = len(out.read_text().splitlines())
    code, streams, err, out = scan(tmp_path, "jsonl", monkeypatch, capsys, "--baseline",
                                   str(baseline))
    assert first == 1 and written > 0
    assert code == 0 and streams == 1 and out.read_text() == ""
    assert re.search(r"\nhits +none\n", err) and f"{written} known hits suppressed" in err
