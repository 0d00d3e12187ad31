"""RuleLoader gives exactly what yaml.CSafeLoader gives: the same data, or the same error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from scanner.rules.rule_yaml import RuleLoader

DOCUMENTS = {
    "plain rule": "title: t\nid: 1\nlogsource: {product: linux}\n"
                  "detection:\n  sel: {a|contains: [x, 'y*']}\n  condition: sel\n",
    "scalars": "a: 1\nb: 1.5\nc: true\nd: no\ne: null\nf: ~\ng: 2024-01-02\n"
               "h: 2024-01-02T03:04:05Z\ni: 0x1f\nj: '007'\nk: .inf\nl: !!binary aGk=\n"
               "m: !!str 12\nn: 1_000\no: 0o17\np: ''\n",
    "multi-document": "a: 1\n---\nb: [1, 2]\n---\n...\n---\nc: {}\n",
    "shared alias": "base: &b {x: [1, 2]}\nfirst: *b\nsecond: *b\nlist: &l [a]\nagain: *l\n",
    "scalar alias": "a: &s hello\nb: *s\n",
    "merge key": "base: &b {x: 1, y: 2}\nchild:\n  <<: *b\n  y: 3\n",
    "merge list": "a: &a {x: 1}\nb: &b {y: 2}\nc: {<<: [*a, *b], z: 3}\n",
    "duplicate keys": "a: 1\na: 2\nb: [1]\nb: {c: 3}\n",
    "non-string keys": "1: a\ntrue: b\n2024-01-02: c\nnull: d\n",
    "set tag": "s: !!set {a, b}\n",
    "omap tag": "o: !!omap [{a: 1}, {b: 2}]\n",
    "empty": "",
    "only a comment": "# nothing\n",
    "top-level list": "- a\n- {b: c}\n",
    "top-level scalar": "just text\n",
    "deep nesting": "a:\n" + "".join("  " * i + f"  k{i}:\n" for i in range(30)) + "  " * 31 + "v: 1\n",
    "nesting past the recursion limit": "a: " + "[" * 900 + "x" + "]" * 900 + "\n",
    "block nesting past the recursion limit":
        "".join(" " * i + f"k{i}:\n" for i in range(700)) + " " * 700 + "v\n",
}
FAILING = {
    "recursive alias": "a: &a [*a]\n",
    "recursive mapping": "a: &a {b: *a}\n",
    "unknown tag": "a: !custom 1\n",
    "python tag": "a: !!python/name:os.system\n",
    "unhashable key": "? [a, b]\n: c\n",
    "mapping key": "? {a: 1}\n: c\n",
    "syntax error": "a: [unclosed\n",
    "bad indentation": "a:\n  b: 1\n c: 2\n",
    "undefined alias": "a: *nothere\n",
    "bad binary": "a: !!binary '%%%'\n",
}


def load(text: str | bytes, loader: type[Any]) -> Any:
    return list(yaml.load_all(text, Loader=loader))


def outcome(text: str | bytes, loader: type[Any]) -> tuple[str, Any]:
    try:
        return "data", load(text, loader)
    except yaml.YAMLError as exc:
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("text", DOCUMENTS.values(), ids=DOCUMENTS.keys())
def test_same_data_as_csafeloader(text: str) -> None:
    assert load(text, RuleLoader) == load(text, yaml.CSafeLoader)


@pytest.mark.parametrize("text", FAILING.values(), ids=FAILING.keys())
def test_same_outcome_as_csafeloader_where_it_fails_or_recurses(text: str) -> None:
    ours, theirs = outcome(text, RuleLoader), outcome(text, yaml.CSafeLoader)
    if ours[0] == "data" and theirs[0] == "data":  # recursive: compare the shape, not by ==
        assert repr(ours[1]) == repr(theirs[1])
    else:
        assert ours == theirs


def test_aliases_stay_shared_objects() -> None:
    [data] = load(DOCUMENTS["shared alias"], RuleLoader)
    assert data["first"] is data["second"] is data["base"]
    assert data["again"] is data["list"]


def test_every_corpus_rule_file_loads_the_same(corpus: Path) -> None:
    files = sorted((corpus / "sigmahq").rglob("*.yml"))
    assert files
    for path in files:
        text = path.read_bytes()
        assert load(text, RuleLoader) == load(text, yaml.CSafeLoader), path
