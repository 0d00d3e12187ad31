"""Turn the time text of a record into a timezone-aware ``datetime``.

Takes the text a grammar captured, the route's named time format (see
grammars/README.md, "Named time formats"), the zone for naive times and, for
year-less syslog stamps, a callback giving the year of a month. Yields
``(datetime, None)`` or ``(None, note)`` where the note says why there is no
time; it never raises on record text. Knows nothing of files or routes.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scanner.errors import UsageError

YearOf = Callable[[int], int]
TimeResult = tuple[datetime | None, str | None]

MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_RFC3164 = re.compile(r"([A-Za-z]{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6})\d*)?$")
_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")
_OFFSET = re.compile(r"([+-])(\d\d):?(\d\d)$")
FORMATS = ("rfc3164", "iso8601", "syslog", "clf", "epoch")


def parse_tz(text: str | None) -> tzinfo:
    """The zone named by ``--tz`` (IANA name, ``UTC`` or ``±HH:MM``); UTC when unset.

    Raises:
        UsageError: the zone is unknown.
    """
    if not text or text.upper() in ("UTC", "Z"):
        return timezone.utc
    offset = _OFFSET.fullmatch(text)
    if offset:
        return _fixed_offset(*offset.groups())
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown timezone {text!r} (use an IANA name or ±HH:MM)") from None


def is_known_format(name: str) -> bool:
    """Whether ``name`` is a named time format or a ``strptime:`` pattern."""
    return name in FORMATS or name.startswith("strptime:")


def parse_time(text: str, fmt: str, tz: tzinfo, year_of: YearOf | None = None) -> TimeResult:
    """Read ``text`` in time format ``fmt``; naive results are placed in ``tz``."""
    try:
        if fmt == "rfc3164" or (fmt == "syslog" and not text[:1].isdigit()):
            return _rfc3164(text, tz, year_of)
        if fmt in ("iso8601", "syslog"):
            return _aware(datetime.fromisoformat(_iso_compatible(text)), tz), None
        if fmt == "clf":
            return datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z"), None
        if fmt == "epoch":
            return datetime.fromtimestamp(float(text), timezone.utc), None
        if fmt.startswith("strptime:"):
            return _aware(datetime.strptime(text, fmt[len("strptime:"):]), tz), None
    except (ValueError, OverflowError, OSError):
        return None, f"unreadable {fmt} time {text[:40]!r}"
    return None, f"unknown time format {fmt!r}"


def _rfc3164(text: str, tz: tzinfo, year_of: YearOf | None) -> TimeResult:
    match = _RFC3164.match(text)
    month = MONTHS.get(match.group(1).lower()) if match else None
    if match is None or month is None:
        return None, f"unreadable rfc3164 time {text[:40]!r}"
    if year_of is None:
        return None, "year-less time and no year inferred"
    _, day, hour, minute, second, fraction = match.groups()
    micro = int((fraction or "0").ljust(6, "0"))
    stamp = datetime(year_of(month), month, int(day), int(hour), int(minute), int(second), micro)
    return stamp.replace(tzinfo=tz), None


def _iso_compatible(text: str) -> str:
    # fromisoformat (3.11+) takes most of RFC 3339; trim sub-microsecond digits it rejects.
    return _LONG_FRACTION.sub(r"\1", text.strip())


def _aware(stamp: datetime, tz: tzinfo) -> datetime:
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=tz)


def _fixed_offset(sign: str, hours: str, minutes: str) -> tzinfo:
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    return timezone(-delta if sign == "-" else delta)
