"""The two engines, one plan: ``--engine columnar`` gives byte-for-byte the JSONL of
``--engine reference`` on real trees, hostile input and randomized input (fixed seeds), and
the columnar matcher answers the backend and runtime conformance tables as the reference does.
In-process runs put every rule with a Polars form through Polars, whatever its row count.
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanner.cli import main
from scanner.columnar import costs
from scanner.columnar.batch import BatchMatcher
from scanner.columnar.expressions import rule_exprs
from scanner.columnar.lines import DenseLines
from scanner.errors import Problems
from scanner.match.matcher import Matcher, event_text
from scanner.model import Event, LogSource
from scanner.normalize import normalizer
from scanner.normalize.normalizer import Marked
from scanner.resources import bundled_rules_dir
from scanner.rules.load import CompiledRules, load_rules
from scanner.sources.open import iter_chunks

from conftest import FIXTURES, REPO
from test_backend import CASES as BACKEND_CASES
from test_backend import SSHD
from test_runtime import CASES as RUNTIME_CASES
from test_scan import hostile_tree

sys.path.insert(0, str(REPO / "bench"))  # bench/ holds scripts, not a package
import generate  # noqa: E402

DEMO = FIXTURES / "demo" / "var" / "log"
QUIET = FIXTURES / "quiet" / "var" / "log"


def jsonl(engine: str, *argv: str) -> bytes:
    """The JSONL bytes of ``logsigma scan --engine ENGINE``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "hits.jsonl"
        main(["scan", "-q", "-f", "jsonl", "-o", str(out), "--engine", engine, *argv])
        return out.read_bytes()


@pytest.fixture(autouse=True)
def polars_on_every_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """In this process the columnar engine runs every rule with a Polars form in Polars,
    however few its rows, and correlates in Polars however few the hits (worker processes
    keep the thresholds that choose the reference code for small work:
    ``scanner.columnar.costs``)."""
    monkeypatch.setattr(costs, "MIN_ROWS", 0)
    monkeypatch.setattr(costs, "MIN_HITS", 0)
    monkeypatch.setattr(costs, "MIN_LINES", 0)


def assert_same(*argv: str) -> bytes:
    """Both engines give the same bytes, the columnar one also in this process (``--jobs 1``:
    every rule in Polars); returns them."""
    reference = jsonl("reference", *argv)
    assert jsonl("columnar", *argv) == reference
    assert jsonl("columnar", *argv, "--jobs", "1") == reference
    return reference


# --- whole trees ---------------------------------------------------------------------------

def test_demo_and_quiet_trees() -> None:
    assert assert_same(str(DEMO), "--jobs", "2").count(b"\n") > 10
    assert_same(str(QUIET))


def test_corpus_logs_with_corpus_and_bundled_rules(corpus: Path) -> None:
    assert assert_same(str(corpus / "logs"), "--rules", str(corpus / "sigmahq"), "--jobs", "2")


@pytest.mark.parametrize("worst", [False, True])
def test_generated_bench_trees(corpus: Path, tmp_path: Path, worst: bool) -> None:
    generate.generate(tmp_path, 600_000, seed=5, worst=worst)
    assert assert_same(str(tmp_path), "--rules", str(corpus / "sigmahq"), "--jobs", "2")


@pytest.mark.parametrize("tree", ["realistic", "worst", "corpus"])
def test_lines_marked_in_small_chunks(corpus: Path, tmp_path: Path, tree: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Read in 4 kB chunks, most chunks of the dense files have their lines marked at once
    (scanner.columnar.lines) in the columnar scan, which still gives the reference's bytes."""
    root = corpus / "logs" if tree == "corpus" else tmp_path
    if tree != "corpus":
        generate.generate(tmp_path, 600_000, seed=3, worst=tree == "worst")
    rules = ("--rules", str(corpus / "sigmahq"))
    reference = jsonl("reference", str(root), *rules)
    monkeypatch.setattr(normalizer, "iter_chunks", partial(iter_chunks, size=4096))
    marked: list[bool] = []
    mark = DenseLines.marked

    def spied(self: DenseLines, text: str) -> Marked | None:
        found = mark(self, text)
        marked.append(found is not None)
        return found

    monkeypatch.setattr(DenseLines, "marked", spied)
    assert jsonl("columnar", str(root), *rules, "--jobs", "1") == reference
    assert sum(marked) > 20


def test_bench_tree_with_bundled_rules_and_window(tmp_path: Path) -> None:
    generate.generate(tmp_path, 400_000, seed=9)
    assert_same(str(tmp_path), "--no-prefilter")
    assert_same(str(tmp_path), "--since", "2024-02-05", "--until", "2024-02-10T12:00:00")


def test_columnar_workers_fork_from_a_process_without_polars(tmp_path: Path) -> None:
    """A scan's main process has not loaded Polars when its pool starts, so its columnar
    workers are forked (and load Polars themselves): same bytes, no deadlock. A process that
    has loaded Polars starts them from a fork server."""
    contexts = ("from scanner.hitruns import pool_context as c; print(c('columnar')); "
                "import polars; print(c('columnar').get_start_method())")
    shown = subprocess.run([sys.executable, "-c", contexts], cwd=REPO, check=True,
                           capture_output=True, text=True, timeout=60).stdout.split()
    assert shown == ["None", "forkserver"]
    out = tmp_path / "hits.jsonl"
    subprocess.run([sys.executable, "-m", "scanner", "scan", "-q", "-f", "jsonl", "-o", str(out),
                    "--engine", "columnar", "--jobs", "2", str(DEMO)], cwd=REPO, check=True,
                   timeout=120)
    assert out.read_bytes() == jsonl("reference", str(DEMO), "--jobs", "2")


def test_a_columnar_scan_of_small_files_never_loads_polars(tmp_path: Path) -> None:
    """Batches and hit counts below ``scanner.columnar.costs`` take the reference code's
    way (the same bytes), so the demo scan costs no Polars import."""
    out = tmp_path / "hits.jsonl"
    argv = ["scan", "-q", "--jobs", "1", "-f", "jsonl", "-o", str(out), "--engine", "columnar",
            str(DEMO)]
    code = f"import sys; from scanner.cli import main; main({argv!r}); print('polars' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True,
                           capture_output=True, text=True, timeout=60).stdout
    assert shown.split() == ["False"]
    assert out.read_bytes() == jsonl("reference", str(DEMO))


@pytest.mark.parametrize("sample", sorted(p.stem for p in (FIXTURES / "formats").glob("*.log")))
def test_every_format_sample(sample: str) -> None:
    rules = ("--rules", str(FIXTURES / "rules"), "--rules", str(REPO / "tests" / "rules"))
    assert_same(str(FIXTURES / "formats" / f"{sample}.log"), "--format-for",
                f"{sample}.log={sample}", *rules)


def test_binary_records() -> None:
    assert_same(str(FIXTURES / "binary"), "--rules", str(FIXTURES / "rules"))


def test_json_values_arrow_cannot_hold(tmp_path: Path) -> None:
    """Lone surrogates (JSON ``\\ud800`` escapes), numbers, lists and nulls as values."""
    rule = {"title": "json case", "id": "00000000-0000-4000-8000-00000000abcd",
            "logsource": {"product": "json"},
            "detection": {"kw": ["failed"], "sel": {"user|contains": "root"},
                          "condition": "kw or sel"}}
    (tmp_path / "rule.yml").write_text(yaml.safe_dump(rule), encoding="utf-8")
    lines = ['{"message": "x\\ud800 failed", "user": "\\udcff"}', '{"message": "ok"}',
             '{"user": ["root", 3]}', '{"user": null, "message": "FAILED"}', '{"user": 7}']
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "app.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    hits = assert_same(str(tmp_path / "log"), "--no-builtin", "--rules", str(tmp_path / "rule.yml"))
    assert hits.count(b"\n") == 3


def test_hostile_inputs(tmp_path: Path) -> None:
    hostile_tree(tmp_path / "log")
    assert_same(str(tmp_path / "log"))


def test_mutated_real_lines(corpus: Path, tmp_path: Path) -> None:
    """Real lines with characters swapped, case flipped, Unicode and control characters put in."""
    rng = random.Random(11)
    extras = ["İ", "K", "ſ", "١٢", "\v", "\x1c", "\t", "\u00a0", "ß", "Σ", "\u2028", "%", "*"]
    for path in sorted((corpus / "logs").rglob("*")):
        if not path.is_file() or path.suffix in (".gz", ".zst", ".lz4", ".evtx", ".json"):
            continue
        try:
            lines = path.read_text(encoding="utf-8").splitlines()[:400]
        except (UnicodeDecodeError, OSError):
            continue
        out = []
        for line in lines:
            chars = list(line)
            for _ in range(rng.randrange(3)):
                if chars:
                    at = rng.randrange(len(chars))
                    chars[at] = rng.choice([chars[at].swapcase(), rng.choice(extras)])
            out.append("".join(chars))
        target = tmp_path / "log" / path.relative_to(corpus / "logs")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(out) + "\n", encoding="utf-8")
    assert_same(str(tmp_path / "log"), "--rules", str(corpus / "sigmahq"))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_subsets_of_corpus_rules(corpus: Path, seed: int) -> None:
    compiled = load_rules([corpus / "sigmahq"], Problems())
    rng = random.Random(seed)
    chosen = rng.sample([r.id for r in compiled.rules], 40)
    picks = [arg for rule_id in chosen for arg in ("--rule-id", rule_id)]
    assert_same(str(corpus / "logs"), str(DEMO), "--rules", str(corpus / "sigmahq"), *picks)


# --- the conformance tables, and the regex dialects ----------------------------------------

def compile_rules(tmp_path: Path, detections: list[dict[str, Any]],
                  logsource: dict[str, str] | None = None) -> CompiledRules:
    for i, detection in enumerate(detections):
        rule = {"title": f"case {i}", "id": f"00000000-0000-4000-8000-{i:012d}",
                "logsource": logsource or SSHD, "detection": detection}
        (tmp_path / f"case{i}.yml").write_text(yaml.safe_dump(rule), encoding="utf-8")
    problems = Problems()
    compiled = load_rules([tmp_path], problems)
    assert not problems.items, [str(p) for p in problems]
    return compiled


def fired(compiled: CompiledRules, events: list[Event]) -> tuple[list[set[str]], list[set[str]]]:
    """Per event, the ids of the rules that fire: the reference engine's, the columnar one's."""
    plan = Matcher(compiled).plan([LogSource.from_dict(SSHD)])
    reference = []
    for event in events:
        candidates = plan.candidates(event_text(event))
        reference.append({r.id for r in plan.match(event, candidates)} if candidates else set())
    columnar: list[set[str]] = [set() for _ in events]
    by_row = {(e.source, e.line): i for i, e in enumerate(events)}
    for hit in BatchMatcher(compiled, {}).hits(plan, events):
        columnar[by_row[hit.source, hit.line]].add(hit.rule.id)
    return reference, columnar


def event(line: int, fields: dict[str, Any], raw: str) -> Event:
    return Event("test.log", line, "test", (LogSource.from_dict(SSHD),), fields, raw)


@pytest.mark.parametrize("detection,fields,raw,expected",
                         [c[1:] for c in BACKEND_CASES], ids=[c[0] for c in BACKEND_CASES])
def test_backend_conformance_table(tmp_path: Path, detection: dict[str, Any],
                                   fields: dict[str, Any], raw: str, expected: bool) -> None:
    compiled = compile_rules(tmp_path, [detection])
    reference, columnar = fired(compiled, [event(1, fields, raw)])
    assert columnar == reference == [{compiled.rules[0].id} if expected else set()]


_MODIFIERS = {"str_eq": "", "str_startswith": "|startswith", "str_endswith": "|endswith",
              "str_contains": "|contains"}


@pytest.mark.parametrize(("test", "value", "needle", "lower", "expected"), RUNTIME_CASES)
def test_runtime_conformance_table(tmp_path: Path, test: Any, value: Any, needle: str, lower: bool,
                                   expected: bool) -> None:
    key = "user" + _MODIFIERS[test.__name__] + ("" if lower else "|cased")
    compiled = compile_rules(tmp_path, [{"sel": {key: needle}, "condition": "sel"}])
    reference, columnar = fired(compiled, [event(1, {"user": value}, "x")])
    assert columnar == reference == [{compiled.rules[0].id} if expected else set()]


DIALECT_RULES = [
    {"sel": {"user|re": r"^\d+$"}, "condition": "sel"},
    {"sel": {"user|re": r"\w\s\w"}, "condition": "sel"},
    {"sel": {"user|re": r"(?i)kelvin"}, "condition": "sel"},
    {"sel": {"user|re": r"\bab\b"}, "condition": "sel"},
    {"sel": {"user|re": "[a&&b]"}, "condition": "sel"},
    {"sel": {"user|re": "^.$"}, "condition": "sel"},
    {"sel": {"user|re|i": "STRASSE"}, "condition": "sel"},
    {"sel": {"user": "kelvin"}, "condition": "sel"},
    {"sel": {"user|contains": "ss"}, "condition": "sel"},
    {"sel": {"user": "a*b?c"}, "condition": "sel"},
    {"sel": {"user|cased": "Ab*"}, "condition": "sel"},
    {"sel": {"user|lt": 10}, "condition": "sel"},
    {"sel": {"user|gte": 1.5}, "condition": "sel"},
    {"sel": {"user": 12}, "condition": "sel"},
    {"sel": {"user|cidr": "10.0.0.0/8"}, "condition": "sel"},
    {"sel": {"user": None}, "condition": "sel"},
    {"sel": {"user|exists": True}, "condition": "sel"},
    {"kw": ["*ab*c*", "Kelvin"], "condition": "kw"},
    {"kw": ["kelvin"], "sel": {"tty": "x"}, "condition": "kw and not sel"},
    {"sel": {"user|re": "a|"}, "condition": "sel or 1 of kw*", "kw1": ["12"]},
    {"sel": {"user|cidr": ["192.168.1.0/24", "8.8.8.8/32"]}, "condition": "sel"},
    {"sel": {"user|cidr": "fe80::/10"}, "condition": "not sel"},
    {"sel": {"user": True}, "condition": "sel"},
    {"sel": {"user|fieldref": "tty"}, "condition": "sel"},
    {"sel": {"user|fieldref|startswith": "tty"}, "condition": "sel"},
    {"sel": {"tty|fieldref|endswith": "user"}, "condition": "not sel"},
    {"sel": {"user|minute": 5}, "condition": "sel"},
]
DIALECT_VALUES = ["12", "X", "x", "ax", "AXE", "TRUE", "false", "False ",
                  "١٢", "a\u00a0b", "a\vb", "a\x1cb", "a\tb", "KELVIN", "\u212aelvin", "ab",
                  "a b", "aab", "AXBYC", "é", "Straße", "STRASSE", "strasse", " 5 ", "1e1", "inf",
                  "nan", "1_0", "-3", "0.5", "10.1.2.3", "[10.0.0.1]", "010.1.2.3", "", "x\ny",
                  "192.168.1.255", "192.168.2.0", "8.8.8.8", "]8.8.8.8[", "8.8.8.08", "fe80::1",
                  "10.0.0.256", "::ffff:10.0.0.1", "0.0.0.0", "[10.0.0.1] ", "192.168.1.0",
                  "İ", "a&b", None, 7, 1.5, True, ["a", "12"], {"k": "v"}]


def test_regex_dialects_and_odd_values(tmp_path: Path) -> None:
    """Rust's Unicode classes and case folding, Python's float(), lists and non-strings: every
    rule against every value, as a field and as the raw text, the same verdicts."""
    compiled = compile_rules(tmp_path, DIALECT_RULES)
    events = [event(i, {} if value is None else {"user": value, "tty": "aX"}, str(value))
              for i, value in enumerate(DIALECT_VALUES, 1)]
    reference, columnar = fired(compiled, events)
    assert columnar == reference
    assert sum(map(len, reference)) > 20


def test_unsupported_rules_are_named(tmp_path: Path) -> None:
    compiled = compile_rules(tmp_path, DIALECT_RULES)
    _, unsupported = rule_exprs(compiled.compiled)
    by_title = {r.title: unsupported.get(r.id) for r in compiled.rules}
    assert "&&" in (by_title["case 4"] or "") and "timestamp_part" in (by_title["case 26"] or "")
    assert by_title["case 0"] is None and by_title["case 14"] is None
    assert by_title["case 21"] is None and by_title["case 23"] is None


def test_bundled_rules_have_a_polars_form(tmp_path: Path) -> None:
    compiled = load_rules([bundled_rules_dir()], Problems())
    exprs, unsupported = rule_exprs(compiled.compiled)
    assert len(exprs) > 0 and len(unsupported) < len(compiled.compiled) / 10
