"""Read systemd journal files (``*.journal``, ``*.journal~``) entry by entry, in pure Python.

Follows systemd's documented "Journal File Format": a header of any size seen in the
wild (208 bytes before systemd 187 up to 272 since 254), then 8-byte aligned objects.
Entries are found through the chain of entry arrays the header starts, then by walking
the objects after the last linked entry (a copy taken while journald was writing may
hold entries no array links yet). Each entry's items point at DATA objects whose
payload is ``FIELD=value``, compressed with XZ, LZ4 or ZSTD above a size threshold.
Regular and compact (systemd ≥ 252) layouts, keyed or Jenkins hashes (no hash is
needed to read every entry) are all read; hash tables are not consulted.

:func:`read_journal` yields :class:`JournalEntry` values in file order and never
raises: a file damaged anywhere (truncated, an offset outside the file or pointing
back, an object of the wrong type or an absurd size, undecodable compressed data)
yields every entry readable before the damage and records one ``source`` problem
naming the file and the first damaged offset. Offsets only move forward and every
read is bounded, so crafted files cannot loop or exhaust memory. The file is read
with ``pread`` (no mmap, so resident memory does not grow with the file), 64 KiB at a
time ahead, an object that lies before that window (a DATA object written for an
earlier entry) alone, so the window is not moved back and forth; decoded
DATA objects up to 4 KiB are cached by offset, 8,192 at most (journald writes a payload
once and every entry that repeats it points at that one object: the ``_HOSTNAME=``,
``_SYSTEMD_UNIT=``, ``SYSLOG_IDENTIFIER=`` … of a file are a few objects). With
``text=True`` values are decoded to text (bytes that are not UTF-8 as ``\\x`` escapes)
once per cached object. With ``fields=False`` only the entries' heads are read;
:func:`read_entries_at` reads chosen entries again by offset.
"""

from __future__ import annotations

import lzma
import os
import struct
import sys
from array import array
from dataclasses import dataclass
from typing import Iterable, Iterator

import lz4.block
import zstandard

from scanner.errors import Location, Problems
from scanner.model import SourceFile
from scanner.sources.open import compression_of, open_raw

SIGNATURE = b"LPKSHHRH"
MIN_HEADER = 208  # the header of systemd < 187
MAX_FIELD = 64 << 20  # the largest DATA payload (decompressed) read; journald's own cap is 768 MiB
_CACHE = 8192  # decoded DATA objects kept
_CACHED_SIZE = 4096  # the largest value kept: the cache holds at most 32 MiB
_WINDOW = 1 << 16  # bytes read at a time
_BEHIND = 512  # bytes read at a time before the window (the window stays for the objects ahead)

# header: signature, compatible and incompatible flags, state, file/machine/boot/seqnum ids,
# then header_size … tail_entry_monotonic (15 little-endian u64)
_HEADER = struct.Struct("<8sIIB7x16s16s16s16s15Q")
_OBJECT = struct.Struct("<BB6xQ")  # type, flags, size
_ENTRY = struct.Struct("<QQQ16sQ")  # seqnum, realtime, monotonic, boot_id, xor_hash (after _OBJECT)
_ARRAY_NEXT = struct.Struct("<Q")

STATES = {0: "OFFLINE", 1: "ONLINE", 2: "ARCHIVED"}
INCOMPATIBLE_COMPACT = 16
_KNOWN_INCOMPATIBLE = 31  # XZ 1, LZ4 2, keyed hash 4, ZSTD 8, compact 16
OBJECT_DATA, OBJECT_ENTRY, OBJECT_ENTRY_ARRAY = 1, 3, 6
COMPRESSED_XZ, COMPRESSED_LZ4, COMPRESSED_ZSTD = 1, 2, 4
_COMPRESSED = COMPRESSED_XZ | COMPRESSED_LZ4 | COMPRESSED_ZSTD
_DATA_PAYLOAD = {False: 64, True: 72}  # by compact: where a DATA object's payload starts
_ENTRY_ITEMS = 64  # where an ENTRY object's items start
_ARRAY_ITEMS = 24  # where an ENTRY_ARRAY object's items start

# an entry's fields in item order: (name, value) pairs, values as bytes, or as text (text=True)
Fields = tuple[tuple[str, bytes], ...] | tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journal entry: where it is, its stamps and ids, and its fields in item order."""

    offset: int
    seqnum: int
    realtime: int  # µs since the Unix epoch, UTC
    monotonic: int  # µs since the boot ``boot_id``
    boot_id: str  # 32 hex digits
    fields: Fields  # empty when read with ``fields=False``
    seqnum_id: str = ""  # 32 hex digits: files sharing it share one sequence of seqnums


@dataclass(frozen=True, slots=True)
class Header:
    """What the reader needs of a journal file's header."""

    incompatible: int
    state: int
    seqnum_id: str
    header_size: int
    arena_end: int  # where the objects end, by the header
    n_entries: int
    entry_array: int

    @property
    def compact(self) -> bool:
        """Whether the file uses the compact layout (32-bit offsets in entries and arrays)."""
        return bool(self.incompatible & INCOMPATIBLE_COMPACT)


class Damage(Exception):
    """A damaged spot: its offset and what is wrong there."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset, self.reason = offset, reason


def is_journal(head: bytes) -> bool:
    """Whether a file's first bytes are a journal file's signature."""
    return head.startswith(SIGNATURE)


def read_header(data: bytes, size: int) -> Header:
    """The header in the first bytes of a journal file of ``size`` bytes; raises :class:`Damage`."""
    if len(data) < MIN_HEADER or not is_journal(data):
        raise Damage(0, "not a journal file (no LPKSHHRH header)")
    (_, _, incompatible, state, _, _, _, seqnum_id, header_size, arena_size, _, _, _, _,
     _, _, n_entries, _, _, entry_array, _, _, _) = _HEADER.unpack_from(data)
    unknown = incompatible & ~_KNOWN_INCOMPATIBLE
    if unknown:
        raise Damage(12, f"incompatible features unknown to this reader (flags {unknown:#x})")
    if header_size < MIN_HEADER or header_size % 8 or header_size > size:
        raise Damage(88, f"header size {header_size} is impossible")
    return Header(incompatible, state, seqnum_id.hex(), header_size, header_size + arena_size,
                  n_entries, entry_array)


class _File:
    """Bounded random reads of an open journal file, with decoded DATA objects cached (values
    as text when ``text``)."""

    def __init__(self, fd: int, size: int, header: Header, heads_only: bool,
                 text: bool = False) -> None:
        self._fd, self.header, self.heads_only, self.text = fd, header, heads_only, text
        self.end = min(size, header.arena_end)
        self._window_at, self._window = 0, b""
        self._data: dict[int, tuple[str, bytes] | tuple[str, str]] = {}
        self._payload = _DATA_PAYLOAD[header.compact]
        self._offsets = "I" if header.compact else "Q"  # array type of one item's offset
        self._stride = 1 if header.compact else 2  # entry items: offset (and hash when regular)

    def window(self, offset: int, size: int) -> tuple[bytes, int]:
        """A buffer holding the ``size`` bytes at ``offset`` (all inside the file) and where
        they start in it; raises :class:`Damage`."""
        if offset < self.header.header_size or offset + size > self.end:
            raise Damage(offset, f"offset {offset:#x}+{size} lies outside the objects "
                                 f"({self.header.header_size:#x}..{self.end:#x})")
        start = offset - self._window_at
        if 0 <= start and start + size <= len(self._window):
            return self._window, start
        if start < 0:  # written before the window (a DATA object entries share): read alone
            return os.pread(self._fd, max(size, _BEHIND), offset), 0
        self._window_at, self._window = offset, os.pread(self._fd, max(size, _WINDOW), offset)
        return self._window, 0

    def object(self, offset: int, kind: int | None, minimum: int) -> tuple[int, int, bytes]:
        """``(type, flags, bytes)`` of the object at ``offset``; raises :class:`Damage` when it
        is misaligned, outside the file, of another ``kind`` or smaller than ``minimum``."""
        if offset % 8:
            raise Damage(offset, f"object offset {offset:#x} is not 8-byte aligned")
        buffer, start = self.window(offset, _OBJECT.size)
        found, flags, size = _OBJECT.unpack_from(buffer, start)
        if kind is not None and found != kind:
            raise Damage(offset, f"object at {offset:#x} has type {found}, expected {kind}")
        if size < minimum:
            raise Damage(offset, f"object at {offset:#x} has impossible size {size}")
        if size > MAX_FIELD + 128:
            raise Damage(offset, f"object at {offset:#x} claims {size} bytes")
        if start + size > len(buffer):
            buffer, start = self.window(offset, size)
        return found, flags, buffer[start:start + size]

    def data(self, offset: int) -> tuple[str, bytes] | tuple[str, str]:
        """``(field name, value)`` of the DATA object at ``offset``; raises :class:`Damage`."""
        cached = self._data.get(offset)
        if cached is not None:
            return cached
        start = self._payload
        _, flags, raw = self.object(offset, OBJECT_DATA, start)
        payload = _decompress(raw[start:], flags, offset) if flags & _COMPRESSED else raw[start:]
        name, sep, value = payload.partition(b"=")
        if not sep or not name:
            raise Damage(offset, f"DATA object at {offset:#x} holds no FIELD=value")
        found = (name.decode("utf-8", "backslashreplace"),
                 value.decode("utf-8", "backslashreplace") if self.text else value)
        if len(value) <= _CACHED_SIZE:  # big values rarely repeat: the cache stays small
            if len(self._data) >= _CACHE:
                self._data.clear()
            self._data[offset] = found
        return found

    def entry(self, offset: int) -> JournalEntry:
        """The ENTRY object at ``offset`` (with its fields unless ``heads_only``); raises
        :class:`Damage`."""
        _, _, raw = self.object(offset, OBJECT_ENTRY, _ENTRY_ITEMS)
        seqnum, realtime, monotonic, boot_id, _ = _ENTRY.unpack_from(raw, _OBJECT.size)
        fields: Fields = ()
        if not self.heads_only:
            items = self._items(raw)
            found = list(map(self._data.get, items))  # most are cached: no Python call each
            if None in found:
                data = self.data
                found = [pair or data(o) for pair, o in zip(found, items)]
            fields = tuple(found)  # type: ignore[arg-type]
        return JournalEntry(offset, seqnum, realtime, monotonic, boot_id.hex(), fields,
                            self.header.seqnum_id)

    def array(self, offset: int) -> tuple[int, list[int]]:
        """``(next array offset, entry offsets)`` of the ENTRY_ARRAY at ``offset`` (unused
        zero slots at its end left out); raises :class:`Damage`."""
        _, _, raw = self.object(offset, OBJECT_ENTRY_ARRAY, _ARRAY_ITEMS)
        (following,) = _ARRAY_NEXT.unpack_from(raw, _OBJECT.size)
        offsets = _little_endian(self._offsets, raw[_ARRAY_ITEMS:]).tolist()
        while offsets and offsets[-1] == 0:
            offsets.pop()
        return following, offsets

    def _items(self, raw: bytes) -> array[int]:
        """The DATA offsets of an ENTRY object's items."""
        offsets = _little_endian(self._offsets, raw[_ENTRY_ITEMS:])
        return offsets[::self._stride] if self._stride > 1 else offsets

    def objects_after(self, offset: int) -> Iterator[tuple[int, int]]:
        """``(offset, type)`` of each object from ``offset`` on, walking by their sizes, until
        an all-zero header (unwritten space) or the end; raises :class:`Damage`."""
        while offset + _OBJECT.size <= self.end:
            found, _, size = _OBJECT.unpack_from(*self.window(offset, _OBJECT.size))
            if found == 0 and size == 0:
                return
            if size < _OBJECT.size or offset + size > self.end:
                raise Damage(offset, f"object at {offset:#x} has impossible size {size}")
            yield offset, found
            offset += (size + 7) & ~7


def _little_endian(kind: str, data: bytes) -> array[int]:
    """The little-endian unsigned integers of array type ``kind`` in ``data`` (a partial last
    one left out)."""
    values = array(kind)
    values.frombytes(data[:len(data) - len(data) % values.itemsize])
    if sys.byteorder == "big":
        values.byteswap()
    return values


def _decompress(payload: bytes, flags: int, offset: int) -> bytes:
    """A DATA payload decompressed by its object ``flags``; raises :class:`Damage`."""
    try:
        if flags & COMPRESSED_ZSTD:
            declared = zstandard.frame_content_size(payload)
            if declared > MAX_FIELD:
                raise Damage(offset, f"ZSTD data at {offset:#x} claims {declared} bytes")
            return zstandard.ZstdDecompressor().decompress(payload, max_output_size=MAX_FIELD)
        if flags & COMPRESSED_LZ4:
            (size,) = struct.unpack_from("<Q", payload)
            if size > MAX_FIELD:
                raise Damage(offset, f"LZ4 data at {offset:#x} claims {size} bytes")
            return lz4.block.decompress(payload[8:], uncompressed_size=size)
        if flags & COMPRESSED_XZ:
            decoder = lzma.LZMADecompressor(lzma.FORMAT_XZ)
            data = decoder.decompress(payload, max_length=MAX_FIELD)
            if not decoder.eof:
                raise Damage(offset, f"XZ data at {offset:#x} is cut or larger than "
                                     f"{MAX_FIELD} bytes")
            return data
    except (zstandard.ZstdError, lzma.LZMAError, struct.error, ValueError, RuntimeError) as exc:
        raise Damage(offset, f"compressed data at {offset:#x} cannot be decoded ({exc})") from None
    return payload


def read_journal(file: SourceFile, problems: Problems, *, fields: bool = True,
                 text: bool = False) -> Iterator[JournalEntry]:
    """Every readable entry of the journal ``file``, in file order (see module doc); without
    ``fields`` only their heads (stamps, ids), reading no DATA object; with ``text`` their
    values as text."""
    where = Location(file.source)
    try:
        stream = open_raw(file.path)
    except OSError as exc:
        problems.add("source", where, f"cannot open: {exc.strerror or exc}")
        return
    with stream:
        fd = stream.fileno()
        read, state = 0, ""
        try:
            size = os.fstat(fd).st_size
            head = os.pread(fd, 512, 0)
            compression = compression_of(head)
            if compression is not None:
                problems.add("source", where, f"a {compression}-compressed journal cannot be "
                                              "read in place: decompress a copy and scan that")
                return
            header = read_header(head, size)
            state = STATES.get(header.state, "")
            journal = _File(fd, size, header, heads_only=not fields, text=text)
            for entry in _entries(journal):
                read += 1
                yield entry
            if size < header.arena_end and read < header.n_entries:
                raise Damage(size, f"file ends at {size:#x}, its header says {header.arena_end:#x}")
        except Damage as damage:
            while_written = (" (copied while journald was writing it: state ONLINE)"
                             if state == "ONLINE" else "")
            problems.add("source", where, f"journal damaged at offset {damage.offset:#x}: "
                                          f"{damage.reason}{while_written}; {read} entries read")
        except OSError as exc:
            problems.add("source", where,
                         f"read stopped after {read} entries: {exc.strerror or exc}")


def read_entries_at(file: SourceFile, offsets: Iterable[int]) -> list[JournalEntry]:
    """The entries of ``file`` at ``offsets`` (found by an earlier read), with their fields;
    those that cannot be read any more are left out (the scan reported the damage)."""
    found: list[JournalEntry] = []
    try:
        with open_raw(file.path) as stream:
            fd = stream.fileno()
            size = os.fstat(fd).st_size
            journal = _File(fd, size, read_header(os.pread(fd, 512, 0), size), heads_only=False)
            for offset in offsets:
                try:
                    found.append(journal.entry(offset))
                except Damage:
                    continue
    except (OSError, Damage):
        pass
    return found


def _entries(journal: _File) -> Iterator[JournalEntry]:
    """The entries the entry arrays link, then those written after the last linked one.

    Raises :class:`Damage` at the first damaged spot, after yielding what lies before it.
    """
    last = 0  # offset of the last entry yielded: every later one lies after it
    damage: Damage | None = None
    try:
        for offset in _linked(journal):
            entry = journal.entry(offset)
            last = offset
            yield entry
    except Damage as found:
        damage = found
    resume = journal.header.header_size
    if last:
        _, _, raw = journal.object(last, OBJECT_ENTRY, _ENTRY_ITEMS)
        resume = last + ((len(raw) + 7) & ~7)
    try:
        for offset, kind in journal.objects_after(resume):
            if kind != OBJECT_ENTRY:
                continue
            try:
                entry = journal.entry(offset)
            except Damage as found:  # one bad entry: the next ones may be whole
                damage = damage or found
                continue
            yield entry
    except Damage as found:
        damage = damage or found
    if damage is not None:
        raise damage


def _linked(journal: _File) -> Iterator[int]:
    """Entry offsets along the entry array chain; raises :class:`Damage` where an array or an
    entry offset does not lie after the previous one (a loop) or cannot be read."""
    array, last = journal.header.entry_array, 0
    previous_array = 0
    while array:
        if array <= previous_array:
            raise Damage(array, f"entry array chain goes back from {previous_array:#x} "
                                f"to {array:#x}")
        following, offsets = journal.array(array)
        for offset in offsets:
            if offset <= last:
                raise Damage(array, f"entry array at {array:#x} lists entry {offset:#x} "
                                    f"after {last:#x}")
            last = offset
            yield offset
        previous_array, array = array, following
