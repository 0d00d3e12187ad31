"""Key-partitioned correlation gives exactly the single pass's hits, order and problems."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scanner import pipeline
from scanner.correlate import partition
from scanner.correlate.engine import correlate_keyed
from scanner.correlate.partition import merge_parts, partitions
from scanner.correlate.shard import shard_of
from scanner.errors import Problems
from scanner.hitruns import RunWriter, Runs
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


def partitioned(pairs: list[Keyed], specs: list[CorrelationSpec],
                parts: int) -> tuple[list[Runs], Problems]:
    """Every partition's correlation hits, and partition 0's problems (the reported ones)."""
    runs, reported = [], Problems()
    for part in range(parts):
        writer = RunWriter()
        writer.extend_keyed(correlate_keyed(iter(pairs), specs,
                                            reported if part == 0 else Problems(), (part, parts)))
        runs.append(writer.close())
    return runs, reported


@pytest.mark.parametrize(("seed", "parts"), [(0, 2), (1, 3), (2, 4), (3, 7)])
def test_partitions_give_the_single_pass_hits_and_problems(seed: int, parts: int) -> None:
    pairs = keyed(mixed_stream(seed, 2_000))
    single = Problems()
    expected = list(correlate_keyed(iter(pairs), SPECS, single))
    runs, reported = partitioned(pairs, SPECS, parts)
    assert list(merge_parts(runs)) == expected
    assert [str(p) for p in reported] == [str(p) for p in single]
    assert sum(1 for r in runs if len(r)) > 1  # the work was really split
    assert {h.rule.name for _, h in expected} >= {"vs", "va", "vm", "vc_pair", "ec_tags", "t_user"}
    assert any("no timestamp" in str(p) for p in single)
    assert any("lack a group-by field" in str(p) for p in single)
    assert any("lack a usable value" in str(p) for p in single)


def test_equal_sort_keys_come_in_group_order_whatever_the_partition() -> None:
    """Two rules' hits of one line with different group values: two groups of one spec
    close at the same instant and line, so only their groups tell their hits apart."""
    seen = spec("event_count", (FAIL, OK), name="seen", op="lt", count=5, timespan=10,
                aliases={"who": {FAIL.id: "user", OK.id: "src_ip"}}, group_by=("who",))
    pairs = keyed([hit(r, 0, line=7, user=f"u{n}", src_ip=f"ip{n}")
                   for n in range(20) for r in (FAIL, OK)])
    expected = list(correlate_keyed(iter(pairs), [seen], Problems()))
    keys = [key for key, _ in expected]
    assert len(set(keys)) < len(keys)  # ties on the sort key exist
    assert [repr(h.correlation.group) for _, h in expected] == sorted(
        repr(h.correlation.group) for _, h in expected)  # type: ignore[union-attr]
    for parts in (2, 3, 5):
        assert list(merge_parts(partitioned(pairs, [seen], parts)[0])) == expected


CHAIN = [spec("event_count", name="base", count=2, timespan=10),
         spec("event_count", (rule("base", "event_count"),), name="chained", count=1,
              timespan=60, group_by=())]


@pytest.mark.parametrize(("specs", "hits", "jobs", "expected"), [
    (RANDOM_SPECS, 10 * partition.PARTITION_HITS, 4, 4),
    (RANDOM_SPECS, 10 * partition.PARTITION_HITS, 1, 1),  # --jobs 1: the single pass
    (RANDOM_SPECS, 3 * partition.PARTITION_HITS, 4, 3),  # every partition gets enough hits
    (RANDOM_SPECS, partition.PARTITION_HITS, 4, 1),  # too few hits to pay
    (CHAIN, 10 * partition.PARTITION_HITS, 4, 1),  # a chain: the single pass
    ([spec("event_lottery")], 10 * partition.PARTITION_HITS, 4, 1),  # nothing to evaluate
    ([], 10 * partition.PARTITION_HITS, 4, 1),
])
def test_partitions_only_when_it_pays_and_no_chain(specs: list[CorrelationSpec], hits: int,
                                                   jobs: int, expected: int) -> None:
    assert partitions(specs, hits, jobs) == expected


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
def test_a_partitioned_scan_writes_the_same_bytes_whatever_the_jobs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    monkeypatch.setattr(partition, "PARTITION_HITS", 1)
    chosen: list[int] = []

    def spy(specs: list[CorrelationSpec], hits: int, jobs: int) -> int:
        chosen.append(partitions(specs, hits, jobs))
        return chosen[-1]

    monkeypatch.setattr(pipeline, "partitions", spy)
    outputs = [scan_bytes(tmp_path, f"jobs{jobs}", fmt, jobs) for jobs in ("1", "2", "4")]
    assert chosen == [1, 2, 4]
    assert outputs[0] == outputs[1] == outputs[2]
