"""Group the physical lines of a text file into records, streaming, in bounded memory.

A route's ``records`` key names how lines form records; :func:`assemble` turns
``(line number, text)`` pairs into :class:`Record` values of that kind:

* ``line``: one record per non-blank line.
* ``continued``: a line that does not start a record continues the previous
  one (postgresql ``DETAIL`` continuations, nginx's multi-line FastCGI
  messages). By default a line starting with a space or tab continues; a
  route may give ``record_start``, a regex a record's first line matches.
* ``block``: blank-line separated blocks form one record each (apt history).
* ``audit``: consecutive audit.log lines sharing ``msg=audit(TIME:SERIAL)``
  form one record; a line without that header is a record of its own.
* ``json``: each line is a JSON object, flattened with dotted keys into
  ``fields``; a line that is not a JSON object keeps ``fields=None`` so the
  caller counts it unparsed.

Multi-line records join their lines with ``"\\n"`` and carry the first line's
number. A record never holds more than :data:`MAX_RECORD_LINES` lines: a
runaway block or group is cut there and the next line starts a new record.
Blank lines never form a record of their own.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

MAX_RECORD_LINES = 1000
"""The most physical lines one record holds; longer groups are split."""

RECORD_KINDS = ("line", "continued", "block", "audit", "json")

_AUDIT_ID = re.compile(r"(?:node=\S+ )?type=\S+ msg=audit\((\d+(?:\.\d+)?:\d+)\)")
_INDENTED = re.compile(r"[ \t]")


@dataclass(slots=True)
class Record:
    """One logical record: its first line's number, its text, pre-parsed fields if any."""

    line: int
    text: str
    fields: dict[str, Any] | None = None


Lines = Iterable[tuple[int, str]]


def assemble(kind: str, lines: Lines, start: re.Pattern[str] | None = None) -> Iterator[Record]:
    """Records of ``kind`` (one of :data:`RECORD_KINDS`) made from numbered lines.

    ``start`` matters only for ``continued``: the regex a record's first line
    matches (default: any line not starting with a space or tab).
    Raises ``ValueError`` for an unknown kind (a route-file fault).
    """
    if kind == "line":
        return (Record(n, text) for n, text in lines if text.strip())
    if kind == "json":
        return (_json_record(n, text) for n, text in lines if text.strip())
    if kind == "continued":
        begins = start.match if start is not None else (lambda t: not _INDENTED.match(t))
        return _grouped(lines, lambda _first, text: not begins(text))
    if kind == "block":
        return _blocks(lines)
    if kind == "audit":
        return _grouped(lines, _same_audit_event)
    raise ValueError(f"unknown record kind {kind!r} (expected one of {', '.join(RECORD_KINDS)})")


def _grouped(lines: Lines, joins: Callable[[str, str], bool]) -> Iterator[Record]:
    """Runs of non-blank lines where ``joins(first_line, line)`` holds, capped in length."""
    first = 0
    group: list[str] = []
    for n, text in lines:
        if not text.strip():
            continue
        if group and len(group) < MAX_RECORD_LINES and joins(group[0], text):
            group.append(text)
            continue
        if group:
            yield Record(first, "\n".join(group))
        first, group = n, [text]
    if group:
        yield Record(first, "\n".join(group))


def _blocks(lines: Lines) -> Iterator[Record]:
    """Blank-line separated blocks, capped in length."""
    first = 0
    block: list[str] = []
    for n, text in lines:
        if text.strip() and len(block) < MAX_RECORD_LINES:
            if not block:
                first = n
            block.append(text)
            continue
        if block:
            yield Record(first, "\n".join(block))
        block = [text] if text.strip() else []
        first = n
    if block:
        yield Record(first, "\n".join(block))


def _same_audit_event(first: str, text: str) -> bool:
    head, this = _AUDIT_ID.match(first), _AUDIT_ID.match(text)
    return head is not None and this is not None and head.group(1) == this.group(1)


def _json_record(n: int, text: str) -> Record:
    try:
        value = json.loads(text)
    except ValueError:
        return Record(n, text)
    if not isinstance(value, dict):
        return Record(n, text)
    return Record(n, text, flatten(value))


def flatten(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested JSON object as one level with dotted keys; lists and scalars kept as values."""
    flat: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict) and item:
            flat.update(flatten(item, f"{name}."))
        else:
            flat[name] = item
    return flat
