"""The story the HTML report tells (scanner/report/story.py), from hits made here."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from scanner.model import Correlation, Hit, LogSource, RuleInfo
from scanner.report.story import KEEP, StoryBuilder, address_of, kind_of

T0 = datetime(2024, 2, 11, 0, 0, tzinfo=timezone.utc)


def rule(title: str, *tags: str, level: str = "medium") -> RuleInfo:
    return RuleInfo(id=title.lower().replace(" ", "-"), title=title, level=level, status="test",
                    tags=tags, logsource=LogSource(product="linux"), path="rules.yml")


BRUTE = rule("Brute Force", "attack.credential-access", "attack.t1110")
ACCEPTED = rule("Accepted After Failures", "attack.initial-access", "attack.t1078")
NEW_USER = rule("New User", "attack.persistence", "attack.t1136.001", level="low")
HYDRA = rule("Brute-Forcer Run", "attack.credential-access", "attack.t1110", level="high")
WIPED = rule("Zeroed Record", "attack.defense-evasion", "attack.t1070.002", level="high")
SCAN = rule("Scanner Session", "attack.reconnaissance", "attack.t1595.002")


def hit(info: RuleInfo, minutes: float | None, corr: Correlation | None = None,
        derived: bool = False, **fields: Any) -> Hit:
    when = None if minutes is None else T0 + timedelta(minutes=minutes)
    return Hit(info, when, "auth.log", int(minutes or 0) + 1, (), fields, "raw", derived, corr)


def correlation(address: str, minutes: float, **closing: str) -> Correlation:
    return Correlation((("src_ip", address),), T0 - timedelta(hours=1), T0 + timedelta(minutes=minutes),
                       2, (("auth.log", 1),), tuple(closing.items()))


def test_kinds_and_addresses() -> None:
    assert kind_of(hit(HYDRA, 1, derived=True, target_host="198.51.100.7")) == "outbound"
    assert kind_of(hit(HYDRA, 1, derived=True)) == "commands"  # names no target: a program run
    assert kind_of(hit(WIPED, None)) == "tampering"
    assert kind_of(hit(NEW_USER, 1, user="eve")) == "accounts"
    assert kind_of(hit(SCAN, 1, client_ip="198.51.100.9")) == "probing"
    login = hit(ACCEPTED, 5, correlation("203.0.113.45", 5, user="webadmin", auth_method="password"),
                events=31)
    assert kind_of(login) == "login" and address_of(login) == "203.0.113.45"
    assert address_of(hit(SCAN, 1, client_ip="198.51.100.9")) == "198.51.100.9"


def test_story_by_actor_then_account() -> None:
    hits = [
        hit(WIPED, None, type="EMPTY"),
        hit(SCAN, -30, correlation("198.51.100.9", -30), events=3),
        hit(NEW_USER, -20, user="early"),
        hit(BRUTE, 2, correlation("203.0.113.45", 2, user="root"), events=94),
        hit(ACCEPTED, 5, correlation("203.0.113.45", 5, user="webadmin", auth_method="password"),
            events=31),
        hit(NEW_USER, 7, user="sysupdate"),
        hit(HYDRA, 9, derived=True, target_host="198.51.100.7", user="webadmin"),
    ]
    builder = StoryBuilder()
    for number, h in enumerate(hits, 1):
        builder.add(number, h)
    story = builder.story()
    assert [a.address for a in story.actors] == ["203.0.113.45", "198.51.100.9"]
    attacker = story.actors[0]
    assert attacker.failures == 94 and attacker.first_seen == T0 - timedelta(hours=1)
    [account] = attacker.accounts
    assert (account.name, account.method, account.login.number) == ("webadmin", "password", 5)
    assert [(label, [m.number for m in moments.kept]) for label, moments in account.chapters()] == [
        ("new users and groups", [6]), ("attacks on other hosts", [7])]
    assert [m.number for m in story.before_login.kept] == [3]
    assert [m.number for m in story.tampering.kept] == [1]
    assert story.targets == {"198.51.100.7": 1}
    assert [m.number for m in story.key_moments] == [2, 3, 4, 5, 7]


def test_long_lists_are_capped_and_counted() -> None:
    builder = StoryBuilder()
    for n in range(KEEP + 7):
        builder.add(n + 1, hit(SCAN, n, client_ip="198.51.100.9"))
    [actor] = builder.story().actors
    assert (len(actor.probing.kept), actor.probing.more) == (KEEP, 7)
