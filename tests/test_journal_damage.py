"""Damaged and hostile journal files: every entry before the damage is read, one warning names
the file and the offset, and crafted offsets, loops and sizes cannot hang or exhaust the reader.

Each case starts from a committed real journal (``fixtures/journal/``, written by
systemd-journal-remote) and breaks it the way a crash, a copy of a live file or an attacker
would, at offsets the intact file's own entries give.
"""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path
from typing import Callable

import pytest

from scanner.errors import Problems
from scanner.journal_integrity import journal_anomalies
from scanner.model import SourceFile
from scanner.sources.journal import JournalEntry, read_journal
from scanner.sources.walk import walk

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "journal"
LAYOUTS = ("compact-zstd", "regular-none")


def journal_bytes(name: str) -> bytearray:
    return bytearray(gzip.decompress((FIXTURES / f"{name}.journal.gz").read_bytes()))


def read(data: bytes, tmp_path: Path, name: str = "system.journal"
         ) -> tuple[list[JournalEntry], list[str]]:
    path = tmp_path / name
    path.write_bytes(data)
    problems = Problems()
    file = SourceFile(path=path, root=tmp_path, source=name, size=len(data), mtime=0.0)
    return list(read_journal(file, problems)), [str(p) for p in problems]


def intact(name: str, tmp_path: Path) -> list[JournalEntry]:
    entries, problems = read(bytes(journal_bytes(name)), tmp_path, "intact.journal")
    assert problems == [] and len(entries) == 8
    return entries


def item_at(entry: int) -> int:
    """Where the first item of the entry object at ``entry`` sits."""
    return entry + 64


def first_array(data: bytearray) -> int:
    return struct.unpack_from("<Q", data, 176)[0]


def arrays(data: bytearray) -> list[int]:
    """Offsets of the entry arrays along the chain."""
    found, offset = [], first_array(data)
    while offset:
        found.append(offset)
        offset = struct.unpack_from("<Q", data, offset + 16)[0]
    return found


@pytest.mark.parametrize("layout", LAYOUTS)
def test_truncated_tail_keeps_every_whole_entry(layout: str, tmp_path: Path) -> None:
    entries = intact(layout, tmp_path)
    data = journal_bytes(layout)
    cut = entries[5].offset + 40  # inside the sixth entry object
    got, problems = read(bytes(data[:cut]), tmp_path)
    assert [e.seqnum for e in got] == [e.seqnum for e in entries[:5]]
    assert len(problems) == 1
    assert problems[0].startswith("system.journal: journal damaged at offset")
    assert problems[0].endswith("; 5 entries read")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_bad_item_offset_loses_only_its_entry(layout: str, tmp_path: Path) -> None:
    entries = intact(layout, tmp_path)
    data = journal_bytes(layout)
    compact = layout.startswith("compact")
    bad = 0x7FFFFFF0
    struct.pack_into("<I" if compact else "<Q", data, item_at(entries[3].offset), bad)
    got, problems = read(bytes(data), tmp_path)
    assert [e.seqnum for e in got] == [e.seqnum for i, e in enumerate(entries) if i != 3]
    header_size = struct.unpack_from("<Q", data, 88)[0]
    assert problems == [f"system.journal: journal damaged at offset {bad:#x}: offset {bad:#x}+16 "
                        f"lies outside the objects ({header_size:#x}..{len(data):#x}); "
                        "7 entries read"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_entry_array_loop_ends(layout: str, tmp_path: Path) -> None:
    entries = intact(layout, tmp_path)
    data = journal_bytes(layout)
    chain = arrays(data)
    struct.pack_into("<Q", data, chain[-1] + 16, chain[0])  # the last array points to the first
    got, problems = read(bytes(data), tmp_path)
    assert [e.seqnum for e in got] == [e.seqnum for e in entries]
    assert len(problems) == 1 and "entry array chain goes back" in problems[0]


def _absurd_entry_size(data: bytearray, entries: list[JournalEntry]) -> None:
    struct.pack_into("<Q", data, entries[6].offset + 8, 1 << 62)


def _absurd_header(data: bytearray, entries: list[JournalEntry]) -> None:
    struct.pack_into("<QQ", data, 88, 1 << 40, 1 << 62)  # header_size, arena_size


def _array_into_header(data: bytearray, entries: list[JournalEntry]) -> None:
    struct.pack_into("<Q", data, 176, 8)


def _self_linked_array(data: bytearray, entries: list[JournalEntry]) -> None:
    struct.pack_into("<Q", data, first_array(data) + 16, first_array(data))


def _unknown_feature(data: bytearray, entries: list[JournalEntry]) -> None:
    struct.pack_into("<I", data, 12, struct.unpack_from("<I", data, 12)[0] | 1 << 20)


HOSTILE: dict[str, tuple[Callable[[bytearray, list[JournalEntry]], None], int, str]] = {
    "absurd entry size": (_absurd_entry_size, 6, "claims 4611686018427387904 bytes"),
    "absurd header sizes": (_absurd_header, 0, "header size"),
    "entry array inside the header": (_array_into_header, 8, "lies outside the objects"),
    "entry array linked to itself": (_self_linked_array, 8, "goes back"),
    "unknown incompatible flag": (_unknown_feature, 0, "incompatible features unknown"),
}


@pytest.mark.parametrize("case", HOSTILE)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_hostile_files_give_one_warning(layout: str, case: str, tmp_path: Path) -> None:
    entries = intact(layout, tmp_path)
    data = journal_bytes(layout)
    damage, kept, reason = HOSTILE[case]
    damage(data, entries)
    got, problems = read(bytes(data), tmp_path)
    assert [e.seqnum for e in got] == [e.seqnum for e in entries[:kept]]
    assert len(problems) == 1 and reason in problems[0], problems


def test_compression_bombs_are_refused(tmp_path: Path) -> None:
    """A ZSTD frame or LZ4 block claiming more than the field cap is damage, not an allocation."""
    data = journal_bytes("compact-zstd")
    entries = intact("compact-zstd", tmp_path)
    compressed = []
    offset = struct.unpack_from("<Q", data, 88)[0]
    while True:
        kind, flags, size = struct.unpack_from("<BB6xQ", data, offset)
        if size == 0:
            break
        if kind == 1 and flags:
            compressed.append(offset)
        offset = (offset + size + 7) & ~7
    assert compressed, "the fixture has a ZSTD-compressed DATA object"
    # a ZSTD frame header claiming 2**40 bytes of content (single segment, 8-byte size)
    frame = b"\x28\xb5\x2f\xfd" + bytes([0xE0]) + struct.pack("<Q", 1 << 40)
    data[compressed[0] + 72:compressed[0] + 72 + len(frame)] = frame
    got, problems = read(bytes(data), tmp_path)
    assert len(got) == 7 and len(problems) == 1 and "claims" in problems[0]
    assert [e.seqnum for e in got] == [e.seqnum for e in entries if e.seqnum != 3]


def test_online_copy_says_so(tmp_path: Path) -> None:
    """A copy taken while journald was writing (state ONLINE) and cut short."""
    entries = intact("regular-none", tmp_path)
    data = journal_bytes("regular-none")
    data[16] = 1
    got, problems = read(bytes(data[:entries[7].offset + 20]), tmp_path, "system.journal~")
    assert len(got) == 7
    assert len(problems) == 1 and "state ONLINE" in problems[0]
    assert problems[0].startswith("system.journal~: journal damaged at offset")


def test_unlinked_entries_of_a_live_file_are_read(tmp_path: Path) -> None:
    """journald writes an entry, then links it: entries no array links yet are still read."""
    entries = intact("regular-none", tmp_path)
    data = journal_bytes("regular-none")
    chain = arrays(data)
    last = chain[-1]
    size = struct.unpack_from("<Q", data, last + 8)[0]
    items = [struct.unpack_from("<Q", data, at)[0] for at in range(last + 24, last + size, 8)]
    linked = [i for i in items if i]
    struct.pack_into("<Q", data, last + 24 + 8 * (len(linked) - 2), 0)  # unlink the last two
    struct.pack_into("<Q", data, last + 24 + 8 * (len(linked) - 1), 0)
    got, problems = read(bytes(data), tmp_path)
    assert [e.seqnum for e in got] == [e.seqnum for e in entries]
    assert problems == []


def _with_seqnums(data: bytearray, entries: list[JournalEntry], seqnums: list[int]) -> bytes:
    for entry, seqnum in zip(entries, seqnums):
        struct.pack_into("<Q", data, entry.offset + 16, seqnum)
    return bytes(data)


def test_seqnum_gaps_across_the_files_of_one_sequence(tmp_path: Path) -> None:
    """system and user journals share one sequence: interleaved numbers are no gap, a file
    left out is; each hole is one seqnum_gap event where the numbers resume."""
    entries = intact("regular-none", tmp_path)
    odd = _with_seqnums(journal_bytes("regular-none"), entries, [2 * i + 1 for i in range(8)])
    even = _with_seqnums(journal_bytes("regular-none"), entries, [2 * i + 2 for i in range(8)])
    (tmp_path / "both").mkdir()
    (tmp_path / "both" / "system.journal").write_bytes(odd)
    (tmp_path / "both" / "user-1000.journal").write_bytes(even)
    files = walk([tmp_path / "both"], Problems())
    assert list(journal_anomalies(files)) == []
    (tmp_path / "both" / "user-1000.journal").unlink()
    gaps = list(journal_anomalies(walk([tmp_path / "both"], Problems())))
    found = [(e.source, e.line, e.fields["gap_entries"], e.fields["previous_line"]) for e in gaps]
    assert found == [("system.journal", n, 1, n - 1) for n in range(2, 9)]
    assert all(e.fields["anomaly"] == "seqnum_gap" for e in gaps)


def test_seqnum_gap_fires_the_bundled_rule(tmp_path: Path) -> None:
    from scanner.cli import main

    entries = intact("compact-zstd", tmp_path)
    data = _with_seqnums(journal_bytes("compact-zstd"), entries, [1, 2, 3, 4, 105, 106, 107, 108])
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "system.journal").write_bytes(data)
    out = tmp_path / "hits.jsonl"
    assert main(["scan", "-q", "--jobs", "1", "-f", "jsonl", "-o", str(out),
                 str(tmp_path / "copy")]) == 0
    hits = [json.loads(line) for line in out.read_text().splitlines()]
    gaps = [h for h in hits if h["rule_title"] == "Journal Entries Missing From Their Sequence"]
    assert [(h["source"], h["line"], h["fields"]["gap_entries"]) for h in gaps] == [
        ("system.journal", 5, 100)]


@pytest.mark.parametrize("header_size", [208, 224, 240, 256])
def test_older_header_sizes_read_alike(header_size: int, tmp_path: Path) -> None:
    """Headers of systemd < 187 (208 bytes), 187 (224), 189 (240), 246 (256): only the fields
    every size has are read, so a file claiming a shorter header reads the same entries."""
    entries = intact("regular-none", tmp_path)
    data = journal_bytes("regular-none")
    struct.pack_into("<Q", data, 88, header_size)
    got, problems = read(bytes(data), tmp_path)
    assert problems == [] and [(e.seqnum, e.fields) for e in got] == [
        (e.seqnum, e.fields) for e in entries]


def test_compressed_journal_is_refused_with_one_warning(tmp_path: Path) -> None:
    """A journal needs random access: a gzipped copy is recognized and refused, not misread."""
    from scanner.cli import main

    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "system.journal.gz").write_bytes(
        (FIXTURES / "compact-zstd.journal.gz").read_bytes())
    out = tmp_path / "scan.json"
    assert main(["scan", "-q", "--jobs", "1", "-f", "json", "-o", str(out),
                 str(tmp_path / "copy")]) == 0
    problems = json.loads(out.read_text())["summary"]["problems"]
    assert [p for p in problems if "system.journal.gz" in str(p)] == [
        "system.journal.gz: a gz-compressed journal cannot be read in place: decompress a copy "
        "and scan that"]
