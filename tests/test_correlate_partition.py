"""Key-partitioned correlation gives exactly the single pass's hits, order and problems,
each partition reading only the hits the workers split off for it."""

from __future__ import annotations

import dataclasses
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from scanner import pipeline
from scanner.correlate import partition, split as splitting
from scanner.correlate.engine import correlate_keyed
from scanner.correlate.partition import correlate_part, merge_parts, partitions, shares
from scanner.correlate.shard import shard_of
from scanner.correlate.split import HitRouting, SplitRuns, SplitWriter
from scanner.errors import Problems
from scanner.hitruns import Runs, spill_space
from scanner.model import CorrelationSpec, Hit, Keyed

from test_correlate import FAIL, OK, RANDOM_SPECS, SUDO, hit, random_stream, rule, spec
from test_hitruns import scan_bytes

SPECS = [
    *RANDOM_SPECS,
    spec("value_sum", name="vs", field=("bytes",), count=500, timespan=30),
    spec("value_avg", name="va", field=("bytes",), op="lt", count=100, timespan=20),
    spec("value_median", name="vm", field=("bytes",), count=300, timespan=40),
    spec("value_count", name="vc_pair", field=("user",), count=2, timespan=30,
         group_by=("src_ip", "tags")),
    spec("event_count", name="ec_tags", count=2, timespan=10, group_by=("tags",)),
    spec("temporal", (FAIL, SUDO), name="t_user", timespan=50, group_by=("user",)),
    spec("event_lottery", name="rejected"),  # plan() reports it, once
]


def mixed_stream(seed: int, size: int) -> list[Hit]:
    """A random stream plus undated hits, list-valued and numerically equal group fields
    (``1``, ``1.0``, ``True`` are one group) and values that are not numbers."""
    rng = random.Random(seed)
    hits = []
    for h in random_stream(seed, size):
        fields: dict[str, Any] = dict(h.fields)
        fields["bytes"] = rng.choice([10, 250, "400", 7.5, "lots", None])
        fields["tags"] = rng.choice([["a", "b"], ["a"], [1, "b"], [1.0, "b"], [True, "b"], None])
        if rng.random() < 0.1:
            fields["src_ip"] = rng.choice([1, 1.0, True, 2])
        hits.append(Hit(rule=h.rule, timestamp=None if rng.random() < 0.02 else h.timestamp,
                        source=h.source, line=h.line, logsource=h.logsource,
                        fields={k: v for k, v in fields.items() if v is not None}, raw=h.raw))
    return hits


def keyed(hits: list[Hit]) -> list[Keyed]:
    return sorted(((h.sort_key(), h) for h in hits), key=lambda pair: pair[0])


def split(hits: list[Hit], specs: list[CorrelationSpec], parts: int,
          pieces: int = 1) -> SplitRuns:
    """``hits`` split as a scan splits them: by ``pieces`` workers (each a run of the
    sorted hits), their results joined as the main process joins them."""
    ordered = [h for _, h in keyed(hits)]
    routing = HitRouting(specs, parts)
    joined = SplitWriter(routing)
    size = -(-len(ordered) // pieces)
    for start in range(0, len(ordered), size):
        writer = SplitWriter(HitRouting(specs, parts))
        writer.extend(ordered[start:start + size])
        joined.add(writer.close())
    return joined.close()


def partitioned(hits: list[Hit], specs: list[CorrelationSpec],
                parts: int) -> tuple[list[Runs], Problems, SplitRuns]:
    """Every partition's correlation hits over its own share of ``hits``, partition 0's
    problems (the reported ones), and the split."""
    shares, reported = split(hits, specs, parts, pieces=3), Problems()
    runs = [correlate_part(share, part, parts, specs, "reference",
                           reported if part == 0 else None)
            for part, share in enumerate(shares.parts)]
    return runs, reported, shares


@pytest.mark.parametrize(("seed", "parts"), [(0, 2), (1, 3), (2, 4), (3, 7)])
def test_partitions_give_the_single_pass_hits_and_problems(seed: int, parts: int) -> None:
    hits = mixed_stream(seed, 2_000)
    pairs = keyed(hits)
    single = Problems()
    expected = list(correlate_keyed(iter(pairs), SPECS, single))
    runs, reported, shares = partitioned(hits, SPECS, parts)
    assert list(merge_parts(runs)) == expected
    assert all(len(share) < len(pairs) for share in shares.parts)  # each read a share
    assert [str(p) for p in reported] == [str(p) for p in single]
    assert sum(1 for r in runs if len(r)) > 1  # the work was really split
    assert {h.rule.name for _, h in expected} >= {"vs", "va", "vm", "vc_pair", "ec_tags", "t_user"}
    assert any("no timestamp" in str(p) for p in single)
    assert any("lack a group-by field" in str(p) for p in single)
    assert any("lack a usable value" in str(p) for p in single)


@pytest.mark.parametrize("parts", [1, 8, 16])
def test_a_split_writer_spills_by_its_budget_whatever_the_partitions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parts: int) -> None:
    """All the batches of a SplitWriter hold at most HELD_HITS hits together, in a worker
    (extend) and in the main process joining workers' runs (add); spilled, each
    partition reads the hits it reads unspilled, and the partitions correlate like a
    single pass, their correlation hits kept in memory FOUND_HITS at most in all."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(splitting, "HELD_HITS", 60)
    monkeypatch.setattr(partition, "FOUND_HITS", 32)
    hits = mixed_stream(5, 2_000)
    kept = split(hits, SPECS, parts, pieces=3)  # no spill directory: all held
    ordered = [h for _, h in keyed(hits)]
    with spill_space():
        joined = SplitWriter(HitRouting(SPECS, parts))
        for share in range(3):
            writer = SplitWriter(HitRouting(SPECS, parts))
            for hit in ordered[share * 667:(share + 1) * 667]:
                writer.extend([hit])
                assert writer.budget.held == sum(w.held() for w in writer.budget.writers)
                assert writer.budget.held < 60
            joined.add(writer.close())
            assert joined.budget.held == sum(w.held() for w in joined.budget.writers) < 60
        spilled = joined.close()
        assert len(spilled.shown.disk) + sum(len(p.disk) for p in spilled.parts) > 2_000 / 60
        for got, expected in zip((spilled.shown, *spilled.parts), (kept.shown, *kept.parts)):
            assert list(got.keyed()) == list(expected.keyed())
        runs = [correlate_part(share, part, parts, SPECS, "reference", None)
                for part, share in enumerate(spilled.parts)]
        assert sum(len(found.memory) for found in runs) <= 32 < sum(map(len, runs))
        assert list(merge_parts(runs)) == list(correlate_keyed(iter(keyed(hits)), SPECS,
                                                                Problems()))


def test_equal_sort_keys_come_in_group_order_whatever_the_partition() -> None:
    """Two rules' hits of one line with different group values: two groups of one spec
    close at the same instant and line, so only their groups tell their hits apart."""
    seen = spec("event_count", (FAIL, OK), name="seen", op="lt", count=5, timespan=10,
                aliases={"who": {FAIL.id: "user", OK.id: "src_ip"}}, group_by=("who",))
    hits = [hit(r, 0, line=7, user=f"u{n}", src_ip=f"ip{n}") for n in range(20) for r in (FAIL, OK)]
    expected = list(correlate_keyed(iter(keyed(hits)), [seen], Problems()))
    keys = [key for key, _ in expected]
    assert len(set(keys)) < len(keys)  # ties on the sort key exist
    assert [repr(h.correlation.group) for _, h in expected] == sorted(
        repr(h.correlation.group) for _, h in expected)  # type: ignore[union-attr]
    for parts in (2, 3, 5):
        assert list(merge_parts(partitioned(hits, [seen], parts)[0])) == expected


CHAIN = [spec("event_count", name="base", count=2, timespan=10),
         spec("event_count", (rule("base", "event_count"),), name="chained", count=1,
              timespan=60, group_by=())]


@pytest.mark.parametrize(("specs", "slots", "expected"), [
    (RANDOM_SPECS, 2, 2 * partition.PARTS_PER_SLOT),
    (RANDOM_SPECS, 4, min(4 * partition.PARTS_PER_SLOT, partition.MAX_PARTS)),
    (RANDOM_SPECS, 1, 1),  # --jobs 1: the single pass
    (RANDOM_SPECS, 100, partition.MAX_PARTS),  # a big cluster: bounded
    (CHAIN, 4, 1),  # a chain: the single pass
    ([spec("event_lottery")], 4, 1),  # nothing to evaluate
    ([], 4, 1),
])
def test_partitions_per_slot_without_a_chain(specs: list[CorrelationSpec], slots: int,
                                               expected: int) -> None:
    assert partitions(specs, slots) == expected


@pytest.mark.parametrize(("sizes", "slots", "expected"), [
    # largest first, each to the slot with the fewest hits; partition 0's slot first
    ((30, 50, 40, 20), 2, [[2, 0], [1, 3]]),
    ((10, 50, 40, 20), 2, [[1, 0], [2, 3]]),
    ((60, 10, 10, 10), 2, [[0], [1, 2, 3]]),
    ((40, 40, 40, 40), 4, [[0], [1], [2], [3]]),
    ((20, 30, 40, 10, 10, 5), 3, [[0, 3, 5], [2], [1, 4]]),
    ((50,) * 3, 1, [[0, 1, 2]]),  # one slot: no helper
    ((200,), 2, [[0]]),  # the single pass
])
def test_partitions_are_shared_out_by_size(sizes: tuple[int, ...], slots: int,
                                           expected: list[list[int]],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(partition, "PARTITION_HITS", 1)
    assert shares([Runs(count=size) for size in sizes], slots) == expected


@pytest.mark.parametrize(("sizes", "helped"), [
    ((partition.PARTITION_HITS,) * 2, True),
    ((2 * partition.PARTITION_HITS, 0, 0, 0), True),  # the total is what counts
    ((partition.PARTITION_HITS, partition.PARTITION_HITS - 1), False),  # too few hits to pay
    ((partition.PARTITION_HITS // 2,) * 4, True),  # partitions beyond the slots
    ((partition.PARTITION_HITS // 2 - 1,) * 4, False),
])
def test_helpers_only_with_enough_hits_a_slot(sizes: tuple[int, ...], helped: bool) -> None:
    mine, *theirs = shares([Runs(count=size) for size in sizes], 2)
    assert bool(theirs) is helped
    assert sorted(mine + [p for share in theirs for p in share]) == list(range(len(sizes)))
    assert 0 in mine


def test_a_hit_goes_to_the_partition_of_each_key_it_has_and_unusable_ones_to_zero() -> None:
    """A rule two correlations read by different fields: its hit goes to the partition of
    each key; a hit lacking one of them, or undated, to partition 0 too (which counts it);
    a hit of a rule no correlation reads goes nowhere; an output rule's hit is shown."""
    base = dataclasses.replace(FAIL, output=False)  # a base rule of generate: false
    by_user = spec("event_count", (base,), name="by_user", count=2, timespan=10,
                   group_by=("user",))
    by_ip = spec("event_count", (base,), name="by_ip", count=2, timespan=10)
    parts = 5
    hits = [hit(base, n, line=n + 1, user=f"user{n}", src_ip=f"ip{n}") for n in range(40)]
    lacking = hit(base, 50, line=50, src_ip="ip50")
    undated = dataclasses.replace(hit(base, 51, line=51, user="u", src_ip="ip51"),
                                  timestamp=None)
    shown = hit(OK, 52, line=52, user="u", src_ip="ip52")
    shares = split([*hits, lacking, undated, shown], [by_user, by_ip], parts)
    where = {part: {h.line for h in runs} for part, runs in enumerate(shares.parts)}

    def holders(line: int) -> set[int]:
        return {part for part, lines in where.items() if line in lines}

    for h in hits:
        assert holders(h.line) == {shard_of((h.fields["user"],), parts),
                                   shard_of((h.fields["src_ip"],), parts)}
    assert len(set().union(*map(holders, (h.line for h in hits)))) == parts
    assert holders(50) == {0, shard_of(("ip50",), parts)}
    assert holders(51) == {0}
    assert holders(52) == set()
    assert [h.line for h in shares.shown] == [52]


EQUAL_KEYS = [(("192.0.2.1",), ("192.0.2.1",)), ((1,), (1.0,)), ((1,), (True,)),
              ((("a", 1),), (("a", 1.0),)), (("x", 2), ("x", 2.0))]


@pytest.mark.parametrize(("one", "other"), EQUAL_KEYS)
def test_equal_group_keys_share_a_partition(one: tuple[Any, ...], other: tuple[Any, ...]) -> None:
    assert one == other
    assert all(shard_of(one, parts) == shard_of(other, parts) for parts in range(1, 9))


def test_partitions_agree_across_processes_with_other_string_hashes() -> None:
    keys = [("192.0.2.1",), ("root", "192.0.2.2"), (1,), (("a", "b"),), ("é\udc80",)]
    code = ("from scanner.correlate.shard import shard_of; "
            f"print([shard_of(k, 7) for k in {keys!r}])")
    outputs = {subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                              text=True, env={"PYTHONHASHSEED": seed},
                              cwd=Path(__file__).resolve().parent.parent).stdout
               for seed in ("1", "2", "3")}
    assert outputs == {f"{[shard_of(k, 7) for k in keys]}\n"}


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "json", "table"])
@pytest.mark.parametrize("helped", [True, False])
def test_a_partitioned_scan_writes_the_same_bytes_whatever_the_jobs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, helped: bool) -> None:
    """With helper processes, or partitions correlated in turn here (too few hits)."""
    monkeypatch.setattr(partition, "PARTITION_HITS", 1 if helped else 10**9)
    chosen: list[int] = []

    def spy(specs: list[CorrelationSpec], slots: int) -> int:
        chosen.append(partitions(specs, slots))
        return chosen[-1]

    monkeypatch.setattr(pipeline, "partitions", spy)
    outputs = [scan_bytes(tmp_path, f"jobs{jobs}", fmt, jobs) for jobs in ("1", "2", "4")]
    assert chosen == [1, 2 * partition.PARTS_PER_SLOT,
                      min(4 * partition.PARTS_PER_SLOT, partition.MAX_PARTS)]
    assert outputs[0] == outputs[1] == outputs[2]
