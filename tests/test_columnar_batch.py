"""A columnar batch gives the reference engine's hits, in its order, whichever way each rule
takes: in the batch's one Polars query, or by its reference code (too few candidate rows, no
Polars form, rows that are not plain), with candidates from the Aho-Corasick pass or, for rows
that are not ASCII, from the reference prefilter.

Random batches of SSH-like events (fixed seeds) mix rules with and without literals, a rule
without a Polars form, logsources some rules do not apply to, kept fields (reduced hits),
values that are not plain (Unicode, control characters, numbers, lists) and texts Arrow cannot
hold (lone surrogates); the hits must equal :func:`scanner.pipeline.event_hits`' list.
"""

from __future__ import annotations

import random
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from scanner.columnar import costs
from scanner.columnar.batch import BatchMatcher
from scanner.match.matcher import Matcher
from scanner.model import Event, LogSource, Reduced
from scanner.pipeline import event_hits
from scanner.rules.load import CompiledRules

from test_backend import SSHD
from test_engines import compile_rules

CRON = LogSource(product="linux", service="cron")
RULES = [
    {"sel": {"message|startswith": "failed password for "}, "condition": "sel"},
    {"sel": {"message|startswith": "failed password for ", "user|exists": True},
     "condition": "sel"},
    {"sel": {"message|contains": "accepted"}, "condition": "sel"},
    {"kw": ["invalid user", "*ssh2*"], "condition": "kw"},
    {"sel": {"user|re": r"^\w+\d$"}, "condition": "sel"},  # no literal: every row
    {"sel": {"src_ip|cidr": "10.0.0.0/8"}, "filter": {"user": "root"},
     "condition": "sel and not filter"},
    {"sel": {"user|minute": 5}, "condition": "sel"},  # no Polars form
    {"sel": {"port|gte": 40000}, "condition": "sel"},
]
MESSAGES = ["Failed password for {user} from {ip} port {port} ssh2",
            "Accepted password for {user} from {ip} port {port} ssh2",
            "Invalid user {user} from {ip} port {port}",
            "pam_unix(sshd:session): session opened for user {user}",
            "FAILED PASSWORD for {user} from {ip}"]
USERS = ["root", "admin", "deploy", "git1", "ſam", "K9", "İ", "x\ud800", "a\x1bb", "user\tx"]
IPS = ["10.1.2.3", "192.0.2.7", "10.0.0.256", "[10.9.9.9]", "fe80::1", "010.1.1.1"]
PORTS: list[Any] = ["22", "40000", "65000", " 5 ", "1e5", 41000, ["1", "2"]]


def random_events(rng: random.Random, size: int) -> list[Event]:
    """SSH-like events, most plain, some with values or texts the reference must decide."""
    events = []
    for line in range(1, size + 1):
        user, ip, port = rng.choice(USERS[:4] * 4 + USERS), rng.choice(IPS), rng.choice(PORTS)
        message = rng.choices(MESSAGES, [8, 1, 1, 2, 1])[0].format(user=user, ip=ip, port=port)
        fields: dict[str, Any] = {"message": message, "user": user, "src_ip": ip, "port": port}
        for name in list(fields):
            if rng.random() < 0.05:
                del fields[name]
        sources = (LogSource.from_dict(SSHD),) if rng.random() < 0.9 else (CRON,)
        events.append(Event("auth.log", line, "syslog", sources, fields, f"sshd[1]: {message}"))
    return events


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> CompiledRules:
    return compile_rules(Path(tmp_path_factory.mktemp("rules")), RULES)


@pytest.mark.parametrize("min_rows", [0, 100, 10**9])
@pytest.mark.parametrize("seed", range(6))
def test_batches_give_the_reference_hits_in_order(compiled: CompiledRules, seed: int,
                                                  min_rows: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    monkeypatch.setattr(costs, "MIN_ROWS", min_rows)
    events = random_events(rng, rng.choice([300, 700]))
    plan = Matcher(compiled).plan([LogSource.from_dict(SSHD), CRON])
    kept = {compiled.rules[0].id: ("src_ip", "user"), compiled.rules[3].id: ("absent", "port")}
    in_polars: list[str] = []
    expr = BatchMatcher.expr

    def recorded(self: BatchMatcher, key: int) -> Any:
        in_polars.append(plan.info(key).title)
        return expr(self, key)

    monkeypatch.setattr(BatchMatcher, "expr", recorded)
    expected = list(event_hits(plan, kept, events))
    assert list(BatchMatcher(compiled, kept).hits(plan, events)) == expected
    fired = {hit.rule.title for hit in expected}
    assert len(fired) >= 6 and any(type(hit).__name__ == "Reduced" for hit in expected)
    if min_rows == 100:  # some rules in the Polars query, some by their reference code
        assert set(in_polars) and fired - set(in_polars)


def test_a_batch_of_one_logsource_without_any_literal_found(compiled: CompiledRules) -> None:
    """Rules without literals still run on every row when no rule's literal occurs."""
    events = [Event("auth.log", n, "syslog", (LogSource.from_dict(SSHD),),
                    {"user": f"bob{n % 10}", "port": str(40000 + n)}, f"line {n}")
              for n in range(1, 200)]
    plan = Matcher(compiled).plan([LogSource.from_dict(SSHD)])
    expected = list(event_hits(plan, {}, events))
    assert list(BatchMatcher(compiled, {}).hits(plan, events)) == expected
    assert {hit.rule.title for hit in expected} == {"case 4", "case 7"}


def test_overlapping_literals_each_find_their_rule(tmp_path: Path) -> None:
    """One Aho-Corasick pass reports every literal, also those overlapping another's match."""
    keywords = ["password for ad", "for admin from", "admin from 10.", "min fr", "ssword"]
    compiled = compile_rules(tmp_path, [{"kw": [f"*{k}*"], "condition": "kw"} for k in keywords])
    texts = ["Failed password for admin from 10.0.0.1", "for admin from 10.", "passWORD FOR AD",
             "nothing here", "admin from 10.9 and password for ad"]
    events = [Event("auth.log", n, "syslog", (LogSource.from_dict(SSHD),), {"message": text}, text)
              for n, text in enumerate(texts * 20, 1)]
    plan = Matcher(compiled).plan([LogSource.from_dict(SSHD)])
    expected = list(event_hits(plan, {}, events))
    assert list(BatchMatcher(compiled, {}).hits(plan, events)) == expected
    assert sum(hit.line == 1 for hit in expected) == len(keywords)


SHARED_RULES = [{"sel": {"message|contains": "password for"}, "condition": "sel"},
                {"sel": {"message|contains": "failed"}, "condition": "sel"},
                {"sel": {"message|contains": "from"}, "condition": "sel"},
                {"sel": {"message|contains": "port"}, "condition": "sel"},
                {"sel": {"message|contains": "ssh2"}, "condition": "sel"}]


@pytest.mark.parametrize("min_rows", [0, 10**9])
def test_a_rows_reduced_hits_share_their_kept_fields_only_when_equal(
        tmp_path: Path, min_rows: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows hit by several rules keeping equal names, names that differ only in fields some
    rows lack, and the same names in another order; derived events (same line) and rows
    that are not ASCII among them: the reference's hits, fields in its order; a row's hits
    share one dict only when the fields they keep are the same, and a hit keeping the same
    fields as the row's previous one, by names in the same order, shares its dict."""
    monkeypatch.setattr(costs, "MIN_ROWS", min_rows)
    compiled = compile_rules(tmp_path, SHARED_RULES)
    ids = [rule.id for rule in compiled.rules]
    kept = {ids[0]: ("src_ip", "user"), ids[1]: ("rhost", "src_ip", "user"),
            ids[2]: ("src_ip", "user"), ids[3]: ("user", "src_ip")}  # ids[4]: shown, whole
    rng = random.Random(7)
    events = []
    for line in range(1, 400):
        user = rng.choice(["root", "ſam", "İ"])
        message = rng.choice(["Failed password for {u} from {ip} port 22 ssh2",
                              "Accepted password for {u} from {ip} port 22 ssh2",
                              "failed login from {ip}", "session opened for {u}"]
                             ).format(u=user, ip="192.0.2.7")
        fields = {"message": message, "user": user, "src_ip": "192.0.2.7"}
        if rng.random() < 0.3:
            fields["rhost"] = "192.0.2.7"
        if rng.random() < 0.1:
            del fields["user"]
        sources = (LogSource.from_dict(SSHD),)
        events.append(Event("auth.log", line, "syslog", sources, fields, f"sshd[1]: {message}"))
        if rng.random() < 0.2:
            events.append(Event("auth.log", line, "syslog", sources, dict(fields),
                                f"sshd[1]: {message}", derived=True))
    plan = Matcher(compiled).plan([LogSource.from_dict(SSHD)])
    per_event = [list(event_hits(plan, kept, [event])) for event in events]
    got = list(BatchMatcher(compiled, kept).hits(plan, events))
    assert got == [hit for hits in per_event for hit in hits]
    assert [list(hit.fields) for hit in got] == [list(h.fields) for hits in per_event for h in hits]
    shared = 0
    rest = iter(got)
    for expected in per_event:  # the hits of one row
        reduced = [hit for hit in (next(rest) for _ in expected) if type(hit) is Reduced]
        for first, second in pairwise(reduced):
            same = list(first.fields.items()) == list(second.fields.items())
            if first.fields is second.fields:
                assert same
                shared += 1
            else:  # keeping the same fields, names in the same order: the same dict
                assert not same or ids[3] in (first.rule.id, second.rule.id)
        assert all(first.fields is not second.fields or first.fields == second.fields
                   for first in reduced for second in reduced)
    assert shared > 50
