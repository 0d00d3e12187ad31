"""CSV output (RFC 4180 quoting) with formula-injection-safe cells."""

from __future__ import annotations

import csv
import json
from typing import Iterable, TextIO

from scanner.model import Hit
from scanner.report.halves import write_lines
from scanner.report.records import (HOST_FIELDS, SRC_IP_FIELDS, first_field, hit_record,
                                    logsource_text)
from scanner.report.safe import csv_cell

COLUMNS = ("timestamp", "level", "rule_title", "rule_id", "source", "line", "logsource", "host",
           "program", "user", "src_ip", "raw", "status", "tags", "derived", "correlation", "fields")


def csv_row(hit: Hit) -> list[str]:
    """The cells of one hit, in ``COLUMNS`` order."""
    rec = hit_record(hit)
    fields = rec["fields"]
    values = (rec["timestamp"], rec["level"], rec["rule_title"], rec["rule_id"], rec["source"],
              rec["line"], logsource_text(hit), first_field(fields, HOST_FIELDS),
              fields.get("program"), fields.get("user") or closing_user(hit),
              first_field(fields, SRC_IP_FIELDS),
              rec["raw"], rec["status"], " ".join(rec["tags"]), "yes" if hit.derived else "",
              json.dumps(rec["correlation"], default=str) if "correlation" in rec else "",
              json.dumps(fields, default=str, sort_keys=True))
    return [csv_cell(v) for v in values]


def closing_user(hit: Hit) -> object:
    """The account a correlation hit's closing event names, if any."""
    return dict(hit.correlation.closing).get("user") if hit.correlation else None


def write_csv(hits: Iterable[Hit], out: TextIO) -> None:
    """Write a header and one row per hit (the rows by two processes when the hits split
    in halves: scanner.report.halves)."""
    csv.writer(out, lineterminator="\r\n").writerow(COLUMNS)
    write_lines(hits, csv_rows, out)


def csv_rows(hits: Iterable[Hit], out: TextIO) -> None:
    """Write the CSV rows of ``hits``."""
    writer = csv.writer(out, lineterminator="\r\n")
    for hit in hits:
        writer.writerow(csv_row(hit))
