"""Login records of wtmp, btmp and utmp (glibc ``struct utmp``) as events.

Each 384-byte record (glibc x86_64 layout: 32-bit ``tv_sec``/``tv_usec``) becomes one
:class:`~scanner.model.Event` whose ``line`` is the 1-based record index and whose
``raw`` is the record rendered as ``utmpdump`` prints it (control characters escaped).
The byte order is chosen per file from the first records. Nothing is dropped: an
all-zero record (``anomaly: zeroed``), a cut last record (``partial``) and a record
older than the one before it (``time_backwards``; not checked in the live ``utmp``,
whose slots are rewritten in place) are events too, since each may be the trace of
tampering. :func:`encode_utmp` is the inverse, for tests and fixture generators.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from datetime import datetime
from itertools import chain, islice
from pathlib import PurePosixPath
from typing import Any, Iterator, Mapping

from scanner.errors import Problems
from scanner.model import Event, SourceFile
from scanner.normalize.binary_records import (c_string, epoch, iter_records, pick_byteorder,
                                              printable)

SIZE = 384
# type, pid, line, id, user, host, exit (termination, status), session, tv (sec, usec), addr_v6
_LAYOUT = "h2xi32s4s32s256shhiii16s20x"
_TIME_END = 348  # a partial record shorter than this has no time
TYPES = ("EMPTY", "RUN_LVL", "BOOT_TIME", "NEW_TIME", "OLD_TIME", "INIT_PROCESS",
         "LOGIN_PROCESS", "USER_PROCESS", "DEAD_PROCESS", "ACCOUNTING")
_SAMPLE = 64  # records used to pick the byte order
_ORDER = {"little": "<", "big": ">"}


def _struct(byteorder: str) -> struct.Struct:
    return struct.Struct(_ORDER[byteorder] + _LAYOUT)


def _plausible(data: bytes, byteorder: str) -> bool:
    kind, pid, *_, usec, _addr = _struct(byteorder).unpack(data)
    return 0 <= kind < len(TYPES) and pid >= 0 and 0 <= usec < 1_000_000


def _address(data: bytes) -> str | None:
    if not any(data):
        return None
    if any(data[4:]):
        return socket.inet_ntop(socket.AF_INET6, data)
    return socket.inet_ntop(socket.AF_INET, data[:4])


def decode_utmp(data: bytes, byteorder: str = "little") -> dict[str, Any]:
    """The fields of one record (``time`` as a UTC datetime); a short ``data`` is zero-padded."""
    (kind, pid, tty, ut_id, user, host, termination, status, session, sec, usec,
     addr) = _struct(byteorder).unpack(data.ljust(SIZE, b"\x00"))
    return {"type": TYPES[kind] if 0 <= kind < len(TYPES) else str(kind), "type_code": kind,
            "pid": pid, "tty": c_string(tty), "id": c_string(ut_id), "user": c_string(user),
            "host": c_string(host), "src_ip": _address(addr), "session": session,
            "exit_termination": termination, "exit_status": status, "time": epoch(sec, usec)}


def encode_utmp(record: Mapping[str, Any], byteorder: str = "little") -> bytes:
    """One 384-byte record from fields named as in :func:`decode_utmp` (missing ones are zero)."""
    kind = record.get("type", 0)
    code = TYPES.index(kind) if isinstance(kind, str) else int(kind)
    when: datetime | None = record.get("time")
    delta = (when - epoch(0)) if when else None
    seconds = delta.days * 86400 + delta.seconds if delta else 0
    ip = record.get("src_ip")
    addr = ipaddress.ip_address(ip).packed.ljust(16, b"\x00") if ip else bytes(16)
    text = {key: str(record.get(key, "")).encode() for key in ("tty", "id", "user", "host")}
    return _struct(byteorder).pack(
        code, int(record.get("pid", 0)), text["tty"], text["id"], text["user"], text["host"],
        int(record.get("exit_termination", 0)), int(record.get("exit_status", 0)),
        int(record.get("session", 0)), seconds, delta.microseconds if delta else 0, addr)


def render(fields: Mapping[str, Any]) -> str:
    """One record on one line, as ``utmpdump`` prints it."""
    when = fields["time"].strftime("%Y-%m-%dT%H:%M:%S,%f+00:00")
    text = {key: printable(fields[key]) for key in ("id", "user", "tty", "host")}
    return (f"[{fields['type_code']}] [{fields['pid']:05d}] [{text['id']:<4.4}] "
            f"[{text['user']:<8}] [{text['tty']:<12}] [{text['host']:<20}] "
            f"[{fields['src_ip'] or '0.0.0.0':<15}] [{when}]")


def read_utmp(file: SourceFile, problems: Problems) -> Iterator[Event]:
    """The events of a wtmp, btmp or utmp file (see module doc)."""
    records = iter_records(file, SIZE, problems, report_empty=True)
    head = list(islice(records, _SAMPLE))
    order = pick_byteorder([data for _, data in head if len(data) == SIZE], _plausible)
    check_order = PurePosixPath(file.chain or file.source).name != "utmp"
    previous: datetime | None = None
    for index, data in chain(head, records):
        event = _event(file.source, index, data, order)
        if event.timestamp is not None:
            if check_order and previous is not None and event.timestamp < previous:
                event.fields.setdefault("anomaly", "time_backwards")
            previous = event.timestamp
        yield event


def _event(source: str, index: int, data: bytes, byteorder: str) -> Event:
    decoded = decode_utmp(data, byteorder)
    raw = render(decoded)
    fields = {key: value for key, value in decoded.items()
              if key not in ("time", "type_code") and value not in ("", None)}
    timestamp: datetime | None = decoded["time"]
    note = None
    if len(data) < SIZE:
        fields["anomaly"] = "partial"
        if len(data) < _TIME_END:
            timestamp = None
            note = f"partial record ({len(data)} of {SIZE} bytes) ends before its time"
    elif not any(data):
        fields["anomaly"], timestamp, note = "zeroed", None, "zeroed record"
    return Event(source=source, line=index + 1, format="", logsources=(), fields=fields, raw=raw,
                 timestamp=timestamp, time_note=note)
