"""Hits per second through each correlation engine on a pure brute-force stream (issues 6, 11).

``python bench/correlate_speed.py [--hits N] [--clients N] [--profile ENGINE]`` loads the
bundled SSH rules (``sigma_rules/linux_sshd_authentication.yml``: an event_count, a
value_count and a temporal_ordered correlation over sshd failures and logins), builds
a deterministic, time-ordered stream of their base-rule hits the way sshd writes brute
forces (see ``stream``; thousands of groups live in the hour-long windows), in the
compact form and with the sort keys the pipeline gives ``correlate_keyed``, and prints,
for each correlation alone (fed only the hits of its own rules) and for all three
together, per engine (``reference`` and ``columnar``, their runs interleaved in one
process), the median of 3 runs in hits per CPU second and in µs per hit
(``time.process_time``, so that other processes on a shared machine skew it less; Polars'
threads count too; the garbage collector paused, as ``select_hits`` pauses it) and the
correlation hits produced, which must be the same hits from both engines.
``--profile ENGINE`` prints the top of a cProfile of one run of all three by that engine
instead. Nothing is written; no timing is asserted.
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

from scanner.collector import collector_paused
from scanner.correlate.partition import CORRELATORS
from scanner.errors import Problems
from scanner.model import CorrelationSpec, Keyed, Reduced, RuleInfo
from scanner.rules.load import load_rules

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "sigma_rules/linux_sshd_authentication.yml"
RUNS = 3
T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
ATTACKERS = 32  # attacks under way at any time
ENGINES = ("reference", "columnar")
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


def run_once(hits: list[Keyed], specs: list[CorrelationSpec],
             engine: str) -> tuple[float, list[Keyed]]:
    """CPU seconds for one full pass of ``engine`` and the correlation hits it yields,
    with the garbage collector paused as the pipeline pauses it."""
    with collector_paused():
        start = time.process_time()
        produced = list(CORRELATORS[engine](hits, specs, Problems(), None))
        return time.process_time() - start, produced


def rate(hits: list[Keyed], specs: list[CorrelationSpec]) -> list[object]:
    """A table row: the correlation types, hits, then per engine the median hits per CPU
    second and µs per hit, and the correlation hits (equal for both, or it stops)."""
    runs: dict[str, list[tuple[float, list[Keyed]]]] = {engine: [] for engine in ENGINES}
    for _ in range(RUNS):
        for engine in ENGINES:
            runs[engine].append(run_once(hits, specs, engine))
    outputs = {engine: found[0][1] for engine, found in runs.items()}
    if outputs["columnar"] != outputs["reference"]:
        raise SystemExit(f"the engines differ on {[s.type for s in specs]}")
    row: list[object] = [" + ".join(s.type for s in specs), f"{len(hits):,}"]
    for engine in ENGINES:
        median = statistics.median(seconds for seconds, _ in runs[engine])
        row += [f"{len(hits) / median:,.0f}", f"{median / len(hits) * 1e6:.2f}"]
    return [*row, f"{len(outputs['reference']):,}"]


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hits", type=int, default=500_000)
    parser.add_argument("--clients", type=int, default=3_000)
    parser.add_argument("--profile", choices=ENGINES)
    args = parser.parse_args()
    specs, bases = bundled()
    hits = stream(bases, args.hits, args.clients)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(run_once, hits, specs, args.profile)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        return
    rows = [rate([k for k in hits if k[1].rule.id in spec.rules], [spec]) for spec in specs]
    rows.append(rate(hits, specs))
    print(f"{args.clients:,} client addresses, {ATTACKERS} attacks at a time, "
          f"median of {RUNS} runs")
    headers = ["correlations", "hits"]
    for engine in ENGINES:
        headers += [f"{engine} hits/CPU s", "µs/hit"]
    headers.append("correlation hits")
    print(tabulate(rows, headers=headers, colalign=("left", *["right"] * (len(headers) - 1))))


if __name__ == "__main__":
    main()
