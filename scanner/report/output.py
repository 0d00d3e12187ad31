"""Write hits in the chosen format to stdout or, atomically, to a file."""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, TextIO

from scanner.errors import LogsigmaError, Location
from scanner.model import Hit
from scanner.report.context import ReportContext, Summary
from scanner.report.csv_out import write_csv
from scanner.report.html import write_html
from scanner.report.jsonl import write_json, write_jsonl
from scanner.report.junit import write_junit
from scanner.report.sarif import write_sarif
from scanner.report.table import write_table


@contextmanager
def atomic_text(path: Path) -> Iterator[TextIO]:
    """A text stream whose content replaces ``path`` only when the block succeeds."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise LogsigmaError(f"cannot write output: {exc.strerror}", Location(str(path))) from None
    try:
        # newline="" keeps the CSV writer's CRLF row ends as written.
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            yield out
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_hits(hits: Iterable[Hit], summary: Summary, fmt: str, out: TextIO,
               context: ReportContext = ReportContext()) -> None:
    """Render ``hits`` as ``fmt`` (table, csv, jsonl, json, sarif, junit, html) onto
    ``out``, streaming; the table and the HTML report iterate ``hits`` twice. The JSON
    document and the HTML report show the run ``summary``, which they ask for after a
    first complete iteration of ``hits``."""
    if fmt == "table":
        write_table(hits, out)
    elif fmt == "csv":
        write_csv(hits, out)
    elif fmt == "jsonl":
        write_jsonl(hits, out)
    elif fmt == "sarif":
        write_sarif(hits, context, out)
    elif fmt == "junit":
        write_junit(hits, context, out)
    elif fmt == "html":
        write_html(hits, summary, context, out)
    else:
        write_json(hits, summary, out)


def emit(hits: Iterable[Hit], summary: Summary, fmt: str, path: Path | None,
         context: ReportContext = ReportContext()) -> None:
    """Write the hits to ``path`` atomically, or to stdout when ``path`` is None."""
    if path is None or str(path) == "-":
        write_hits(hits, summary, fmt, sys.stdout, context)
        sys.stdout.flush()
    elif path.is_char_device():  # /dev/null and friends cannot be replaced
        with path.open("w", encoding="utf-8", newline="") as out:
            write_hits(hits, summary, fmt, out, context)
    else:
        with atomic_text(path) as out:
            write_hits(hits, summary, fmt, out, context)
