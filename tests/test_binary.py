"""Binary login records (wtmp, btmp, utmp, lastlog, faillog) against the real tools' output."""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from scanner.errors import Problems
from scanner.model import Event, SourceFile
from scanner.normalize.binary import READERS, encode_utmp
from scanner.normalize.utmp import LAYOUTS, TIME64, Layout, pick_layout
from conftest import FIXTURES

BINARY = FIXTURES / "binary"
UTC = timezone.utc


def source_file(path: Path, root: Path | None = None) -> SourceFile:
    root = root or path.parent
    return SourceFile(path=path, root=root, source=path.relative_to(root).as_posix(), size=0,
                      mtime=0.0)


def read(kind: str, path: Path, root: Path | None = None) -> tuple[list[Event], list[str]]:
    problems = Problems()
    events = list(READERS[kind](source_file(path, root), problems))
    return events, [str(p) for p in problems]


def utmpdump(path: Path) -> list[str]:
    """The records of ``path`` as the installed utmpdump prints them (native byte order)."""
    if shutil.which("utmpdump") is None:
        pytest.skip("utmpdump is not installed (apt-get install util-linux / util-linux-extra)")
    done = subprocess.run(["utmpdump", str(path)], capture_output=True, text=True, check=True,
                          env={**os.environ, "TZ": "UTC", "LANG": "C"})
    return done.stdout.splitlines()


def test_readers_cover_the_route_record_kinds() -> None:
    assert set(READERS) == {"utmp", "lastlog", "faillog", "skip"}


@pytest.mark.parametrize("name", ["wtmp-a", "wtmp-b", "wtmp-ipv6"])
@pytest.mark.parametrize("order", ["LE", "BE"])
def test_util_linux_samples_equal_upstream_utmpdump_text(corpus: Path, name: str,
                                                         order: str) -> None:
    folder = corpus / "logs/util-linux/ts-utmp"
    events, problems = read("utmp", folder / f"{name}.{order}")
    expected = (folder / f"txt-{name.removeprefix('wtmp-')}").read_text().splitlines()
    assert [e.raw for e in events] == expected
    assert problems == []
    assert [e.line for e in events] == list(range(1, len(expected) + 1))


def test_util_linux_le_equals_installed_utmpdump_and_fields(corpus: Path) -> None:
    path = corpus / "logs/util-linux/ts-utmp/wtmp-ipv6.LE"
    events, _ = read("utmp", path)
    assert [e.raw for e in events] == utmpdump(path)
    assert events[0].fields == {"type": "USER_PROCESS", "pid": 10, "tty": "root", "id": "ipv6",
                                "user": "IPv6", "host": "dns-server",
                                "src_ip": "2001:503:ba3e::2:30", "session": 0,
                                "exit_termination": 0, "exit_status": 0}
    assert events[0].timestamp == datetime(2013, 8, 28, 20, 30, 40, tzinfo=UTC)
    assert (events[0].format, events[0].logsources) == ("", ())


# file under logs/, number of trailing records utmpdump does not print (a cut last record)
GLIBC_SAMPLES = [("utmp-rs/basic32.utmp", 0), ("utmp-rs/long_user_32.utmp", 0),
                 ("utmp-rs/with_host_32.utmp", 0), ("plaso/utmp/utmp", 0),
                 ("plaso/utmp/utmp_x86_64", 0), ("plaso/utmp/wtmp.1", 1),
                 ("plaso/utmp/utmp_corrupted", 1)]


@pytest.mark.parametrize("name,partial", GLIBC_SAMPLES, ids=[n for n, _ in GLIBC_SAMPLES])
def test_glibc_layout_samples_equal_utmpdump(corpus: Path, name: str, partial: int) -> None:
    path = corpus / "logs" / name
    events, problems = read("utmp", path)
    dumped = utmpdump(path)
    assert [e.raw for e in events[:len(events) - partial]] == dumped
    assert [e.fields.get("anomaly") for e in events[len(dumped):]] == ["partial"] * partial
    assert problems == []


def test_zeroed_records_of_a_real_wtmp_are_kept_as_anomalies(corpus: Path) -> None:
    events, _ = read("utmp", corpus / "logs/plaso/utmp/wtmp.1")
    assert [e.fields.get("anomaly") for e in events] == [None, None, "zeroed", "zeroed", "partial"]
    assert events[0].fields["src_ip"] == "10.10.122.1"
    assert events[2].timestamp is None and events[2].time_note == "zeroed record"


@pytest.mark.parametrize("kind,name", [("wtmp", "sshd.wtmp"), ("btmp", "sshd.btmp")])
def test_real_sshd_capture_equals_its_utmpdump(kind: str, name: str) -> None:
    events, problems = read("utmp", BINARY / name)
    assert [e.raw for e in events] == (BINARY / f"{name}.utmpdump").read_text().splitlines()
    assert problems == []
    event = events[0]
    assert (event.fields["user"], event.fields["src_ip"], event.fields["host"]) == (
        "lsg_t1", "127.0.0.1", "127.0.0.1")
    assert event.fields["type"] == {"wtmp": "USER_PROCESS", "btmp": "LOGIN_PROCESS"}[kind]
    last = (BINARY / f"{name}.{'last' if kind == 'wtmp' else 'lastb'}").read_text().split()
    assert last[:4] == ["lsg_t1", event.fields["tty"], "127.0.0.1",
                        event.timestamp.replace(microsecond=0).isoformat()]


def test_real_sshd_lastlog_with_the_trees_passwd() -> None:
    events, problems = read("lastlog", BINARY / "sshd.lastlog.gz", root=BINARY)
    assert problems == []
    assert [e.fields for e in events] == [{"uid": 1001, "user": "lsg_t1", "tty": "pts/1",
                                           "host": "127.0.0.1"}]
    assert events[0].line == 1002
    shown = (BINARY / "sshd.lastlog.lastlog").read_text().splitlines()[1].split()
    assert shown[:3] == ["lsg_t1", "pts/1", "127.0.0.1"]
    assert events[0].timestamp == datetime.strptime(" ".join(shown[3:]), "%a %b %d %H:%M:%S %z %Y")


LOGIN = datetime(2024, 3, 1, 12, 0, 5, 250000, tzinfo=UTC)
RECORDS = [
    {"type": "BOOT_TIME", "pid": 0, "tty": "~", "id": "~~", "user": "reboot",
     "host": "6.1.0-18-amd64", "time": LOGIN},
    {"type": "USER_PROCESS", "pid": 4242, "tty": "pts/0", "id": "ts/0", "user": "alice",
     "host": "203.0.113.7", "src_ip": "203.0.113.7", "session": 3, "time": LOGIN},
    {"type": "DEAD_PROCESS", "pid": 4242, "tty": "pts/0", "id": "ts/0", "exit_termination": 1,
     "exit_status": 2, "time": LOGIN.replace(hour=13)},
    {"type": "USER_PROCESS", "pid": 5000, "tty": "pts/1", "user": "mallory",
     "host": "2001:db8::1", "src_ip": "2001:db8::1", "time": LOGIN.replace(hour=11)},
]


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
@pytest.mark.parametrize("byteorder", ["little", "big"])
def test_encode_then_read_round_trips_and_flags_tampering(tmp_path: Path, byteorder: str,
                                                          layout: Layout) -> None:
    path = tmp_path / "wtmp.1"
    path.write_bytes(b"".join(encode_utmp(r, byteorder, layout) for r in RECORDS)
                     + bytes(layout.size) + encode_utmp(RECORDS[1], byteorder, layout)[:100])
    events, problems = read("utmp", path)
    assert problems == []
    for event, record in zip(events, RECORDS):
        expected = {k: v for k, v in record.items() if k != "time"}
        assert {k: event.fields[k] for k in expected} == expected
        assert event.timestamp == record["time"]
    assert [e.fields.get("anomaly") for e in events] == [
        None, None, None, "time_backwards", "zeroed", "partial"]
    assert events[5].fields["user"] == "alice" and events[5].timestamp is None
    assert events[1].raw == ("[7] [04242] [ts/0] [alice   ] [pts/0       ] [203.0.113.7         ] "
                             "[203.0.113.7    ] [2024-03-01T12:00:05,250000+00:00]")


# 400-byte records with 64-bit times (aarch64, s390x), from plaso's and utmp-rs's test data;
# expected values as those projects' tests state them.
TIME64_SAMPLES = [
    ("plaso/utmp/utmp_aarch64", "little",
     ["EMPTY", "DEAD_PROCESS", "BOOT_TIME", "RUN_LVL", "OLD_TIME", "NEW_TIME"], {1: ("tty2", "4.3.2.1")}),
    ("plaso/utmp/utmp_s390", "big",
     ["EMPTY", "DEAD_PROCESS", "BOOT_TIME", "RUN_LVL", "OLD_TIME", "NEW_TIME"], {1: ("tty2", "1.2.3.4")}),
    ("utmp-rs/basic64.utmp", "little", ["BOOT_TIME", "RUN_LVL", "LOGIN_PROCESS"], {}),
]


@pytest.mark.parametrize(("name", "byteorder", "types", "lines"), TIME64_SAMPLES,
                         ids=[s[0] for s in TIME64_SAMPLES])
def test_time64_layout_samples(corpus: Path, name: str, byteorder: str, types: list[str],
                               lines: dict[int, tuple[str, str]]) -> None:
    path = corpus / "logs" / name
    assert pick_layout(path.read_bytes(), path.stat().st_size) == (TIME64, byteorder)
    events, problems = read("utmp", path)
    assert problems == []
    assert [e.fields["type"] for e in events] == types
    for index, (tty, address) in lines.items():
        assert (events[index].fields["tty"], events[index].fields["src_ip"]) == (tty, address)


def test_time64_basic_sample_equals_utmp_rs_expectations(corpus: Path) -> None:
    events, _ = read("utmp", corpus / "logs/utmp-rs/basic64.utmp")
    assert [(e.fields.get("host"), e.timestamp) for e in events[:2]] == [
        ("5.15.0-41-generic", datetime(2022, 7, 17, 18, 42, 51, 314869, tzinfo=UTC)),
        ("5.15.0-41-generic", datetime(2022, 7, 17, 18, 43, 20, 855073, tzinfo=UTC))]
    assert (events[2].fields["pid"], events[2].timestamp) == (
        1219, datetime(2022, 7, 17, 18, 43, 20, 866391, tzinfo=UTC))


def test_time64_gzip_member_is_read_without_a_size_hint(tmp_path: Path) -> None:
    (tmp_path / "wtmp.2.gz").write_bytes(gzip.compress(b"".join(
        encode_utmp(r, "little", TIME64) for r in RECORDS)))
    events, problems = read("utmp", tmp_path / "wtmp.2.gz")
    assert problems == [] and [e.fields["user"] for e in events if "user" in e.fields] == [
        "reboot", "alice", "mallory"]


def test_live_utmp_is_not_checked_for_order_and_hostile_text_stays_on_one_line(
        tmp_path: Path) -> None:
    path = tmp_path / "utmp"
    hostile = {"type": "USER_PROCESS", "user": "x\n[7] fake", "host": "evil\x1b[2J", "time": LOGIN}
    older = RECORDS[0] | {"time": LOGIN.replace(year=2000)}
    path.write_bytes(encode_utmp(hostile) + encode_utmp(older))
    events, _ = read("utmp", path)
    assert [e.fields.get("anomaly") for e in events] == [None, None]
    assert "\n" not in events[0].raw and "\x1b" not in events[0].raw
    assert events[0].fields["user"] == "x\n[7] fake"  # the field keeps the data as it is


def test_compressed_rotated_btmp_and_empty_file(tmp_path: Path) -> None:
    (tmp_path / "btmp.1.gz").write_bytes(gzip.compress(encode_utmp(RECORDS[1])))
    (tmp_path / "btmp").write_bytes(b"")
    events, problems = read("utmp", tmp_path / "btmp.1.gz")
    assert [e.fields["user"] for e in events] == ["alice"] and problems == []
    events, problems = read("utmp", tmp_path / "btmp")
    assert events == [] and problems == ["btmp: empty file (no records)"]


def test_unreadable_login_file_is_one_problem(tmp_path: Path) -> None:
    (tmp_path / "wtmp").mkdir()
    events, problems = read("utmp", tmp_path / "wtmp")
    assert events == [] and problems == ["wtmp: cannot open: Is a directory"]


def lastlog_record(when: int, tty: str, host: str, byteorder: str = "<") -> bytes:
    return struct.pack(byteorder + "i32s256s", when, tty.encode(), host.encode())


@pytest.mark.parametrize("byteorder", ["<", ">"])
def test_sparse_lastlog_skips_holes_and_names_users_from_the_copied_tree(
        tmp_path: Path, byteorder: str) -> None:
    log = tmp_path / "copy" / "var" / "log"
    log.mkdir(parents=True)
    (tmp_path / "copy" / "etc").mkdir()
    (tmp_path / "copy" / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n")
    when = int(LOGIN.timestamp())
    with (log / "lastlog").open("wb") as out:  # uid 0, 1000 and 4000000 (far into a hole)
        out.write(lastlog_record(when, "tty1", "", byteorder))
        out.seek(1000 * 292)
        out.write(lastlog_record(when + 60, "pts/0", "198.51.100.4", byteorder))
        out.seek(4_000_000 * 292)
        out.write(lastlog_record(when + 120, "pts/9", "192.0.2.1", byteorder))
    events, problems = read("lastlog", log / "lastlog", root=log)
    assert problems == []
    assert [e.fields for e in events] == [
        {"uid": 0, "user": "root", "tty": "tty1"},
        {"uid": 1000, "user": "alice", "tty": "pts/0", "host": "198.51.100.4"},
        {"uid": 4_000_000, "user": "uid 4000000", "tty": "pts/9", "host": "192.0.2.1"}]
    assert [e.line for e in events] == [1, 1001, 4_000_001]
    assert events[1].timestamp == datetime.fromtimestamp(when + 60, UTC)


def test_faillog_records_and_a_partial_tail(tmp_path: Path) -> None:
    when = int(LOGIN.timestamp())
    path = tmp_path / "faillog"
    path.write_bytes(bytes(32) + struct.pack("<hh12sqq", 3, 5, b"ssh:notty", when, 600)
                     + struct.pack("<hh12sqq", 1, 0, b"pts/2", when, 0)[:20])
    events, problems = read("faillog", path)
    assert problems == []
    assert [e.fields for e in events] == [
        {"uid": 1, "user": "uid 1", "failures": 3, "max_failures": 5, "tty": "ssh:notty",
         "lock_seconds": 600},
        {"uid": 2, "user": "uid 2", "failures": 1, "max_failures": 0, "tty": "pts/2",
         "anomaly": "partial"}]
    assert events[0].timestamp == datetime.fromtimestamp(when, UTC)
    assert events[1].timestamp is None
