"""Correlation engine: every Sigma correlation type, bursts, chaining, problems, bounds."""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
import operator
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import pytest
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule, SigmaExtendedCorrelationCondition

from scanner.correlate.details import READ_FIELDS
from scanner.correlate.engine import correlate, fields_read
from scanner.correlate.windows import CONTRIBUTOR_CAP, Tracker
from scanner.errors import Problems
from scanner.model import CorrelationSpec, Hit, LogSource, RuleInfo

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 3, 1, 10, 0, 0, tzinfo=timezone.utc)
AUTH = LogSource(product="linux", service="auth")


def rule(name: str, kind: str = "rule") -> RuleInfo:
    """A rule whose id is ``<name>-id`` and whose name is ``name``."""
    return RuleInfo(id=f"{name}-id", title=name, level="high", status="test", tags=(),
                    logsource=AUTH, path=f"rules/{name}.yml", name=name, kind=kind)


FAIL, OK, SUDO = rule("ssh_fail"), rule("ssh_ok"), rule("sudo")


def hit(r: RuleInfo, second: float | None, source: str = "auth.log", line: int = 0,
        **fields: Any) -> Hit:
    """A hit of ``r`` ``second`` seconds after T0 (``None``: no timestamp)."""
    ts = None if second is None else T0 + timedelta(seconds=second)
    return Hit(rule=r, timestamp=ts, source=source, line=line or int((second or 0) * 10) + 1,
               logsource=(AUTH,), fields=fields, raw=f"{r.name} {fields}")


def spec(kind: str, refs: tuple[RuleInfo, ...] = (FAIL,), *, name: str = "corr",
         timespan: float = 60, **options: Any) -> CorrelationSpec:
    """A correlation spec over ``refs`` (by id) with its own RuleInfo ``name``."""
    options.setdefault("op", None if kind.startswith("temporal") else "gte")
    return CorrelationSpec(rule=rule(name, kind), type=kind, rules=tuple(r.id for r in refs),
                           group_by=options.pop("group_by", ("src_ip",)), timespan=timespan,
                           **options)


def run(hits: list[Hit], specs: list[CorrelationSpec]) -> tuple[list[Hit], Problems]:
    problems = Problems()
    out = list(correlate(sorted(hits, key=Hit.sort_key), specs, problems))
    return out, problems


@dataclass(frozen=True)
class Fired:
    """What a test expects of one correlation hit."""

    group: dict[str, Any]
    value: float | int
    start: float  # seconds after T0
    end: float
    contributors: int = field(default=-1)  # -1: not checked


def fired(out: Hit) -> Fired:
    assert out.correlation is not None
    c = out.correlation
    assert c.window_start is not None and c.window_end is not None
    assert out.timestamp == c.window_end
    return Fired(dict(c.group), c.value, (c.window_start - T0).total_seconds(),  # type: ignore[arg-type]
                 (c.window_end - T0).total_seconds(), len(c.contributors))


def burst(r: RuleInfo, seconds: range | list[float], **fields: Any) -> list[Hit]:
    return [hit(r, s, **fields) for s in seconds]


IP1, IP2 = {"src_ip": "203.0.113.7"}, {"src_ip": "198.51.100.2"}

CASES = [
    pytest.param(  # 10 failures in 10 s from IP1 fire once; 3 from IP2 do not
        spec("event_count", count=5),
        burst(FAIL, range(10), **IP1) + burst(FAIL, range(3), **IP2),
        [Fired(IP1, 10, 0, 9, 10)], id="event_count"),
    pytest.param(  # two bursts separated by more than the timespan fire twice
        spec("event_count", count=5),
        burst(FAIL, range(6), **IP1) + burst(FAIL, range(200, 206), **IP1),
        [Fired(IP1, 6, 0, 5, 6), Fired(IP1, 6, 200, 205, 6)], id="event_count_two_bursts"),
    pytest.param(  # a hit every 3 s never puts 5 in a 10 s window
        spec("event_count", count=5, timespan=10),
        burst(FAIL, [s * 3 for s in range(100)], **IP1),
        [], id="event_count_sparse"),
    pytest.param(  # a burst longer than the window stays one hit; value is the peak window
        spec("event_count", count=3, timespan=10),
        burst(FAIL, [s * 3 for s in range(100)], **IP1),
        [Fired(IP1, 4, 0, 297, 100)], id="event_count_long_burst"),
    pytest.param(  # distinct user names per source address
        spec("value_count", field=("user",), count=3),
        [hit(FAIL, s, user=u, **IP1) for s, u in enumerate(["root", "admin", "root", "oracle"])]
        + [hit(FAIL, s, user="root", **IP2) for s in range(5)],
        [Fired(IP1, 3, 0, 3, 4)], id="value_count"),
    pytest.param(
        spec("value_sum", field=("bytes",), op="gt", count=1000, group_by=("host",)),
        [hit(FAIL, s, host="web1", bytes=str(b)) for s, b in enumerate([400, 500, 200])]
        + [hit(FAIL, s, host="web2", bytes=b) for s, b in enumerate([400, 500])],
        [Fired({"host": "web1"}, 1100, 0, 2, 3)], id="value_sum"),
    pytest.param(
        spec("value_avg", field=("bytes",), count=100.5, group_by=("host",)),
        [hit(FAIL, s, host="web1", bytes=b) for s, b in enumerate([100, 101, 1])],
        [Fired({"host": "web1"}, 100.5, 0, 1, 2)], id="value_avg"),
    pytest.param(  # 90th percentile of 1..10 is 9.1 (linear interpolation)
        spec("value_percentile", field=("ms",), percentile=90, op="gt", count=9,
             group_by=("host",)),
        [hit(FAIL, s, host="db", ms=s + 1) for s in range(10)],
        [Fired({"host": "db"}, 9.1, 0, 9, 10)], id="value_percentile"),
    pytest.param(
        spec("value_median", field=("ms",), count=5, group_by=("host",)),
        [hit(FAIL, s, host="db", ms=m) for s, m in enumerate([1, 9, 5, 7])],
        [Fired({"host": "db"}, 6, 0, 3, 4)], id="value_median"),
    pytest.param(  # all three rules per user, the user field named differently per rule
        spec("temporal", (FAIL, OK, SUDO), group_by=("user",),
             aliases={"user": {FAIL.id: "user", OK.id: "user", SUDO.id: "target_user"}}),
        [hit(FAIL, 0, user="bob"), hit(OK, 5, user="bob"), hit(SUDO, 9, target_user="bob"),
         hit(FAIL, 0, user="eve"), hit(OK, 5, user="eve"), hit(SUDO, 9, target_user="root")],
        [Fired({"user": "bob"}, 3, 0, 9, 3)], id="temporal_alias"),
    pytest.param(  # failure then success fires; success then failure does not
        spec("temporal_ordered", (FAIL, OK)),
        [hit(FAIL, 0, **IP1), hit(OK, 4, **IP1), hit(OK, 0, **IP2), hit(FAIL, 4, **IP2)],
        [Fired(IP1, 2, 0, 4, 2)], id="temporal_ordered"),
    pytest.param(  # extended, absence-style: a failure NOT followed by a success
        spec("temporal", (FAIL, OK), expression="ssh_fail and not ssh_ok"),
        [hit(FAIL, 0, **IP1), hit(FAIL, 0, **IP2), hit(OK, 30, **IP2)],
        [Fired(IP1, 1, 0, 60, 1)], id="temporal_expression_not"),
    pytest.param(  # extended, rising: either rule fires per group at the first hit
        spec("temporal", (FAIL, OK), expression="ssh_fail or ssh_ok"),
        [hit(OK, 3, **IP1)],
        [Fired(IP1, 1, 3, 3, 1)], id="temporal_expression_or"),
    pytest.param(  # absence-style count: fewer than 3 in the window, judged when it closes
        spec("event_count", op="lt", count=3),
        burst(FAIL, [0, 20], **IP1) + burst(FAIL, [0, 10, 20, 30], **IP2),
        [Fired(IP1, 2, 0, 60, 2)], id="event_count_lt"),
    pytest.param(
        spec("event_count", op="eq", count=4),
        burst(FAIL, [0, 20], **IP1) + burst(FAIL, [0, 10, 20, 30], **IP2),
        [Fired(IP2, 4, 0, 60, 4)], id="event_count_eq"),
    pytest.param(  # windows are [start, start+timespan]: the hit at 70 opens a new one
        spec("event_count", op="neq", count=4),
        burst(FAIL, [0, 10, 20, 30, 70], **IP2),
        [Fired(IP2, 1, 70, 130, 1)], id="event_count_neq"),
    pytest.param(  # no group-by: one group for everything
        spec("event_count", count=3, group_by=()),
        burst(FAIL, [0, 1], **IP1) + burst(FAIL, [2], **IP2),
        [Fired({}, 3, 0, 2, 3)], id="event_count_ungrouped"),
]


@pytest.mark.parametrize(("correlation", "hits", "expected"), CASES)
def test_correlation_types(correlation: CorrelationSpec, hits: list[Hit],
                           expected: list[Fired]) -> None:
    out, problems = run(hits, [correlation])
    assert [fired(h) for h in out] == expected
    assert all(h.rule == correlation.rule for h in out)
    assert not problems.items


def test_brute_force_across_rotated_files_fires_once() -> None:
    hits = [hit(FAIL, s, source=src, line=n + 1, src_ip="203.0.113.7", user="root")
            for src, start in (("auth.log.2.gz", 0), ("auth.log.1", 40), ("auth.log", 80))
            for n, s in enumerate(range(start, start + 40, 4))]
    out, problems = run(hits, [spec("event_count", count=5)])
    assert len(out) == 1 and not problems.items
    only = out[0]
    assert only.correlation is not None
    assert (only.correlation.window_start, only.correlation.window_end) == (
        T0, T0 + timedelta(seconds=116))
    assert (only.source, only.line) == ("auth.log", 10)
    assert only.correlation.contributors[0] == ("auth.log.2.gz", 1)
    assert [src for src, _ in only.correlation.contributors[::10]] == [
        "auth.log.2.gz", "auth.log.1", "auth.log"]
    assert only.fields["events"] == 30 and only.fields["src_ip"] == "203.0.113.7"


def test_contributors_are_capped_and_the_cap_is_said() -> None:
    out, _ = run(burst(FAIL, range(500), **IP1), [spec("event_count", count=5)])
    [only] = out
    assert only.correlation is not None
    listed = only.correlation.contributors
    assert len(listed) == 2 * CONTRIBUTOR_CAP
    assert listed[0] == ("auth.log", 1) and listed[-1] == ("auth.log", 4991)
    assert only.fields["events"] == 500
    assert "keeps the first and last 50" in only.raw


def test_chained_correlation_over_a_correlation() -> None:
    brute = spec("event_count", name="brute", count=5, timespan=60)
    breach = spec("temporal_ordered", (brute.rule, OK), name="breach", timespan=300)
    hits = burst(FAIL, range(0, 20, 2), **IP1) + [hit(OK, 100, **IP1), hit(OK, 100, **IP2)]
    out, problems = run(hits, [breach, brute])  # order given does not matter
    assert [(h.rule.name, fired(h).group) for h in out] == [
        ("brute", IP1), ("breach", IP1)]
    chained = out[1]
    assert chained.correlation is not None
    assert chained.correlation.contributors == (("auth.log", 181), ("auth.log", 1001))
    assert not problems.items


def test_cycle_is_rejected_and_the_rest_still_runs() -> None:
    a_rule, b_rule = rule("a", "event_count"), rule("b", "event_count")
    a = spec("event_count", (b_rule,), name="a", count=1)
    b = spec("event_count", (a_rule,), name="b", count=1)
    plain = spec("event_count", name="plain", count=1)
    out, problems = run([hit(FAIL, 0, **IP1)], [a, b, plain])
    assert [h.rule.name for h in out] == ["plain"]
    assert sorted(p.location.rule for p in problems) == ["a-id", "b-id"]
    assert all("cycle" in p.message for p in problems)


@pytest.mark.parametrize(("bad", "message"), [
    (spec("event_lottery"), "unsupported correlation type"),
    (spec("value_percentile", field=("ms",), count=1), "percentile"),
    (spec("value_sum", count=1), "exactly one field"),
    (spec("temporal", (FAIL, OK), expression="ssh_fail and (ssh_ok"), "expression"),
    (spec("event_count", op="about", count=1), "unsupported condition"),
])
def test_unusable_spec_is_a_problem(bad: CorrelationSpec, message: str) -> None:
    out, problems = run(burst(FAIL, range(3), **IP1), [bad])
    assert out == []
    [problem] = problems.items
    assert message in problem.message and problem.location.rule == "corr-id"


def test_unusable_hits_give_one_problem_per_spec_and_cause() -> None:
    hits = ([hit(FAIL, None, **IP1) for _ in range(4)] + [hit(FAIL, 1, user="x")]
            + [hit(FAIL, 2, bytes="lots", **IP1)])
    counts = spec("event_count", count=1)
    sums = spec("value_sum", name="sums", field=("bytes",), count=1)
    _, problems = run(hits, [counts, sums])
    assert sorted((p.location.rule, p.message) for p in problems) == [
        ("corr-id", "1 hit(s) of referenced rules lack a group-by field (src_ip) "
                    "and cannot be correlated"),
        ("corr-id", "4 hit(s) of referenced rules have no timestamp and cannot be correlated"),
        ("sums-id", "1 hit(s) of referenced rules lack a group-by field (src_ip) "
                    "and cannot be correlated"),
        ("sums-id", "1 hit(s) of referenced rules lack a usable value in field bytes "
                    "(missing or not numeric) and cannot be correlated"),
        ("sums-id", "4 hit(s) of referenced rules have no timestamp and cannot be correlated"),
    ]


@pytest.mark.parametrize("sliding", [True, False], ids=["gte", "lt"])
def test_state_stays_bounded_over_many_distinct_groups(sliding: bool) -> None:
    tracker = Tracker(spec("event_count", op="gte" if sliding else "lt", count=3))
    peak = 0
    for n in range(5_000):
        epoch = (T0 + timedelta(seconds=n / 2)).timestamp()
        tracker.push(hit(FAIL, n / 2, src_ip=f"10.{n // 65536}.{n // 256 % 256}.{n % 256}"), epoch)
        tracker.advance(epoch)
        peak = max(peak, tracker.state_size(), len(tracker.groups))
    assert peak <= 4 * 60 + 4  # two hits a second, a 60 s window: entries plus deadlines


def test_output_is_identical_when_hits_are_split_and_remerged() -> None:
    hits = sorted(
        [hit(FAIL, s * 1.5, source=f"auth.log.{s % 3}", src_ip=f"192.0.2.{s % 4}", user=u)
         for s, u in zip(range(120), ["root", "admin", "git"] * 40)]
        + [hit(OK, s, source="auth.log", src_ip=f"192.0.2.{s % 4}") for s in range(0, 180, 7)],
        key=Hit.sort_key)
    specs = [spec("event_count", count=4), spec("value_count", name="users", count=3,
                                                  field=("user",)),
             spec("temporal", (FAIL, OK), name="both")]
    whole, _ = run(hits, specs)
    workers = [hits[i::3] for i in range(3)][::-1]  # different split, different order
    merged = list(correlate(heapq.merge(*workers, key=Hit.sort_key), specs, Problems()))
    assert len(whole) > 3
    assert merged == whole
    assert [h.sort_key() for h in whole] == sorted(h.sort_key() for h in whole)


PYSIGMA_RULES = """
title: Failed SSH login
name: ssh_fail
logsource: {product: linux, service: sshd}
detection: {sel: {message|startswith: Failed password}, condition: sel}
---
title: Accepted SSH login
name: ssh_ok
logsource: {product: linux, service: sshd}
detection: {sel: {message|startswith: Accepted}, condition: sel}
---
title: Many failures then a success
name: fail_then_ok
correlation:
  type: temporal_ordered
  rules: [ssh_fail, ssh_ok]
  group-by: [src_ip]
  timespan: 2m
---
title: Failure without success
name: fail_no_ok
correlation:
  type: temporal
  rules: [ssh_fail, ssh_ok]
  group-by: [src_ip]
  timespan: 1m
  condition: ssh_fail and not ssh_ok
---
title: Slow logins
name: slow
correlation:
  type: value_percentile
  rules: ssh_ok
  group-by: [src_ip]
  timespan: 1h
  condition: {gte: 2, field: duration, percentile: 50}
"""


def from_pysigma(rule_: SigmaCorrelationRule) -> CorrelationSpec:
    """A spec read straight off pySigma's model (rules by name, native fields as-is)."""
    condition = rule_.condition
    extended = isinstance(condition, SigmaExtendedCorrelationCondition)
    fieldref = None if extended else condition.fieldref  # type: ignore[union-attr]
    info = RuleInfo(id=str(rule_.id), title=rule_.title, level=None, status=None, tags=(),
                    logsource=LogSource(), path="sigma_rules", name=rule_.name,
                    kind=str(rule_.type))
    return CorrelationSpec(
        rule=info, type=str(rule_.type),
        rules=tuple(r.reference for r in rule_.rules or ()), group_by=tuple(rule_.group_by or ()),
        timespan=rule_.timespan.seconds,
        aliases={a.alias: {r.reference: f for r, f in a.mapping.items()} for a in rule_.aliases},
        op=None if extended else condition.op.name.lower(),  # type: ignore[union-attr]
        count=None if extended else condition.count,  # type: ignore[union-attr]
        field=(fieldref,) if isinstance(fieldref, str) else tuple(fieldref or ()),
        percentile=None if extended else condition.percentile,  # type: ignore[union-attr]
        expression=condition.expression if extended else None)  # type: ignore[union-attr]


def pysigma_specs(text: str) -> list[CorrelationSpec]:
    collection = SigmaCollection.from_yaml(text)
    return [from_pysigma(r) for r in collection.rules if isinstance(r, SigmaCorrelationRule)]


def test_specs_read_from_pysigma_correlation_rules() -> None:
    specs = pysigma_specs(PYSIGMA_RULES)
    assert [(s.type, s.op, s.count) for s in specs] == [
        ("temporal_ordered", "gte", 2), ("temporal", None, None), ("value_percentile", "gte", 2)]
    hits = [hit(FAIL, 0, **IP1), hit(OK, 30, duration=3, **IP1), hit(FAIL, 0, **IP2)]
    hits += [hit(OK, 150, duration=1, **IP2)]  # outside both windows of IP2's failure
    out, problems = run(hits, specs)
    assert sorted((h.rule.name, fired(h).group["src_ip"]) for h in out) == [
        ("fail_no_ok", IP2["src_ip"]), ("fail_then_ok", IP1["src_ip"]), ("slow", IP1["src_ip"])]
    assert not problems.items


# Stand-ins for the normalize + match stages, enough to turn real sshd lines into hits of
# the bundled rules (the real stages live elsewhere; these only feed the correlator).
SSHD_HITS = {
    "logsigma_sshd_auth_failure": re.compile(
        r"sshd\[\d+\]: (?:Failed password for (?:invalid user )?(?P<user>\S+)"
        r"|Invalid user (?P<invalid>\S*)) from (?P<src_ip>[\d.:a-f]+)"),
    "logsigma_sshd_pam_auth_failure": re.compile(
        r"pam_unix\(sshd:auth\): authentication failure;.* rhost=(?P<rhost>\S+)"),
    "logsigma_sshd_login_accepted": re.compile(
        r"sshd\[\d+\]: Accepted \S+ for (?P<user>\S+) from (?P<src_ip>\S+)"),
}


def real_sshd_hits(corpus: Path) -> list[Hit]:
    """Hits of the bundled sshd rules on the real auth.log, cut into three rotated files."""
    lines = (corpus / "logs/elastic-examples/auth.log").read_text(errors="replace").splitlines()
    third = len(lines) // 3 + 1
    hits = []
    for n, text in enumerate(lines):
        for name, pattern in SSHD_HITS.items():
            if found := pattern.search(text):
                when = datetime.strptime(f"2026 {text[:15]}", "%Y %b %d %H:%M:%S")
                fields = {k: v for k, v in found.groupdict().items() if v is not None}
                fields.setdefault("user", fields.pop("invalid", ""))
                source = ("auth.log.2.gz", "auth.log.1", "auth.log")[n // third]
                hits.append(Hit(rule=rule(name), timestamp=when.replace(tzinfo=timezone.utc),
                                source=source, line=n % third + 1, logsource=(AUTH,),
                                fields=fields, raw=text))
    return sorted(hits, key=Hit.sort_key)


def brute_force_clients(hits: list[Hit], needed: int, span: float) -> set[str]:
    """Naive oracle: clients with ``needed`` failures inside some ``span`` seconds."""
    times: dict[str, list[float]] = {}
    for h in hits:
        client = h.fields.get("src_ip") or h.fields.get("rhost")
        if "failure" in (h.rule.name or "") and client and h.timestamp:
            times.setdefault(client, []).append(h.timestamp.timestamp())
    return {c for c, ts in times.items()
            if any(ts[i + needed - 1] - ts[i] <= span for i in range(len(ts) - needed + 1))}


def test_bundled_sshd_correlations_on_a_real_auth_log(corpus: Path) -> None:
    hits = real_sshd_hits(corpus)
    specs = pysigma_specs((REPO / "sigma_rules/linux_sshd_authentication.yml").read_text())
    out, problems = run(hits, specs)
    assert not problems.items
    brute = [h for h in out if h.rule.title == "SSH Brute Force From One Address"]
    assert {dict(h.correlation.group)["client"] for h in brute if h.correlation} == (
        brute_force_clients(hits, 10, 600))
    assert all(h.fields["event_count"] >= 10 for h in brute)
    by_client: dict[str, list[Hit]] = {}
    for h in brute:
        by_client.setdefault(h.fields["client"], []).append(h)
    for runs in by_client.values():  # bursts of one client never overlap
        for before, after in zip(runs, runs[1:]):
            assert before.correlation and after.correlation
            assert after.correlation.window_start > before.correlation.window_end  # type: ignore[operator]
    workers = [[h for h in hits if h.source == s] for s in ("auth.log", "auth.log.1",
                                                             "auth.log.2.gz")]
    merged = list(correlate(heapq.merge(*workers, key=Hit.sort_key), specs, Problems()))
    assert merged == out


# A brute-force reading of the semantics documented in windows.py: every check rescans
# its window. The engine must give exactly this on long random streams, whichever path
# (taken at once, or queued behind a delay) a tracker's hits go through.
Projection = tuple[str, tuple[tuple[str, Any], ...], datetime, datetime, Any, int,
                   tuple[tuple[str, int], ...], str, int]


def project(out: Hit) -> Projection:
    """Everything a correlation hit says, without the text rendered from it."""
    c = out.correlation
    assert c is not None and c.window_start is not None and c.window_end is not None
    return (out.rule.id, c.group, c.window_start, c.window_end, c.value, out.fields["events"],
            c.contributors, out.source, out.line)


def reference_measure(correlation: CorrelationSpec, window: list[Hit]) -> int:
    if correlation.type == "value_count":
        return len({h.fields[correlation.field[0]] for h in window})
    if correlation.type == "temporal":
        return len({h.rule.id for h in window})
    if correlation.type == "temporal_ordered":
        matched = 0
        for h in window:
            if matched < len(correlation.rules) and correlation.rules[matched] == h.rule.id:
                matched += 1
        return matched
    return len(window)


def reference(correlation: CorrelationSpec, hits: list[Hit]) -> list[Projection]:
    span, op = correlation.timespan, correlation.op or "gte"
    count = correlation.count if correlation.count is not None else len(correlation.rules)
    holds = {"gte": operator.ge, "gt": operator.gt, "lt": operator.lt, "eq": operator.eq,
             "neq": operator.ne}[op]
    groups: dict[tuple[Any, ...], list[Hit]] = {}
    for h in hits:
        key = tuple(h.fields.get(name) for name in correlation.group_by)
        if (h.rule.id in correlation.rules and h.timestamp is not None and None not in key
                and all(name in h.fields for name in correlation.field)):
            groups.setdefault(key, []).append(h)
    found: list[Projection] = []

    def emit(key: tuple[Any, ...], first: Hit, last: Hit, end: datetime, value: int,
             contributors: list[Hit]) -> None:
        kept = contributors if len(contributors) <= 100 else contributors[:50] + contributors[-50:]
        found.append((correlation.rule.id, tuple(zip(correlation.group_by, key)),
                      first.timestamp, end, value, len(contributors),  # type: ignore[arg-type]
                      tuple((h.source, h.line) for h in kept), last.source, last.line))

    def at(h: Hit) -> float:
        return cast(datetime, h.timestamp).timestamp()

    for key, seq in groups.items():
        if op in ("gt", "gte"):  # sliding, one hit per burst
            burst: list[Any] | None = None  # [first, last index, peak, contributors]
            start = 0
            for i, h in enumerate(seq):
                while at(seq[start]) < at(h) - span:
                    start += 1
                window = seq[start:i + 1]
                value = reference_measure(correlation, window)
                if not holds(value, count):
                    continue
                if burst is not None and at(seq[burst[1]]) + span >= at(h):
                    burst[3] += seq[burst[1] + 1:i + 1]
                    burst[1], burst[2] = i, max(burst[2], value)
                    continue
                if burst is not None:
                    emit(key, burst[0], seq[burst[1]], seq[burst[1]].timestamp, burst[2], burst[3])
                burst = [window[0], i, value, window]
            if burst is not None:
                emit(key, burst[0], seq[burst[1]], seq[burst[1]].timestamp, burst[2], burst[3])
        else:  # windows [start, start + timespan], judged when they close
            i = 0
            while i < len(seq):
                window = list(itertools.takewhile(lambda w: at(w) <= at(seq[i]) + span, seq[i:]))
                value = reference_measure(correlation, window)
                if holds(value, count):
                    emit(key, window[0], window[-1],
                         cast(datetime, window[0].timestamp) + timedelta(seconds=span),
                         value, window)
                i += len(window)
    return sorted(found, key=lambda p: (p[3], p[7], p[8]))


RANDOM_SPECS = [
    spec("event_count", name="ec_gte", count=3, timespan=10),
    spec("event_count", name="ec_gt", op="gt", count=5, timespan=30),
    spec("event_count", name="ec_lt", op="lt", count=3, timespan=10),
    spec("event_count", name="ec_eq", op="eq", count=2, timespan=5),
    spec("value_count", name="vc_gte", field=("user",), count=2, timespan=20),
    spec("value_count", name="vc_neq", field=("user",), op="neq", count=1, timespan=15),
    spec("temporal", (FAIL, OK, SUDO), name="t_all", timespan=30),
    spec("temporal_ordered", (FAIL, OK, SUDO), name="to", timespan=60),
    spec("temporal_ordered", (FAIL, FAIL, OK), name="to_twice", timespan=20),
    spec("event_count", name="ec_all", count=2, timespan=3, group_by=()),
    spec("event_count", name="ec_long", count=3, timespan=120),  # bursts past the cap
    spec("temporal_ordered", (FAIL, OK), name="to_long", timespan=600),
]


def random_stream(seed: int, size: int) -> list[Hit]:
    """Hits of three rules from a few addresses and users, with equal timestamps and gaps."""
    rng = random.Random(seed)
    hits, second = [], 0.0
    for n in range(size):
        second += rng.choice([0, 0, 0.5, 1, 1, 2, 4, 9, 25])
        fields = {"src_ip": rng.choice(["192.0.2.1", "192.0.2.2", "192.0.2.3"]),
                  "user": rng.choice(["root", "admin", "git", "oracle"])}
        if rng.random() < 0.03:
            del fields[rng.choice(["src_ip", "user"])]
        hits.append(hit(rng.choice([FAIL, FAIL, FAIL, OK, SUDO]), second, line=n + 1, **fields))
    return sorted(hits, key=Hit.sort_key)


@pytest.mark.parametrize("seed", range(4))
def test_long_random_streams_match_the_brute_force_reference(seed: int) -> None:
    hits = random_stream(seed, 2_000)
    expected = {s.rule.id: reference(s, hits) for s in RANDOM_SPECS}
    for correlation in RANDOM_SPECS:
        got = [project(h) for h in correlate(hits, [correlation], Problems())]
        assert got == expected[correlation.rule.id], correlation.rule.name
        queued = Tracker(correlation)  # a tracker that trails the clock queues its hits
        queued.delay = 7.0
        outputs: list[Hit] = []
        for h in hits:
            if h.rule.id in correlation.rules:
                epoch = None if h.timestamp is None else h.timestamp.timestamp()
                queued.push(h, epoch)
                outputs += queued.advance((epoch or -math.inf) - queued.delay)
        outputs += queued.advance(math.inf)
        assert sorted(map(project, outputs), key=lambda p: (p[3], p[7], p[8])) == got
    together = [project(h) for h in correlate(hits, RANDOM_SPECS, Problems())]
    assert together == sorted((p for ps in expected.values() for p in ps),
                              key=lambda p: (p[3], p[7], p[8], p[0]))
    assert all(expected.values())  # the stream exercises every spec
    assert max(p[5] for p in expected["ec_long-id"]) > 2 * CONTRIBUTOR_CAP


def test_fields_read_lists_what_correlation_needs_of_each_rule() -> None:
    specs = pysigma_specs((REPO / "sigma_rules/linux_sshd_authentication.yml").read_text())
    assert fields_read([*specs, spec("event_lottery")]) == {
        "logsigma_sshd_auth_failure": {"client", "src_ip", "rhost", *READ_FIELDS},
        "logsigma_sshd_pam_auth_failure": {"client", "src_ip", "rhost", *READ_FIELDS},
        "logsigma_sshd_named_user_failure": {"src_ip", "user", *READ_FIELDS},
        "logsigma_sshd_login_accepted": {"src_ip", *READ_FIELDS},
    }


def test_hits_stripped_to_the_fields_read_correlate_the_same() -> None:
    hits = random_stream(7, 500)
    read = fields_read(RANDOM_SPECS)
    stripped = [dataclasses.replace(h, raw="", logsource=(), fields={
        k: v for k, v in h.fields.items() if k in read.get(h.rule.id, ())}) for h in hits]
    assert (read[FAIL.id], read[OK.id]) == ({"src_ip", "user", *READ_FIELDS}, {"src_ip", *READ_FIELDS})
    whole = list(correlate(hits, RANDOM_SPECS, Problems()))
    assert whole and list(correlate(stripped, RANDOM_SPECS, Problems())) == whole
