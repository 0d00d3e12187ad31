"""Named field decoders that a route lists under ``decode:``, applied after the grammar.

A grammar cuts a record into raw fields; some values need decoding before rules
can test them: an HTTP request line split into its parts, an audit record's
``key=value`` body with hex-encoded strings, an apt history block's headers, a
timestamp rewritten into a named time format. :func:`decode` applies the named
decoders in order, each taking the fields and returning a new dict, or the very
dict it was given when it has nothing to decode (it never changes its argument); a
decoder that cannot decode leaves the raw fields as they are (the event is never lost).
Decoders run before ``null_values`` are dropped and before the time field is
read. Every value stays attacker-controlled text: decoders never evaluate it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Callable, Sequence

Fields = dict[str, Any]
Decoder = Callable[[Fields], Fields]


def decode(names: Sequence[str], fields: Fields) -> Fields:
    """``fields`` run through the decoders ``names`` in order (a new dict).

    Decoders never change the dict they are given: each returns it as it is or a
    new one, so ``fields`` is copied only when no decoder made a new dict.

    Raises ``KeyError`` naming an unknown decoder (a route-file fault, checked
    at start-up with :func:`unknown_decoders`).
    """
    out = fields
    for name in names:
        out = DECODERS[name](out)
    return dict(out) if out is fields else out


def unknown_decoders(names: Sequence[str]) -> list[str]:
    """The names in ``names`` that are not decoders (empty when all are known)."""
    return [name for name in names if name not in DECODERS]


# --- http_request -----------------------------------------------------------------

_REQUEST = re.compile(r"([A-Za-z][A-Za-z0-9_-]*) (.+?)(?: (HTTP/\d(?:\.\d)?))?")


def http_request(fields: Fields) -> Fields:
    """Split ``request`` (``GET /a?b HTTP/1.1``) into method, uri, path, query, protocol.

    A request that is not ``METHOD URI [PROTOCOL]`` (``-``, empty, binary junk)
    is kept as ``request`` alone.
    """
    match = _REQUEST.fullmatch(fields.get("request") or "")
    if match is None:
        return fields
    method, uri, protocol = match.groups()
    path, sep, query = uri.partition("?")
    out = fields.copy()  # one copy, filled in place: this runs on every access-log line
    out["method"], out["uri"], out["path"] = method, uri, path
    if sep:
        out["query"] = query
    if protocol is not None:
        out["protocol"] = protocol
    return out


# --- audit_kv -----------------------------------------------------------------------

_AUDIT_HEAD = re.compile(r"(?:node=(\S+) )?type=(\S+) msg=audit\([^)]*\): ?")
_AUDIT_PAIR = re.compile(r"([\w-]+(?:\[\d+\])?)=(\"[^\"]*\"|'[^']*'|\S*)")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_HEX_KEYS = frozenset({"proctitle", "exe", "comm", "name", "cwd", "cmd", "acct", "path",
                       "data", "key", "old", "new"})
_EXECVE_ARG = re.compile(r"a\d+(?:\[\d+\])?")
_ENRICHMENT_SEPARATOR = "\x1d"


def audit_kv(fields: Fields) -> Fields:
    """Split the audit ``body`` (one or more records of one event) into audit keys.

    The first record's body follows the grammar's header; each further line is
    a whole record of the same event. Keys keep their audit names (``exe``,
    ``a0``, ``name``; the enrichment after ``\\x1d`` adds ``UID``, ``ARCH``…);
    the keys inside ``msg='…'`` are added too. Quoted values lose their quotes;
    unquoted even-length hex in string keys (``proctitle``, ``exe``, ``name``,
    EXECVE ``aN`` …) is decoded, NUL separators becoming spaces. A key seen in
    several records with different values (``type``, PATH ``name``) becomes the
    list of its distinct values in record order, so ``type`` is ``"SYSCALL"``
    for a lone record and ``["SYSCALL", "EXECVE", "PATH"]`` for a grouped event.
    """
    if "body" not in fields:
        return fields
    out = {k: v for k, v in fields.items() if k != "body"}
    values: dict[str, list[str]] = {}
    lines = fields["body"].split("\n")
    records = [(fields.get("type", ""), lines[0])]
    for line in lines[1:]:
        head = _AUDIT_HEAD.match(line)
        records.append((head.group(2), line[head.end():]) if head else ("", line))
    for record_type, body in records:
        if record_type:
            _add(values, "type", record_type)
        for key, value in _audit_pairs(record_type, body):
            _add(values, key, value)
    for key, seen in values.items():
        out[key] = seen[0] if len(seen) == 1 else seen
    return out


def _audit_pairs(record_type: str, body: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, raw in _AUDIT_PAIR.findall(body.replace(_ENRICHMENT_SEPARATOR, " ")):
        if raw.startswith("'"):
            inner = raw[1:-1]
            pairs.append((key, inner))
            pairs.extend(_audit_pairs(record_type, inner))
        else:
            pairs.append((key, _audit_value(record_type, key, raw)))
    return pairs


def _audit_value(record_type: str, key: str, raw: str) -> str:
    if raw.startswith('"'):
        return raw[1:-1]
    hex_string = key in _HEX_KEYS or (record_type == "EXECVE" and _EXECVE_ARG.fullmatch(key))
    if hex_string and _HEX.fullmatch(raw):
        return bytes.fromhex(raw).decode("utf-8", "backslashreplace").replace("\x00", " ").strip()
    return raw


def _add(values: dict[str, list[str]], key: str, value: str) -> None:
    seen = values.setdefault(key, [])
    if value not in seen:
        seen.append(value)


# --- apt_block ----------------------------------------------------------------------

_APT_KEYS = {"commandline": "command_line"}


def apt_block(fields: Fields) -> Fields:
    """Split an apt history ``body`` (``Key: value`` lines) into snake_case fields.

    ``Commandline`` → ``command_line``, ``Requested-By`` → ``requested_by``,
    ``Install``/``Upgrade``/``Remove``/``Purge`` keep their package lists as
    written, ``End-Date`` → ``end_date``. A line without ``Key: `` continues the
    previous value.
    """
    if "body" not in fields:
        return fields
    out = {k: v for k, v in fields.items() if k != "body"}
    key = "body"
    for line in fields["body"].split("\n"):
        name, sep, value = line.partition(": ")
        if sep and re.fullmatch(r"[A-Za-z][\w-]*", name):
            key = _APT_KEYS.get(name.lower(), name.lower().replace("-", "_"))
            out[key] = value.strip()
        else:
            out[key] = f"{out[key]}\n{line}" if key in out else line
    return out


# --- time rewriting -------------------------------------------------------------------

_CTIME_FORMATS = ("%a %b %d %H:%M:%S.%f %Y", "%a %b %d %H:%M:%S %Y")
_UTC_NAMES = frozenset({"UTC", "GMT", "Z", "UCT"})
# Zone abbreviations that name one offset in today's tz database (what PostgreSQL prints
# for its log_timezone). Left out as ambiguous: CST, CDT, IST, BST, AST, ADT, SST and PST
# (US Pacific, and the Philippines' +08).
_ZONE_OFFSETS = {
    "WET": "+00:00", "WEST": "+01:00", "CET": "+01:00", "CEST": "+02:00", "EET": "+02:00",
    "EEST": "+03:00", "MSK": "+03:00", "SAST": "+02:00", "PKT": "+05:00", "WIB": "+07:00",
    "HKT": "+08:00", "AWST": "+08:00", "JST": "+09:00", "KST": "+09:00", "ACST": "+09:30",
    "ACDT": "+10:30", "AEST": "+10:00", "AEDT": "+11:00", "NZST": "+12:00", "NZDT": "+13:00",
    "EST": "-05:00", "EDT": "-04:00", "MST": "-07:00", "MDT": "-06:00", "PDT": "-07:00",
    "AKST": "-09:00", "AKDT": "-08:00", "HST": "-10:00", "HDT": "-09:00",
}
_OFFSET = re.compile(r"([+-])(\d\d):?(\d\d)?")


def ctime_time(fields: Fields) -> Fields:
    """Rewrite ``time`` from ctime style (``Wed Oct 11 14:32:52[.123456] 2000``) to ISO 8601."""
    text = fields.get("time")
    for fmt in _CTIME_FORMATS:
        try:
            return fields | {"time": datetime.strptime(text or "", fmt).isoformat()}
        except ValueError:
            continue
    return fields


def time_zone(fields: Fields) -> Fields:
    """Append the ``tz`` field to an ISO ``time`` when it is UTC/GMT, a numeric offset or a
    zone abbreviation naming one offset (``CEST`` → ``+02:00``).

    An ambiguous or unknown abbreviation (``CST``, ``IST``…) leaves ``time`` naive (read
    in ``--tz``); ``tz`` always keeps what the log wrote.
    """
    zone, text = fields.get("tz"), fields.get("time")
    if not zone or not text:
        return fields
    if zone.upper() in _UTC_NAMES:
        return fields | {"time": f"{text}+00:00"}
    if zone in _ZONE_OFFSETS:
        return fields | {"time": f"{text}{_ZONE_OFFSETS[zone]}"}
    offset = _OFFSET.fullmatch(zone)
    if offset:
        sign, hours, minutes = offset.groups()
        return fields | {"time": f"{text}{sign}{hours}:{minutes or '00'}"}
    return fields


DECODERS: dict[str, Decoder] = {
    "http_request": http_request,
    "audit_kv": audit_kv,
    "apt_block": apt_block,
    "ctime_time": ctime_time,
    "time_zone": time_zone,
}
"""Decoder name (as written under a route's ``decode:``) → function."""
