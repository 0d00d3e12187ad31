"""Recognize binary logs by their bytes, whatever their names.

:func:`binary_format` reads a file's first bytes (decompressed) and names the route of
the binary format they hold: ``journal`` (signature ``LPKSHHRH``), ``wtmp`` or ``btmp``
(``struct utmp`` records, either layout and byte order; ``btmp`` when most are failed
logins), ``lastlog`` or ``faillog`` (per-uid record arrays), :data:`UNKNOWN_BINARY` for
any other binary file, and ``None`` for text, also text holding NUL runs (a log written
past a crash or a truncation), which the line reader reads and reports. Knows no rule.
"""

from __future__ import annotations

import lzma
import zlib

from scanner.errors import SourceError
from scanner.model import SourceFile
from scanner.normalize.lastlog import FAILLOG, LASTLOG
from scanner.normalize.utmp import utmp_kind
from scanner.sources.journal import is_journal
from scanner.sources.open import open_binary

HEAD = 64 * 1024
ZEROS_READ = 4 << 20  # how far past leading zeros (a sparse lastlog's) the records are sought
UNKNOWN_BINARY = "binary"
_CONTROLS = bytes([*range(1, 9), 11, *range(14, 27), *range(28, 32), 127])  # not \t \n \f \r ESC
_READ_ERRORS = (SourceError, OSError, EOFError, ValueError, zlib.error, lzma.LZMAError)


def binary_format(file: SourceFile) -> str | None:
    """The binary format of ``file`` by content (see module doc); ``None`` for text or an
    unreadable file (reading it reports why)."""
    try:
        with open_binary(file) as stream:
            head = stream.read(HEAD)
            if is_journal(head):
                return "journal"
            if b"\x00" not in head:
                return None
            size = None if file.compression else file.size
            kind = utmp_kind(head, size)
            if kind is not None:
                return kind
            while not any(head) and len(head) < ZEROS_READ and (more := stream.read(HEAD)):
                head += more
    except _READ_ERRORS:
        return None
    used = len(head) - len(head.lstrip(b"\x00"))  # the first byte that is not zero
    for layout in (LASTLOG, FAILLOG):
        start = used - used % layout.size
        if layout.holds(head[start:start + HEAD], size):
            return layout.name
    return UNKNOWN_BINARY if _looks_binary(head[used:used + HEAD]) else None


def _looks_binary(data: bytes) -> bool:
    """Whether ``data`` without its NUL bytes is more than a tenth control characters or
    invalid UTF-8 (text is none of either; all-zero data is not binary evidence)."""
    rest = data.replace(b"\x00", b"")
    if not rest:
        return False
    controls = sum(rest.count(bytes([c])) for c in _CONTROLS)
    invalid = rest.decode("utf-8", "replace").count("\ufffd")
    return (controls + invalid) * 10 > len(rest)
