"""Named time formats give aware datetimes, or None with a note; zones from --tz."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from scanner.errors import UsageError
from scanner.normalize.timestamps import parse_time, parse_tz

UTC = timezone.utc
PLUS2 = timezone(timedelta(hours=2))


@pytest.mark.parametrize(("text", "fmt", "expected"), [
    ("Dec 30 12:14:13", "rfc3164", datetime(2023, 12, 30, 12, 14, 13, tzinfo=UTC)),
    ("Feb  6 15:16:30", "syslog", datetime(2023, 2, 6, 15, 16, 30, tzinfo=UTC)),
    ("Mar 23 23:01:18.123", "rfc3164", datetime(2023, 3, 23, 23, 1, 18, 123000, tzinfo=UTC)),
    ("2024-02-11T06:25:01.123456+01:00", "syslog",
     datetime(2024, 2, 11, 5, 25, 1, 123456, tzinfo=UTC)),
    ("2016-10-25T12:37:23.2972651-07:00", "iso8601",
     datetime(2016, 10, 25, 19, 37, 23, 297265, tzinfo=UTC)),
    ("2024-02-11 06:25:01", "iso8601", datetime(2024, 2, 11, 6, 25, 1, tzinfo=UTC)),
    ("10/Oct/2000:13:55:36 -0700", "clf", datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC)),
    ("1364481363.243", "epoch", datetime(2013, 3, 28, 14, 36, 3, 243000, tzinfo=UTC)),
    ("2024/01/02 03:04:05", "strptime:%Y/%m/%d %H:%M:%S", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
])
def test_formats(text: str, fmt: str, expected: datetime) -> None:
    stamp, note = parse_time(text, fmt, UTC, lambda month: 2023)
    assert (stamp, note) == (expected, None)
    assert stamp is not None and stamp.tzinfo is not None


@pytest.mark.parametrize(("text", "fmt", "note"), [
    ("MMM 22 07:54:32", "rfc3164", "unreadable rfc3164 time"),
    ("Feb 30 01:00:00", "rfc3164", "unreadable rfc3164 time"),
    ("yesterday", "iso8601", "unreadable iso8601 time"),
    ("12", "nonsense", "unknown time format"),
])
def test_bad_times_give_a_note(text: str, fmt: str, note: str) -> None:
    stamp, why = parse_time(text, fmt, UTC, lambda month: 2023)
    assert stamp is None and why is not None and why.startswith(note)


def test_yearless_without_a_year_says_so() -> None:
    assert parse_time("Dec 30 12:14:13", "rfc3164", UTC) == (None, "year-less time and no year inferred")


def test_naive_times_take_the_given_zone() -> None:
    stamp, _ = parse_time("Jun 14 15:16:01", "rfc3164", parse_tz("Europe/Berlin"), lambda m: 2024)
    assert stamp is not None and stamp.utcoffset() == timedelta(hours=2)
    stamp, _ = parse_time("2024-06-14 15:16:01", "iso8601", parse_tz("+02:00"), None)
    assert stamp == datetime(2024, 6, 14, 15, 16, 1, tzinfo=PLUS2)


@pytest.mark.parametrize(("text", "offset"), [
    (None, timedelta(0)), ("UTC", timedelta(0)), ("-05:30", timedelta(hours=-5, minutes=-30)),
    ("+0100", timedelta(hours=1)),
])
def test_parse_tz(text: str | None, offset: timedelta) -> None:
    assert parse_tz(text).utcoffset(datetime(2024, 1, 1)) == offset


def test_unknown_zone_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="Mars/Olympus"):
        parse_tz("Mars/Olympus")
