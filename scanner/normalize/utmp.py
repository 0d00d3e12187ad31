"""Login records of wtmp, btmp and utmp (glibc ``struct utmp``) as events.

Two record layouts exist: 384 bytes with 32-bit ``ut_session``/``tv_sec``/``tv_usec``
(:data:`TIME32`: x86_64, i386, what ``utmpdump`` reads) and 400 bytes with 64-bit ones
(:data:`TIME64`: 64-bit builds without 32-bit time compatibility, e.g. aarch64 — common on
ARM VPSs — and s390x, big-endian). Each record becomes one :class:`~scanner.model.Event`
whose ``line`` is the 1-based record index and whose ``raw`` is the record rendered as
``utmpdump`` prints it (control characters escaped). Layout and byte order are chosen per
file from its first records (ties: a plain file's size, then TIME32, then little-endian).
Nothing is dropped: an
all-zero record (``anomaly: zeroed``), a cut last record (``partial``) and a record
older than the one before it (``time_backwards``; not checked in the live ``utmp``,
whose slots are rewritten in place) are events too, since each may be the trace of
tampering. :func:`encode_utmp` is the inverse, for tests and fixture generators.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, Iterator, Mapping

from scanner.errors import Problems, SourceError
from scanner.model import Event, SourceFile
from scanner.normalize.binary_records import c_string, epoch, iter_records, printable
from scanner.sources.open import open_binary

TYPES = ("EMPTY", "RUN_LVL", "BOOT_TIME", "NEW_TIME", "OLD_TIME", "INIT_PROCESS",
         "LOGIN_PROCESS", "USER_PROCESS", "DEAD_PROCESS", "ACCOUNTING")
_SAMPLE = 64  # records used to pick the layout and byte order
_ORDER = {"little": "<", "big": ">"}
_PLAUSIBLE_SECONDS = (631_152_000, 4_102_444_800)  # 1990 to 2100


@dataclass(frozen=True)
class Layout:
    """One ``struct utmp`` layout: its size, its fields and where its time ends."""

    name: str
    size: int
    # type, pid, line, id, user, host, exit (termination, status), session, tv (sec, usec), addr_v6
    fields: str
    time_end: int  # a partial record shorter than this has no time

    def struct(self, byteorder: str) -> struct.Struct:
        """The ``struct`` of this layout in ``byteorder`` (``little`` or ``big``)."""
        return _compiled(_ORDER[byteorder] + self.fields)


@functools.cache
def _compiled(fmt: str) -> struct.Struct:
    return struct.Struct(fmt)


TIME32 = Layout("time32", 384, "h2xi32s4s32s256shhiii16s20x", 348)
TIME64 = Layout("time64", 400, "h2xi32s4s32s256shhqqq16s20x4x", 360)
SIZE = TIME32.size
LAYOUTS = (TIME32, TIME64)


def _evidence(data: bytes, layout: Layout, byteorder: str) -> int:
    """2: a record with a known type, a pid and a time since 1990; 1: an EMPTY slot (which
    says little: misread bytes are often zero); 0: not a record of this layout and order."""
    kind, pid, *_, sec, usec, _addr = layout.struct(byteorder).unpack(data)
    if not (0 <= kind < len(TYPES) and pid >= 0 and 0 <= usec < 1_000_000):
        return 0
    return 1 if kind == 0 else 2 * (_PLAUSIBLE_SECONDS[0] <= sec < _PLAUSIBLE_SECONDS[1])


def pick_layout(head: bytes, plain_size: int | None) -> tuple[Layout, str]:
    """The layout and byte order under which the whole records of ``head`` (a file's first
    bytes) look most like login records (:func:`_evidence`: dated records first, then empty
    slots); ties go to the layout dividing ``plain_size``, then TIME32, then little-endian."""
    def score(option: tuple[Layout, str]) -> tuple[int, int, bool]:
        layout, order = option
        stop = min(len(head), _SAMPLE * layout.size) - layout.size + 1
        found = [_evidence(head[i:i + layout.size], layout, order) for i in range(0, stop, layout.size)]
        fits = plain_size is not None and plain_size % layout.size == 0
        return found.count(2), found.count(1), fits
    return max(((layout, order) for layout in LAYOUTS for order in _ORDER), key=score)


def utmp_kind(head: bytes, plain_size: int | None) -> str | None:
    """``btmp`` or ``wtmp`` when ``head`` (a file's first bytes) holds login records, else
    ``None``: under the best layout one whole record is dated and at most a quarter make no
    sense (tampered or test files hold a few); ``btmp`` when most dated records are failed
    logins (LOGIN_PROCESS, other than getty's ``LOGIN`` prompts)."""
    layout, order = pick_layout(head, plain_size)
    records = [head[i:i + layout.size] for i in range(0, len(head) - layout.size + 1, layout.size)]
    evidence = [_evidence(data, layout, order) for data in records[:_SAMPLE]]
    if 2 not in evidence or evidence.count(0) * 4 > len(evidence):
        return None
    unpack = layout.struct(order).unpack
    dated = [unpack(data) for data, seen in zip(records, evidence) if seen == 2]
    failed = sum(1 for kind, _, _, _, user, *_ in dated  # getty's login prompts are "LOGIN"
                 if kind == TYPES.index("LOGIN_PROCESS") and c_string(user) != "LOGIN")
    return "btmp" if failed * 2 > len(dated) else "wtmp"


def _head(file: SourceFile) -> bytes:
    """The first records' bytes (empty when unreadable: reading the records reports it)."""
    try:
        with open_binary(file) as stream:
            return stream.read(_SAMPLE * TIME64.size)
    except (SourceError, OSError, EOFError, ValueError):
        return b""


def _address(data: bytes) -> str | None:
    if not any(data):
        return None
    if any(data[4:]):
        return socket.inet_ntop(socket.AF_INET6, data)
    return socket.inet_ntop(socket.AF_INET, data[:4])


def decode_utmp(data: bytes, byteorder: str = "little", layout: Layout = TIME32) -> dict[str, Any]:
    """The fields of one record (``time`` as a UTC datetime); a short ``data`` is zero-padded."""
    (kind, pid, tty, ut_id, user, host, termination, status, session, sec, usec,
     addr) = layout.struct(byteorder).unpack(data.ljust(layout.size, b"\x00"))
    return {"type": TYPES[kind] if 0 <= kind < len(TYPES) else str(kind), "type_code": kind,
            "pid": pid, "tty": c_string(tty), "id": c_string(ut_id), "user": c_string(user),
            "host": c_string(host), "src_ip": _address(addr), "session": session,
            "exit_termination": termination, "exit_status": status, "time": epoch(sec, usec)}


def encode_utmp(record: Mapping[str, Any], byteorder: str = "little", layout: Layout = TIME32) -> bytes:
    """One record from fields named as in :func:`decode_utmp` (missing ones are zero)."""
    kind = record.get("type", 0)
    code = TYPES.index(kind) if isinstance(kind, str) else int(kind)
    when: datetime | None = record.get("time")
    delta = (when - epoch(0)) if when else None
    seconds = delta.days * 86400 + delta.seconds if delta else 0
    ip = record.get("src_ip")
    addr = ipaddress.ip_address(ip).packed.ljust(16, b"\x00") if ip else bytes(16)
    text = {key: str(record.get(key, "")).encode() for key in ("tty", "id", "user", "host")}
    return layout.struct(byteorder).pack(
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
    layout, order = pick_layout(_head(file), None if file.compression else file.size)
    records = iter_records(file, layout.size, problems, report_empty=True)
    check_order = PurePosixPath(file.chain or file.source).name != "utmp"
    previous: datetime | None = None
    for index, data in records:
        event = _event(file.source, index, data, layout, order)
        if event.timestamp is not None:
            if check_order and previous is not None and event.timestamp < previous:
                event.fields.setdefault("anomaly", "time_backwards")
            previous = event.timestamp
        yield event


def _event(source: str, index: int, data: bytes, layout: Layout, byteorder: str) -> Event:
    decoded = decode_utmp(data, byteorder, layout)
    raw = render(decoded)
    fields = {key: value for key, value in decoded.items()
              if key not in ("time", "type_code") and value not in ("", None)}
    timestamp: datetime | None = decoded["time"]
    note = None
    if len(data) < layout.size:
        fields["anomaly"] = "partial"
        if len(data) < layout.time_end:
            timestamp = None
            note = f"partial record ({len(data)} of {layout.size} bytes) ends before its time"
    elif not any(data):
        fields["anomaly"], timestamp, note = "zeroed", None, "zeroed record"
    return Event(source=source, line=index + 1, format="", logsources=(), fields=fields, raw=raw,
                 timestamp=timestamp, time_note=note)
