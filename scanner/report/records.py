"""One plain-data view of a hit, shared by every output format.

JSON Lines, JSON, CSV and the table all render :func:`hit_record`, so a field
means the same thing in each of them. Values stay raw here; each sink applies
its own escaping from :mod:`scanner.report.safe`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from scanner.model import Correlation, Hit

# Fields shown in the CSV's fixed columns and in the table's summary, in order of
# preference: the first one an event has wins.
SRC_IP_FIELDS = ("src_ip", "client_ip", "rhost", "addr")
HOST_FIELDS = ("host", "vhost")


def iso(ts: datetime | None) -> str | None:
    """ISO 8601 text of a timestamp (``None`` stays ``None``)."""
    return ts.isoformat() if ts else None


def first_field(fields: dict[str, Any] | Any, names: tuple[str, ...]) -> Any:
    """The value of the first of ``names`` present in ``fields``."""
    for name in names:
        value = fields.get(name)
        if value not in (None, ""):
            return value
    return None


def logsource_text(hit: Hit) -> str:
    """The hit's logsources as ``product/category/service`` joined by ``|``."""
    return "|".join(str(ls) for ls in hit.logsource)


def hit_record(hit: Hit) -> dict[str, Any]:
    """The JSON-ready record of a hit (the JSONL schema in the README)."""
    rule = hit.rule
    record: dict[str, Any] = {
        "timestamp": iso(hit.timestamp),
        "rule_id": rule.id,
        "rule_title": rule.title,
        "level": rule.level,
        "status": rule.status,
        "tags": list(rule.tags),
        "source": hit.source,
        "line": hit.line,
        "logsource": [ls.to_dict() for ls in hit.logsource],
        "fields": dict(hit.fields),
        "raw": hit.raw,
    }
    if hit.derived:
        record["derived"] = True
    if hit.correlation:
        corr = hit.correlation
        record["correlation"] = {
            "type": rule.kind,
            "group": {k: v for k, v in corr.group},
            "window_start": iso(corr.window_start),
            "window_end": iso(corr.window_end),
            "value": corr.value,
            "events": [f"{source}:{line}" for source, line in corr.contributors],
            "closing": dict(corr.closing),
            "values": {tally.field: {"top": [list(pair) for pair in tally.top],
                                     "distinct": tally.distinct} for tally in corr.values},
        }
    return record


def correlation_summary(corr: Correlation) -> str:
    """The closing fields and top values of a correlation, as one line of text:
    ``user=webadmin auth_method=password; user: root 40, admin 2 (12 in all)``."""
    parts = [" ".join(f"{k}={v}" for k, v in corr.closing)] if corr.closing else []
    for tally in corr.values:
        top = ", ".join(f"{value} {count}" for value, count in tally.top)
        parts.append(f"{tally.field}: {top}" + (f" ({tally.distinct} in all)"
                                                if tally.distinct > len(tally.top) else ""))
    return "; ".join(parts)
