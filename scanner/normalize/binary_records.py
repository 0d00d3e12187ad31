"""Shared pieces of the fixed-size binary record readers (utmp, lastlog, faillog).

Reads a file as a sequence of equal-size records with bounded memory, picks a
file's byte order from a plausibility score, decodes C strings and epoch times, and
renders attacker-controlled bytes as one printable line. Knows nothing of any
particular record layout.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import BinaryIO, Callable, Iterator

from scanner.errors import Location, Problems, SourceError
from scanner.model import SourceFile
from scanner.sources.open import open_binary

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_BATCH = 4096  # records read at a time
_READ_ERRORS = (OSError, EOFError, ValueError)


def epoch(seconds: int, microseconds: int = 0) -> datetime:
    """The UTC time ``seconds`` (+ ``microseconds``) after the Unix epoch."""
    return EPOCH + timedelta(seconds=seconds, microseconds=microseconds)


def c_string(data: bytes) -> str:
    """A NUL-terminated (or full) char array as text; invalid UTF-8 kept as ``\\x`` escapes."""
    return data.split(b"\x00", 1)[0].decode("utf-8", errors="backslashreplace")


def printable(text: str) -> str:
    """``text`` with control characters shown as ``\\xNN`` so it stays on one line."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def pick_byteorder(records: list[bytes], plausible: Callable[[bytes, str], bool]) -> str:
    """``little`` or ``big``: the order making more ``records`` plausible (ties: little)."""
    score = {order: sum(plausible(r, order) for r in records) for order in ("little", "big")}
    return "big" if score["big"] > score["little"] else "little"


def iter_records(file: SourceFile, size: int, problems: Problems, *, sparse: bool = False,
                 report_empty: bool = False) -> Iterator[tuple[int, bytes]]:
    """Yield ``(0-based index, bytes)`` of each ``size``-byte record of ``file``.

    The last record is shorter when the file ends mid-record. With ``sparse``, the
    holes of a plain sparse file are skipped (their records are all zero). Open and
    read errors are recorded in ``problems`` and end the iteration; so is an empty
    file with ``report_empty``.
    """
    try:
        stream = open_binary(file)
    except SourceError as exc:
        problems.add("source", exc.location or Location(file.source), exc.message)
        return
    with stream:
        index = 0
        for start, end in _data_extents(stream) if sparse else [(0, None)]:
            index = max(index, start // size)
            stop = None if end is None else -(-end // size)  # first record wholly after the extent
            stream.seek(index * size)
            while stop is None or index < stop:
                count = _BATCH if stop is None else min(_BATCH, stop - index)
                try:
                    batch = stream.read(size * count)
                except _READ_ERRORS as exc:
                    problems.add("source", Location(file.source, index + 1),
                                 f"read stopped at record {index + 1}: {exc}")
                    return
                if not batch:
                    break
                for offset in range(0, len(batch), size):
                    yield index, batch[offset:offset + size]
                    index += 1
    if index == 0 and report_empty:
        problems.add("source", Location(file.source), "empty file (no records)")


def _data_extents(stream: BinaryIO) -> list[tuple[int, int | None]]:
    """``[start, end)`` byte ranges holding data in a plain file; the whole stream otherwise."""
    extents: list[tuple[int, int | None]] = []
    position = 0
    try:
        while True:
            try:
                start = stream.seek(position, os.SEEK_DATA)
            except OSError:  # ENXIO: no data after position
                break
            end = stream.seek(start, os.SEEK_HOLE)
            extents.append((start, end))
            position = end
    except (ValueError, OSError, AttributeError):  # a decompressing stream cannot seek holes
        return [(0, None)]
    stream.seek(0)
    return extents
