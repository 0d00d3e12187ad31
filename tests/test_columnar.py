"""The columnar correlation gives the reference's hits, byte for byte.

Differential: the same hits and correlations through ``correlate_keyed`` (the reference)
and ``correlate_columnar`` must give equal (sort key, hit) lists, equal problems and
equal rendered JSONL bytes: on hundreds of random correlation sets (every type and
condition, fractional timespans, aliases, extended conditions, chains) over random hit
streams (ties, bursts, gaps, mixed-type and missing values, undated hits), with batches
small enough that windows and bursts cross them; on the bundled SSH correlations over a
brute-force stream; in key partitions; and end to end on the demo, quiet and generated
bench trees.
"""

from __future__ import annotations

import io
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from scanner.cli import main
from scanner.columnar import costs
from scanner.correlate import columnar, partition
from scanner.correlate.columnar import ColumnarTracker, correlate_columnar
from scanner.correlate.engine import correlate_keyed
from scanner.correlate.partition import merge_parts
from scanner.errors import Problems
from scanner.hitruns import RunWriter
from scanner.model import CorrelationSpec, Hit, Keyed, RuleInfo
from scanner.report.jsonl import write_jsonl

from conftest import FIXTURES
from test_correlate import FAIL, OK, RANDOM_SPECS, SUDO, hit, random_stream, rule, spec
from test_correlate_partition import SPECS as PARTITION_SPECS, keyed, mixed_stream, split
from test_hitruns import scan_bytes

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
import correlate_speed  # noqa: E402
import generate  # noqa: E402

BASES = (FAIL, OK, SUDO)
EXPRESSIONS = ("ssh_fail and ssh_ok", "ssh_fail or sudo", "ssh_fail and not ssh_ok",
               "not sudo and (ssh_ok or ssh_fail)", "sudo")
NUMBERS = (10, 250, "400", 7.5, "0.1", " 12 ", "1e3", "-3", "2/3", "lots", True, 10**30,
           "1e40", 0.30000000000000004)


@pytest.fixture(autouse=True)
def columnar_correlation_however_few_hits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scans in this process correlate in Polars even the few hits of a small tree."""
    monkeypatch.setattr(costs, "MIN_HITS", 0)


def random_specs(rng: random.Random, name: str) -> list[CorrelationSpec]:
    """One to four correlations of any type and condition; sometimes one over another."""
    specs: list[CorrelationSpec] = []
    for n in range(rng.randint(1, 4)):
        kind = rng.choice(["event_count", "value_count", "temporal", "temporal_ordered",
                           "value_sum", "value_avg", "value_percentile", "value_median"])
        refs: tuple[RuleInfo, ...] = tuple(rng.sample(BASES, rng.randint(1, 3)))
        if specs and rng.random() < 0.15:  # a chain: over an earlier correlation's hits
            refs = (specs[-1].rule, *refs[:1])
        if kind == "temporal_ordered" and rng.random() < 0.3:
            refs = (FAIL, FAIL, OK)  # one rule twice in the order
        options: dict[str, Any] = {
            "op": rng.choice(["gt", "gte", "lt", "lte", "eq", "neq"]),
            "count": rng.choice([0, 1, 2, 3, 5, 2.5, 40, 0.1]),
            "group_by": rng.choice([("src_ip",), ("src_ip",), ("user",), (), ("src_ip", "user"),
                                    ("who",)]),
        }
        if options["group_by"] == ("who",):
            options["aliases"] = {"who": {FAIL.id: "user", OK.id: "src_ip", SUDO.id: "user"}}
        if kind == "value_count":
            options["field"] = rng.choice([("user",), ("user", "src_ip"), ("tags",)])
        if kind.startswith("value_") and kind != "value_count":
            options["field"] = ("bytes",)
        if kind == "value_percentile":
            options["percentile"] = rng.choice([0, 25, 50, 90, 99.5, 100])
        if kind.startswith("temporal"):
            if rng.random() < 0.4:
                options["op"] = None
            elif rng.random() < 0.3:
                options["expression"] = rng.choice(EXPRESSIONS)
                refs = BASES
        specs.append(spec(kind, refs, name=f"{name}_{n}", timespan=rng.choice(
            [1, 2.5, 5, 10, 30, 60, 600]), **options))
    return specs


def random_hits(rng: random.Random, size: int) -> list[Hit]:
    """Bursts and gaps with equal timestamps, values of every kind, some fields missing."""
    hits, second = [], 0.0
    for n in range(size):
        second += rng.choice([0, 0, 0, 0.25, 0.5, 1, 1, 2, 4, 9, 25, 700])
        fields: dict[str, Any] = {
            "src_ip": rng.choice(["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]),
            "user": rng.choice(["root", "admin", "git", "oracle", "eve"]),
            "bytes": rng.choice(NUMBERS),
            "tags": rng.choice([["a", "b"], ["a"], "a"]),
        }
        for name in list(fields):
            if rng.random() < 0.03:
                del fields[name]
        when = None if rng.random() < 0.01 else second
        hits.append(hit(rng.choice([FAIL, FAIL, FAIL, OK, SUDO]), when, line=n + 1, **fields))
    return sorted(hits, key=Hit.sort_key)


def jsonl(pairs: list[tuple[Any, Hit]]) -> bytes:
    out = io.StringIO()
    write_jsonl((h for _, h in pairs), out)
    return out.getvalue().encode()


def assert_same(pairs: list[Keyed], specs: list[CorrelationSpec]) -> list[tuple[Any, Hit]]:
    """Both engines over ``pairs``: equal hits, problems and JSONL bytes."""
    expected_problems, problems = Problems(), Problems()
    expected = list(correlate_keyed(iter(pairs), specs, expected_problems))
    got = list(correlate_columnar(iter(pairs), specs, problems))
    assert jsonl(got) == jsonl(expected)
    assert got == expected
    assert [str(p) for p in problems] == [str(p) for p in expected_problems]
    return expected


@pytest.mark.parametrize("seed", range(300))
def test_random_correlations_match_the_reference(seed: int,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    monkeypatch.setattr(columnar, "BATCH_ROWS", rng.choice([7, 64, 50_000]))
    pairs = keyed(random_hits(rng, rng.randint(50, 600)))
    assert_same(pairs, random_specs(rng, f"r{seed}"))


@pytest.mark.parametrize("batch", [13, 97, 50_000])
@pytest.mark.parametrize("seed", range(4))
def test_known_streams_match_the_reference(seed: int, batch: int,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference engine's own random specs and streams, including mixed-type groups
    (``1``, ``1.0``, ``True``), list values and unusable values."""
    monkeypatch.setattr(columnar, "BATCH_ROWS", batch)
    found = assert_same(keyed(random_stream(seed, 2_000)), RANDOM_SPECS)
    assert {h.rule.name for _, h in found} == {s.rule.name for s in RANDOM_SPECS}
    assert_same(keyed(mixed_stream(seed, 1_500)), PARTITION_SPECS)


def test_every_type_is_columnar_off_a_chain_but_order_statistics() -> None:
    chained = spec("event_count", (rule("corr_0", "event_count"),), name="chained", count=1)
    specs = [spec(kind, name=f"corr_{n}", field=("bytes",), percentile=50, count=1)
             for n, kind in enumerate(["event_count", "value_count", "temporal",
                                       "temporal_ordered", "value_sum", "value_avg",
                                       "value_percentile", "value_median"])]
    trackers = columnar.columnar_plan([*specs, chained], Problems())
    assert [type(t) is ColumnarTracker for t in trackers] == [
        False, True, True, True, True, True, False, False, False]  # corr_0 feeds a chain


@pytest.mark.parametrize("batch", [1_000, 50_000])
def test_bundled_ssh_correlations_on_a_brute_force(batch: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columnar, "BATCH_ROWS", batch)
    specs, bases = correlate_speed.bundled()
    found = assert_same(correlate_speed.stream(bases, 30_000, 300), specs)
    assert {h.rule.kind for _, h in found} == {"event_count", "value_count", "temporal_ordered"}


@pytest.mark.parametrize("parts", [2, 3])
def test_key_partitions_give_the_single_pass(parts: int,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columnar, "BATCH_ROWS", 50)
    hits = mixed_stream(5, 2_000)
    single, reported = Problems(), Problems()
    expected = list(correlate_keyed(iter(keyed(hits)), PARTITION_SPECS, single))
    runs = []
    for part, share in enumerate(split(hits, PARTITION_SPECS, parts, pieces=2).parts):
        writer = RunWriter()
        writer.extend_keyed(correlate_columnar(share.keyed(), PARTITION_SPECS,
                                               reported if part == 0 else Problems(),
                                               (part, parts)))
        runs.append(writer.close())
    assert list(merge_parts(runs)) == expected
    assert [str(p) for p in reported] == [str(p) for p in single]


def test_state_stays_bounded_over_a_long_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """Buffer plus carry stay within twice the larger of a batch and one window's rows
    (a batch grows to the carry's size), plus the open bursts."""
    monkeypatch.setattr(columnar, "BATCH_ROWS", 100)
    tracker = ColumnarTracker(spec("value_count", field=("user",), count=3, timespan=60))
    peak = 0
    for n in range(5_000):
        tracker.push(hit(FAIL, n / 2, src_ip=f"10.0.{n % 7}.1", user=f"u{n % 5}"),
                     hit(FAIL, n / 2).timestamp.timestamp())  # type: ignore[union-attr]
        peak = max(peak, tracker.state_size())
    assert peak <= 2 * (2 * 60 + 2) + 7


@pytest.mark.parametrize("shard", [None, (0, 2), (1, 2)])
def test_group_numbers_renewed_midstream_change_no_hit(shard: tuple[int, int] | None,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Past GROUPS_KEPT keys a tracker numbers the groups of the rows it holds afresh,
    and with them their partitions: the same hits, in a partition too."""
    monkeypatch.setattr(columnar, "GROUPS_KEPT", 1)
    monkeypatch.setattr(columnar, "BATCH_ROWS", 50)
    pairs = keyed(mixed_stream(3, 1_500))
    expected = list(correlate_keyed(iter(pairs), PARTITION_SPECS, Problems(), shard))
    assert list(correlate_columnar(iter(pairs), PARTITION_SPECS, Problems(), shard)) == expected


def test_group_numbers_stay_bounded_by_the_rows_held(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columnar, "GROUPS_KEPT", 10)
    monkeypatch.setattr(columnar, "BATCH_ROWS", 100)
    tracker = ColumnarTracker(spec("event_count", count=3, timespan=60))
    peak = 0
    for n in range(5_000):  # every hit from a new address
        tracker.push(hit(FAIL, n / 2, src_ip=f"10.{n // 256}.{n % 256}.1"),
                     hit(FAIL, n / 2).timestamp.timestamp())  # type: ignore[union-attr]
        peak = max(peak, len(tracker.keys))
    assert peak <= 2 * (2 * (2 * 60 + 2)) + 1  # twice the rows held (see the test above)


def test_partitions_in_helper_processes_correlate_by_the_chosen_engine(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(partition, "PARTITION_HITS", 1)  # partition even the demo's hits
    reference = scan_bytes(tmp_path, "reference", "jsonl", "1")
    assert scan_bytes(tmp_path, "columnar", "jsonl", "2", "--engine", "columnar") == reference


def scans(tree: Path, tmp_path: Path, jobs: int, *options: str) -> dict[str, bytes]:
    """The JSONL bytes of ``logsigma scan`` of ``tree`` by each engine."""
    outputs = {}
    for engine in ("reference", "columnar"):
        out = tmp_path / f"{engine}.jsonl"
        assert main(["scan", str(tree), "-q", "--jobs", str(jobs), "-f", "jsonl", "-o", str(out),
                     "--engine", engine, *options]) in (0, 1)
        outputs[engine] = out.read_bytes()
    return outputs


@pytest.mark.parametrize("tree", ["demo", "quiet"])
def test_scans_of_the_demo_trees_are_byte_identical(tree: str, tmp_path: Path) -> None:
    outputs = scans(FIXTURES / tree / "var" / "log", tmp_path, 1)
    assert outputs["columnar"] == outputs["reference"]
    assert tree == "quiet" or b'"window_start"' in outputs["reference"]


@pytest.mark.parametrize("worst", [False, True], ids=["realistic", "worst"])
def test_scans_of_generated_bench_trees_are_byte_identical(worst: bool, tmp_path: Path) -> None:
    tree = tmp_path / "log"
    generate.generate(tree, 3_000_000, seed=11, worst=worst)
    outputs = scans(tree, tmp_path, 2)
    assert outputs["columnar"] == outputs["reference"]
    assert b'"window_start"' in outputs["reference"]


def test_scans_of_the_corpus_logs_with_every_corpus_rule_are_byte_identical(
        corpus: Path, tmp_path: Path) -> None:
    outputs = scans(corpus / "logs", tmp_path, 2, "--rules", str(corpus / "sigmahq"))
    assert outputs["columnar"] == outputs["reference"]
    assert b'"window_start"' in outputs["reference"]
