"""JSON Lines and JSON output: one object per hit (see ``records.hit_record``)."""

from __future__ import annotations

import json
from typing import Any, Iterable, TextIO

from scanner.model import Hit
from scanner.report.context import Summary
from scanner.report.halves import write_lines
from scanner.report.records import hit_record


def _dumps(obj: Any) -> str:
    # ensure_ascii keeps the output pure ASCII: control characters and odd bytes
    # from the logs arrive escaped, whatever the reader's terminal or encoding.
    return json.dumps(obj, ensure_ascii=True, sort_keys=False, default=str)


def write_jsonl(hits: Iterable[Hit], out: TextIO) -> None:
    """Write one JSON object per hit, one per line (by two processes when the hits split
    in halves: scanner.report.halves)."""
    write_lines(hits, jsonl_lines, out)


def jsonl_lines(hits: Iterable[Hit], out: TextIO) -> None:
    """Write the JSON Lines of ``hits``."""
    for hit in hits:
        out.write(_dumps(hit_record(hit)) + "\n")


def write_json(hits: Iterable[Hit], summary: Summary, out: TextIO) -> None:
    """Write ``{"hits": [...], "summary": {...}}`` as one JSON document, hit by hit
    (the bytes ``json.dumps`` gives for the whole document); ``summary`` is asked for
    once the hits are written."""
    out.write('{"hits": [')
    for i, hit in enumerate(hits):
        out.write((", " if i else "") + _dumps(hit_record(hit)))
    out.write('], "summary": ' + _dumps(summary()) + "}\n")
