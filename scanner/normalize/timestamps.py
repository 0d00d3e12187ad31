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
from functools import cache
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scanner.errors import UsageError

YearOf = Callable[[int], int]
TimeResult = tuple[datetime | None, str | None]

MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_RFC3164 = re.compile(r"([A-Za-z]{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6})\d*)?$")
_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")
# The CLF stamps nginx and Apache write (10/Oct/2000:13:55:36 -0700), ASCII only: anything
# else goes to strptime, whose acceptance rules stay the reference (see _clf).
_CLF = re.compile(r"([0-9]{2})/([A-Za-z]{3})/([0-9]{4}):([0-9]{2}):([0-9]{2}):([0-9]{2}) "
                  r"([+-])([0-9]{2})([0-5][0-9])")
_CLF_STRPTIME = "%d/%b/%Y:%H:%M:%S %z"
_OFFSET = re.compile(r"([+-])(\d\d):?(\d\d)$")
FORMATS = ("rfc3164", "iso8601", "syslog", "clf", "epoch")
YEARLESS = ("rfc3164", "syslog")  # the formats whose stamps need the file's year


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
            return _aware(_iso(text), tz), None
        if fmt == "clf":
            return _clf(text), None
        if fmt == "epoch":
            return datetime.fromtimestamp(float(text), timezone.utc), None
        if fmt.startswith("strptime:"):
            return _aware(datetime.strptime(text, fmt[len("strptime:"):]), tz), None
    except (ValueError, OverflowError, OSError):
        return None, f"unreadable {fmt} time {text[:40]!r}"
    return None, f"unknown time format {fmt!r}"


def time_reader(fmt: str, tz: tzinfo, year_of: YearOf | None = None) -> Callable[[str], TimeResult]:
    """:func:`parse_time` with ``fmt``, ``tz`` and ``year_of`` fixed, for the stamps of one file.

    An ISO 8601 stamp (format ``iso8601``, or ``syslog`` starting with a digit) is read by
    ``fromisoformat`` straight away, as :func:`parse_time` first reads it; any other text, or
    one ``fromisoformat`` refuses, is left to :func:`parse_time` itself.
    """
    def read(text: str) -> TimeResult:
        return parse_time(text, fmt, tz, year_of)

    if fmt not in ("iso8601", "syslog"):
        return read
    syslog = fmt == "syslog"

    def read_iso(text: str) -> TimeResult:
        if syslog and not text[:1].isdigit():
            return read(text)
        try:
            stamp = datetime.fromisoformat(text)
        except (ValueError, OverflowError, OSError):
            return read(text)
        return _aware(stamp, tz), None

    return read_iso


def _rfc3164(text: str, tz: tzinfo, year_of: YearOf | None) -> TimeResult:
    match = _RFC3164.match(text)
    month = MONTHS.get(match.group(1).lower()) if match else None
    if match is None or month is None:
        return None, f"unreadable rfc3164 time {text[:40]!r}"
    if year_of is None:
        return None, "year-less time and no year inferred"
    _, day, hour, minute, second, fraction = match.groups()
    micro = int(fraction.ljust(6, "0")) if fraction else 0
    return datetime(year_of(month), month, int(day), int(hour), int(minute), int(second), micro,
                    tz), None


def _iso(text: str) -> datetime:
    """``fromisoformat`` of the text, else of the text stripped with sub-microsecond digits cut.

    Most stamps need neither step (3.11's ``fromisoformat`` truncates long fractions
    itself), so the plain call comes first; the trimmed retry gives what it always gave.
    """
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return datetime.fromisoformat(_LONG_FRACTION.sub(r"\1", text.strip()))


def _clf(text: str) -> datetime:
    """``strptime(text, "%d/%b/%Y:%H:%M:%S %z")``, several times faster for the usual form.

    A text the ASCII pattern reads is built directly (``strptime`` accepts each of its
    fields); any other text, or a field out of range, goes to ``strptime`` itself, so
    what is accepted and what raises stay exactly ``strptime``'s.
    """
    match = _CLF.fullmatch(text)
    month = MONTHS.get(match[2].lower()) if match else None
    if match and month:
        day, _, year, hour, minute, second, sign, off_hours, off_minutes = match.groups()
        try:
            return datetime(int(year), month, int(day), int(hour), int(minute), int(second), 0,
                            _fixed_offset(sign, off_hours, off_minutes))
        except ValueError:
            pass
    return datetime.strptime(text, _CLF_STRPTIME)


def _aware(stamp: datetime, tz: tzinfo) -> datetime:
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=tz)


@cache
def _fixed_offset(sign: str, hours: str, minutes: str) -> tzinfo:
    """The zone of a ``±HH:MM`` offset, as ``strptime``'s ``%z`` makes it (UTC for ±00:00)."""
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    return timezone(-delta if sign == "-" else delta)
