"""Hits per second through ``correlate()`` on a pure brute-force stream (issue 6).

``python bench/correlate_speed.py [--hits N] [--clients N] [--profile]`` loads the
bundled SSH rules (``sigma_rules/linux_sshd_authentication.yml``: an event_count, a
value_count and a temporal_ordered correlation over sshd failures and logins), builds
a deterministic, time-ordered stream of their base-rule hits the way sshd writes brute
forces (see ``stream``; thousands of groups live in the hour-long windows), in the
compact form and with the sort keys the pipeline gives ``correlate_keyed``, and prints,
for each correlation alone (fed only the hits of its own rules) and for all three
together, the median of 3 runs in hits per CPU second (``time.process_time``, so that
other processes on a shared machine do not skew it) and the correlation hits produced.
``--profile`` prints the top of a cProfile of one run of all three instead. Nothing is
written; no timing is asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import heapq
import pstats
import random
import statistics
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tabulate import tabulate

from scanner.correlate.engine import correlate_keyed
from scanner.errors import Problems
from scanner.model import CorrelationSpec, Keyed, Reduced, RuleInfo
from scanner.rules.load import load_rules

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "sigma_rules/linux_sshd_authentication.yml"
RUNS = 3
T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
ATTACKERS = 32  # attacks under way at any time
USERS = ("root", "admin", "oracle", "test", "ubuntu", "git", "postgres", "user")


def bundled() -> tuple[list[CorrelationSpec], dict[str, RuleInfo]]:
    """The bundled SSH correlations and their base rules by name."""
    problems = Problems()
    compiled = load_rules([RULES], problems)
    if problems.items:
        raise SystemExit("\n".join(map(str, problems)))
    return list(compiled.correlations), {r.name: r for r in compiled.rules if r.name}


def stream(bases: dict[str, RuleInfo], count: int, clients: int, seed: int = 7) -> list[Keyed]:
    """``count`` time-ordered base-rule hits of brute-force attacks, ``ATTACKERS`` at a time.

    Each attack comes from one of ``clients`` addresses and makes 10-50 attempts 0.5-3 s
    apart (a pam_unix line, then a "Failed password" line that two rules match); one in
    twenty ends with an accepted login.
    """
    rng = random.Random(seed)
    failure = bases["logsigma_sshd_auth_failure"]
    named = bases["logsigma_sshd_named_user_failure"]
    pam = bases["logsigma_sshd_pam_auth_failure"]
    accepted = bases["logsigma_sshd_login_accepted"]
    attacks = [(rng.uniform(0, 3), rng.randrange(clients), rng.randint(10, 50))
               for _ in range(ATTACKERS)]
    hits: list[Reduced] = []
    while len(hits) < count:
        heapq.heapify(attacks)
        second, client, left = heapq.heappop(attacks)
        ip, user = f"10.0.{client // 256}.{client % 256}", rng.choice(USERS)
        when = T0 + timedelta(seconds=second)
        line = len(hits) + 1
        hits += [_hit(pam, when, line, {"rhost": ip, "user": user}),
                 _hit(failure, when, line + 1, {"user": user, "src_ip": ip}),
                 _hit(named, when, line + 1, {"user": user, "src_ip": ip})]
        second += rng.uniform(0.5, 3)
        if left > 1:
            attacks.append((second, client, left - 1))
            continue
        if rng.random() < 0.05:
            hits.append(_hit(accepted, when + timedelta(seconds=1), line + 2,
                             {"user": user, "src_ip": ip}))
        attacks.append((second, rng.randrange(clients), rng.randint(10, 50)))
    return sorted(((hit.sort_key(), hit) for hit in hits[:count]), key=lambda pair: pair[0])


def _hit(rule: RuleInfo, when: datetime, line: int, fields: dict[str, str]) -> Reduced:
    return Reduced(rule, when, "auth.log", line, fields)


def run_once(hits: list[Keyed], specs: list[CorrelationSpec]) -> tuple[float, int]:
    """Seconds for one full ``correlate_keyed()`` pass and the correlation hits it yields."""
    start = time.process_time()
    produced = sum(1 for _ in correlate_keyed(hits, specs, Problems()))
    return time.process_time() - start, produced


def rate(hits: list[Keyed], specs: list[CorrelationSpec]) -> list[object]:
    """A table row: the correlation types, hits, median hits per CPU second, outputs."""
    runs = [run_once(hits, specs) for _ in range(RUNS)]
    median = statistics.median(seconds for seconds, _ in runs)
    return [" + ".join(s.type for s in specs), f"{len(hits):,}", f"{len(hits) / median:,.0f}",
            f"{runs[0][1]:,}"]


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hits", type=int, default=500_000)
    parser.add_argument("--clients", type=int, default=3_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    specs, bases = bundled()
    hits = stream(bases, args.hits, args.clients)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(run_once, hits, specs)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        return
    rows = [rate([k for k in hits if k[1].rule.id in spec.rules], [spec]) for spec in specs]
    rows.append(rate(hits, specs))
    print(f"{args.clients:,} client addresses, {ATTACKERS} attacks at a time, "
          f"median of {RUNS} runs")
    print(tabulate(rows, headers=["correlations", "hits", "hits/CPU s", "correlation hits"],
                   colalign=("left", "right", "right", "right")))


if __name__ == "__main__":
    main()
