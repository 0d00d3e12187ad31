"""The leaf tests that generated matcher code calls, and the semantics they define.

Generated code (``scanner.match.backend``) evaluates each rule as a Python
expression over ``f`` (``Event.fields``), ``raw`` (``Event.raw``) and ``lraw``
(``raw.lower()``); every field leaf calls one function here with the field's
value, or :data:`MISSING`. Semantics, which the README repeats:

* keyword (unbound) values are case-insensitive substrings of the raw line
  (inner wildcards: an unanchored wildcard search);
* strings compare case-insensitively (``str.lower`` on both sides) unless
  ``|cased``; ``*`` matches any run, ``?`` one character, over the whole value;
* ``|re`` is a search (not anchored) run by RE2; Python ``re`` runs only a
  pattern RE2 cannot express; flags come only from ``|i``, ``|m``, ``|s``;
* a missing field makes every positive leaf false, so ``not leaf`` is true;
  ``null`` means the field is absent (or ``None``; normalizers drop web ``-``
  values, so ``cs-referer: null`` matches a ``-`` referer); ``exists`` means present;
* numbers compare numerically when both sides parse as numbers, else never;
  booleans equal ``True``/``False`` or the words ``true``/``false``;
* a list-valued field matches when any element matches (``fieldref``: any pair);
* ``cidr`` matches values that parse as an IP address of that network;
* timestamp parts (``|minute`` … ``|year``) read ISO 8601 strings or epoch numbers.

Nothing here knows pySigma; all functions are pure and never raise on odd values.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

import re2

MISSING: Any = object()
"""The value of a field the event does not carry."""

Pattern = Any  # a compiled re2 or re pattern: both offer search/fullmatch


def compile_regex(pattern: str) -> Pattern:
    """Compile with RE2 (linear time); fall back to Python ``re`` only when RE2 refuses.

    Raises:
        re.error: neither engine compiles ``pattern``.
    """
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error:
        return re.compile(pattern)


def texts(value: Any, lower: bool) -> Iterator[str]:
    """The string forms of a field value (each element of a list)."""
    for item in value if isinstance(value, list) else (value,):
        if item is MISSING or item is None:
            continue
        text = ("true" if item else "false") if isinstance(item, bool) else str(item)
        yield text.lower() if lower else text


def _safe(text: str) -> str:
    """``text`` without lone surrogates, which the RE2 binding cannot encode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def str_eq(value: Any, s: str, lower: bool) -> bool:
    """Some text form equals ``s`` (lower-cased first when ``lower``)."""
    if type(value) is str:  # the common case, without the generator of texts()
        return (value.lower() if lower else value) == s
    return any(t == s for t in texts(value, lower))


def str_eq_any(value: Any, options: tuple[str, ...], lower: bool) -> bool:
    """Some text form equals one of ``options`` (an OR of :func:`str_eq` leaves)."""
    if type(value) is str:
        return (value.lower() if lower else value) in options
    return any(t in options for t in texts(value, lower))


def str_startswith(value: Any, s: str | tuple[str, ...], lower: bool) -> bool:
    """Some text form starts with ``s`` (with one of them, for a tuple)."""
    if type(value) is str:
        return (value.lower() if lower else value).startswith(s)
    return any(t.startswith(s) for t in texts(value, lower))


def str_endswith(value: Any, s: str | tuple[str, ...], lower: bool) -> bool:
    """Some text form ends with ``s`` (with one of them, for a tuple)."""
    if type(value) is str:
        return (value.lower() if lower else value).endswith(s)
    return any(t.endswith(s) for t in texts(value, lower))


def str_contains(value: Any, s: str, lower: bool) -> bool:
    """Some text form contains ``s``."""
    if type(value) is str:
        return s in (value.lower() if lower else value)
    return any(s in t for t in texts(value, lower))


def str_contains_any(value: Any, needles: tuple[str, ...], lower: bool) -> bool:
    """Some text form contains one of ``needles`` (an OR of :func:`str_contains` leaves)."""
    if type(value) is str:
        text = value.lower() if lower else value
        return any(n in text for n in needles)
    return any(n in t for t in texts(value, lower) for n in needles)


def str_like(value: Any, rx: Pattern, lower: bool) -> bool:
    """Whole-value match of a wildcard pattern compiled by :func:`compile_regex`."""
    return any(rx.fullmatch(_safe(t)) is not None for t in texts(value, lower))


def re_search(value: Any, rx: Pattern) -> bool:
    """``|re``: the pattern occurs somewhere in some text form (case as written)."""
    return any(rx.search(_safe(t)) is not None for t in texts(value, False))


def text_search(text: str, rx: Pattern) -> bool:
    """Keyword search with inner wildcards over the (lower-cased) raw text."""
    return rx.search(_safe(text)) is not None


def number(item: Any) -> float | None:
    """``item`` as a number, or ``None`` (booleans are not numbers)."""
    if isinstance(item, bool):
        return None
    if isinstance(item, (int, float)):
        return float(item)
    try:
        return float(str(item).strip())
    except ValueError:
        return None


def _numbers(value: Any) -> Iterator[float]:
    for item in value if isinstance(value, list) else (value,):
        if item is not MISSING and item is not None and (n := number(item)) is not None:
            yield n


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "eq": lambda a, b: a == b, "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "neq": lambda a, b: a != b,
}


def num_cmp(value: Any, op: str, n: float) -> bool:
    """Numeric comparison ``value <op> n``; values that do not parse never match."""
    test = _COMPARE[op]
    return any(test(v, n) for v in _numbers(value))


def bool_eq(value: Any, b: bool) -> bool:
    """Some element is the boolean ``b`` or the word for it."""
    word = "true" if b else "false"
    return any(t == word for t in texts(value, True))


def is_null(value: Any) -> bool:
    """``null``: the field is absent."""
    return value is MISSING or value is None


def exists(value: Any) -> bool:
    """``|exists: true``: the field is present (even empty)."""
    return value is not MISSING and value is not None


def in_network(value: Any, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    """``|cidr``: some element is an IP address inside ``network``."""
    for t in texts(value, False):
        try:
            address = ipaddress.ip_address(t.strip("[]"))
        except ValueError:
            continue
        if address.version == network.version and address in network:
            return True
    return False


def field_ref(value: Any, other: Any, mode: str) -> bool:
    """Case-insensitive comparison of two fields: ``eq``, ``startswith`` or ``endswith``."""
    others = list(texts(other, True))
    for t in texts(value, True):
        for o in others:
            if (t == o if mode == "eq" else t.startswith(o) if mode == "startswith"
                    else t.endswith(o)):
                return True
    return False


def _datetime(item: Any) -> datetime | None:
    if isinstance(item, datetime):
        return item
    n = number(item)
    try:
        if n is not None:
            return datetime.fromtimestamp(n, timezone.utc)
        return datetime.fromisoformat(str(item).strip())
    except (ValueError, OverflowError, OSError):
        return None


_PARTS: dict[str, Callable[[datetime], int]] = {
    "minute": lambda d: d.minute, "hour": lambda d: d.hour, "day": lambda d: d.day,
    "week": lambda d: d.isocalendar()[1], "month": lambda d: d.month, "year": lambda d: d.year,
}


def timestamp_part(value: Any, part: str, n: int) -> bool:
    """Whether the ``part`` (minute … year) of a date-valued field equals ``n``."""
    extract = _PARTS[part]
    for item in value if isinstance(value, list) else (value,):
        if item is not MISSING and item is not None:
            d = _datetime(item)
            if d is not None and extract(d) == n:
                return True
    return False
