"""The journal reader against ground truth: files written by Debian's systemd-journal-remote,
read back by journalctl (``-o json``), compared entry for entry and field for field.

Real files are built in each run when the tools are installed (compact and regular layouts,
ZSTD — the one compression systemd 252 writes — and none, keyed and Jenkins hashes); XZ and LZ4
files are made from an uncompressed one by recompressing its DATA payloads in place (this
systemd writes neither, journalctl reads both). ``fixtures/journal/`` keeps small real files
with journalctl's output beside them, so the comparison also runs where the tools are absent.
"""

from __future__ import annotations

import gzip
import json
import lzma
import struct
import sys
from pathlib import Path
from typing import Any

import lz4.block
import pytest

from scanner.errors import Problems
from scanner.model import SourceFile
from scanner.sources.journal import JournalEntry, read_journal

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))  # bench/ holds scripts, not a package

from journal_export import (CURSOR_FIELDS, have_tools, journalctl_entries,  # noqa: E402
                            write_journal)

FIXTURES = REPO / "fixtures" / "journal"
BOOT = "6f1c0a2e9d8b4c7a8e3f5d1b2a4c6e8f"
HOST = "vps"
T0 = 1707609600_000000  # 2024-02-11T00:00:00Z
LONG_COMMAND = "/usr/bin/tar czf /tmp/.x/loot.tgz " + " ".join(f"/home/user{i}/.ssh"
                                                               for i in range(60))


def _entry(i: int, identifier: str, message: str, facility: int, priority: int = 6, *,
           uid: int = 0, extra: tuple[tuple[str, Any], ...] = ()) -> list[tuple[str, Any]]:
    pid = 800 + i
    return [("__REALTIME_TIMESTAMP", str(T0 + i * 1_250_000)),
            ("__MONOTONIC_TIMESTAMP", str(5_000_000 + i * 1_250_000)), ("_BOOT_ID", BOOT),
            ("_HOSTNAME", HOST), ("_TRANSPORT", "syslog"), ("PRIORITY", str(priority)),
            ("SYSLOG_FACILITY", str(facility)), ("SYSLOG_IDENTIFIER", identifier),
            ("SYSLOG_PID", str(pid)), ("_PID", str(pid)), ("_UID", str(uid)), ("_GID", str(uid)),
            ("_COMM", identifier), ("_EXE", f"/usr/sbin/{identifier}"), ("MESSAGE", message),
            *extra]


def story() -> list[list[tuple[str, Any]]]:
    """sshd, sudo, su, useradd, cron and kernel entries of a small intrusion."""
    return [
        _entry(0, "sshd", "Failed password for invalid user admin from 203.0.113.45 port 51234 "
               "ssh2", 4,
               extra=(("_SYSTEMD_UNIT", "ssh.service"), ("_CMDLINE", "sshd: admin [priv]"))),
        _entry(1, "sshd", "Accepted password for deploy from 203.0.113.45 port 51290 ssh2", 4,
               extra=(("_SYSTEMD_UNIT", "ssh.service"),)),
        _entry(2, "sudo", "  deploy : TTY=pts/1 ; PWD=/home/deploy ; USER=root ; COMMAND="
               + LONG_COMMAND, 10, 5, uid=1000, extra=(("_CMDLINE", "sudo " + LONG_COMMAND),)),
        _entry(3, "su", "(to root) deploy on pts/1", 10, 5, uid=1000),
        _entry(4, "useradd", "new user: name=backup2, UID=0, GID=0, home=/root, shell=/bin/bash, "
               "from=/dev/pts/1", 10),
        _entry(5, "CRON", "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
               9, extra=(("_SYSTEMD_UNIT", "cron.service"),)),
        [*_entry(6, "kernel", "[UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.7 DST=192.0.2.10 PROTO=TCP "
                 "DPT=23", 0, 4)[:4], ("_TRANSPORT", "kernel"), ("PRIORITY", "4"),
         ("SYSLOG_FACILITY", "0"), ("SYSLOG_IDENTIFIER", "kernel"),
         ("MESSAGE", "[UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.7 DST=192.0.2.10 PROTO=TCP DPT=23")],
        _entry(7, "bash", "multi\nline", 1, extra=(("TAG", "one"), ("TAG", "two"),
                                                   ("BLOB", b"\x00\xff\x01binary\n"))),
    ]


VARIANTS = {f"{'compact' if c else 'regular'}-{'zstd' if z else 'none'}{'' if k else '-jenkins'}":
            (c, z, k) for c in (True, False) for z in (True, False) for k in (True, False)}


def as_journalctl(entry: JournalEntry) -> dict[str, Any]:
    """Our entry in journalctl's JSON form: a field's values as strings when printable UTF-8,
    else byte lists; a repeated field as a list."""
    shown: dict[str, Any] = {"__REALTIME_TIMESTAMP": str(entry.realtime),
                             "__MONOTONIC_TIMESTAMP": str(entry.monotonic),
                             "_BOOT_ID": entry.boot_id}
    values: dict[str, list[Any]] = {}
    for name, value in entry.fields:
        values.setdefault(name, []).append(_json_value(value))
    shown.update((name, v[0] if len(v) == 1 else v) for name, v in values.items())
    return shown


def _json_value(value: bytes) -> Any:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return list(value)
    return text if all(c.isprintable() or c in "\n\t" for c in text) else list(value)


def read_all(path: Path, text: bool = False) -> tuple[list[JournalEntry], list[str]]:
    problems = Problems()
    file = SourceFile(path=path, root=path.parent, source=path.name, size=path.stat().st_size,
                      mtime=0.0)
    entries = list(read_journal(file, problems, text=text))
    return entries, [str(p) for p in problems]


def without_cursor(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k not in CURSOR_FIELDS} for e in entries]


def assert_agrees(path: Path, truth: list[dict[str, Any]]) -> None:
    entries, problems = read_all(path)
    assert problems == []
    ours = [{k: v for k, v in as_journalctl(e).items() if k not in CURSOR_FIELDS}
            for e in entries]
    ours_times = [(str(e.realtime), str(e.monotonic)) for e in entries]
    assert ours_times == [(t["__REALTIME_TIMESTAMP"], t["__MONOTONIC_TIMESTAMP"]) for t in truth]
    assert ours == without_cursor(truth)
    seqnums = [e.seqnum for e in entries]
    assert seqnums == sorted(seqnums) and len(set(seqnums)) == len(seqnums)
    # read as text (decoded once per cached DATA object): each value decoded, escapes for bytes
    # that are not UTF-8
    texts, _ = read_all(path, text=True)
    assert [e.fields for e in texts] == [
        tuple((name, value.decode("utf-8", "backslashreplace")) for name, value in e.fields)
        for e in entries]


needs_tools = pytest.mark.skipif(not have_tools(), reason="systemd-journal-remote or journalctl "
                                 "not installed (apt-get install systemd-journal-remote)")


@needs_tools
@pytest.mark.parametrize("variant", VARIANTS)
def test_real_journal_agrees_with_journalctl(variant: str, tmp_path: Path) -> None:
    compact, compress, keyed = VARIANTS[variant]
    path = write_journal(story(), tmp_path / "system.journal", compact=compact, compress=compress,
                         keyed_hash=keyed)
    truth = journalctl_entries(path)
    assert len(truth) == len(story())
    assert_agrees(path, truth)


def recompress(path: Path, flag: int, compress: Any) -> None:
    """Compress each DATA payload above 512 bytes of an uncompressed regular journal in place
    (object flag ``flag``, header flag to match), an UNUSED object filling the freed bytes."""
    data = bytearray(path.read_bytes())
    header_size, _ = struct.unpack_from("<QQ", data, 88)
    struct.pack_into("<I", data, 12, struct.unpack_from("<I", data, 12)[0] | {1: 1, 2: 2}[flag])
    offset, changed = header_size, 0
    while offset + 16 <= len(data):
        kind, _, size = struct.unpack_from("<BB6xQ", data, offset)
        if size == 0:
            break
        end = (offset + size + 7) & ~7
        if kind == 1 and size - 64 > 512:
            packed = compress(bytes(data[offset + 64:offset + size]))
            new_size = 64 + len(packed)
            filler = end - ((offset + new_size + 7) & ~7)
            if filler >= 16:
                data[offset + 64:offset + new_size] = packed
                struct.pack_into("<BB6xQ", data, offset, kind, flag, new_size)
                gap = (offset + new_size + 7) & ~7
                data[gap:end] = bytes(filler)
                struct.pack_into("<BB6xQ", data, gap, 0, 0, filler)
                changed += 1
        offset = end
    assert changed
    path.write_bytes(bytes(data))


@needs_tools
@pytest.mark.parametrize("name, flag, compress", [
    ("xz", 1, lambda b: lzma.compress(b, lzma.FORMAT_XZ)),
    ("lz4", 2, lambda b: struct.pack("<Q", len(b)) + lz4.block.compress(b, store_size=False)),
])
def test_xz_and_lz4_data_agree_with_journalctl(name: str, flag: int, compress: Any,
                                               tmp_path: Path) -> None:
    path = write_journal(story(), tmp_path / f"{name}.journal", compact=False, compress=False,
                         keyed_hash=False)
    recompress(path, flag, compress)
    truth = journalctl_entries(path)
    assert len(truth) == len(story())
    assert_agrees(path, truth)


FIXTURE_FILES = sorted(FIXTURES.glob("*.journal.gz"))


@pytest.mark.parametrize("fixture", FIXTURE_FILES, ids=[f.name for f in FIXTURE_FILES])
def test_committed_real_journals_agree_with_recorded_journalctl(fixture: Path,
                                                                tmp_path: Path) -> None:
    path = tmp_path / fixture.name.removesuffix(".gz")
    path.write_bytes(gzip.decompress(fixture.read_bytes()))
    recorded = fixture.with_name(fixture.name.removesuffix(".journal.gz") + ".json")
    truth = [json.loads(line) for line in recorded.read_text().splitlines()]
    assert_agrees(path, truth)
    if have_tools():
        assert without_cursor(journalctl_entries(path)) == without_cursor(truth)


def test_fixtures_present() -> None:
    assert len(FIXTURE_FILES) >= 3, f"real journal fixtures missing in {FIXTURES}"


def make_fixtures() -> None:
    """Write ``fixtures/journal/`` (run: ``PYTHONPATH=. python tests/test_journal.py``)."""
    FIXTURES.mkdir(exist_ok=True)
    for variant in ("compact-zstd", "regular-none", "regular-zstd-jenkins"):
        path = write_journal(story(), FIXTURES / f"{variant}.journal", compact=variant.startswith(
            "compact"), compress="zstd" in variant, keyed_hash="jenkins" not in variant)
        lines = [json.dumps(e, sort_keys=True) for e in journalctl_entries(path)]
        path.with_suffix(".json").write_text("\n".join(lines) + "\n")
        with gzip.GzipFile(path.with_suffix(".journal.gz"), "wb", mtime=0) as out:
            out.write(path.read_bytes())
        path.unlink()


if __name__ == "__main__":
    make_fixtures()


def _peak_while_reading(path: Path) -> tuple[int, int]:
    """(entries, peak traced bytes) of reading every entry of ``path`` without keeping them."""
    import tracemalloc

    file = SourceFile(path=path, root=path.parent, source=path.name, size=path.stat().st_size,
                      mtime=0.0)
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_journal(file, Problems()))
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@needs_tools
def test_reading_streams_in_bounded_memory(tmp_path: Path) -> None:
    """Four times the entries (each with unique values) take no more memory to read, once the
    reader's bounded cache of short values is full."""
    def entries(n: int) -> list[list[tuple[str, Any]]]:
        return [_entry(i, "sshd", f"Failed password for user{i} from 198.51.100.{i % 250} port "
                       f"{20000 + i} ssh2 {'x' * (i % 700)}", 4) for i in range(n)]

    small = write_journal(entries(4_000), tmp_path / "small.journal", compact=True, compress=True)
    big = write_journal(entries(16_000), tmp_path / "big.journal", compact=True, compress=True)
    (n_small, peak_small), (n_big, peak_big) = _peak_while_reading(small), _peak_while_reading(big)
    assert (n_small, n_big) == (4_000, 16_000)
    assert peak_big < 1.25 * peak_small, (peak_small, peak_big)
