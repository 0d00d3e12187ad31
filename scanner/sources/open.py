"""Open scanned files read-only and transparently decompressed, and read them as text.

Compression is recognised by magic bytes, never by suffix alone: gzip, bzip2 and
xz are decoded with the standard library; zstd is recognised but refused (Python
3.11 has no decoder), and so are archives (tar, zip, tar.gz), which hold files, not
a log. Files are opened with ``O_RDONLY | O_NOATIME`` when the kernel permits it,
so reading changes neither content nor access times. :func:`iter_chunks` yields
large blocks of whole decoded lines (decoded line by line only when a block holds
a defect); :func:`iter_lines` splits them into numbered lines. Neither raises:
trouble in a file (over-long lines, invalid UTF-8, NUL bytes, a truncated archive,
an I/O error) becomes one :class:`~scanner.errors.Problem` per kind and file, and
the lines read so far are still yielded. Both can read just a byte range of a plain
file (a *part*, see :mod:`scanner.sources.parts`) with absolute line numbers;
:func:`merge_part_problems` folds the line-defect problems of a file's parts into one
per kind.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import io
import lzma
import os
import stat
import zlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator

from scanner.errors import Location, Problem, Problems, SourceError
from scanner.model import SourceFile

CHUNK = 1 << 20  # bytes read at a time
LINE_CAP = 1 << 20  # longer lines are cut to this many bytes
HEAD = 512  # bytes needed to recognise every magic below (tar's sits at 257)

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gz"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zst"),
)
_DECODERS: dict[str, Callable[[BinaryIO], BinaryIO]] = {
    "gz": lambda raw: gzip.GzipFile(fileobj=raw, mode="rb"),
    "bz2": lambda raw: bz2.BZ2File(raw, mode="rb"),
    "xz": lambda raw: lzma.LZMAFile(raw, mode="rb"),
}
_DECOMPRESS_ERRORS = (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError)
_DEFECT_LABELS = {"cut": f"line(s) longer than {LINE_CAP} bytes cut",
                  "utf8": "line(s) with invalid UTF-8 (kept with \\x escapes)",
                  "nul": "line(s) with NUL bytes"}
_DEFECT = re.compile(r"(\d+) (.*), first at line (\d+)")


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes ``[start, end)`` of a plain file (``end`` ``None``: to its end), whose first line
    is line ``first_line``; the default is the whole file."""

    start: int = 0
    end: int | None = None
    first_line: int = 1

    @property
    def whole(self) -> bool:
        """Whether the range is the whole file."""
        return self.start == 0 and self.end is None


WHOLE = ByteRange()


def compression_of(head: bytes) -> str | None:
    """The compression a file's first bytes name (``gz``, ``bz2``, ``xz``, ``zst``), or ``None``."""
    return next((name for magic, name in _MAGIC if head.startswith(magic)), None)


def archive_of(head: bytes) -> str | None:
    """``zip`` or ``tar`` when the (decompressed) first bytes open an archive, else ``None``."""
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[257:262] == b"ustar":
        return "tar"
    return None


def open_noatime(path: Path, flags: int) -> int:
    """``os.open(path, flags)`` without touching the access time when the kernel permits.

    Raises ``OSError``.
    """
    try:
        return os.open(path, flags | getattr(os, "O_NOATIME", 0))
    except PermissionError:  # O_NOATIME needs ownership (or CAP_FOWNER); retry without it
        return os.open(path, flags)


def open_raw(path: Path) -> io.BufferedReader:
    """``path`` opened read-only without touching its access time when permitted.

    Raises ``OSError``; a FIFO, socket or device is refused (``EINVAL``) instead of
    blocking or being consumed.
    """
    fd = open_noatime(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # a directory fails on read, as it should
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file")
    return os.fdopen(fd, "rb", buffering=CHUNK)


class _Decompressed(io.BufferedReader):
    """A decompressing reader that closes the file it decompresses when it is closed."""

    def __init__(self, decoder: BinaryIO, raw: BinaryIO, compression: str) -> None:
        super().__init__(decoder, CHUNK)  # type: ignore[arg-type]
        self._raw = raw
        self.compression = compression

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


def open_binary(file: SourceFile) -> BinaryIO:
    """``file`` opened read-only, decompressed by its magic; raises :class:`SourceError`."""
    where = Location(file.source)
    try:
        raw = open_raw(file.path)
    except OSError as exc:
        raise SourceError(f"cannot open: {exc.strerror or exc}", where) from None
    try:
        kind = compression_of(raw.peek(HEAD)[:HEAD])
    except OSError as exc:
        raw.close()
        raise SourceError(f"cannot read: {exc.strerror or exc}", where) from None
    if kind is None:
        return raw
    if kind not in _DECODERS:
        raw.close()
        raise SourceError(f"{kind}-compressed: no decoder in this Python, skipped", where)
    return _Decompressed(_DECODERS[kind](raw), raw, kind)


def probe(file: SourceFile) -> tuple[str | None, str | None]:
    """``(compression, archive)`` of ``file`` from its magic bytes; raises :class:`SourceError`.

    ``archive`` is ``zip`` or ``tar`` (also inside gzip, bzip2 or xz) when the file is one.
    """
    with open_binary(file) as stream:
        kind = stream.compression if isinstance(stream, _Decompressed) else None
        try:
            head = stream.read(HEAD)
        except _DECOMPRESS_ERRORS:
            head = b""  # damaged from the first block: iter_lines reports it when read
    return kind, archive_of(head)


class _LineStats:
    """Per-file counters of the line defects that become one problem each."""

    def __init__(self) -> None:
        self.first: dict[str, int] = {}
        self.count: dict[str, int] = {}

    def note(self, kind: str, line: int) -> None:
        self.first.setdefault(kind, line)
        self.count[kind] = self.count.get(kind, 0) + 1

    def report(self, source: str, problems: Problems) -> None:
        for kind, label in _DEFECT_LABELS.items():
            if kind in self.count:
                problems.add("source", Location(source, self.first[kind]),
                             _defect_message(self.count[kind], label, self.first[kind]))


def _defect_message(count: int, label: str, first: int) -> str:
    return f"{count} {label}, first at line {first}"


def merge_part_problems(problems: Iterable[Problem]) -> list[Problem]:
    """The problems of a file's parts, in order, each reported once, and each kind of line
    defect (cut, invalid UTF-8, NUL) once for the file: counts summed, at its first line."""
    merged: dict[object, Problem] = {}  # by defect label, else by the problem itself
    counts: dict[str, int] = {}
    for problem in problems:
        found = _DEFECT.fullmatch(problem.message)
        if found is None or found.group(2) not in _DEFECT_LABELS.values():
            merged.setdefault(problem, problem)
            continue
        label = found.group(2)
        counts[label] = counts.get(label, 0) + int(found.group(1))
        kept = merged.setdefault(label, problem)  # parts come in file order: the first is first
        first = kept.location.line or 0
        merged[label] = Problem(kept.kind, kept.location, _defect_message(counts[label], label, first))
    return list(merged.values())


def _decode(data: bytes, number: int, stats: _LineStats) -> str:
    if data.endswith(b"\r"):
        data = data[:-1]
    if b"\x00" in data:
        stats.note("nul", number)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        stats.note("utf8", number)
        return data.decode("utf-8", errors="backslashreplace")


def _decode_block(block: bytes, first: int, stats: _LineStats) -> str:
    """Whole lines (each ending ``\\n``) decoded at once; line by line only when one is defective."""
    if b"\x00" not in block:
        try:  # the search for CR LF costs ~1 ms a MB; one for CR, a memchr, much less
            return (block.replace(b"\r\n", b"\n") if b"\r" in block else block).decode("utf-8")
        except UnicodeDecodeError:
            pass
    lines = block.split(b"\n")[:-1]
    return "".join(_decode(data, number, stats) + "\n" for number, data in enumerate(lines, first))


def _cut_long(block: bytes, first: int, stats: _LineStats) -> bytes:
    """``block`` with every line longer than :data:`LINE_CAP` cut to it (rarely any)."""
    start = 0
    while len(block) - start > LINE_CAP:
        newline = block.rfind(b"\n", start, start + LINE_CAP + 1)
        if newline < 0:
            break
        start = newline + 1
    else:
        return block
    lines = block.split(b"\n")
    for number, data in enumerate(lines[:-1], first):
        if len(data) > LINE_CAP:
            stats.note("cut", number)
            lines[number - first] = data[:LINE_CAP]
    return b"\n".join(lines)


def iter_chunks(file: SourceFile, problems: Problems, size: int = CHUNK,
                span: ByteRange = WHOLE) -> Iterator[tuple[int, str]]:
    """Yield ``(first line number, text)`` of ``file`` (of ``span`` of it) in blocks of whole lines.

    Every line of ``text`` ends with ``\\n`` (one is added to a last line without
    it); CR before a newline is dropped and over-long lines are cut, as in
    :func:`iter_lines`. ``size`` is how many bytes are read at a time; a part of a
    plain file is read from its start and never past its end. Trouble goes to
    ``problems``, never raised.
    """
    try:
        stream = open_binary(file)
    except SourceError as exc:
        problems.add("source", exc.location or Location(file.source), exc.message)
        return
    stats = _LineStats()
    number = span.first_line - 1  # lines before the next one yielded
    pending = b""
    cutting = False  # inside an over-long line whose head was already yielded
    failed = False
    # A decoder's read1 hands over what it decoded before a damaged spot; the buffered read
    # of the wrapper would drop it with the error.
    read = _Filling(stream.raw.read1) if isinstance(stream, _Decompressed) else _range_reader(stream, span)
    with stream:
        while True:
            try:
                data = read(size)
            except _DECOMPRESS_ERRORS as exc:
                problems.add("source", Location(file.source, number + 1),
                             f"read stopped: {_reason(exc)}; the {number} line(s) before it kept")
                failed = True
                break
            if not data:
                break
            if cutting:
                newline = data.find(b"\n")
                if newline < 0:
                    continue
                data, cutting = data[newline + 1:], False
            pending += data
            end = pending.rfind(b"\n") + 1
            block, pending = _cut_long(pending[:end], number + 1, stats), pending[end:]
            if len(pending) > LINE_CAP:
                stats.note("cut", number + block.count(b"\n") + 1)
                block += pending[:LINE_CAP] + b"\n"
                pending, cutting = b"", True
            if block:
                yield number + 1, _decode_block(block, number + 1, stats)
                number += block.count(b"\n")
        if pending and not cutting:
            yield number + 1, _decode_block(pending + b"\n", number + 1, stats)
            number += 1
    stats.report(file.source, problems)
    if number == 0 and not failed and span.whole:
        problems.add("source", Location(file.source), "empty file (no lines)")


class _Filling:
    """``read(size)`` of a decoder's ``read1``: its short reads gathered up to ``size`` bytes (or
    the end), so the chunks of a compressed file are as long as a plain file's. An error after
    some bytes is raised by the next read: the bytes decoded before it are handed over first."""

    def __init__(self, read1: Callable[[int], bytes]) -> None:
        self._read1 = read1
        self._error: BaseException | None = None

    def __call__(self, size: int) -> bytes:
        if self._error is not None:
            raise self._error
        parts: list[bytes] = []
        left = size
        while left > 0:
            try:
                data = self._read1(left)
            except _DECOMPRESS_ERRORS as exc:
                if not parts:
                    raise
                self._error = exc
                break
            if not data:
                break
            parts.append(data)
            left -= len(data)
        return b"".join(parts)


def _range_reader(stream: BinaryIO, span: ByteRange) -> Callable[[int], bytes]:
    """``read(size)`` of a plain stream limited to ``span`` (seeked to its start)."""
    if span.whole:
        return stream.read
    stream.seek(span.start)
    left = (span.end if span.end is not None else 1 << 62) - span.start

    def read(size: int) -> bytes:
        nonlocal left
        data = stream.read(min(size, left))
        left -= len(data)
        return data
    return read


def iter_lines(file: SourceFile, problems: Problems, span: ByteRange = WHOLE) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, text)`` of ``file`` (of ``span`` of it); trouble goes to ``problems``."""
    for first, text in iter_chunks(file, problems, span=span):
        yield from enumerate(text.split("\n")[:-1], first)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "compressed data ends early (truncated file)"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def sniff_lines(file: SourceFile, n: int = 5) -> list[str]:
    """The first ``n`` non-blank lines of ``file``; ``[]`` when it is binary or unreadable."""
    try:
        with open_binary(file) as stream:
            head = stream.read(64 * 1024)
    except (SourceError, *_DECOMPRESS_ERRORS):
        return []
    if b"\x00" in head:
        return []
    lines = head.split(b"\n")
    if len(head) == 64 * 1024 and len(lines) > 1:
        lines.pop()  # the last piece may be cut mid-line
    texts = (line.rstrip(b"\r").decode("utf-8", errors="backslashreplace") for line in lines)
    return [text for text in texts if text.strip()][:n]
