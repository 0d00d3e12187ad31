"""Which partition a correlation group belongs to, the same in every process.

:func:`shard_of` maps a group key (a tuple of field values, as
:class:`~scanner.correlate.windows.Tracker` builds it) to one of ``parts`` partitions by
``zlib.crc32`` of a text that equal keys share, never by Python's per-process salted
``hash`` of strings, so worker processes agree with the main process.
"""

from __future__ import annotations

import zlib
from numbers import Number
from typing import Any

__all__ = ["Shard", "shard_of"]

Shard = tuple[int, int]  # (this partition, partitions)


def shard_of(key: tuple[Any, ...], parts: int) -> int:
    """The partition of a group key among ``parts``; equal keys get the same one."""
    return zlib.crc32(_encoded(key).encode("utf-8", "surrogatepass")) % parts


def _encoded(part: Any) -> str:
    """A text for ``part`` that equal values share (``1 == 1.0 == True``), whatever the
    process: strings as they are, numbers by their (unsalted) hash, tuples part by part."""
    if type(part) is str:
        return "s" + part
    if isinstance(part, tuple):
        return "(" + "\x00".join(map(_encoded, part)) + ")"
    if isinstance(part, Number):
        return f"n{hash(part)}"
    return "t" + type(part).__name__  # other values, rare: one partition per type
