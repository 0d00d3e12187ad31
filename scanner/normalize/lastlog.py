"""lastlog and faillog, the per-uid login records, as events.

Both files are arrays indexed by uid, usually sparse: lastlog holds 292-byte
records (``int32`` time, 32-byte tty, 256-byte host), faillog 32-byte records
(``int16`` failures and maximum, 12-byte tty, ``int64`` time of the last failure,
``int64`` seconds an account stays locked after too many: ``lock_seconds``, when set).
All-zero records (users who never logged in) are skipped, and the holes of a plain
sparse file are never read. Each other record is one event with ``line`` = uid + 1 and
``uid``/``user``: the name comes from the copied tree's ``etc/passwd`` (inside the
scanned root, or ``../etc/passwd`` / ``../../etc/passwd`` from it, so ``/var/log`` finds
``/etc/passwd``), else it is ``uid N``. The byte order is chosen per file; a cut last
record is an event with ``anomaly: partial``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime
from itertools import chain, islice
from pathlib import Path
from typing import Any, Callable, Iterator

from scanner.errors import Problems
from scanner.model import Event, SourceFile
from scanner.normalize.binary_records import (c_string, epoch, iter_records, pick_byteorder,
                                              printable)
from scanner.sources.open import open_raw

_ORDER = {"little": "<", "big": ">"}
_PLAUSIBLE_SECONDS = range(631_152_000, 4_102_444_800)  # 1990 to 2100
_SAMPLE = 64


@dataclass(frozen=True, slots=True)
class _Layout:
    """One per-uid record format: its struct and how a record becomes fields and a time."""

    name: str
    fmt: str
    fields: Callable[[tuple[Any, ...]], dict[str, Any]]
    seconds: Callable[[tuple[Any, ...]], int]

    def unpack(self, data: bytes, byteorder: str) -> tuple[Any, ...]:
        return struct.unpack(_ORDER[byteorder] + self.fmt, data.ljust(self.size, b"\x00"))

    @property
    def size(self) -> int:
        return struct.calcsize("<" + self.fmt)

    def plausible(self, data: bytes, byteorder: str) -> bool:
        when = self.seconds(self.unpack(data, byteorder))
        return when == 0 or when in _PLAUSIBLE_SECONDS

    def holds(self, sample: bytes, size: int | None) -> bool:
        """Whether a file of ``size`` bytes (``None``: compressed) holding ``sample`` at a record
        boundary can be an array of these records: the size is a multiple of one, every record
        of ``sample`` is all zero or has a plausible time and C strings with nothing after their
        NUL, and one is not all zero."""
        if (size is not None and size % self.size) or not any(sample):
            return False
        size = self.size
        records = [sample[i:i + size] for i in range(0, len(sample) - size + 1, size)]
        used = [data for data in records if any(data)]
        order = pick_byteorder(used, self.plausible)
        return all(self.plausible(data, order) and _clean_strings(self.unpack(data, order))
                   for data in used)


LASTLOG = _Layout(
    "lastlog", "i32s256s",
    lambda r: {"tty": c_string(r[1]), "host": c_string(r[2])},
    lambda r: int(r[0]))
FAILLOG = _Layout(
    "faillog", "hh12sqq",
    lambda r: {"failures": r[0], "max_failures": r[1], "tty": c_string(r[2]),
               **({"lock_seconds": r[4]} if r[4] else {})},
    lambda r: int(r[3]))


def _clean_strings(values: tuple[Any, ...]) -> bool:
    """Whether each char array of a record is printable text padded with NULs only."""
    for value in values:
        if isinstance(value, bytes):
            text, _, rest = value.partition(b"\x00")
            if any(rest) or not all(32 <= b < 127 or b >= 128 for b in text):
                return False
    return True


def read_lastlog(file: SourceFile, problems: Problems) -> Iterator[Event]:
    """The events of a lastlog file (see module doc)."""
    return _read(LASTLOG, file, problems)


def read_faillog(file: SourceFile, problems: Problems) -> Iterator[Event]:
    """The events of a faillog file (see module doc)."""
    return _read(FAILLOG, file, problems)


def _read(layout: _Layout, file: SourceFile, problems: Problems) -> Iterator[Event]:
    records = ((uid, data) for uid, data in iter_records(file, layout.size, problems, sparse=True)
               if any(data))
    head = list(islice(records, _SAMPLE))
    order = pick_byteorder([data for _, data in head if len(data) == layout.size],
                           layout.plausible)
    names = user_names(file.root)
    for uid, data in chain(head, records):
        yield _event(layout, file.source, uid, data, order, names)


def _event(layout: _Layout, source: str, uid: int, data: bytes, byteorder: str,
           names: dict[int, str]) -> Event:
    values = layout.unpack(data, byteorder)
    fields: dict[str, Any] = {"uid": uid, "user": names.get(uid, f"uid {uid}")}
    fields.update((k, v) for k, v in layout.fields(values).items() if v != "")
    timestamp: datetime | None = epoch(layout.seconds(values))
    note = None
    if len(data) < layout.size:
        fields["anomaly"] = "partial"
        timestamp, note = None, f"partial record ({len(data)} of {layout.size} bytes)"
    elif layout.seconds(values) == 0:
        timestamp, note = None, "no time recorded"
    shown = " ".join(f"[{printable(str(v))}]" for k, v in fields.items())
    when = timestamp.isoformat() if timestamp else "-"
    return Event(source=source, line=uid + 1, format="", logsources=(), fields=fields,
                 raw=f"{shown} [{when}]", timestamp=timestamp, time_note=note)


def user_names(root: Path) -> dict[int, str]:
    """uid → name from the ``etc/passwd`` nearest the scanned ``root``; ``{}`` when none."""
    for candidate in (root / "etc/passwd", root / "../etc/passwd", root / "../../etc/passwd"):
        try:
            with open_raw(candidate) as stream:
                text = stream.read(16 << 20).decode("utf-8", errors="backslashreplace")
        except OSError:
            continue
        names: dict[int, str] = {}
        for line in text.splitlines():
            parts = line.split(":")
            if len(parts) >= 3 and parts[2].isdigit():
                names.setdefault(int(parts[2]), parts[0])
        return names
    return {}
