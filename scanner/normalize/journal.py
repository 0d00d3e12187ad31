"""Journal entries as records of the syslog family.

Takes the :class:`~scanner.sources.journal.JournalEntry` values of a journal file and
yields ``(entry number, raw text, fields)`` records for the normalizer, which routes
them like syslog lines: the route's ``programs`` parse ``MESSAGE`` by the program's
grammars and ``facilities`` add the logsource of the file rsyslog would have written
the entry to. ``fields`` holds every journal field under its own name (``MESSAGE``,
``_PID``, ``_SYSTEMD_UNIT`` …; a field given several times is a list; bytes that are
not UTF-8 kept as ``\\x`` escapes) plus the syslog header's native names: ``program``
(``SYSLOG_IDENTIFIER``, else ``_COMM``), ``pid``, ``host``, ``message`` (``MESSAGE``
without leading spaces, as the syslog header leaves it), ``pri``
(facility and priority) and ``time`` (the entry's realtime, read as ``epoch``). The raw
text is the entry as a syslog line with an RFC 3339 UTC stamp
(``2024-03-02T10:00:01.000000+00:00 vps sshd[811]: Accepted …``), so keyword rules and
the stream checks see what they see in auth.log. Knows nothing of rules.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

from scanner.errors import Problems
from scanner.model import SourceFile
from scanner.sources.journal import JournalEntry, read_journal

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
JournalRecord = tuple[int, str, dict[str, Any]]


def journal_records(file: SourceFile, problems: Problems) -> Iterator[JournalRecord]:
    """The records of the journal ``file``, numbered from 1 in file order."""
    for number, entry in enumerate(read_journal(file, problems), 1):
        yield number, *entry_record(entry)


def entry_record(entry: JournalEntry) -> tuple[str, dict[str, Any]]:
    """``(raw text, fields)`` of one entry (see module doc)."""
    fields: dict[str, Any] = {}
    for name, value in entry.fields:
        text = value.decode("utf-8", "backslashreplace")
        known = fields.get(name)
        if known is None:
            fields[name] = text
        elif isinstance(known, list):
            known.append(text)
        else:
            fields[name] = [known, text]
    message = _one(fields.get("MESSAGE"))
    program = _one(fields.get("SYSLOG_IDENTIFIER")) or _one(fields.get("_COMM"))
    pid = _one(fields.get("SYSLOG_PID")) or _one(fields.get("_PID"))
    host = _one(fields.get("_HOSTNAME"))
    # the syslog header grammar's separator eats the padding sudo puts before its user name
    native = {"message": message.lstrip(" ") if message else None, "program": program, "pid": pid, "host": host,
              "pri": _pri(fields.get("SYSLOG_FACILITY"), fields.get("PRIORITY")),
              "time": f"{entry.realtime // 1_000_000}.{entry.realtime % 1_000_000:06d}"}
    fields.update((key, value) for key, value in native.items() if value)
    stamp = (EPOCH + timedelta(microseconds=entry.realtime)).isoformat(timespec="microseconds")
    tag = f"{program}[{pid}]" if program and pid else program or "-"
    return f"{stamp} {host or '-'} {tag}: {message or ''}", fields


def _one(value: Any) -> str | None:
    """The first value of a field given once or several times."""
    return value[0] if isinstance(value, list) else value


def _pri(facility: Any, priority: Any) -> str | None:
    """``facility * 8 + priority`` as syslog's PRI (a missing facility is ``user``)."""
    facility, priority = _one(facility) or "1", _one(priority)
    if priority is None or not (facility.isdigit() and priority.isdigit()) or int(priority) > 7:
        return None
    return str(int(facility) * 8 + int(priority))
