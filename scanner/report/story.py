"""The story of an incident, told from its hits: who came, who got in, what they did.

Takes the reported hits in output order, one at a time (:meth:`StoryBuilder.add`), and
builds what the HTML report shows as "the story", grouped by actor:

* an **actor** is a source address (a hit's client field, or the address a correlation
  groups by): when it was first and last seen, how many failed logins it made (the
  events of brute-force correlations), its web probing, and the accounts it got into
  (a login hit naming the account: the closing event of "login accepted after failures");
* an **account** that got in collects what happened on the host after its login, until
  the next account's login: privilege use, new users and groups, packages, programs run,
  and attacks on other hosts (hits naming a ``target_host``);
* **tampering** evidence (ATT&CK T1070/T1562: wiped login records, silences, time going
  backwards) and **outbound attacks** are also listed on their own, whoever did them.

Hits are sorted into kinds by their rule's ATT&CK tags (:func:`kind_of`). Each list keeps
at most :data:`KEEP` moments and counts the rest. Knows nothing of HTML.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scanner.model import Hit
from scanner.report.records import SRC_IP_FIELDS, first_field
from scanner.report.table import details

KEEP = 25  # moments kept per list; the rest are counted

# kind → what the story calls it, in the order an account's actions are listed
ACTION_KINDS = {
    "privilege": "privilege use",
    "accounts": "new users and groups",
    "packages": "packages installed",
    "commands": "programs run",
    "outbound": "attacks on other hosts",
    "tampering": "tampering",
    "other": "other findings",
}


def _tagged(tags: tuple[str, ...], *prefixes: str) -> bool:
    return any(tag.lower().startswith(prefix) for tag in tags for prefix in prefixes)


def kind_of(hit: Hit) -> str:
    """The part of the story a hit belongs to, from its fields and ATT&CK tags."""
    tags = hit.rule.tags
    if hit.fields.get("target_host"):
        return "outbound"
    if _tagged(tags, "attack.t1070", "attack.t1562", "attack.defense-evasion"):
        return "tampering"
    if _tagged(tags, "attack.t1078") and login_of(hit):
        return "login"
    if _tagged(tags, "attack.t1588"):
        return "packages"
    if _tagged(tags, "attack.t1136", "attack.t1098"):
        return "accounts"
    if _tagged(tags, "attack.t1548", "attack.privilege-escalation"):
        return "privilege"
    if hit.derived:
        return "commands"
    if _tagged(tags, "attack.credential-access"):
        return "failures"
    if _tagged(tags, "attack.reconnaissance", "attack.t1595", "attack.t1190"):
        return "probing"
    return "other"


def login_of(hit: Hit) -> tuple[str, str | None] | None:
    """The (account, method) a login hit names: a correlation's closing event, or the
    hit's own fields."""
    fields: dict[str, Any] = dict(hit.correlation.closing) if hit.correlation else dict(hit.fields)
    user = fields.get("user")
    return (str(user), fields.get("auth_method")) if user else None


def address_of(hit: Hit) -> str | None:
    """The source address a hit is about: a client field, or a correlation group value
    that is an IP address."""
    if hit.correlation:
        for _, value in hit.correlation.group:
            try:
                return str(ipaddress.ip_address(str(value)))
            except ValueError:
                continue
        return None
    value = first_field(hit.fields, SRC_IP_FIELDS)
    return str(value) if value is not None else None


@dataclass(slots=True)
class Moment:
    """One hit as the story tells it: when, what, where, and its number in the report."""

    when: datetime | None
    title: str
    level: str
    text: str
    where: str
    number: int


@dataclass(slots=True)
class Moments:
    """A list of moments capped at :data:`KEEP`, with the count of all."""

    kept: list[Moment] = field(default_factory=list)
    total: int = 0

    def add(self, moment: Moment) -> None:
        """Count ``moment``, keeping it while fewer than :data:`KEEP` are kept."""
        self.total += 1
        if len(self.kept) < KEEP:
            self.kept.append(moment)

    @property
    def more(self) -> int:
        """How many moments were not kept."""
        return self.total - len(self.kept)


@dataclass(slots=True)
class Account:
    """An account an actor got into, and what happened after its login."""

    name: str
    method: str | None
    login: Moment
    actions: dict[str, Moments] = field(default_factory=dict)

    def add(self, kind: str, moment: Moment) -> None:
        """Record what happened after the login, under its kind."""
        self.actions.setdefault(kind, Moments()).add(moment)

    def chapters(self) -> list[tuple[str, Moments]]:
        """The actions by kind, in :data:`ACTION_KINDS` order."""
        return [(label, self.actions[kind]) for kind, label in ACTION_KINDS.items()
                if kind in self.actions]


@dataclass(slots=True)
class Actor:
    """One source address and everything it did."""

    address: str
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    failures: int = 0
    attempts: Moments = field(default_factory=Moments)  # brute force, spraying
    probing: Moments = field(default_factory=Moments)  # web scans and probes
    other: Moments = field(default_factory=Moments)
    accounts: list[Account] = field(default_factory=list)

    def seen(self, hit: Hit) -> None:
        """Widen first/last seen to ``hit`` (a correlation from its window's start)."""
        start = hit.correlation.window_start if hit.correlation else hit.timestamp
        end = hit.timestamp
        if start and (self.first_seen is None or start < self.first_seen):
            self.first_seen = start
        if end and (self.last_seen is None or end > self.last_seen):
            self.last_seen = end

    @property
    def got_in(self) -> bool:
        """Whether this address logged in to an account."""
        return bool(self.accounts)


@dataclass(slots=True)
class Story:
    """Actors (those that got in first, then by first sighting), the host's findings
    before any login, tampering evidence and outbound attacks."""

    actors: list[Actor]
    before_login: Moments
    tampering: Moments
    outbound: Moments
    targets: dict[str, int]  # target host → hits naming it
    key_moments: list[Moment]  # first of each kind, for the timeline


class StoryBuilder:
    """Collects the story from hits given in output (time) order."""

    def __init__(self) -> None:
        self.actors: dict[str, Actor] = {}
        self.current: Account | None = None  # the latest login so far
        self.before_login = Moments()
        self.tampering = Moments()
        self.outbound = Moments()
        self.targets: dict[str, int] = {}
        self.firsts: dict[str, Moment] = {}

    def add(self, number: int, hit: Hit) -> None:
        """Take the ``number``-th reported hit."""
        kind = kind_of(hit)
        login = login_of(hit) if kind == "login" else None
        moment = Moment(hit.timestamp, hit.rule.title, hit.rule.level or "informational",
                        details(hit), f"{hit.source}:{hit.line}", number)
        if hit.timestamp is not None:
            self.firsts.setdefault(kind, moment)
        address = address_of(hit)
        if address is not None and kind in ("failures", "probing", "login", "other"):
            self._actor_hit(address, kind, hit, moment, login)
            return
        if kind == "tampering":
            self.tampering.add(moment)
        if kind == "outbound":
            self.outbound.add(moment)
            target = str(hit.fields["target_host"])
            self.targets[target] = self.targets.get(target, 0) + 1
        login_time = self.current.login.when if self.current is not None else None
        if self.current is not None and login_time is not None and (
                hit.timestamp is None or hit.timestamp >= login_time):
            self.current.add(kind if kind in ACTION_KINDS else "other", moment)
        elif kind not in ("tampering", "outbound"):
            self.before_login.add(moment)

    def _actor_hit(self, address: str, kind: str, hit: Hit, moment: Moment,
                   login: tuple[str, str | None] | None) -> None:
        actor = self.actors.get(address)
        if actor is None:
            actor = self.actors[address] = Actor(address)
        actor.seen(hit)
        if login is not None and moment.when is not None:
            account = Account(login[0], login[1], moment)
            actor.accounts.append(account)
            self.current = account
        elif kind == "failures":
            actor.failures += int(hit.fields.get("events", 1)) if hit.correlation else 1
            actor.attempts.add(moment)
        elif kind == "probing":
            actor.probing.add(moment)
        else:
            actor.other.add(moment)

    def story(self) -> Story:
        """The story of the hits added so far."""
        actors = sorted(self.actors.values(), key=lambda a: (
            not a.got_in, a.first_seen is None, a.first_seen or datetime.min, a.address))
        return Story(actors, self.before_login, self.tampering, self.outbound,
                     dict(sorted(self.targets.items())),
                     sorted(self.firsts.values(), key=lambda m: (m.when, m.number)))

