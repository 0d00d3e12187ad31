"""The fast CLF and ISO readers give exactly what strptime / the trimmed fromisoformat gave, and
a file's time reader what parse_time gives.

The oracles are the stdlib calls the fast paths replace: ``datetime.strptime`` with the
CLF pattern, and ``fromisoformat`` of the stripped text with sub-microsecond digits cut.
Each table row and each seeded mutation of it must give the same datetime (value and
offset) or, when the oracle raises, the same note.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import datetime, timezone

import pytest

from scanner.normalize.timestamps import parse_time, time_reader

UTC = timezone.utc
CLF_ODD = [
    "10/Oct/2000:13:55:36 -0700", "08/Feb/2024:06:25:01 +0000", "08/feb/2024:06:25:01 -0000",
    "08/FEB/2024:06:25:01 +0530", "29/Feb/2024:23:59:59 +1400", "29/Feb/2023:00:00:00 +0000",
    "31/Apr/2024:00:00:00 +0000", "00/Jan/2024:00:00:00 +0000", "32/Jan/2024:00:00:00 +0000",
    "01/Jan/0000:00:00:00 +0000", "01/Jan/0001:00:00:00 +0000", "31/Dec/9999:23:59:59 +0000",
    "01/Jan/2024:24:00:00 +0000", "01/Jan/2024:23:60:00 +0000", "01/Jan/2024:23:59:60 +0000",
    "01/Jan/2024:23:59:61 +0000", "01/Jan/2024:23:59:62 +0000", "01/Jan/2024:00:00:00 +0060",
    "01/Jan/2024:00:00:00 +2400", "01/Jan/2024:00:00:00 +2359", "01/Jan/2024:00:00:00 -9959",
    "01/Jan/2024:00:00:00 +00:00", "01/Jan/2024:00:00:00 Z", "01/Jan/2024:00:00:00 +000000",
    "01/Jan/2024:00:00:00  +0000", "01/Jan/2024:00:00:00\t+0000", "1/Jan/2024:00:00:00 +0000",
    " 1/Jan/2024:00:00:00 +0000", "01/Jan/2024:0:0:0 +0000", "01/Jan/24:00:00:00 +0000",
    "01/Foo/2024:00:00:00 +0000", "01/January/2024:00:00:00 +0000", "01/ſep/2024:00:00:00 +0000",
    "01/Jan/2024:00:00:00 +0000 ", " 01/Jan/2024:00:00:00 +0000", "01/Jan/2024:00:00:00",
    "٠١/Jan/2024:00:00:00 +0000", "01/Jan/٢٠٢٤:00:00:00 +0000", "01/Jan/2024:00:00:00 +0000\n",
    "", "-",
]
ISO_ODD = [
    "2024-02-11T06:25:01.123456+01:00", "2024-02-11T06:25:01.1234567+01:00",
    "2016-10-25T12:37:23.2972651-07:00", "2024-02-11T06:25:01.123456789Z",
    "2024-02-11T06:25:01,1234567", "2024-02-11T06:25:01.1", "2024-02-11 06:25:01",
    " 2024-02-11T06:25:01 ", "2024-02-11T06:25:01\n", "2024-02-11T06:25:60",
    "2024-02-30T00:00:00", "2024-02-11T24:00:00", "2024-02-11T06:25:01+25:00",
    "2024-02-11T06:25:01+01:00:00.1234567", "2024-02-11T06:25:01.123456٧",
    "2024-02-11T06:25:01.٧", "2024-02-11", "20240211T062501Z", "2024-W06-7",
    "2024-02-11T06:25:01.1234567.1234567", "yesterday", "",
]


def _clf_oracle(text: str) -> datetime:
    return datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z")


def _iso_oracle(text: str) -> datetime:
    stamp = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", text.strip()))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _mutations(texts: list[str], seed: int) -> list[str]:
    """Each text plus, per text, 40 copies with one character replaced, dropped or doubled."""
    rnd = random.Random(seed)
    alphabet = "0123456789+-:/. TZabJ\t"
    out = list(texts)
    for text in filter(None, texts):
        for _ in range(40):
            i = rnd.randrange(len(text))
            out.append(rnd.choice([text[:i] + rnd.choice(alphabet) + text[i + 1:],
                                   text[:i] + text[i + 1:], text[:i] + text[i] + text[i:]]))
    return out


def _expected(oracle: Callable[[str], datetime], text: str,
              fmt: str) -> tuple[datetime | None, str | None]:
    try:
        return oracle(text), None
    except ValueError:
        return None, f"unreadable {fmt} time {text[:40]!r}"


@pytest.mark.parametrize(("fmt", "oracle", "texts"), [
    ("clf", _clf_oracle, CLF_ODD), ("iso8601", _iso_oracle, ISO_ODD), ("syslog", _iso_oracle,
                                                                     ISO_ODD[:-2]),
], ids=["clf", "iso8601", "syslog-rfc3339"])
def test_fast_readers_equal_the_stdlib_oracle(fmt: str, oracle: Callable[[str], datetime],
                                              texts: list[str]) -> None:
    for text in _mutations(texts, seed=len(texts)):
        if fmt == "syslog" and not text[:1].isdigit():
            continue  # a syslog stamp not starting with a digit is RFC 3164, read elsewhere
        stamp, note = parse_time(text, fmt, UTC)
        want_stamp, want_note = _expected(oracle, text, fmt)
        assert (stamp, note) == (want_stamp, want_note), text
        if stamp is not None and want_stamp is not None:
            assert stamp.utcoffset() == want_stamp.utcoffset(), text
            assert stamp.isoformat() == want_stamp.isoformat(), text


RFC3164_ODD = ["Feb 11 06:25:01", "feb  1 06:25:01", "Feb 11 06:25:01.123", "Foo 11 06:25:01",
               "1707632701", "1707632701.5"]


@pytest.mark.parametrize("fmt", ["clf", "iso8601", "syslog", "rfc3164", "epoch", "strptime:%Y"])
def test_a_time_reader_reads_as_parse_time(fmt: str) -> None:
    """``time_reader`` (one file's reader, ISO stamps first through ``fromisoformat``) gives
    what ``parse_time`` gives, on every table text and their mutations, in every format."""
    def year_of(month: int) -> int:
        return 2024

    read = time_reader(fmt, UTC, year_of)
    for text in _mutations(CLF_ODD + ISO_ODD + RFC3164_ODD, seed=11):
        got, want = read(text), parse_time(text, fmt, UTC, year_of)
        assert got == want, text
        if got[0] is not None and want[0] is not None:
            assert got[0].utcoffset() == want[0].utcoffset(), text
