"""An OR of simple string leaves on one field is generated as one call with a tuple of
texts; it answers like the OR of the single leaves for every kind of value."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from scanner.errors import Problems
from scanner.match.runtime import (MISSING, str_contains, str_contains_any, str_endswith, str_eq,
                                   str_eq_any, str_startswith)
from scanner.rules.load import load_rules

Leaf = Callable[[Any, Any, bool], bool]
VALUES = ["Failed password for root", "INVALID USER bob", "accepted", "", "İx", MISSING, None,
          True, False, 5, ["x", "Invalid user a"], [], [None, "failed password for"]]
NEEDLES = ("failed password for", "invalid user ", "true", "5", "i̇x", "")
# (merged test, the single leaf it stands for)
PAIRS: list[tuple[Leaf, Leaf]] = [(str_eq_any, str_eq), (str_startswith, str_startswith),
                                  (str_endswith, str_endswith), (str_contains_any, str_contains)]


@pytest.mark.parametrize(("merged", "single"), PAIRS)
@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("lower", [True, False])
def test_merged_leaf_is_the_or_of_single_leaves(merged: Leaf, single: Leaf, value: Any,
                                                lower: bool) -> None:
    for needles in (NEEDLES, NEEDLES[:2], NEEDLES[1:2]):
        assert merged(value, needles, lower) is any(single(value, n, lower) for n in needles)


def expression(tmp_path: Path, detection: dict[str, Any]) -> str:
    rule = {"title": "case", "id": "00000000-0000-4000-8000-000000000001",
            "logsource": {"product": "linux", "service": "sshd"}, "detection": detection}
    path = tmp_path / "case.yml"
    path.write_text(yaml.safe_dump(rule), encoding="utf-8")
    (compiled,) = load_rules([path], Problems()).compiled
    return compiled.code.expression


@pytest.mark.parametrize(("selection", "calls"), [
    ({"message|startswith": ["Failed password for ", "Invalid user "]},
     ["str_startswith(f.get('message', MISSING), ('failed password for ', 'invalid user '),"
      " True)"]),
    ({"message|contains": ["a", "b"]},
     ["str_contains_any(f.get('message', MISSING), ('a', 'b'), True)"]),
    ({"message": ["a", "b"]}, ["str_eq_any(f.get('message', MISSING), ('a', 'b'), True)"]),
    ({"message|endswith|cased": ["A", "B"]},
     ["str_endswith(f.get('message', MISSING), ('A', 'B'), False)"]),
    ({"message|startswith": ["a"]}, ["str_startswith(f.get('message', MISSING), 'a', True)"]),
    ({"message": ["a", "b*c"]}, ["str_eq(f.get('message', MISSING), 'a', True)", "str_like("]),
])
def test_or_of_leaves_on_one_field_is_one_call(tmp_path: Path, selection: dict[str, Any],
                                               calls: list[str]) -> None:
    source = expression(tmp_path, {"sel": selection, "condition": "sel"})
    for call in calls:
        assert call in source
    assert source.count("f.get(") == len(calls)
