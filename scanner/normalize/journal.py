"""Journal entries as records of the syslog family, and of auditd.

Takes the :class:`~scanner.sources.journal.JournalEntry` values of a journal file and
yields :class:`JournalRecord` values for the normalizer. Entries of ``_TRANSPORT=audit``
(the kernel audit records journald collects) become audit.log text, ``type=SYSCALL
msg=audit(1707609600.120:812): arch=…``, consecutive entries of one ``_AUDIT_ID`` joined
into one record, for the route the journal route's ``transports`` names (``audit``).
Every other entry is one record with fields, which the normalizer routes like a syslog
line: the route's ``programs`` parse ``MESSAGE`` by the program's grammars and
``facilities`` add the logsource of the file rsyslog would have written the entry to.
``fields`` holds every journal field under its own name (``MESSAGE``, ``_PID``,
``_SYSTEMD_UNIT`` …; a field given several times is a list; bytes that are not UTF-8
kept as ``\\x`` escapes), the entry's own ``__REALTIME_TIMESTAMP``,
``__MONOTONIC_TIMESTAMP``, ``__SEQNUM`` and ``_BOOT_ID`` as journalctl shows them, and
the syslog header's native names: ``program`` (``SYSLOG_IDENTIFIER``, else ``_COMM``),
``pid``, ``host``, ``message`` (``MESSAGE`` without leading spaces, as the syslog header
leaves it), ``pri`` (facility and priority) and ``time`` (the entry's realtime, read as
``epoch``). The raw text is the entry as a syslog line with an RFC 3339 UTC stamp
(``2024-03-02T10:00:01.000000+00:00 vps sshd[811]: Accepted …``), so keyword rules and
the stream checks see what they see in auth.log. Knows nothing of rules.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Collection, Iterator, NamedTuple

from scanner.errors import Problems
from scanner.model import SourceFile
from scanner.sources.journal import JournalEntry, read_journal

EPOCH = datetime(1970, 1, 1)  # UTC


class JournalRecord(NamedTuple):
    """One record: its first entry's number (from 1), its text, its fields (``None`` for a
    transport's text record) and the ``_TRANSPORT`` whose route parses it (``None``: the
    journal route)."""

    line: int
    text: str
    fields: dict[str, Any] | None
    transport: str | None = None


def journal_records(file: SourceFile, problems: Problems,
                    transports: Collection[str] = ()) -> Iterator[JournalRecord]:
    """The records of the journal ``file`` in file order; entries of ``transports`` as their
    text records (audit: see module doc)."""
    held: list[str] = []  # the lines of one audit event, until an entry of another comes
    held_key, held_line = ("", ""), 0
    for number, entry in enumerate(read_journal(file, problems, text=True), 1):
        transport = _value(entry, "_TRANSPORT") if transports else ""
        key = (transport, _value(entry, "_AUDIT_ID")) if transport in transports else None
        if held and key != held_key:
            yield JournalRecord(held_line, "\n".join(held), None, held_key[0])
            held = []
        if key is None:
            yield JournalRecord(number, *entry_record(entry))
            continue
        if not held:
            held_key, held_line = key, number
        held.append(audit_line(entry))
    if held:
        yield JournalRecord(held_line, "\n".join(held), None, held_key[0])


def audit_line(entry: JournalEntry) -> str:
    """An audit entry as the line auditd writes to audit.log: ``MESSAGE`` is the record
    type's name and its body; the serial and the time come from ``_AUDIT_ID`` and
    ``_SOURCE_REALTIME_TIMESTAMP`` (else the entry's time)."""
    kind, _, body = _value(entry, "MESSAGE").partition(" ")
    kind = _value(entry, "_AUDIT_TYPE_NAME") or kind
    source = _value(entry, "_SOURCE_REALTIME_TIMESTAMP")
    micros = int(source) if source.isdigit() else entry.realtime
    return (f"type={kind} msg=audit({micros // 1_000_000}.{micros % 1_000_000 // 1000:03d}:"
            f"{_value(entry, '_AUDIT_ID') or 0}): {body}")


def _value(entry: JournalEntry, name: str) -> str:
    """The first value of field ``name`` of ``entry`` (read as text; "" when absent)."""
    for key, value in entry.fields:
        if key == name:
            return value  # type: ignore[return-value]
    return ""


def entry_record(entry: JournalEntry) -> tuple[str, dict[str, Any]]:
    """``(raw text, fields)`` of one entry read with ``text=True`` (see module doc)."""
    fields: dict[str, Any] = dict(entry.fields)
    first = fields  # each field's first value
    if len(fields) < len(entry.fields):  # a field given several times: all its values, a list
        grouped: dict[str, list[str]] = {}
        for name, value in entry.fields:
            grouped.setdefault(name, []).append(value)  # type: ignore[arg-type]
        fields = {name: values[0] if len(values) == 1 else values
                  for name, values in grouped.items()}
        first = {name: values[0] for name, values in grouped.items()}
    get = first.get
    message, host = get("MESSAGE"), get("_HOSTNAME")
    program = get("SYSLOG_IDENTIFIER") or get("_COMM")
    pid = get("SYSLOG_PID") or get("_PID")
    pri = _pri(get("SYSLOG_FACILITY"), get("PRIORITY"))
    realtime = entry.realtime
    # the syslog header's native names (those with a value), in this order; the syslog header
    # grammar's separator eats the padding sudo puts before its user name
    if message and (stripped := message.lstrip(" ")):
        fields["message"] = stripped
    if program:
        fields["program"] = program
    if pid:
        fields["pid"] = pid
    if host:
        fields["host"] = host
    if pri:
        fields["pri"] = pri
    fields["time"] = f"{realtime // 1_000_000}.{realtime % 1_000_000:06d}"
    fields["__REALTIME_TIMESTAMP"] = str(realtime)
    fields["__SEQNUM"] = str(entry.seqnum)
    fields["__MONOTONIC_TIMESTAMP"] = str(entry.monotonic)
    fields.setdefault("_BOOT_ID", entry.boot_id)
    stamp = f"{_second(realtime // 1_000_000)}.{realtime % 1_000_000:06d}+00:00"
    tag = f"{program}[{pid}]" if program and pid else program or "-"
    return f"{stamp} {host or '-'} {tag}: {message or ''}", fields


@lru_cache(maxsize=64)
def _second(seconds: int) -> str:
    """The RFC 3339 UTC stamp of a second since the epoch, without its zone (entries come a
    few per second)."""
    return (EPOCH + timedelta(seconds=seconds)).isoformat(timespec="seconds")


@lru_cache(maxsize=256)
def _pri(facility: str | None, priority: str | None) -> str | None:
    """``facility * 8 + priority`` as syslog's PRI (a missing facility is ``user``)."""
    facility = facility or "1"
    if priority is None or not (facility.isdigit() and priority.isdigit()) or int(priority) > 7:
        return None
    return str(int(facility) * 8 + int(priority))
