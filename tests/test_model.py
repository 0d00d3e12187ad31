"""Model values: hits survive the trip back from a worker process, reduced hits keep
only what correlation reads, and ``search_text`` shows every field value."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta, timezone

import pytest

from scanner.model import Correlation, Event, Hit, LogSource, Reduced, RuleInfo, search_text

RULE = RuleInfo("r1", "Rule", "high", "stable", ("attack.t1110",), LogSource(product="linux"),
                "r.yml", name="brute")
SOURCES = (LogSource(product="linux"), LogSource(product="linux", service="sshd"))
STAMP = datetime(2024, 2, 4, 6, 25, 4, 213593, tzinfo=timezone.utc)
EVENT = Event("auth.log", 7, "syslog", SOURCES,
              {"user": "root", "src_ip": "203.0.113.9", "pid": "42"}, "Failed password for root from 203.0.113.9", STAMP)

HITS = [
    Hit.of(RULE, EVENT),
    Hit.reduced(RULE, EVENT, ("src_ip",)),
    Hit(RULE, None, "wtmp", 3, (), {}, "", derived=True),
    Hit(RULE, STAMP, "auth.log", 9, (), {"event_count": 5}, "summary",
        correlation=Correlation((("src_ip", "203.0.113.9"),), STAMP, STAMP, 5, (("auth.log", 7),))),
]


@pytest.mark.parametrize("hit", HITS, ids=["plain", "reduced", "untimed derived", "correlation"])
def test_hits_pickle_back_equal(hit: Hit) -> None:
    back = pickle.loads(pickle.dumps(hit))
    assert back == hit and type(back) is type(hit) and type(back.rule) is RuleInfo


def test_reduced_hit_keeps_only_the_named_fields_and_no_text() -> None:
    reduced = Hit.reduced(RULE, EVENT, ("absent", "src_ip", "user"))
    assert reduced == Reduced(RULE, STAMP, "auth.log", 7, {"src_ip": "203.0.113.9", "user": "root"})
    assert reduced.sort_key() == Hit.of(RULE, EVENT).sort_key()


@pytest.mark.parametrize(("fields", "expected"), [
    ({}, "raw"),
    ({"a": "x", "b": 5}, "raw\0x\x005"),
    ({"args": ["cat", "/etc/shadow"], "ok": True}, "raw\0cat /etc/shadow\0True"),
])
def test_search_text_joins_raw_and_every_value(fields: dict[str, object], expected: str) -> None:
    assert search_text("raw", fields) == expected


def test_sort_key_orders_by_instant_as_utc_iso_text_would() -> None:
    east = timezone(timedelta(hours=2))
    stamps = [None, datetime(2024, 2, 4, 6, 25, 4, tzinfo=timezone.utc),
              datetime(2024, 2, 4, 8, 25, 4, 1, tzinfo=east),  # one µs later, written in +02:00
              datetime(2024, 2, 4, 6, 25, 4, 999999, tzinfo=timezone.utc),
              datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=timezone.utc),
              datetime(2199, 12, 31, 23, 59, 59, 999998, tzinfo=timezone.utc),
              datetime(2199, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)]
    hits = [Hit(RULE, ts, "auth.log", 1, (), {}, "") for ts in reversed(stamps)]
    by_text = sorted(hits, key=lambda h: h.timestamp.astimezone(timezone.utc).isoformat()
                     if h.timestamp else "")
    assert sorted(hits, key=Hit.sort_key) == by_text
    assert len({h.sort_key() for h in hits}) == len(hits)
