"""Opening and reading scanned files: decompression by magic, line splitting, hostile bytes."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
from pathlib import Path
from typing import Callable

import pytest

from scanner.errors import Problems, SourceError
from scanner.model import SourceFile
from scanner.sources.open import LINE_CAP, iter_chunks, iter_lines, open_binary, sniff_lines

TEXT = (b"Jan  1 00:00:01 host sshd[1]: one\r\nJan  1 00:00:02 host sshd[1]: two\n\n"
        b"last without newline")
LINES = ["Jan  1 00:00:01 host sshd[1]: one", "Jan  1 00:00:02 host sshd[1]: two", "",
         "last without newline"]


def source_file(path: Path) -> SourceFile:
    return SourceFile(path=path, root=path.parent, source=path.name, size=0, mtime=0.0)


def read(path: Path) -> tuple[list[tuple[int, str]], list[str]]:
    problems = Problems()
    lines = list(iter_lines(source_file(path), problems))
    return lines, [str(p) for p in problems]


ENCODINGS: list[tuple[str, Callable[[bytes], bytes]]] = [
    ("plain.log", lambda b: b),
    ("auth.log.2.gz", gzip.compress),
    ("syslog.bz2", bz2.compress),
    ("syslog.xz", lzma.compress),
    ("no_suffix_but_gzip", gzip.compress),  # magic bytes decide, not the name
    ("misnamed.gz", lambda b: b),  # a .gz name over plain text is read as text
]


@pytest.mark.parametrize("name,encode", ENCODINGS, ids=[n for n, _ in ENCODINGS])
def test_decompresses_by_magic_and_splits_lines(tmp_path: Path, name: str,
                                                encode: Callable[[bytes], bytes]) -> None:
    path = tmp_path / name
    path.write_bytes(encode(TEXT))
    lines, problems = read(path)
    assert lines == list(enumerate(LINES, start=1))
    assert problems == []
    assert sniff_lines(source_file(path), 2) == LINES[:2]


# name, content, expected number of lines, the one problem's expected text
HOSTILE: list[tuple[str, bytes, int, str]] = [
    ("bad_utf8", b"ok\nbad \xff\xfe here\nok\nbad again \xc3\n", 4,
     "bad_utf8:2: 2 line(s) with invalid UTF-8 (kept with \\x escapes), first at line 2"),
    ("nul_bytes", b"ok\n\x00\x00\x00\nok\x00\n", 3,
     "nul_bytes:2: 2 line(s) with NUL bytes, first at line 2"),
    ("huge_line", b"first\n" + b"A" * (10 * 1024 * 1024) + b"\nafter\n", 3,
     f"huge_line:2: 1 line(s) longer than {LINE_CAP} bytes cut, first at line 2"),
    ("huge_unterminated", b"first\n" + b"B" * (3 * LINE_CAP + 5), 2,
     f"huge_unterminated:2: 1 line(s) longer than {LINE_CAP} bytes cut, first at line 2"),
    ("empty", b"", 0, "empty: empty file (no lines)"),
    ("zstd", b"\x28\xb5\x2f\xfd" + bytes(20), 0,
     "zstd: zst-compressed: no decoder in this Python, skipped"),
]


@pytest.mark.parametrize("name,content,count,problem", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_input_gives_one_problem(tmp_path: Path, name: str, content: bytes, count: int,
                                         problem: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    lines, problems = read(path)
    assert [n for n, _ in lines] == list(range(1, count + 1))
    assert problems == [problem]
    assert all(len(text.encode("utf-8", "surrogateescape")) <= 4 * LINE_CAP for _, text in lines)


def test_invalid_utf8_is_kept_escaped_and_nul_kept(tmp_path: Path) -> None:
    path = tmp_path / "mixed"
    path.write_bytes(b"user \xff\x00root\n")
    lines, _ = read(path)
    assert lines == [(1, "user \\xff\x00root")]


def test_cut_line_keeps_its_head_and_the_next_line(tmp_path: Path) -> None:
    path = tmp_path / "long"
    path.write_bytes(b"x" * (LINE_CAP + 10) + b"\nnext\n")
    lines, _ = read(path)
    assert lines == [(1, "x" * LINE_CAP), (2, "next")]


def test_truncated_gzip_keeps_lines_read_so_far(tmp_path: Path) -> None:
    body = b"".join(b"line %d of a rotated log that was cut short\n" % i for i in range(50_000))
    packed = gzip.compress(body)
    path = tmp_path / "auth.log.2.gz"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    lines, problems = read(path)
    assert 0 < len(lines) < 50_000
    assert lines[0] == (1, "line 0 of a rotated log that was cut short")
    assert lines[-2][1].startswith(f"line {len(lines) - 2} of")  # the last one may be cut
    stopped = len(lines) + 1 if lines[-1][1].endswith("short") else len(lines)  # the cut line
    assert problems == [f"auth.log.2.gz:{stopped}: read stopped: compressed data ends early "
                        f"(truncated file); the {stopped - 1} line(s) before it kept"]


def test_directory_named_like_a_file_is_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "auth.log"
    path.mkdir()
    lines, problems = read(path)
    assert lines == []
    assert problems == ["auth.log: cannot open: Is a directory"]
    assert sniff_lines(source_file(path)) == []


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    with pytest.raises(SourceError, match="not a regular file"):
        open_binary(source_file(path))


def test_sniff_skips_blank_lines_and_refuses_binary(tmp_path: Path) -> None:
    text, binary = tmp_path / "text", tmp_path / "wtmp"
    text.write_bytes(b"\n  \nfirst\n\nsecond\nthird\n")
    binary.write_bytes(b"\x07\x00\x00\x00" + bytes(380))
    assert sniff_lines(source_file(text), 2) == ["first", "second"]
    assert sniff_lines(source_file(binary)) == []


def test_open_binary_is_read_only(tmp_path: Path) -> None:
    path = tmp_path / "syslog"
    path.write_bytes(TEXT)
    with open_binary(source_file(path)) as stream:
        assert stream.read(3) == TEXT[:3]
        with pytest.raises(OSError):
            stream.write(b"x")  # type: ignore[attr-defined]


@pytest.mark.parametrize("size", (4096, 1 << 20))
def test_compressed_files_come_in_the_chunks_of_plain_ones(tmp_path: Path, size: int) -> None:
    """A decoder hands over a block at a time (~64 kB for gzip); its reads are gathered, so a
    compressed file's chunks are a plain file's, line for line (a 1 MB chunk path unit)."""
    body = b"".join(b"Feb 11 10:00:%02d vps sshd[%d]: Failed password for root\n" % (i % 60, i)
                    for i in range(60_000))
    plain, packed = tmp_path / "auth.log", tmp_path / "auth.log.2.gz"
    plain.write_bytes(body)
    packed.write_bytes(gzip.compress(body))
    chunks = list(iter_chunks(source_file(packed), Problems(), size))
    assert chunks == list(iter_chunks(source_file(plain), Problems(), size))
    assert len(chunks) == -(-len(body) // size)
