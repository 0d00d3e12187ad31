"""The terminal table of hits and the run summary (tabulate).

Every cell that quotes log text goes through :func:`safe.terminal_text`, so
escape sequences and control characters in the logs are shown, not executed.
"""

from __future__ import annotations

from itertools import islice
from typing import Any, Iterable, TextIO

from tabulate import tabulate

from scanner.model import Hit
from scanner.report.records import SRC_IP_FIELDS, correlation_summary, first_field
from scanner.report.safe import terminal_text

# Fields worth a glance in the "details" column, in order.
_DETAIL_FIELDS = ("user", "parent_user", "target_user", "target_host", "method", "uri", "status",
                  "user_agent", "command", "command_line", "package", "type", "anomaly", "program")
_TITLE_WIDTH, _SOURCE_WIDTH, _DETAILS_WIDTH = 48, 32, 72
_HEADERS = ("timestamp", "level", "rule", "source:line", "details")
_CHUNK_ROWS = 1_000  # rows rendered per tabulate call


def details(hit: Hit) -> str:
    """A short ``key=value`` summary of what the hit is about."""
    if hit.correlation:
        corr = hit.correlation
        parts = [f"{k}={v}" for k, v in corr.group]
        if corr.value is not None:
            parts.append(f"value={corr.value:g}" if isinstance(corr.value, float) else
                         f"value={corr.value}")
        parts.append(f"events={hit.fields.get('events', len(corr.contributors))}")
        described = correlation_summary(corr)
        return " ".join(parts) + (f"; {described}" if described else "")
    fields = hit.fields
    parts = []
    ip = first_field(fields, SRC_IP_FIELDS)
    if ip is not None:
        parts.append(f"ip={ip}")
    parts += [f"{name}={fields[name]}" for name in _DETAIL_FIELDS
              if fields.get(name) not in (None, "")]
    return " ".join(parts) if parts else str(hit.raw)


def table_row(hit: Hit) -> tuple[str, str, str, str, str]:
    """The cells of one hit's table row."""
    return (
        hit.timestamp.isoformat(timespec="seconds") if hit.timestamp else "-",
        hit.rule.level or "-",
        terminal_text(hit.rule.title + (" (derived)" if hit.derived else ""), _TITLE_WIDTH),
        terminal_text(f"{hit.source}:{hit.line}", _SOURCE_WIDTH),
        terminal_text(details(hit), _DETAILS_WIDTH),
    )


def write_table(hits: Iterable[Hit], out: TextIO) -> int:
    """Write the hits table; returns the number of rows written.

    ``hits`` is iterated twice (a list, or runs on disk): once to measure the columns,
    once to write the rows in chunks, so the table never sits in memory whole.
    """
    widths, count = [0] * len(_HEADERS), 0
    for row in map(table_row, hits):
        count += 1
        widths = [max(width, len(cell.strip())) for width, cell in zip(widths, row)]  # tabulate strips
    if not count:
        out.write("no hits\n")
        return 0
    # Every cell is text (a logged "1e5" stays "1e5"), padded to its column's widest: this
    # last row makes every chunk's columns as wide as the whole table's, and is cut off again.
    widest = tuple("x" * width for width in widths)
    rows, first = map(table_row, hits), True
    while chunk := list(islice(rows, _CHUNK_ROWS)):
        lines = tabulate([*chunk, widest], headers=_HEADERS, tablefmt="simple",
                         disable_numparse=True).split("\n")
        out.write("\n".join(lines[:-1] if first else lines[2:-1]) + "\n")
        first = False
    return count


def render_summary(summary: dict[str, Any]) -> str:
    """The human-readable run summary (the same data as the JSON ``summary``)."""
    lines = ["", "Summary"]
    facts = [
        ("files", f"{summary['files']} ({summary['bytes']:,} bytes)"),
        ("lines", f"{summary['lines']:,} ({summary['parsed']:,} parsed, "
                  f"{summary['unparsed']:,} unparsed, {summary['skipped']:,} skipped by prefilter)"),
        ("speed", f"{summary['seconds']:.2f} s, {summary['lines_per_second']:,.0f} lines/s"),
        ("rules", f"{summary['rules_loaded']} loaded, {summary['rules_skipped']} skipped"),
        ("hits", ", ".join(f"{lvl} {n}" for lvl, n in summary["hits_by_level"].items()) or "none"),
    ]
    if summary.get("units_retried"):
        facts.append(("retried", f"{summary['units_retried']} units run again after their "
                                 "worker died"))
    if summary.get("suppressed_by_baseline"):
        facts.append(("baseline", f"{summary['suppressed_by_baseline']} known hits suppressed"))
    lines.append(tabulate(facts, tablefmt="plain"))
    if summary["top_rules"]:
        lines += ["", "Top rules"]
        lines.append(tabulate([(n, terminal_text(t, 70)) for t, n in summary["top_rules"]],
                              headers=("hits", "rule"), tablefmt="plain"))
    if summary["formats"]:
        lines += ["", "Files by format: " + ", ".join(
            f"{fmt} {n}" for fmt, n in sorted(summary["formats"].items()))]
    for note in summary["time_notes"]:
        lines.append(f"time: {terminal_text(note)}")
    if summary["problems"]:
        counts = ", ".join(f"{kind} {n}" for kind, n in sorted(summary["problem_counts"].items()))
        lines += ["", f"Warnings ({counts})"]
        shown = summary["problems"][:20]
        lines += [f"  {terminal_text(p)}" for p in shown]
        if len(summary["problems"]) > len(shown):
            lines.append(f"  … and {len(summary['problems']) - len(shown)} more "
                         "(all of them in --format json)")
    return "\n".join(lines) + "\n"
