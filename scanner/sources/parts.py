"""Cut a big plain file into byte ranges (*parts*) that start at record boundaries.

:func:`split_ranges` picks cut points about every ``part_size`` bytes: each is the
byte after a newline whose next line starts a record (as the caller's ``begins``
says), so no record is ever cut; each part knows the absolute number of its first
line (1 + the newlines before it, counted over the prefix). The file is opened
read-only without touching its access time (:func:`~scanner.sources.open.open_raw`);
only plain files may be split (a compressed stream cannot be entered mid-way).
Raises ``OSError`` on a read error; the caller then scans the file whole.
"""

from __future__ import annotations

from typing import BinaryIO, Callable

from scanner.model import SourceFile
from scanner.sources.open import CHUNK, ByteRange, open_raw

HEAD_BYTES = 4096  # how much of a line ``begins`` sees


def split_ranges(file: SourceFile, part_size: int, begins: Callable[[str], bool]) -> list[ByteRange]:
    """The parts of ``file``, in order, covering it exactly; one whole range when it is not cut."""
    with open_raw(file.path) as stream:
        starts = [0]
        while (target := starts[-1] + part_size) < file.size:
            cut = _boundary(stream, target, begins)
            if cut is None:
                break
            starts.append(cut)
        if len(starts) == 1:
            return [ByteRange()]
        ranges, line = [], 1
        stream.seek(0)
        for start, end in zip(starts, [*starts[1:], None]):
            ranges.append(ByteRange(start, end, line))
            if end is not None:
                line += _newlines(stream, end - start)
    return ranges


def _boundary(stream: BinaryIO, target: int, begins: Callable[[str], bool]) -> int | None:
    """The first record start at or after ``target`` (``None``: none before the end)."""
    pos = target - 1  # a newline here makes ``target`` itself a line start
    while True:
        stream.seek(pos)
        block = stream.read(CHUNK + HEAD_BYTES)
        newline = block.find(b"\n")
        while 0 <= newline < min(CHUNK, len(block) - 1):
            head = block[newline + 1:newline + 1 + HEAD_BYTES].split(b"\n", 1)[0].rstrip(b"\r")
            if begins(head.decode("utf-8", errors="backslashreplace")):
                return pos + newline + 1
            newline = block.find(b"\n", newline + 1)
        if len(block) <= CHUNK:
            return None
        pos += CHUNK


def _newlines(stream: BinaryIO, size: int) -> int:
    """Newlines in the next ``size`` bytes of ``stream``."""
    count = 0
    while size > 0:
        data = stream.read(min(CHUNK, size))
        if not data:
            break
        count += data.count(b"\n")
        size -= len(data)
    return count
