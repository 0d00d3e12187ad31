"""Report sinks: escaping, CSV round trip and formula neutralizing, JSONL schema, table."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from datetime import datetime, timezone

import pytest

from scanner.model import Correlation, Hit, LogSource, RuleInfo
from scanner.report.csv_out import COLUMNS, write_csv
from scanner.report.jsonl import write_jsonl
from scanner.report.safe import csv_cell, escape_control, terminal_text
from scanner.report.table import write_table

RULE = RuleInfo(id="r-1", title="SSH brute force", level="high", status="test",
                tags=("attack.t1110",), logsource=LogSource(product="linux", service="sshd"),
                path="rules/x.yml")
TS = datetime(2024, 2, 11, 6, 25, 1, tzinfo=timezone.utc)


def make_hit(raw: str, **fields: object) -> Hit:
    return Hit(rule=RULE, timestamp=TS, source="auth.log", line=7,
               logsource=(LogSource(product="linux", service="sshd"),), fields=fields, raw=raw)


@pytest.mark.parametrize(("text", "shown"), [
    ("plain", "plain"),
    ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    ("nul\x00byte", "nul\\x00byte"),
    ("tab\tand\r\nbreak", "tab\\x09and\\x0d\\x0abreak"),
    ("c1\x9bcsi", "c1\\x9bcsi"),
    ("unicode é ✓", "unicode é ✓"),
])
def test_escape_control(text: str, shown: str) -> None:
    assert escape_control(text) == shown


@pytest.mark.parametrize(("value", "cell"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("+1+2", "'+1+2"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "\\x09=1"),
    ("safe=1", "safe=1"),
    (None, ""),
    (404, "404"),
])
def test_csv_cell_neutralizes_formulas(value: object, cell: str) -> None:
    assert csv_cell(value) == cell


def test_terminal_text_cuts_long_values() -> None:
    assert terminal_text("x" * 100, 10) == "x" * 9 + "…"


def test_csv_round_trips_through_the_csv_module() -> None:
    hits = [make_hit('evil "quoted", comma\nnewline =cmd', user="=root", src_ip="203.0.113.9"),
            make_hit("second", user="bob")]
    out = io.StringIO(newline="")
    write_csv(hits, out)
    rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert tuple(rows[0]) == COLUMNS
    first = dict(zip(COLUMNS, rows[1]))
    assert first["raw"] == 'evil "quoted", comma\\x0anewline =cmd'
    assert first["user"] == "'=root"
    assert first["src_ip"] == "203.0.113.9"
    assert first["line"] == "7" and first["level"] == "high"
    assert first["timestamp"] == "2024-02-11T06:25:01+00:00"
    assert len(rows) == 3


def test_jsonl_schema_and_correlation_fields() -> None:
    corr = Correlation(group=(("src_ip", "203.0.113.9"),), window_start=TS, window_end=TS,
                       value=12, contributors=(("auth.log.1", 3), ("auth.log", 7)))
    hit = Hit(rule=RULE, timestamp=TS, source="auth.log", line=7, logsource=(), fields={},
              raw="", correlation=corr)
    out = io.StringIO()
    write_jsonl([make_hit("a\x1b[2J", user="root"), hit], out)
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    for key in ("timestamp", "rule_id", "rule_title", "level", "status", "tags", "source",
                "line", "logsource", "fields", "raw"):
        assert key in first
    assert first["raw"] == "a\x1b[2J" and "\\u001b" in out.getvalue().splitlines()[0]
    assert first["logsource"] == [{"product": "linux", "service": "sshd"}]
    assert second["correlation"]["group"] == {"src_ip": "203.0.113.9"}
    assert second["correlation"]["events"] == ["auth.log.1:3", "auth.log:7"]


def test_table_escapes_terminal_sequences() -> None:
    out = io.StringIO()
    assert write_table([make_hit("x", user="\x1b]0;owned\x07root")], out) == 1
    text = out.getvalue()
    assert "\x1b" not in text and "\\x1b]0;owned\\x07root" in text


def test_table_shows_number_like_log_text_as_logged() -> None:
    out = io.StringIO()
    write_table([h for h in varied_hits() if h.raw in ("1e5", "1,000")], out)
    rows = out.getvalue().splitlines()[2:]
    assert [row.split()[-1] for row in rows] == ["1e5", "1,000"]


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.mark.parametrize(("tty", "enabled", "drawn"), [(True, True, True), (False, True, False),
                                                       (True, False, False)])
def test_progress_only_on_a_terminal(tty: bool, enabled: bool, drawn: bool) -> None:
    from scanner.report.progress import Progress
    stream = _Stream(tty)
    progress = Progress(1000, enabled=enabled, stream=stream)
    progress.advance(500, 10)
    progress.close()
    assert ("50%" in stream.getvalue()) is drawn
    assert stream.getvalue().endswith("\r") or not drawn


def test_output_file_is_replaced_atomically(tmp_path: Path) -> None:
    from scanner.report.output import atomic_text
    target = tmp_path / "hits.jsonl"
    target.write_text("previous run\n")
    with pytest.raises(RuntimeError):
        with atomic_text(target) as out:
            out.write("half of a new run")
            raise RuntimeError("interrupted")
    assert target.read_text() == "previous run\n"
    assert [p.name for p in tmp_path.iterdir()] == ["hits.jsonl"]  # no temp file left behind
    with atomic_text(target) as out:
        out.write("new run\n")
    assert target.read_text() == "new run\n" and len(list(tmp_path.iterdir())) == 1


# --- streamed table and JSON: the bytes of rendering everything at once ---------------------

def varied_hits() -> list[Hit]:
    """Hits whose details column mixes numbers, padded text, wide and cut cells."""
    raws = ["404", "1e5", "  padded  ", "x" * 90, "é ✓ unicode", "True", "1,000", "-7"]
    return [Hit(rule=RuleInfo(id=f"r-{n}", title="t" * (n * 9), level=("high", None)[n % 2],
                              status=None, tags=(), logsource=LogSource(), path="x.yml"),
                timestamp=(TS, None)[n % 3 == 0], source=f"{'d/' * n}auth.log", line=n,
                logsource=(), fields={}, raw=raw, derived=n == 4)
            for n, raw in enumerate(raws)]


@pytest.mark.parametrize(("hits", "chunk"), [
    (varied_hits(), 1), (varied_hits(), 3), (varied_hits(), 1000),
    (varied_hits()[:2], 1),  # the details column is all numbers: still shown as logged
    ([make_hit("x", user="bob")], 1),
])
def test_table_in_chunks_equals_the_whole_table(hits: list[Hit], chunk: int,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from tabulate import tabulate
    from scanner.report import table
    whole = tabulate([table.table_row(h) for h in hits], tablefmt="simple", disable_numparse=True,
                     headers=("timestamp", "level", "rule", "source:line", "details")) + "\n"
    monkeypatch.setattr(table, "_CHUNK_ROWS", chunk)
    out = io.StringIO()
    assert write_table(hits, out) == len(hits)
    assert out.getvalue() == whole


@pytest.mark.parametrize("hits", [[], varied_hits()[:1], varied_hits()])
def test_json_streams_the_document_json_dumps_gives(hits: list[Hit]) -> None:
    from scanner.report.jsonl import write_json
    from scanner.report.records import hit_record
    summary = {"hits": len(hits), "top_rules": [["t", 1]]}
    out = io.StringIO()
    write_json(iter(hits), lambda: summary, out)
    assert out.getvalue() == json.dumps({"hits": [hit_record(h) for h in hits],
                                         "summary": summary}, default=str) + "\n"
