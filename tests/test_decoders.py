"""scanner.normalize.decoders: each named decoder on representative field sets."""

from __future__ import annotations

from typing import Any

import pytest

from scanner.normalize.decoders import DECODERS, decode, unknown_decoders

HTTP_CASES = [
    ("GET /a/b.php?x=1&y=2 HTTP/1.1",
     {"method": "GET", "uri": "/a/b.php?x=1&y=2", "path": "/a/b.php", "query": "x=1&y=2",
      "protocol": "HTTP/1.1"}),
    ("GET /index.html", {"method": "GET", "uri": "/index.html", "path": "/index.html"}),
    ("GET /a b c HTTP/1.0", {"method": "GET", "uri": "/a b c", "path": "/a b c",
                             "protocol": "HTTP/1.0"}),
    ("OPTIONS * HTTP/1.1", {"method": "OPTIONS", "uri": "*", "path": "*", "protocol": "HTTP/1.1"}),
    ("GET /? HTTP/1.1", {"method": "GET", "uri": "/?", "path": "/", "query": "",
                         "protocol": "HTTP/1.1"}),
    ("-", {}),
    ("", {}),
    ("\\x16\\x03\\x01\\x00", {}),
]


@pytest.mark.parametrize(("request_line", "parts"), HTTP_CASES)
def test_http_request(request_line: str, parts: dict[str, str]) -> None:
    fields = {"client_ip": "192.0.2.1", "request": request_line}
    out = decode(["http_request"], fields)
    assert out == fields | parts
    assert list(out) == list(fields | parts)  # key order reaches the JSON output


def test_http_request_without_request_field() -> None:
    assert decode(["http_request"], {"status": "400"}) == {"status": "400"}


AUDIT_CASES: list[tuple[str, dict[str, str], dict[str, Any]]] = [
    ("lone record, quoted and hex values",
     {"type": "SYSCALL", "time": "1.5", "serial": "9",
      "body": ' arch=c000003e syscall=59 a0=7ffd1 comm="id" exe=2F7573722F62696E2F6964 key=(null)'},
     {"type": "SYSCALL", "time": "1.5", "serial": "9", "arch": "c000003e", "syscall": "59",
      "a0": "7ffd1", "comm": "id", "exe": "/usr/bin/id", "key": "(null)"}),
    ("EXECVE args hex-decoded, odd-length hex kept",
     {"type": "EXECVE", "body": " argc=3 a0=6964 a1=ABC a2[0]=2D61"},
     {"type": "EXECVE", "argc": "3", "a0": "id", "a1": "ABC", "a2[0]": "-a"}),
    ("SYSCALL register args are not strings",
     {"type": "SYSCALL", "body": " a0=6964"},
     {"type": "SYSCALL", "a0": "6964"}),
    ("nested msg and enrichment",
     {"type": "USER_CMD",
      "body": " pid=1 uid=0 msg='cwd=\"/root\" cmd=6C73202D6C terminal=pts/0 res=success'\x1dUID=\"root\""},
     {"type": "USER_CMD", "pid": "1", "uid": "0",
      "msg": 'cwd="/root" cmd=6C73202D6C terminal=pts/0 res=success', "cwd": "/root",
      "cmd": "ls -l", "terminal": "pts/0", "res": "success", "UID": "root"}),
    ("grouped event: types listed, repeated keys listed, proctitle NULs become spaces",
     {"type": "SYSCALL",
      "body": " syscall=59 exe=\"/bin/cat\"\n"
              "type=PATH msg=audit(1.5:9): item=0 name=\"/bin/cat\"\n"
              "node=h1 type=PATH msg=audit(1.5:9): item=1 name=\"/etc/shadow\"\n"
              "type=PROCTITLE msg=audit(1.5:9): proctitle=636174002F6574632F736861646F77"},
     {"type": ["SYSCALL", "PATH", "PROCTITLE"], "syscall": "59", "exe": "/bin/cat",
      "item": ["0", "1"], "name": ["/bin/cat", "/etc/shadow"], "proctitle": "cat /etc/shadow"}),
]


@pytest.mark.parametrize(("fields", "expected"), [c[1:] for c in AUDIT_CASES],
                         ids=[c[0] for c in AUDIT_CASES])
def test_audit_kv(fields: dict[str, str], expected: dict[str, Any]) -> None:
    assert decode(["audit_kv"], fields) == expected


def test_audit_invalid_utf8_is_escaped_not_lost() -> None:
    fields = decode(["audit_kv"], {"type": "EXECVE", "body": " a0=FF41"})
    assert fields["a0"] == "\\xffA"


def test_apt_block() -> None:
    body = ("Commandline: apt-get install -y socat\nRequested-By: alice (1000)\n"
            "Install: socat:amd64 (1.7.4.4-2)\nError: Sub-process /usr/bin/dpkg returned an error\n"
            "  code (1)\nEnd-Date: 2024-01-02  03:04:09")
    assert decode(["apt_block"], {"time": "t", "body": body}) == {
        "time": "t", "command_line": "apt-get install -y socat", "requested_by": "alice (1000)",
        "install": "socat:amd64 (1.7.4.4-2)",
        "error": "Sub-process /usr/bin/dpkg returned an error\n  code (1)",
        "end_date": "2024-01-02  03:04:09"}


TIME_CASES = [
    ("ctime_time", {"time": "Wed Oct 11 14:32:52 2000"}, {"time": "2000-10-11T14:32:52"}),
    ("ctime_time", {"time": "Sun Aug  1 04:02:12 2004"}, {"time": "2004-08-01T04:02:12"}),
    ("ctime_time", {"time": "Fri Sep 09 10:42:29.902022 2011"},
     {"time": "2011-09-09T10:42:29.902022"}),
    ("ctime_time", {"time": "not a time"}, {"time": "not a time"}),
    ("time_zone", {"time": "2024-01-02 03:04:05.1", "tz": "UTC"},
     {"time": "2024-01-02 03:04:05.1+00:00", "tz": "UTC"}),
    ("time_zone", {"time": "2024-01-02 03:04:05", "tz": "+0530"},
     {"time": "2024-01-02 03:04:05+05:30", "tz": "+0530"}),
    ("time_zone", {"time": "2024-01-02 03:04:05", "tz": "-03"},
     {"time": "2024-01-02 03:04:05-03:00", "tz": "-03"}),
    ("time_zone", {"time": "2024-07-02 03:04:05", "tz": "CEST"},
     {"time": "2024-07-02 03:04:05+02:00", "tz": "CEST"}),
    ("time_zone", {"time": "2024-07-02 03:04:05.5", "tz": "PDT"},
     {"time": "2024-07-02 03:04:05.5-07:00", "tz": "PDT"}),
    ("time_zone", {"time": "2024-01-02 03:04:05", "tz": "ACST"},
     {"time": "2024-01-02 03:04:05+09:30", "tz": "ACST"}),
    ("time_zone", {"time": "2024-01-02 03:04:05", "tz": "CST"},  # US, China or Cuba: --tz decides
     {"time": "2024-01-02 03:04:05", "tz": "CST"}),
    ("time_zone", {"time": "2024-01-02 03:04:05", "tz": "cest"},  # not as PostgreSQL writes it
     {"time": "2024-01-02 03:04:05", "tz": "cest"}),
]


def test_zone_abbreviations_agree_with_the_tz_database() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo
    from scanner.normalize.decoders import _ZONE_OFFSETS
    zones = ["Europe/Lisbon", "Europe/Berlin", "Europe/Athens", "Europe/Moscow", "Africa/Johannesburg",
             "Asia/Karachi", "Asia/Jakarta", "Asia/Hong_Kong", "Australia/Perth", "Asia/Tokyo",
             "Asia/Seoul", "Australia/Adelaide", "Australia/Sydney", "Pacific/Auckland",
             "America/New_York", "America/Denver", "America/Los_Angeles", "America/Anchorage",
             "Pacific/Honolulu", "America/Adak", "America/Phoenix"]
    seen: dict[str, set[str]] = {}
    for zone in zones:
        for month in (1, 7):
            stamp = datetime(2024, month, 15, 12, tzinfo=ZoneInfo(zone))
            offset = stamp.strftime("%z")
            seen.setdefault(stamp.tzname() or "", set()).add(f"{offset[:3]}:{offset[3:]}")
    assert {name: offsets for name, offsets in seen.items() if name in _ZONE_OFFSETS} == {
        name: {offset} for name, offset in _ZONE_OFFSETS.items()}


@pytest.mark.parametrize(("name", "fields", "expected"), TIME_CASES)
def test_time_decoders(name: str, fields: dict[str, str], expected: dict[str, str]) -> None:
    assert decode([name], fields) == expected


def test_decoders_chain_and_leave_input_untouched() -> None:
    fields = {"time": "Wed Oct 11 14:32:52 2000", "request": "GET / HTTP/1.1"}
    out = decode(["ctime_time", "http_request"], fields)
    assert out["time"] == "2000-10-11T14:32:52" and out["path"] == "/"
    assert fields == {"time": "Wed Oct 11 14:32:52 2000", "request": "GET / HTTP/1.1"}


def test_unknown_decoders() -> None:
    assert unknown_decoders(["http_request", "rot13"]) == ["rot13"]
    assert set(DECODERS) >= {"http_request", "audit_kv", "apt_block"}
    with pytest.raises(KeyError):
        decode(["rot13"], {})


@pytest.mark.parametrize("name", sorted(DECODERS))
@pytest.mark.parametrize("fields", [
    {"request": "GET / HTTP/1.1", "body": "type=SYSCALL msg=audit(1:2): exe=\"/bin/x\"",
     "time": "Wed Oct 11 14:32:52 2000", "tz": "CEST"},
    {"status": "400"},
], ids=["decodable", "nothing-to-decode"])
def test_decode_gives_a_new_dict_and_leaves_its_input_alone(name: str,
                                                            fields: dict[str, str]) -> None:
    before = dict(fields)
    DECODERS[name](fields)
    assert fields == before
    out = decode([name], fields)
    assert out is not fields and fields == before
